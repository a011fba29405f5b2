// LazyLLM (methods.md §3): progressive, revivable token pruning in prefill and decoding.
// Per token the engine keeps a frontier f[t] (layers [0, f[t]) hold its K/V) and, while f[t] < n_layer, one
// aux hidden state (the input of layer f[t]); a later step that selects the token at layer f[t] resumes it
// from there, so no (token, layer) pair is ever computed twice. The Context delegates every eval() to it
// when ContextParams::prune.method is LazyLLM.
//
// One eval() call (a prompt or a decode step) runs layer-major over its rows:
//   selection := every token of the sequence; rows := the new tokens
//   at layer l: rows += selected old tokens with f[t] == l (revived from their aux entry, merged by position;
//               in a decode step at most cfg.revive revived rows at any layer, best-scored first, the other
//               candidates deselected for this step);
//               K/V of the rows appended to layer l, attention over the *selected* tokens' keys, FFN;
//               if rates[l] > 0 (a split layer): first the K/V of every row, then score every selected token
//               by the attention probabilities of the last min(cfg.window, n) new tokens at l (mean over
//               queries and heads, all selected keys up to each query, no sliding window), max-pool the
//               scores over ±cfg.pool positions, window tokens +inf, and deselect the floor(rates[l] ×
//               selected) lowest (ties: the later position goes first); rows among them keep their *input*
//               of layer l as aux and leave (their K/V at l stays); the others run attention (over the keys
//               selected before this pruning) and FFN. A revived row that has its K/V at l runs only that.
// A decode step with cfg.revive == 0 neither scores nor revives: it attends to every stored key.
// rates compound: after layers with rates r1, r2 a fraction (1 - r1)(1 - r2) of the tokens is still selected.
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
  // ring). Workspace ws holds at most ws.cap rows per forward call (larger row sets are chunked). logits_scratch
  // holds at least one n_vocab row. Writes the last token's logits to last_logits; if all_logits is set,
  // calls it for every new token in order (such calls prune nothing, but still revive). Statistics:
  // the cumulative counters (pairs_computed, pairs_dense, revived) grow with every call and aux_bytes is the
  // current aux memory; the per-prompt fields (prompt_tokens, rows_per_layer, probe_seconds, kv_bytes) are
  // those of the last call of two or more tokens, and token_layers gives the current frontier of that
  // call's tokens (it grows when later steps revive them).
  void eval(const int32_t* tokens, int n, int32_t n_past, std::vector<LayerKV>& kv, Workspace& ws, ThreadPool& pool,
            float* logits_scratch, float* last_logits, const LogitsCallback* all_logits,
            const ProgressCallback* progress, PruneStats& stats);
  void truncate(int32_t n);  // forget state of positions >= n (the Context truncates the stores)
  void reset();
  size_t aux_bytes() const;

  // Inspection (tests, docs). frontier(pos): layers [0, f) hold pos's K/V. aux(pos): the saved input of layer
  // aux_layer(pos), n_embd floats, or nullptr when the token has none (f == n_layer or never evaluated).
  // aux_layer is frontier - 1 for a token dropped at a scoring layer (that layer stored its K/V, but its
  // attention and FFN wait for a revival), else frontier.
  int frontier(int32_t pos) const;
  int aux_layer(int32_t pos) const;
  const float* aux(int32_t pos) const;
  // Test hooks. With tracing on, trace()[l][pos] tells whether pos's key was visible to layer l's attention
  // in the last call. A shuffle seed permutes the rows inside every forward chunk (results must not change).
  void set_trace(bool on);
  const std::vector<std::vector<uint8_t>>& trace() const;
  void set_row_shuffle(uint64_t seed);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace slim
