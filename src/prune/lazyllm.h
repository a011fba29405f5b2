// LazyLLM (methods.md §3): progressive, revivable token pruning in prefill and decoding.
// Per token the engine keeps a frontier f[t] (layers [0, f[t]) hold its K/V) and, while f[t] < n_layer, one
// aux hidden state (the input of layer f[t]); a later step that selects the token at layer f[t] resumes it
// from there, so no (token, layer) pair is ever computed twice. The Context delegates every eval() to it
// when ContextParams::prune.method is LazyLLM.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kv/kv_cache.h"
#include "model/forward.h"
#include "slim/context.h"

namespace slim {
class ThreadPool;

class LazyLLM {
 public:
  // cfg has been through resolve_prune_defaults (cfg.rates has one entry per layer).
  LazyLLM(const Model& m, const PruneConfig& cfg, int n_ctx);
  ~LazyLLM();

  // Evaluates n new tokens at positions n_past .. n_past+n-1 over the stores in kv (one per layer, none a
  // ring). Workspace ws holds at most ws.cap rows per forward call (chunk larger row sets). logits_scratch
  // holds at least one n_vocab row. Writes the last token's logits to last_logits; if all_logits is set,
  // calls it for every new token in order (such calls may run without pruning). Updates stats (rows per
  // layer, (token, layer) pairs computed, revivals, aux bytes).
  void eval(const int32_t* tokens, int n, int32_t n_past, std::vector<LayerKV>& kv, Workspace& ws, ThreadPool& pool,
            float* logits_scratch, float* last_logits, const LogitsCallback* all_logits,
            const ProgressCallback* progress, PruneStats& stats);
  void truncate(int32_t n);  // forget state of positions >= n (the Context truncates the stores)
  void reset();
  size_t aux_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace slim
