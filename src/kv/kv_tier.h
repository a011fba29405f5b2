// The tiered KV-cache manager: one per context, shared by all layers. KV blocks (kv/kv_cache.h) live in a
// hot tier (RAM frames, at most budget_bytes of them) or a cold tier (one unlinked file, each (layer, block)
// at a fixed offset). The forward pass brackets every layer with begin_layer / end_layer:
//
//   begin_layer(l)  waits until the blocks layer l needs are resident (the wait is the stall time), pins
//                   them, and asks the background I/O thread to prefetch the blocks layer l+1 needs;
//   ... forward_layer(l) reads rows of l and appends new ones (new blocks come from the budget) ...
//   end_layer(l)    unpins l; when the budget forces tiering, l's finished blocks are written back in the
//                   background so that evicting them later costs nothing.
//
// A layer whose needed blocks do not fit the budget is *streamed*: begin_layer pins only the block appends
// go to, and attention walks the layer's keys in windows of blocks (stream_window), each made resident
// while the next one is prefetched. Attention keeps its softmax state across windows and visits keys in
// the same order, so a streamed layer's output is bit-identical to a resident one (model/attention.cpp).
//
// Eviction takes the block whose layer is used furthest in the future in the cyclic layer order (blocks a
// layer no longer needs go first). The I/O thread only touches unpinned blocks; compute threads only read
// the pinned layer. With budget_bytes == 0 the tier is off: nothing is attached, no thread, no file, and
// begin_layer / end_layer return at once. Design and figures: docs/kv-cache.md.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kv/kv_cache.h"
#include "slim/context.h"  // KVManagerStats

namespace slim {

class ColdFile;

struct KVTierParams {
  size_t budget_bytes = 0;     // RAM for KV blocks; 0: unlimited (tier off)
  std::string cold_dir;        // directory of the cold file; empty: $TMPDIR, else /tmp
  int block_rows = LayerKV::kDefaultBlockRows;  // must equal the layers' block_rows
  double swap_threshold = 0.9; // set_active: release old blocks only when overlap(kept, needed)/|needed| < this
  bool prefetch = true;        // layer-ahead prefetch (off: every block is fetched on demand)
};

class KVTier {
 public:
  KVTier(const KVTierParams& params, int n_layer);
  ~KVTier();
  KVTier(const KVTier&) = delete;
  KVTier& operator=(const KVTier&) = delete;

  bool enabled() const { return budget_ > 0; }
  // Hooks the layers' block storage to this tier. The layers must be init()ed with params.block_rows and
  // empty, there must be n_layer of them, and the vector must not be resized afterwards. No-op when off.
  void attach(std::vector<LayerKV>& layers);

  // Brackets one layer's forward pass (see above). begin_layer throws slim::Error when layer l's needed
  // blocks plus one block for appends exceed the budget, or when the cold file fails. One layer at a time.
  void begin_layer(int l) {
    if (enabled()) begin_layer_slow(l);
  }
  void end_layer(int l) {
    if (enabled()) end_layer_slow(l);
  }

  // Restricts what layer l needs to the given blocks (a policy that reads only part of a layer, e.g.
  // decode-time re-scoring): begin_layer(l) then waits for — and prefetch fetches — only these blocks plus
  // the block appends go to; rows of other blocks must not be read. Fetching stays exact; the threshold
  // decides swapping: when overlap(resident, needed) / |needed| < swap_threshold, the blocks outside the
  // new set are released (offloaded before anything else) and true is returned; otherwise nothing is
  // released. Ring (sliding-window) layers always need all their blocks: a no-op returning false.
  bool set_active(int l, const std::vector<int>& blocks);
  void clear_active(int l);  // layer l needs all its blocks again (the default)

  // Streaming (see above). streaming(l): layer l is open and streams. stream_capacity: most blocks one
  // window may hold (a quarter of the budget's frames, so the next window can be fetched meanwhile).
  // stream_window(l, cur, next): makes the blocks `cur` resident (the wait counts as stall) and keeps them
  // until the next call or end_layer; prefetches `next` where there is room. Blocks of l outside the
  // window and below its lowest block are given up first.
  bool streaming(int l) const;
  int stream_capacity() const;
  void stream_window(int l, const std::vector<int>& cur, const std::vector<int>& next);

  // Waits until the I/O thread has nothing left to do (tests and benchmarks; never needed for correctness).
  void drain();

  KVManagerStats stats() const;
  uint64_t swaps() const;                   // set_active calls that released blocks
  size_t hot_bytes() const;                 // frames in RAM now
  size_t frame_bytes() const { return frame_bytes_; }
  static constexpr size_t kMinStreamFrames = 8;  // see min_budget
  // The smallest budget these layers can run with: sliding-window layers are never streamed (the largest
  // ring must fit with a block to spare); a streamed layer needs its tail block and windows of two blocks.
  static size_t min_budget(const std::vector<LayerKV>& layers);

  // --- LayerKV's side (main thread) ---
  void alloc_block(int l, int b);           // room for a new block of pinned layer l
  void drop_blocks_from(int l, int b);      // forget blocks [b, n_blocks) of l, wherever they are
  void acquire(int l);                      // make every block of l resident and pin it (truncate)
  void release(int l);                      // undo acquire

 private:
  enum class State : uint8_t { Absent, Hot, Cold, Reading, Writing };
  struct Block {
    bool resident = false;    // counts in the hot bytes (Hot, Reading or Writing)
    State state = State::Absent;
    bool dirty = false;       // frame differs from the file
    bool on_disk = false;     // the file holds a current copy
    bool drop_after = false;  // Writing: free the frame when the write is done (an eviction)
    bool keep = true;         // in the layer's kept set (set_active); not kept: evicted first
    bool needed = true;       // begin_layer waits for it
    uint32_t gen = 0;         // bumped to cancel queued jobs
    bool window = false;      // streamed layer: in the current window (pinned)
  };
  struct Job {
    int layer, block;
    uint32_t gen;
    bool read, prefetch;
  };
  enum Priority { kUrgent = 0, kPrefetch = 1, kBackground = 2 };

  void begin_layer_slow(int l);
  void end_layer_slow(int l);
  void pin_locked(std::unique_lock<std::mutex>& lk, int l, bool count_hits);
  void absorb_writes_locked(int l);
  void unpin_locked(int l);
  void wait_locked(std::unique_lock<std::mutex>& lk, int l);
  void wait_demand_locked(std::unique_lock<std::mutex>& lk, int l);
  bool needs(int l, int b) const;
  bool needed_now(int l, int b) const;       // needs(), narrowed to window + tail while l streams
  bool stream_pinned(int l, int b) const;
  void start_stream_locked(int l);    // a streamed layer's block that must stay resident
  void check_fits_locked(int l, int extra_blocks) const;
  void pump_locked();
  void issue_reads_locked(int l, bool prefetch);
  void start_read_locked(int l, int b, bool prefetch);  // a frame is free: read block b of l into it
  bool make_room_locked(int target, bool prefetch);
  bool pick_victim_locked(int target, bool prefetch, int& vl, int& vb) const;
  void evict_locked(int l, int b);
  void free_frame_locked(int l, int b);  // the block leaves RAM
  void enqueue_locked(Priority p, int l, int b, bool read, bool prefetch);
  void write_back_locked(int l);
  int distance(int l) const;
  uint64_t offset(int l, int b) const { return layer_offset_[l] + uint64_t(b) * frame_bytes_; }
  void io_loop();
  void throw_if_failed_locked() const;

  size_t budget_;
  std::string cold_dir_;
  int block_rows_;
  double tau_;
  bool prefetch_;
  int n_layer_;
  size_t frame_bytes_ = 0;
  std::vector<LayerKV*> layers_;
  std::vector<std::vector<Block>> blocks_;
  std::vector<uint8_t> pinned_, all_needed_, full_, ring_;  // full_: acquire()d, every block needed
  std::vector<int> nblk_;                                    // blocks holding rows, per layer
  std::vector<uint8_t> streaming_;                           // open layer streams (begin_layer decided)
  std::vector<int> stream_lo_;                               // lowest block of the current window
  std::vector<uint64_t> layer_offset_;
  std::unique_ptr<ColdFile> file_;

  mutable std::mutex mu_;
  std::condition_variable cv_;     // state changes, for waiting callers
  std::condition_variable io_cv_;  // jobs for the I/O thread
  std::deque<Job> queue_[3];
  std::thread io_;
  bool stop_ = false;
  int busy_layer_ = -1, busy_block_ = -1;  // block the I/O thread is transferring now (outside the lock)
  int current_ = -1;     // layer between begin_layer and end_layer, -1 if none
  int next_ = 0;         // layer expected to begin next
  int demand_ = -1;      // layer a caller is waiting for
  bool stream_last_ = false;  // the open streamed layer is in its last window: prefetch the next layer
  bool room_wanted_ = false;  // an append waits for a frame: prefetch must not take the room first
  size_t hot_bytes_ = 0, leaving_bytes_ = 0;  // frames allocated; frames being written out for eviction
  size_t stored_blocks_ = 0;                  // blocks holding rows, hot or cold
  std::string io_error_;
  KVManagerStats st_;
  uint64_t swaps_ = 0;
};

// RAII bracket for one layer: begin_layer on construction, end_layer on destruction (also when the layer's
// forward pass throws, so the tier is never left with a layer open). A null tier does nothing.
class KVLayerScope {
 public:
  KVLayerScope(KVTier* tier, int layer) : tier_(tier), layer_(layer) {
    if (tier_) tier_->begin_layer(layer_);
  }
  ~KVLayerScope() {
    try {
      if (tier_) tier_->end_layer(layer_);
    } catch (...) {  // only misuse (another layer opened inside the scope) throws here
    }
  }
  KVLayerScope(const KVLayerScope&) = delete;
  KVLayerScope& operator=(const KVLayerScope&) = delete;

 private:
  KVTier* tier_;
  int layer_;
};

}  // namespace slim
