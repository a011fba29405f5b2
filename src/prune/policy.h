// Prefill pruning policies: which prompt rows continue to the next layer.
// The engine (src/runtime/context.cpp) owns the rows, the KV stores and the probe; a policy only decides.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "slim/prune.h"

namespace slim {

struct ModelConfig;

// What a policy sees after layer l: the rows still alive (positions ascending), and, if it asked for them,
// probe scores for those rows. The prompt of this eval() call covers positions [p0, p0 + n).
struct PruneInput {
  int layer = 0;
  const int32_t* pos = nullptr;
  int m = 0;
  const float* scores = nullptr;  // m values, or nullptr
  int32_t p0 = 0;
  int n = 0;
};

class PrefillPolicy {
 public:
  virtual ~PrefillPolicy() = default;
  virtual bool prunes_after(int layer) const = 0;
  virtual bool wants_probe(int layer) const = 0;
  virtual int probe_window() const { return 0; }  // scoring queries: the last W prompt tokens
  // Indices (ascending, into in.pos) of the rows that continue. Must keep the last row (its logits are the
  // answer) and return at least one row.
  virtual std::vector<int> select(const PruneInput& in) = 0;
  // Rows (ascending) whose K/V this pruning layer keeps after prefill; empty: all (no eviction).
  virtual std::vector<int> retain(const PruneInput&) { return {}; }
};

// nullptr for PruneMethod::None. cfg must have been through resolve_prune_defaults().
std::unique_ptr<PrefillPolicy> make_prefill_policy(const PruneConfig& cfg);

// SlimInfer's unit selection, exposed for tests: keep the top units (max score of their alive rows) up to
// ceil(keep * n_units) units of the whole prompt, plus the first unit and every unit touching the last
// `window` positions; ties break toward earlier positions. Returns row indices ascending.
// pool > 0 first replaces each row's score by the max over alive rows within ±pool positions.
std::vector<int> select_units(const PruneInput& in, int unit, int window, float keep, int pool = 0);

// Each row's score replaced by the max over the rows within ±pool positions (a copy of in.scores if pool is 0).
std::vector<float> pool_scores(const PruneInput& in, int pool);

}  // namespace slim
