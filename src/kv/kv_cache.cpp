#include "kv/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <string>

#include "slim/error.h"
#include "tensor/kernels.h"

namespace slim {

void LayerKV::init(int kv_dim, int capacity, bool ring, KVType type) {
  kv_dim_ = kv_dim;
  capacity_ = capacity;
  ring_ = ring;
  type_ = type;
  row_bytes_ = static_cast<size_t>(kv_dim) * (type == KVType::F16 ? 2 : 4);
  k_.assign(static_cast<size_t>(capacity) * row_bytes_, 0);
  v_.assign(static_cast<size_t>(capacity) * row_bytes_, 0);
  pos_.assign(capacity, -1);
  clear();
}

void LayerKV::clear() {
  size_ = 0;
  head_ = 0;
  in_order_ = true;
  last_pos_ = -1;
  std::fill(pos_.begin(), pos_.end(), -1);
}

int LayerKV::append(int32_t pos, const float* k, const float* v) {
  int slot;
  if (size_ < capacity_) {
    slot = size_++;
  } else if (ring_) {
    slot = head_;
    head_ = (head_ + 1) % capacity_;
  } else {
    throw Error("kv: cache full (" + std::to_string(capacity_) + " tokens); use a larger context (-c)");
  }
  pos_[slot] = pos;
  if (pos <= last_pos_) in_order_ = false;
  last_pos_ = pos;
  uint8_t* kd = k_.data() + static_cast<size_t>(slot) * row_bytes_;
  uint8_t* vd = v_.data() + static_cast<size_t>(slot) * row_bytes_;
  if (type_ == KVType::F16) {
    kernels::fp32_to_fp16_row(k, reinterpret_cast<uint16_t*>(kd), kv_dim_);
    kernels::fp32_to_fp16_row(v, reinterpret_cast<uint16_t*>(vd), kv_dim_);
  } else {
    std::memcpy(kd, k, row_bytes_);
    std::memcpy(vd, v, row_bytes_);
  }
  return slot;
}

bool LayerKV::truncate(int32_t n, int window) {
  // Collect the surviving slots in position order, then compact them to the front so a ring restarts clean.
  std::vector<std::pair<int32_t, int>> keep;
  for (int s = 0; s < size_; ++s)
    if (pos_[s] >= 0 && pos_[s] < n) keep.emplace_back(pos_[s], s);
  std::sort(keep.begin(), keep.end());
  std::vector<uint8_t> k2(keep.size() * row_bytes_), v2(keep.size() * row_bytes_);
  for (size_t i = 0; i < keep.size(); ++i) {
    std::memcpy(&k2[i * row_bytes_], k_row(keep[i].second), row_bytes_);
    std::memcpy(&v2[i * row_bytes_], v_row(keep[i].second), row_bytes_);
  }
  std::fill(pos_.begin(), pos_.end(), -1);
  std::memcpy(k_.data(), k2.data(), k2.size());
  std::memcpy(v_.data(), v2.data(), v2.size());
  for (size_t i = 0; i < keep.size(); ++i) pos_[i] = keep[i].first;
  size_ = static_cast<int>(keep.size());
  head_ = 0;
  in_order_ = true;  // compacted in position order
  last_pos_ = keep.empty() ? -1 : keep.back().first;
  if (!ring_) return true;
  const int32_t need_from = window > 0 ? std::max<int32_t>(0, n - window + 1) : 0;
  const int32_t have_from = keep.empty() ? n : keep.front().first;
  return have_from <= need_from && static_cast<int32_t>(keep.size()) >= n - need_from;
}

}  // namespace slim
