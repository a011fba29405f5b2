// Per-layer KV stores. Every stored row is tagged with its token's absolute position, so attention masks
// (causal, sliding window) are decided by position and a layer may hold any subset of tokens — the property
// token pruning needs. Global layers append; sliding-window layers keep a ring of window + ubatch rows.
//
// Storage is block-paged: slot s belongs to block s / B (B = block_rows, a power of two). K and V rows live
// in two reserved, lazily committed address ranges (anonymous mmap), so k_row(slot) is one multiply-add as
// with a flat array, while physical memory follows the rows actually written (a pruned layer holding 20% of
// the tokens commits ~20% of the pages), and a block can be given back to the OS (madvise) and later read
// back in place. With a KVTier attached (kv/kv_tier.h) the tier decides which blocks are resident and may
// move unpinned ones to a cold file; see docs/kv-cache.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

namespace slim {

enum class KVType { F16, F32 };

class KVTier;

// An anonymous, lazily committed address range: pages cost memory only once written.
class KVRegion {
 public:
  KVRegion() = default;
  explicit KVRegion(size_t bytes);  // throws std::bad_alloc if the range cannot be reserved
  ~KVRegion();
  KVRegion(KVRegion&& o) noexcept;
  KVRegion& operator=(KVRegion&& o) noexcept;
  uint8_t* data() const { return p_; }
  // [off, off + n) reads as zeros afterwards: its whole pages go back to the OS (madvise), the bytes it
  // shares pages with neighbouring data are zeroed.
  void discard(size_t off, size_t n);

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

class LayerKV {
 public:
  static constexpr int kDefaultBlockRows = 128;

  // capacity: max rows held; ring: overwrite the oldest row when full (sliding-window layers only).
  // block_rows: rows per block, a power of two (slim::Error otherwise). No memory is allocated here.
  void init(int kv_dim, int capacity, bool ring, KVType type, int block_rows = kDefaultBlockRows);
  // Forgets every row and frees every block (in the cold tier too).
  void clear();

  // Stores one row (k and v are kv_dim floats) for position pos; returns the slot index.
  // Throws slim::Error when a non-ring store is full. With a tier, the layer must be pinned (begin_layer).
  int append(int32_t pos, const float* k, const float* v);
  // Drops every row with position >= n (rows are kept in position order). Returns false if a position
  // in [n - window, n) that a later query would need is no longer held (ring overwrote it).
  // Works with blocks in the cold tier (they are fetched only if rows have to move).
  bool truncate(int32_t n, int window);
  // Drops every row whose position drop(pos) selects, compacting the rest in position order (cold blocks are
  // fetched only if rows have to move). SlimInfer's `evict` option uses it on a pruning layer after prefill.
  template <class Pred>
  void erase_if(Pred drop) {
    compact_keep([&](int32_t p) { return !drop(p); });
  }

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
  // Row pointers. With a tier, rows are valid only in resident blocks (every needed block of the pinned
  // layer is; see KVTier::begin_layer).
  const void* k_row(int slot) const { return k_base_ + static_cast<size_t>(slot) * row_bytes_; }
  const void* v_row(int slot) const { return v_base_ + static_cast<size_t>(slot) * row_bytes_; }
  size_t bytes_used() const { return 2 * static_cast<size_t>(size_ - holes_) * row_bytes_; }  // stored rows
  // Sliding-window stores: forgets every row with position < p (they become holes, slot positions -1, which
  // attention skips) and, without a tier, gives back the memory of blocks left with no row. A later append
  // reuses the holes. The Context calls it after each eval() with the first position a future query can
  // still see, so a local layer holds about `window` rows between calls instead of window + ubatch.
  void forget_before(int32_t p);
  size_t bytes_reserved() const { return static_cast<size_t>(n_blocks_) * block_bytes(); }  // blocks in use

  // Blocks.
  int block_rows() const { return block_rows_; }
  size_t row_bytes() const { return row_bytes_; }
  size_t block_bytes() const { return 2 * static_cast<size_t>(block_rows_) * row_bytes_; }
  int n_blocks() const { return n_blocks_; }       // blocks holding rows (hot or cold): slots [0, n_blocks·B)
  int max_blocks() const { return max_blocks_; }   // blocks at full capacity
  int block_of(int slot) const { return slot >> block_shift_; }
  bool resident(int block) const { return block < n_blocks_ && (!tier_ || resident_[block]); }
  bool ring() const { return ring_; }
  KVTier* tier() const { return tier_; }      // the tier this layer is attached to, or null
  int layer_index() const { return layer_; }  // its index in the tier (-1 without one)
  // Block the next append writes to (for a tier: the one a begin_layer must always make resident).
  int append_block() const;
  // Block of the most recently appended row, -1 if none.
  int last_block() const { return last_slot_ < 0 ? -1 : last_slot_ >> block_shift_; }

 private:
  friend class KVTier;
  uint8_t* block_k(int b) const { return k_base_ + static_cast<size_t>(b) * block_rows_ * row_bytes_; }
  uint8_t* block_v(int b) const { return v_base_ + static_cast<size_t>(b) * block_rows_ * row_bytes_; }
  void compact_keep(const std::function<bool(int32_t)>& keep);  // keeps rows with pos >= 0 && keep(pos)
  // compact_keep's row moves for a layer that streams through the KV budget: window by window.
  void compact_streamed(const std::vector<std::pair<int32_t, int>>& keep);
  void discard_block(int b);        // gives block b's pages back (its rows read as zeros or stale)
  void grow_blocks(int n);          // blocks [n_blocks_, n) start holding rows
  void release_blocks_from(int b);  // blocks [b, n_blocks_) are forgotten

  int holes_ = 0;  // slots in [0, size_) whose row was forgotten (position -1)
  int kv_dim_ = 0, capacity_ = 0, size_ = 0, head_ = 0;
  bool ring_ = false;
  bool in_order_ = true;
  int32_t last_pos_ = -1;
  int last_slot_ = -1;
  KVType type_ = KVType::F16;
  size_t row_bytes_ = 0;
  int block_rows_ = 0, block_shift_ = 0, block_mask_ = 0, max_blocks_ = 0, n_blocks_ = 0;
  KVRegion k_, v_;
  uint8_t* k_base_ = nullptr;
  uint8_t* v_base_ = nullptr;
  std::vector<uint8_t> resident_;        // tier only: block's rows are in RAM (written by the tier, under its lock)
  std::vector<uint8_t> touched_;         // tier only: blocks written since the tier last looked
  std::vector<int32_t> pos_;
  KVTier* tier_ = nullptr;
  int layer_ = -1;
  bool pinned_ = false;                  // set by the tier (main thread): appends allowed
};

}  // namespace slim
