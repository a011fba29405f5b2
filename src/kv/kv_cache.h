// Per-layer KV stores. Every stored row is tagged with its token's absolute position, so attention masks
// (causal, sliding window) are decided by position and a layer may hold any subset of tokens — the property
// token pruning needs. Global layers append; sliding-window layers keep a ring of window + ubatch rows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace slim {

enum class KVType { F16, F32 };

class LayerKV {
 public:
  // capacity: max rows held; ring: overwrite the oldest row when full (sliding-window layers only).
  void init(int kv_dim, int capacity, bool ring, KVType type);
  void clear();

  // Stores one row (k and v are kv_dim floats) for position pos; returns the slot index.
  // Throws slim::Error when a non-ring store is full.
  int append(int32_t pos, const float* k, const float* v);
  // Drops every row with position >= n (rows are kept in position order). Returns false if a position
  // in [n - window, n) that a later query would need is no longer held (ring overwrote it).
  bool truncate(int32_t n, int window);

  int capacity() const { return capacity_; }
  int size() const { return size_; }          // valid rows (slots [0, size) in use; ring: all slots once full)
  int32_t pos(int slot) const { return pos_[slot]; }
  // Iterating slots (first_slot() + i) % capacity() for i < size() visits rows in position order whenever
  // in_order() holds (rows were appended with increasing positions). Attention sums keys in that order, so
  // a layer's result does not depend on batch boundaries or on where the ring wrapped.
  int first_slot() const { return size_ < capacity_ ? 0 : head_; }
  bool in_order() const { return in_order_; }
  const int32_t* positions() const { return pos_.data(); }
  KVType type() const { return type_; }
  const void* k_row(int slot) const { return k_.data() + static_cast<size_t>(slot) * row_bytes_; }
  const void* v_row(int slot) const { return v_.data() + static_cast<size_t>(slot) * row_bytes_; }
  size_t bytes_used() const { return 2 * static_cast<size_t>(size_) * row_bytes_; }
  size_t bytes_reserved() const { return 2 * static_cast<size_t>(capacity_) * row_bytes_; }

 private:
  int kv_dim_ = 0, capacity_ = 0, size_ = 0, head_ = 0;
  bool ring_ = false;
  bool in_order_ = true;
  int32_t last_pos_ = -1;
  KVType type_ = KVType::F16;
  size_t row_bytes_ = 0;
  std::vector<uint8_t> k_, v_;
  std::vector<int32_t> pos_;
};

}  // namespace slim
