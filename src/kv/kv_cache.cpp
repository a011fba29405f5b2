#include "kv/kv_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "kv/kv_tier.h"
#include "slim/error.h"
#include "tensor/kernels.h"

namespace slim {

namespace {
size_t page_size() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}
}  // namespace

KVRegion::KVRegion(size_t bytes) {
  n_ = (std::max<size_t>(bytes, 1) + page_size() - 1) / page_size() * page_size();
  void* p = mmap(nullptr, n_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  p_ = static_cast<uint8_t*>(p);
}

KVRegion::~KVRegion() {
  if (p_) munmap(p_, n_);
}

KVRegion::KVRegion(KVRegion&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}

KVRegion& KVRegion::operator=(KVRegion&& o) noexcept {
  if (this != &o) {
    if (p_) munmap(p_, n_);
    p_ = std::exchange(o.p_, nullptr);
    n_ = std::exchange(o.n_, 0);
  }
  return *this;
}

void KVRegion::discard(size_t off, size_t n) {
  if (!p_ || n == 0) return;
  const size_t ps = page_size(), end = std::min(n_, off + n);
  const size_t lo = std::min(end, (off + ps - 1) / ps * ps), hi = std::max(lo, end / ps * ps);
  if (hi > lo) madvise(p_ + lo, hi - lo, MADV_DONTNEED);
  // Bytes on pages shared with neighbouring data are zeroed instead, so a discarded range always reads as
  // zeros (a block that was not read back cannot pass for one that was).
  std::memset(p_ + off, 0, lo - off);
  std::memset(p_ + hi, 0, end - hi);
}

void LayerKV::init(int kv_dim, int capacity, bool ring, KVType type, int block_rows) {
  if (block_rows <= 0 || (block_rows & (block_rows - 1)) != 0)
    throw Error("kv: block size must be a power of two (got " + std::to_string(block_rows) + ")");
  if (kv_dim <= 0 || capacity <= 0) throw Error("kv: layer store needs a positive row size and capacity");
  if (tier_) throw Error("kv: init() of a layer attached to a KV tier");
  kv_dim_ = kv_dim;
  capacity_ = capacity;
  ring_ = ring;
  type_ = type;
  row_bytes_ = static_cast<size_t>(kv_dim) * (type == KVType::F16 ? 2 : 4);
  block_rows_ = block_rows;
  block_shift_ = 0;
  while ((1 << block_shift_) < block_rows) ++block_shift_;
  block_mask_ = block_rows - 1;
  max_blocks_ = (capacity + block_rows - 1) / block_rows;
  // Whole blocks of address space (a ring's last block may extend past capacity); nothing is committed yet.
  const size_t bytes = static_cast<size_t>(max_blocks_) * block_rows * row_bytes_;
  k_ = KVRegion(bytes);
  v_ = KVRegion(bytes);
  k_base_ = k_.data();
  v_base_ = v_.data();
  resident_.assign(max_blocks_, 0);
  touched_.assign(max_blocks_, 0);
  n_blocks_ = 0;
  pos_.clear();
  clear();
}

void LayerKV::clear() {
  size_ = 0;
  holes_ = 0;
  head_ = 0;
  in_order_ = true;
  last_pos_ = -1;
  last_slot_ = -1;
  release_blocks_from(0);
  std::fill(pos_.begin(), pos_.end(), -1);
}

int LayerKV::append_block() const {
  if (size_ < capacity_) return size_ >> block_shift_;
  return ring_ ? head_ >> block_shift_ : -1;
}

void LayerKV::discard_block(int b) {
  const size_t bb = static_cast<size_t>(block_rows_) * row_bytes_;
  k_.discard(b * bb, bb);
  v_.discard(b * bb, bb);
}

void LayerKV::grow_blocks(int n) {
  for (int b = n_blocks_; b < n; ++b) {
    if (tier_) tier_->alloc_block(layer_, b);  // room in the hot tier (may evict other layers' blocks)
    n_blocks_ = b + 1;
  }
  // Positions follow the blocks (slots of not-yet-written rows read as -1).
  const size_t rows = std::min<size_t>(static_cast<size_t>(n_blocks_) * block_rows_, capacity_);
  if (pos_.size() < rows) pos_.resize(rows, -1);
}

void LayerKV::release_blocks_from(int b) {
  if (b >= n_blocks_) return;
  if (tier_) tier_->drop_blocks_from(layer_, b);
  for (int i = b; i < n_blocks_; ++i) discard_block(i);
  std::fill(touched_.begin() + b, touched_.begin() + n_blocks_, 0);
  n_blocks_ = b;
  const size_t rows = std::min<size_t>(static_cast<size_t>(n_blocks_) * block_rows_, capacity_);
  pos_.resize(rows);
}

int LayerKV::append(int32_t pos, const float* k, const float* v) {
  int slot;
  if (size_ < capacity_) {
    slot = size_;
  } else if (ring_) {
    slot = head_;
  } else {
    throw Error("kv: cache full (" + std::to_string(capacity_) + " tokens); use a larger context (-c)");
  }
  const int b = slot >> block_shift_;
  if (tier_ && !pinned_)
    throw Error("kv: append to layer " + std::to_string(layer_) + " outside KVTier::begin_layer/end_layer");
  if (b >= n_blocks_) grow_blocks(b + 1);
  if (size_ < capacity_) {
    ++size_;
  } else {
    if (pos_[slot] < 0) --holes_;  // a full ring overwrites a forgotten slot
    head_ = (head_ + 1) % capacity_;
  }
  if (tier_) touched_[b] = 1;
  last_slot_ = slot;
  pos_[slot] = pos;
  if (pos <= last_pos_) in_order_ = false;
  last_pos_ = pos;
  uint8_t* kd = k_base_ + static_cast<size_t>(slot) * row_bytes_;
  uint8_t* vd = v_base_ + static_cast<size_t>(slot) * row_bytes_;
  if (type_ == KVType::F16) {
    kernels::fp32_to_fp16_row(k, reinterpret_cast<uint16_t*>(kd), kv_dim_);
    kernels::fp32_to_fp16_row(v, reinterpret_cast<uint16_t*>(vd), kv_dim_);
  } else {
    std::memcpy(kd, k, row_bytes_);
    std::memcpy(vd, v, row_bytes_);
  }
  return slot;
}

void LayerKV::forget_before(int32_t p) {
  if (!ring_) return;
  for (int s = 0; s < size_; ++s)
    if (pos_[s] >= 0 && pos_[s] < p) {
      pos_[s] = -1;
      ++holes_;
    }
  if (tier_) return;  // the tier tracks its blocks' contents; leave their frames alone
  for (int b = 0; b < n_blocks_; ++b) {
    const int s0 = b << block_shift_, s1 = std::min(size_, s0 + block_rows_);
    bool empty = s0 < s1;
    for (int s = s0; s < s1 && empty; ++s) empty = pos_[s] < 0;
    if (empty) discard_block(b);  // pages read back as zeros and are committed again when written
  }
}

void LayerKV::compact_keep(const std::function<bool(int32_t)>& keep_pos) {
  // The surviving slots in position order. When they already sit at slots 0, 1, 2, ... (the usual case:
  // an unwrapped store appended in order) nothing moves and cold blocks stay cold; otherwise they are
  // compacted to the front so a ring restarts clean.
  std::vector<std::pair<int32_t, int>> keep;
  for (int s = 0; s < size_; ++s)
    if (pos_[s] >= 0 && keep_pos(pos_[s])) keep.emplace_back(pos_[s], s);
  std::sort(keep.begin(), keep.end());
  bool in_place = true;
  for (size_t i = 0; i < keep.size() && in_place; ++i) in_place = keep[i].second == static_cast<int>(i);
  const bool streamed = !in_place && tier_ && tier_->streaming(layer_);
  if (streamed) compact_streamed(keep);
  if (!in_place && !streamed) {
    if (tier_) tier_->acquire(layer_);
    std::vector<uint8_t> k2(keep.size() * row_bytes_), v2(keep.size() * row_bytes_);
    for (size_t i = 0; i < keep.size(); ++i) {
      std::memcpy(&k2[i * row_bytes_], k_row(keep[i].second), row_bytes_);
      std::memcpy(&v2[i * row_bytes_], v_row(keep[i].second), row_bytes_);
    }
    for (size_t i = 0; i < keep.size(); ++i) {
      std::memcpy(k_base_ + i * row_bytes_, &k2[i * row_bytes_], row_bytes_);
      std::memcpy(v_base_ + i * row_bytes_, &v2[i * row_bytes_], row_bytes_);
      if (tier_) touched_[static_cast<int>(i) >> block_shift_] = 1;
    }
  }
  std::fill(pos_.begin(), pos_.end(), -1);
  for (size_t i = 0; i < keep.size(); ++i) pos_[i] = keep[i].first;
  size_ = static_cast<int>(keep.size());
  holes_ = 0;
  head_ = 0;
  in_order_ = true;  // compacted in position order
  last_pos_ = keep.empty() ? -1 : keep.back().first;
  last_slot_ = size_ - 1;
  release_blocks_from((size_ + block_rows_ - 1) >> block_shift_);
  if (!in_place && !streamed && tier_) tier_->release(layer_);
}

void LayerKV::compact_streamed(const std::vector<std::pair<int32_t, int>>& keep) {
  // The layer does not fit the budget as a whole (it is open and streams, kv/kv_tier.h). Rows move toward the
  // front in position order: row i goes to slot i <= its source slot, so copying in order never overwrites a
  // row still to be read. Each window holds the destination and source blocks of a run of rows; the tier
  // writes a destination block back before it leaves RAM (it is marked touched).
  const size_t cap = static_cast<size_t>(tier_->stream_capacity());  // >= 2: one row's two blocks always fit
  std::vector<int> blocks;
  auto has = [&](int b) { return std::find(blocks.begin(), blocks.end(), b) != blocks.end(); };
  for (size_t i = 0; i < keep.size();) {
    blocks.clear();
    size_t j = i;
    for (; j < keep.size(); ++j) {
      const int db = static_cast<int>(j) >> block_shift_, sb = keep[j].second >> block_shift_;
      const size_t extra = !has(db) + (sb != db && !has(sb));
      if (!blocks.empty() && blocks.size() + extra > cap) break;
      if (!has(db)) blocks.push_back(db);
      if (!has(sb)) blocks.push_back(sb);
    }
    std::sort(blocks.begin(), blocks.end());
    tier_->stream_window(layer_, blocks, {});
    for (size_t r = i; r < j; ++r) {
      const int src = keep[r].second, dst = static_cast<int>(r);
      if (src != dst) {
        std::memcpy(k_base_ + size_t(dst) * row_bytes_, k_base_ + size_t(src) * row_bytes_, row_bytes_);
        std::memcpy(v_base_ + size_t(dst) * row_bytes_, v_base_ + size_t(src) * row_bytes_, row_bytes_);
      }
      touched_[dst >> block_shift_] = 1;
    }
    i = j;
  }
}

bool LayerKV::truncate(int32_t n, int window) {
  compact_keep([n](int32_t p) { return p < n; });
  const int32_t first = size_ > 0 ? pos_[0] : n;
  const int kept = size_;
  if (!ring_) return true;
  const int32_t need_from = window > 0 ? std::max<int32_t>(0, n - window + 1) : 0;
  const int32_t have_from = kept == 0 ? n : first;
  return have_from <= need_from && kept >= n - need_from;
}

}  // namespace slim
