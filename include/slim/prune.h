// Token-pruning configuration shared by the CLI, the evaluation suite and the runtime.
// A configuration is written as a spec string: METHOD[:key=value,key=value...], list values joined by '/':
//   dense
//   sliminfer                                  (the model's default schedule)
//   sliminfer:layers=2/5/11,keep=0.5/0.3/0.2,unit=16,window=32
//   sliminfer:rescore=1                        (re-score the prompt units at every decode step: option B)
//   lazyllm:rates=0/0/0.1/...,revive=0,window=32,pool=16
//   random:drop=0.5,layer=0,seed=1             (test only: deliberately bad, for checking the metrics)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slim {

struct ModelConfig;

enum class PruneMethod { None, SlimInfer, LazyLLM, Random };

struct PruneConfig {
  PruneMethod method = PruneMethod::None;

  // --- SlimInfer (block-wise hidden-state pruning in prefill) ---
  int unit = 16;             // tokens per pruning unit (the selection atom)
  int block = 128;           // rows per KV block (the storage / transfer atom)
  int window = 32;           // W: last prompt tokens whose queries score the others; always kept
  int pool = 32;             // a token's score is the max over alive tokens within ±pool positions, so the
                             // words around an attended token (the rest of a needle sentence) stay with it
  bool pool_set = false;     // pool given by the user (else resolve_prune_defaults may pick the method's)
  std::vector<int> layers;   // prune after these layers (ascending); empty = the model's default schedule
  std::vector<float> keep;   // cumulative fraction of prompt units kept after each pruning layer
  bool evict = false;        // after prefill, also drop the pruned tokens' K/V from the pruning layer itself, so
                             // decoding there sees only the kept tokens (saves that layer's KV; prefill and the
                             // first token are unchanged)
  std::vector<int> min_keep; // per pruning layer (optional): keep at least this many prompt tokens there, whatever
                             // the ratio (an absolute floor, as SnapKV-style budgets: a short prompt is pruned
                             // less, where the time saved is small and the question needs more of it)
  std::vector<float> kv_keep;  // per pruning layer (optional): after prefill, that layer keeps the K/V of only the
                             // top kv_keep fraction of the prompt units (same scores; >= keep, a superset of the
                             // kept units), the rest leave its store. Between no eviction (empty) and evict=1
                             // (kv_keep = keep): SnapKV-like eviction at the layers that hold the most KV
  bool head_max = false;     // heads=max: the probe takes the max over heads (of each head's mean over the window
                             // queries) instead of the mean: a few retrieval heads can rank a token on their own
  int recent = 0;            // > window: also always keep the last `recent` prompt tokens (e.g. a sliding window's
                             // worth, so the local layers above a pruning layer see the same recent text as dense)
  bool kv_keep_off = false;  // kv_keep=off: no eviction even where the model's default schedule has some
  float carry = -1.f;         // > 0: a unit's score at a pruning layer adds carry × its (normalized) score at the
                             // previous pruning layer, so what the question found earlier stays a candidate;
                             // < 0: the method's default (SlimInfer 1, LazyLLM 0), set by resolve_prune_defaults
  int min_tokens = 512;      // eval() calls with fewer tokens run dense (decode steps, short prompts)
                             // Decoding attends to each layer's stored KV: kept sets are frozen after prefill
                             // (unless rescore is on).
  int rescore = 0;           // decode-time re-scoring (methods.md option B): 0 off; N > 0: every N-th decode
                             // step after a pruned prefill, each pruning layer re-scores the prompt units it
                             // stores with the new token's query and the layers above it see only the top
                             // `keep` units of those (no revival); the steps in between reuse the selection

  // --- LazyLLM (progressive, revivable pruning in prefill and decode) ---
  std::vector<float> rates;  // per layer: fraction of the present tokens pruned there; empty = model default
  int revive = 0;            // decode steps: at most this many revived rows at any layer (best-scored first; the
                             // rest wait); 0: steps neither score nor revive; -1: no limit. Prompts: no limit

  // --- Random (test only) ---
  float drop = 0.5f;         // fraction of prompt tokens dropped
  int drop_layer = 0;        // after this layer
  uint64_t seed = 1;

  bool enabled() const { return method != PruneMethod::None; }
};

// Parses a spec string (see above); throws slim::Error with a message naming the bad key or value.
PruneConfig parse_prune_spec(std::string_view spec);
// Applies one "key=value" option (as from --prune-opt or a --prune-config file line) to cfg.
void apply_prune_option(PruneConfig& cfg, std::string_view key_value);
// Reads a --prune-config file: one key=value per line ('#' comments); "method=NAME" selects the method.
PruneConfig load_prune_config(const std::string& path, PruneConfig base = {});
// Canonical spec string (round-trips through parse_prune_spec); "dense" when disabled.
std::string to_string(const PruneConfig& cfg);
// Fills unset schedule fields with the per-model defaults (docs/pruning.md) and validates against the model;
// throws slim::Error when a layer index or ratio is out of range.
void resolve_prune_defaults(PruneConfig& cfg, const ModelConfig& model);

}  // namespace slim
