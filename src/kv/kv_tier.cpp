#include "kv/kv_tier.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <tuple>

#include "kv/cold_file.h"
#include "slim/error.h"

namespace slim {

namespace {

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / 1048576.0);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

KVTier::KVTier(const KVTierParams& p, int n_layer)
    : budget_(p.budget_bytes),
      cold_dir_(p.cold_dir),
      block_rows_(p.block_rows),
      tau_(p.swap_threshold),
      prefetch_(p.prefetch),
      n_layer_(n_layer) {
  if (n_layer <= 0) throw Error("kv: a KV tier needs at least one layer");
  if (!enabled()) return;
  file_ = std::make_unique<ColdFile>(cold_dir_);
  io_ = std::thread([this] { io_loop(); });
}

KVTier::~KVTier() {
  if (io_.joinable()) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    io_cv_.notify_all();
    io_.join();
  }
}

void KVTier::attach(std::vector<LayerKV>& layers) {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (!layers_.empty()) throw Error("kv: KV tier attached twice");
  if (static_cast<int>(layers.size()) != n_layer_)
    throw Error("kv: KV tier made for " + std::to_string(n_layer_) + " layers, attached to " +
                std::to_string(layers.size()));
  for (const LayerKV& kv : layers) {
    if (kv.block_rows() != block_rows_)
      throw Error("kv: layer block size " + std::to_string(kv.block_rows()) + " differs from the tier's " +
                  std::to_string(block_rows_));
    if (kv.n_blocks() != 0 || kv.tier_) throw Error("kv: a KV tier must be attached to empty, unattached layers");
    frame_bytes_ = std::max(frame_bytes_, kv.block_bytes());
  }
  layers_.resize(n_layer_);
  blocks_.resize(n_layer_);
  layer_offset_.resize(n_layer_);
  pinned_.assign(n_layer_, 0);
  all_needed_.assign(n_layer_, 1);
  full_.assign(n_layer_, 0);
  ring_.assign(n_layer_, 0);
  nblk_.assign(n_layer_, 0);
  streaming_.assign(n_layer_, 0);
  stream_lo_.assign(n_layer_, 0);
  uint64_t off = 0;
  for (int l = 0; l < n_layer_; ++l) {
    LayerKV& kv = layers[l];
    layers_[l] = &kv;
    kv.tier_ = this;
    kv.layer_ = l;
    blocks_[l].assign(kv.max_blocks(), Block{});
    ring_[l] = kv.ring();
    layer_offset_[l] = off;  // fixed home of every (layer, block) in the cold file
    off += uint64_t(kv.max_blocks()) * frame_bytes_;
  }
  st_.budget_bytes = budget_;
  st_.block_bytes = frame_bytes_;
}

size_t KVTier::min_budget(const std::vector<LayerKV>& layers) {
  size_t frame = 0, ring_blocks = 0;
  for (const LayerKV& kv : layers) frame = std::max(frame, kv.block_bytes());
  for (const LayerKV& kv : layers)
    if (kv.ring()) ring_blocks = std::max(ring_blocks, size_t(kv.max_blocks()));
  // A streamed layer pins its tail block and one window of at least two blocks (a key tile of 64 positions
  // may straddle two), with a second window's worth of frames to fetch into meanwhile: 4 windows' worth
  // (stream_capacity is a quarter of the frames) covers it.
  return std::max<size_t>(ring_blocks + 1, kMinStreamFrames) * frame;
}

int KVTier::stream_capacity() const {
  return std::max(2, static_cast<int>(budget_ / std::max<size_t>(frame_bytes_, 1) / 4));
}

bool KVTier::streaming(int l) const {
  if (!enabled()) return false;
  std::lock_guard<std::mutex> lk(mu_);
  return l >= 0 && l < static_cast<int>(streaming_.size()) && streaming_[l];
}

// ---------------------------------------------------------------------------------------------------------
// Layer brackets

void KVTier::begin_layer_slow(int l) {
  std::unique_lock<std::mutex> lk(mu_);
  throw_if_failed_locked();
  if (l < 0 || l >= n_layer_ || layers_.empty()) throw Error("kv: begin_layer: no such layer in the KV tier");
  if (current_ >= 0)
    throw Error("kv: begin_layer(" + std::to_string(l) + ") while layer " + std::to_string(current_) +
                " is still open");
  // A layer that cannot be resident as a whole streams (only non-ring layers: a sliding-window ring must
  // fit, min_budget guarantees it). Its tail block gets appends: mark it dirty so that evicting it mid-layer
  // writes it out (the appends are absorbed into the dirty flags only at end_layer).
  size_t n_need = 1;
  for (int b = 0; b < nblk_[l]; ++b) n_need += needs(l, b);
  if (!ring_[l] && !full_[l] && n_need * frame_bytes_ > budget_) {
    start_stream_locked(l);
    if (nblk_[l] > 0) blocks_[l][nblk_[l] - 1].dirty = true, blocks_[l][nblk_[l] - 1].on_disk = false;
  } else {
    check_fits_locked(l, 1);
  }
  current_ = l;
  try {
    pin_locked(lk, l, /*count_hits=*/true);
  } catch (...) {
    unpin_locked(l);
    current_ = -1;
    throw;
  }
  pump_locked();  // now that l is resident: prefetch l + 1
}

// Blocks the layer's appends wrote since the tier last looked are now newer than their cold copies.
void KVTier::absorb_writes_locked(int l) {
  LayerKV& kv = *layers_[l];
  for (int b = 0; b < nblk_[l]; ++b)
    if (kv.touched_[b]) {
      kv.touched_[b] = 0;
      if (!blocks_[l][b].resident) continue;  // a streamed layer wrote it out already (it was dirty)
      blocks_[l][b].dirty = true;
      blocks_[l][b].on_disk = false;
    }
}

void KVTier::end_layer_slow(int l) {
  std::unique_lock<std::mutex> lk(mu_);
  if (l != current_) throw Error("kv: end_layer(" + std::to_string(l) + ") without its begin_layer");
  absorb_writes_locked(l);
  if (!full_[l]) unpin_locked(l);
  if (streaming_[l]) {
    streaming_[l] = 0;
    for (Block& bk : blocks_[l]) bk.window = false;
  }
  current_ = -1;
  next_ = (l + 1) % n_layer_;
  // When everything no longer fits, write l's finished blocks back now, in the background, so that
  // evicting them later is free (an append never waits for a write).
  if (stored_blocks_ * frame_bytes_ > budget_) write_back_locked(l);
  pump_locked();
}

void KVTier::acquire(int l) {
  std::unique_lock<std::mutex> lk(mu_);
  throw_if_failed_locked();
  full_[l] = 1;
  try {
    check_fits_locked(l, 0);
    pin_locked(lk, l, /*count_hits=*/false);
  } catch (...) {
    full_[l] = 0;
    if (current_ != l) unpin_locked(l);
    throw;
  }
}

void KVTier::release(int l) {
  std::unique_lock<std::mutex> lk(mu_);
  absorb_writes_locked(l);
  full_[l] = 0;
  if (current_ != l) unpin_locked(l);
  pump_locked();
}

void KVTier::pin_locked(std::unique_lock<std::mutex>& lk, int l, bool count_hits) {
  pinned_[l] = 1;
  layers_[l]->pinned_ = true;
  // Pending writes of l's blocks are cancelled (the block stays dirty); one in progress is waited for below.
  for (int b = 0; b < nblk_[l]; ++b) {
    Block& bk = blocks_[l][b];
    if (bk.state != State::Writing) continue;
    if (bk.drop_after) leaving_bytes_ -= frame_bytes_;
    bk.drop_after = false;
    if (!(busy_layer_ == l && busy_block_ == b)) {
      ++bk.gen;
      bk.state = State::Hot;
    }
  }
  if (count_hits)
    for (int b = 0; b < nblk_[l]; ++b)
      if (needed_now(l, b)) ++(blocks_[l][b].state == State::Hot ? st_.prefetch_hits : st_.prefetch_misses);
  wait_demand_locked(lk, l);
}

void KVTier::unpin_locked(int l) {
  pinned_[l] = 0;
  layers_[l]->pinned_ = false;
}

// Layer l's needed blocks are fetched before anything else while the caller waits for them.
void KVTier::wait_demand_locked(std::unique_lock<std::mutex>& lk, int l) {
  demand_ = l;
  try {
    wait_locked(lk, l);
  } catch (...) {
    demand_ = -1;
    throw;
  }
  demand_ = -1;
}

void KVTier::wait_locked(std::unique_lock<std::mutex>& lk, int l) {
  auto ready = [&] {
    if (busy_layer_ == l && (!streaming_[l] || stream_pinned(l, busy_block_))) return false;
    for (int b = 0; b < nblk_[l]; ++b)
      if (needed_now(l, b) && blocks_[l][b].state != State::Hot) return false;
    return true;
  };
  if (ready()) return;
  const auto t0 = std::chrono::steady_clock::now();
  while (!ready()) {
    throw_if_failed_locked();
    pump_locked();
    if (ready()) break;
    if (busy_layer_ < 0 && queue_[0].empty() && queue_[1].empty() && queue_[2].empty())
      throw Error("kv: layer " + std::to_string(l) + " cannot be made resident within the KV budget of " +
                  mib(budget_) + " (other layers are pinned)");
    cv_.wait(lk);
  }
  st_.stall_seconds += seconds_since(t0);
}

bool KVTier::needs(int l, int b) const {
  return ring_[l] || all_needed_[l] || full_[l] || blocks_[l][b].needed || b == nblk_[l] - 1;
}

bool KVTier::stream_pinned(int l, int b) const { return blocks_[l][b].window || b == nblk_[l] - 1; }

bool KVTier::needed_now(int l, int b) const { return streaming_[l] ? stream_pinned(l, b) : needs(l, b); }

void KVTier::check_fits_locked(int l, int extra_blocks) const {
  size_t n = extra_blocks;
  for (int b = 0; b < nblk_[l]; ++b) n += needs(l, b);
  if (n * frame_bytes_ > budget_)
    throw Error("kv: the KV budget of " + mib(budget_) + " is too small: layer " + std::to_string(l) +
                " needs " + mib(n * frame_bytes_) + " resident (its " + std::to_string(n - extra_blocks) +
                " blocks of " + mib(frame_bytes_) + " plus " + std::to_string(extra_blocks) +
                " for appends) as a whole: sliding-window rings do not stream; "
                "use a budget of at least that layer's KV plus one block");
}

// ---------------------------------------------------------------------------------------------------------
// Blocks

void KVTier::alloc_block(int l, int b) {
  std::unique_lock<std::mutex> lk(mu_);
  throw_if_failed_locked();
  if (!pinned_[l]) throw Error("kv: new block for layer " + std::to_string(l) + ", which is not pinned");
  size_t pinned_hot = 1;
  for (int i = 0; i < nblk_[l]; ++i)
    pinned_hot += blocks_[l][i].resident && (!streaming_[l] || stream_pinned(l, i));
  if (pinned_hot * frame_bytes_ > budget_ && !ring_[l] && !full_[l] && !streaming_[l]) {
    // The layer outgrows the budget while being appended to (a long micro-batch, a layer-major prefill):
    // from now on it streams. Rows appended so far become dirty so that evicting their blocks writes them.
    absorb_writes_locked(l);
    start_stream_locked(l);
    pinned_hot = 1 + (nblk_[l] > 0 && blocks_[l][nblk_[l] - 1].resident);
  }
  if (pinned_hot * frame_bytes_ > budget_)
    throw Error("kv: the KV budget of " + mib(budget_) + " is too small: layer " + std::to_string(l) + " needs " +
                mib(pinned_hot * frame_bytes_) + " resident (" + std::to_string(pinned_hot) + " blocks of " +
                mib(frame_bytes_) + "); use a budget of at least the largest layer's KV plus one block");
  if (hot_bytes_ + frame_bytes_ > budget_) {
    const auto t0 = std::chrono::steady_clock::now();
    room_wanted_ = true;
    while (!make_room_locked(l, /*prefetch=*/false)) {
      if (busy_layer_ < 0 && queue_[0].empty() && queue_[1].empty() && queue_[2].empty()) {
        room_wanted_ = false;
        throw Error("kv: no room for a new KV block of layer " + std::to_string(l) + " within " + mib(budget_) +
                    " (other layers are pinned)");
      }
      cv_.wait(lk);
      if (!io_error_.empty()) room_wanted_ = false;
      throw_if_failed_locked();
    }
    room_wanted_ = false;
    st_.stall_seconds += seconds_since(t0);
  }
  Block& bk = blocks_[l][b];
  bk = Block{true, State::Hot, true, false, false, true, true, bk.gen + 1};
  layers_[l]->resident_[b] = 1;
  hot_bytes_ += frame_bytes_;
  st_.hot_bytes_peak = std::max(st_.hot_bytes_peak, hot_bytes_);
  nblk_[l] = std::max(nblk_[l], b + 1);
  ++stored_blocks_;
}

void KVTier::drop_blocks_from(int l, int b0) {
  std::unique_lock<std::mutex> lk(mu_);
  while (busy_layer_ == l && busy_block_ >= b0) cv_.wait(lk);
  bool on_disk = false;
  for (int b = b0; b < nblk_[l]; ++b) {
    Block& bk = blocks_[l][b];
    if (bk.state == State::Writing && bk.drop_after) leaving_bytes_ -= frame_bytes_;
    if (bk.resident) free_frame_locked(l, b);
    on_disk = on_disk || bk.on_disk;
    if (bk.state != State::Absent) --stored_blocks_;
    bk = Block{false, State::Absent, false, false, false, true, true, bk.gen + 1};  // queued jobs go stale
  }
  if (on_disk && nblk_[l] > b0) file_->discard(offset(l, b0), size_t(nblk_[l] - b0) * frame_bytes_);
  nblk_[l] = std::min(nblk_[l], b0);
  cv_.notify_all();
}

void KVTier::free_frame_locked(int l, int b) {
  Block& bk = blocks_[l][b];
  layers_[l]->discard_block(b);
  bk.resident = false;
  layers_[l]->resident_[b] = 0;
  hot_bytes_ -= frame_bytes_;
}

bool KVTier::set_active(int l, const std::vector<int>& blocks) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!enabled() || layers_.empty() || ring_[l]) return false;
  std::vector<uint8_t> in(blocks_[l].size(), 0);
  for (int b : blocks)
    if (b >= 0 && b < static_cast<int>(in.size())) in[b] = 1;
  // Overlap of what is resident with what is needed, relative to the needed set.
  size_t n_needed = 0, overlap = 0;
  for (int b = 0; b < nblk_[l]; ++b) {
    n_needed += in[b];
    overlap += in[b] && blocks_[l][b].resident;
  }
  const bool swap = n_needed > 0 && double(overlap) < tau_ * double(n_needed);
  for (size_t b = 0; b < in.size(); ++b) {
    Block& bk = blocks_[l][b];
    bk.needed = in[b] || int(b) >= nblk_[l];  // blocks appended later are needed
    // A swap releases the blocks no longer needed (they are offloaded before anything else); below the
    // threshold nothing is released, so a needed set that jitters does not make blocks ping-pong.
    bk.keep = swap ? bk.needed : (bk.keep || in[b]);
  }
  all_needed_[l] = 0;
  swaps_ += swap;
  pump_locked();
  return swap;
}

void KVTier::start_stream_locked(int l) {
  streaming_[l] = 1;
  stream_lo_[l] = 0;
  stream_last_ = false;
}

void KVTier::stream_window(int l, const std::vector<int>& cur, const std::vector<int>& next) {
  std::unique_lock<std::mutex> lk(mu_);
  throw_if_failed_locked();
  if (l != current_ || !streaming_[l])
    throw Error("kv: stream_window(" + std::to_string(l) + ") on a layer that is not open and streaming");
  if (static_cast<int>(cur.size()) > stream_capacity())
    throw Error("kv: a stream window of " + std::to_string(cur.size()) + " blocks exceeds the capacity of " +
                std::to_string(stream_capacity()));
  absorb_writes_locked(l);  // rows written in the last window (a streamed compaction) must be written back
  for (Block& bk : blocks_[l]) bk.window = false;
  int lo = nblk_[l];
  for (int b : cur) {
    if (b < 0 || b >= nblk_[l]) throw Error("kv: stream_window: block " + std::to_string(b) + " out of range");
    blocks_[l][b].window = true;
    lo = std::min(lo, b);
  }
  stream_lo_[l] = lo;
  stream_last_ = next.empty();
  ++st_.stream_windows;
  for (int b : cur) ++(blocks_[l][b].state == State::Hot ? st_.prefetch_hits : st_.prefetch_misses);
  wait_demand_locked(lk, l);
  if (prefetch_ && !room_wanted_)
    for (int b : next) {
      if (b < 0 || b >= nblk_[l]) continue;
      Block& bk = blocks_[l][b];
      if (bk.state != State::Cold) continue;
      if (!make_room_locked(l, /*prefetch=*/true)) break;
      start_read_locked(l, b, /*prefetch=*/true);
    }
  pump_locked();
}

void KVTier::clear_active(int l) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!enabled() || layers_.empty()) return;
  all_needed_[l] = 1;
  for (Block& bk : blocks_[l]) bk.needed = bk.keep = true;
  pump_locked();
}

// ---------------------------------------------------------------------------------------------------------
// Scheduling (all under mu_)

int KVTier::distance(int l) const {
  const int cur = current_ >= 0 ? current_ : next_;
  return ((l - cur) % n_layer_ + n_layer_) % n_layer_;
}

void KVTier::pump_locked() {
  if (layers_.empty()) return;
  if (demand_ >= 0) issue_reads_locked(demand_, /*prefetch=*/false);
  if (!prefetch_ || room_wanted_) return;
  // While a layer streams, its next window comes first (stream_window fetches it); the next layer waits for
  // the last window.
  if (current_ >= 0 && streaming_[current_] && !stream_last_) return;
  const int target = current_ >= 0 ? (current_ + 1) % n_layer_ : next_;
  if (target != demand_ && target != current_) issue_reads_locked(target, /*prefetch=*/true);
}

void KVTier::issue_reads_locked(int l, bool prefetch) {
  for (int b = 0; b < nblk_[l]; ++b) {
    Block& bk = blocks_[l][b];
    if (bk.state != State::Cold || !needed_now(l, b)) continue;
    if (!make_room_locked(l, prefetch)) return;
    start_read_locked(l, b, prefetch);
  }
}

void KVTier::start_read_locked(int l, int b, bool prefetch) {
  Block& bk = blocks_[l][b];
  bk.resident = true;
  hot_bytes_ += frame_bytes_;
  st_.hot_bytes_peak = std::max(st_.hot_bytes_peak, hot_bytes_);
  bk.state = State::Reading;
  enqueue_locked(prefetch ? kPrefetch : kUrgent, l, b, /*read=*/true, prefetch);
}

// Frees frames until one more fits. Clean victims go at once; dirty ones start an eviction write, and the
// caller retries when it completes. False: no room now.
bool KVTier::make_room_locked(int target, bool prefetch) {
  while (hot_bytes_ + frame_bytes_ > budget_) {
    if (hot_bytes_ - leaving_bytes_ + frame_bytes_ <= budget_) return false;  // writes under way suffice
    int vl, vb;
    if (!pick_victim_locked(target, prefetch, vl, vb)) return false;
    evict_locked(vl, vb);
  }
  return true;
}

// The block to give up: one its layer no longer keeps (set_active) first, then the one whose layer runs
// furthest in the future in the cyclic layer order — for a cyclic scan that does not fit, evicting the
// most distant reuse is optimal — clean before dirty, the layer's tail block last. A prefetch may only
// evict blocks needed later than its own layer.
bool KVTier::pick_victim_locked(int target, bool prefetch, int& vl, int& vb) const {
  const int dt = prefetch ? distance(target) : -1;
  std::tuple<int, int, int, int, int> best{-1, 0, 0, 0, 0};
  vl = vb = -1;
  for (int m = 0; m < n_layer_; ++m) {
    if (pinned_[m] && !streaming_[m]) continue;
    const int dm = distance(m);
    for (int b = 0; b < nblk_[m]; ++b) {
      const Block& bk = blocks_[m][b];
      if (bk.state != State::Hot) continue;
      if (streaming_[m] ? stream_pinned(m, b) : (m == target && needs(m, b))) continue;
      // A streamed layer's blocks below its window were read in this pass: needed again only a full cycle
      // later. Its blocks above the window come next and go last.
      const bool released = !(all_needed_[m] || bk.keep) || (m == target && !streaming_[m]) ||
                            (streaming_[m] && b < stream_lo_[m]);
      if (!released && dm <= dt) continue;
      const bool clean = !bk.dirty && bk.on_disk;
      std::tuple<int, int, int, int, int> key{released, dm, clean, b != nblk_[m] - 1, -b};
      if (vl < 0 || key > best) best = key, vl = m, vb = b;
    }
  }
  return vl >= 0;
}

void KVTier::evict_locked(int l, int b) {
  Block& bk = blocks_[l][b];
  if (!bk.dirty && bk.on_disk) {
    free_frame_locked(l, b);
    bk.state = State::Cold;
    return;
  }
  bk.state = State::Writing;
  bk.drop_after = true;
  leaving_bytes_ += frame_bytes_;
  enqueue_locked(kUrgent, l, b, /*read=*/false, false);
}

void KVTier::write_back_locked(int l) {
  const int tail = ring_[l] ? layers_[l]->last_block() : nblk_[l] - 1;  // still being appended to
  for (int b = 0; b < nblk_[l]; ++b) {
    Block& bk = blocks_[l][b];
    if (bk.state != State::Hot || !bk.dirty || b == tail) continue;
    bk.state = State::Writing;
    bk.drop_after = false;
    enqueue_locked(kBackground, l, b, /*read=*/false, false);
  }
}

void KVTier::enqueue_locked(Priority p, int l, int b, bool read, bool prefetch) {
  Block& bk = blocks_[l][b];
  ++bk.gen;
  queue_[p].push_back(Job{l, b, bk.gen, read, prefetch});
  io_cv_.notify_one();
}

void KVTier::throw_if_failed_locked() const {
  if (!io_error_.empty()) throw Error(io_error_);
}

// ---------------------------------------------------------------------------------------------------------
// The I/O thread: takes the most urgent job, transfers the block outside the lock, then records the result.

void KVTier::io_loop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    io_cv_.wait(lk, [&] { return stop_ || !queue_[0].empty() || !queue_[1].empty() || !queue_[2].empty(); });
    if (stop_) return;
    Job j{};
    for (auto& q : queue_)
      if (!q.empty()) {
        j = q.front();
        q.pop_front();
        break;
      }
    Block& bk = blocks_[j.layer][j.block];
    if (bk.gen != j.gen || bk.state != (j.read ? State::Reading : State::Writing)) {  // cancelled
      cv_.notify_all();
      continue;
    }
    busy_layer_ = j.layer;
    busy_block_ = j.block;
    LayerKV& kv = *layers_[j.layer];
    const size_t half = kv.block_bytes() / 2;  // K rows, then V rows
    uint8_t* kd = kv.block_k(j.block);
    uint8_t* vd = kv.block_v(j.block);
    const uint64_t off = offset(j.layer, j.block);
    lk.unlock();
    std::string err;
    try {
      if (j.read) {
        file_->read_at(kd, half, off);
        file_->read_at(vd, half, off + half);
      } else {
        file_->write_at(kd, half, off);
        file_->write_at(vd, half, off + half);
      }
    } catch (const std::exception& e) {
      err = e.what();
    }
    lk.lock();
    busy_layer_ = busy_block_ = -1;
    const size_t n = 2 * half;
    if (!err.empty()) {
      io_error_ = err;
      if (j.read) {  // the block stays cold
        free_frame_locked(j.layer, j.block);
        bk.state = State::Cold;
      } else {
        if (bk.drop_after) leaving_bytes_ -= frame_bytes_;
        bk.drop_after = false;
        bk.state = State::Hot;
      }
    } else if (j.read) {
      bk.state = State::Hot;
      bk.dirty = false;
      bk.on_disk = true;
      kv.resident_[j.block] = 1;
      st_.bytes_fetched += n;
      st_.blocks_prefetched += j.prefetch;
    } else {
      bk.dirty = false;  // a pinned block is never written (pin waits for the one in progress)
      bk.on_disk = true;
      st_.bytes_offloaded += n;
      if (bk.drop_after) {
        leaving_bytes_ -= frame_bytes_;
        bk.drop_after = false;
        free_frame_locked(j.layer, j.block);
        bk.state = State::Cold;
      } else {
        bk.state = State::Hot;
      }
    }
    if (err.empty()) pump_locked();
    cv_.notify_all();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Statistics

KVManagerStats KVTier::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  KVManagerStats s = st_;
  size_t cold = 0;
  for (const auto& layer : blocks_)
    for (const Block& bk : layer) cold += bk.on_disk;
  s.cold_bytes = cold * frame_bytes_;
  return s;
}

void KVTier::drain() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] {
    return !io_error_.empty() ||
           (busy_layer_ < 0 && queue_[0].empty() && queue_[1].empty() && queue_[2].empty());
  });
}

uint64_t KVTier::swaps() const {
  std::lock_guard<std::mutex> lk(mu_);
  return swaps_;
}

size_t KVTier::hot_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return hot_bytes_;
}

}  // namespace slim
