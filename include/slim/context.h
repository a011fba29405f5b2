// An inference context: KV cache, scratch buffers and a thread pool for one sequence on a Model.
// eval() appends tokens to the sequence (chunked into micro-batches) and produces logits.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "slim/model.h"
#include "slim/prune.h"

namespace slim {

enum class KVType;

struct ContextParams {
  int n_ctx = 4096;     // max tokens in the sequence (prompt + generated); clamped to the model's trained length
  int n_threads = 2;
  int n_ubatch = 512;   // tokens per forward micro-batch
  bool kv_f32 = false;  // KV cache in F32 instead of F16
  // Reproduce llama.cpp's batch-size-dependent CPU attention numerics: fp16 accumulation (q and the value
  // accumulator rounded to f16) for batches under 64 rows — every decode step and short prompts — and, for a
  // single-row batch over 512+ cache cells, its split of the keys across n_threads chunks. With it, greedy
  // decoding follows llama.cpp (same -t) token for token. Off by default because slim's default is
  // batch-invariant f32 accumulation, which token pruning relies on.
  bool llama_compat = false;

  // Token pruning (include/slim/prune.h); disabled by default. resolve_prune_defaults() is applied.
  PruneConfig prune;
  // KV-cache tiers: 0 keeps every KV block in RAM; otherwise at most this many bytes of KV blocks stay in
  // RAM and the rest live in a file under kv_cold_dir (default $TMPDIR or /tmp), prefetched a layer ahead.
  size_t kv_budget = 0;
  std::string kv_cold_dir;
  // Sliding-window layers keep the last window + swa_slack positions between eval() calls, so truncate() can
  // roll back up to swa_slack tokens (e.g. an evaluation that teacher-forces an answer, then rewinds).
  int swa_slack = 64;
};

// What pruning did in the last eval() call that pruned (see Context::prune_stats()).
struct PruneStats {
  bool active = false;             // false: the last prompt ran dense
  int prompt_tokens = 0;           // tokens of that eval() call
  std::vector<int> rows_per_layer; // prompt rows computed at each layer
  std::vector<int> token_layers;   // per prompt token: how many layers computed it (n_layer: never pruned)
  size_t kv_bytes = 0;             // KV bytes stored for the whole sequence after that call
  size_t kv_bytes_dense = 0;       // what a dense run would store
  std::vector<int> kv_rows_per_layer;  // K/V rows each layer stores after that call (where the KV lives)
  double probe_seconds = 0;        // time spent scoring tokens
  // LazyLLM (cumulative since the context was made or reset):
  uint64_t pairs_computed = 0;     // (token, layer) pairs computed
  uint64_t pairs_dense = 0;        // what dense would have computed (tokens evaluated × n_layer)
  uint64_t revived = 0;            // (token, layer) pairs computed from an aux entry
  uint64_t resumed = 0;            // rows that finished a split scoring layer where their K/V was already
                                   // stored (attention and FFN of one layer; not in pairs_computed)
  size_t aux_bytes = 0;            // aux hidden states held now
  // SlimInfer decode-time re-scoring (rescore=N, option B), since the last pruned prefill:
  int rescore_steps = 0;           // decode steps that re-scored the prompt units
  int restricted_steps = 0;        // decode steps that ran with a selection (re-scored or reused)
  double rescore_visible = 0;      // mean over re-scorings and restricted layers (not sliding-window ones) of
                                   // visible prompt keys / prompt keys the layer stores
  double rescore_seconds = 0;      // time spent scoring and selecting at decode
  uint64_t rescore_swaps = 0;      // KV tier: selections that made it release blocks (KVTier::set_active)
  std::vector<std::vector<int32_t>> rescore_selected;  // per pruning layer: the prompt positions its last
                                   // re-scoring left visible above it, ascending (empty: no restriction)
};

// The KV manager's counters since the context was made (all zero with an unlimited budget).
struct KVManagerStats {
  size_t budget_bytes = 0;         // 0: unlimited
  size_t block_bytes = 0;          // bytes per block (K and V, one layer)
  size_t hot_bytes_peak = 0;       // most KV bytes held in RAM at once
  size_t cold_bytes = 0;           // bytes currently in the cold file
  uint64_t bytes_offloaded = 0;    // written to the cold tier
  uint64_t bytes_fetched = 0;      // read back from it
  uint64_t blocks_prefetched = 0;  // fetched ahead by the background thread
  uint64_t prefetch_hits = 0;      // blocks already resident when their layer needed them
  uint64_t prefetch_misses = 0;    // blocks a layer had to wait for
  double stall_seconds = 0;        // compute time spent waiting for blocks
  uint64_t stream_windows = 0;     // windows of layers larger than the budget, streamed through it
};

// Called with (index of the token within this eval call, its logits[n_vocab]).
using LogitsCallback = std::function<void(int, const float*)>;
// Called after each micro-batch with (tokens done, tokens total).
using ProgressCallback = std::function<void(int, int)>;

class Context {
 public:
  Context(const Model& model, const ContextParams& params);
  ~Context();

  // Appends n tokens at positions n_past() .. n_past()+n-1. Throws slim::Error if they do not fit in n_ctx
  // or a token id is out of range. If all_logits is set, every token's logits go to it (in order); otherwise
  // only the last token's logits are computed (last_logits()).
  void eval(const int32_t* tokens, int n, const LogitsCallback* all_logits = nullptr,
            const ProgressCallback* progress = nullptr);
  const float* last_logits() const { return last_logits_.data(); }

  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  void reset();  // forget the sequence
  // Keeps only the first n tokens of the sequence (e.g. to resume a conversation from a shared prefix).
  // Falls back to reset() and returns false when a sliding-window layer no longer holds what is needed.
  bool truncate(int n);
  size_t kv_bytes_used() const;
  size_t kv_bytes_reserved() const;
  // KV bytes a dense run of the current sequence would store (the baseline for pruning's KV saving).
  size_t kv_bytes_dense() const;
  // Positions whose K/V layer `layer` holds, ascending (pruned tokens are absent in deeper layers).
  std::vector<int32_t> layer_positions(int layer) const;
  const PruneStats& prune_stats() const;
  KVManagerStats kv_stats() const;
  const PruneConfig& prune_config() const;
  const Model& model() const { return model_; }

 private:
  void eval_pruned(const int32_t* tokens, int n, const ProgressCallback* progress);
  void forget_out_of_window();
  struct Impl;
  const Model& model_;
  int n_ctx_;
  int n_past_ = 0;
  std::vector<float> last_logits_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slim
