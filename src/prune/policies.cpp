#include <algorithm>
#include <cmath>

#include "prune/policy.h"

namespace slim {

std::vector<float> pool_scores(const PruneInput& in, int pool) {
  std::vector<float> pooled(in.scores, in.scores + in.m);
  if (pool <= 0) return pooled;
  // Sliding max over positions (rows are ascending): lo/hi bracket the rows within ±pool of row i.
  for (int i = 0, lo = 0, hi = 0; i < in.m; ++i) {
    while (in.pos[lo] < in.pos[i] - pool) ++lo;
    while (hi + 1 < in.m && in.pos[hi + 1] <= in.pos[i] + pool) ++hi;
    float mx = in.scores[lo];
    for (int j = lo + 1; j <= hi; ++j) mx = std::max(mx, in.scores[j]);
    pooled[i] = mx;
  }
  return pooled;
}

std::vector<int> select_units(const PruneInput& in, int unit, int window, float keep, int pool) {
  std::vector<float> pooled;
  if (pool > 0 && in.scores) pooled = pool_scores(in, pool);
  const float* scores = pooled.empty() ? in.scores : pooled.data();
  const int n_units = (in.n + unit - 1) / unit;
  const int32_t tail_from = in.p0 + std::max(0, in.n - window);
  // Alive units with their best row score; rows are ascending, so a unit's rows are contiguous.
  struct U { int id, first, last; float score; bool forced; };
  std::vector<U> units;
  for (int i = 0; i < in.m; ++i) {
    const int id = (in.pos[i] - in.p0) / unit;
    const float s = scores ? scores[i] : 0.f;
    if (units.empty() || units.back().id != id) units.push_back({id, i, i, s, false});
    units.back().last = i;
    units.back().score = std::max(units.back().score, s);
  }
  int forced = 0;
  for (U& u : units) {
    const int32_t u_end = in.p0 + std::min(in.n, (u.id + 1) * unit);  // exclusive
    u.forced = u.id == 0 || u_end > tail_from;
    forced += u.forced;
  }
  // keep is a float: 0.6f * 75 = 45.0000018, which must give 45 units, not 46 (tolerance above float rounding).
  const int target = static_cast<int>(std::ceil(double(keep) * n_units - 1e-6 * n_units));
  int budget = std::max(0, target - forced);
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(units.size()); ++i)
    if (!units[i].forced) order.push_back(i);
  budget = std::min<int>(budget, order.size());
  std::partial_sort(order.begin(), order.begin() + budget, order.end(), [&](int a, int b) {
    if (units[a].score != units[b].score) return units[a].score > units[b].score;
    return a < b;  // earlier unit first: deterministic ties
  });
  std::vector<char> take(units.size(), 0);
  for (int i = 0; i < budget; ++i) take[order[i]] = 1;
  std::vector<int> rows;
  for (size_t i = 0; i < units.size(); ++i)
    if (take[i] || units[i].forced)
      for (int r = units[i].first; r <= units[i].last; ++r) rows.push_back(r);
  return rows;
}

namespace {

class SlimInferPolicy : public PrefillPolicy {
 public:
  explicit SlimInferPolicy(const PruneConfig& c) : c_(c) {}
  bool prunes_after(int l) const override { return index(l) >= 0; }
  bool wants_probe(int l) const override { return index(l) >= 0; }
  int probe_window() const override { return c_.window; }
  std::vector<int> select(const PruneInput& in) override {
    const float keep = keep_at(in);
    if (c_.carry <= 0.f || !in.scores) return select_units(in, c_.unit, tail(), keep, c_.pool);
    carry_scores(in);
    PruneInput mixed = in;
    mixed.scores = mixed_.data();
    return select_units(mixed, c_.unit, tail(), keep, 0);
  }
  std::vector<int> retain(const PruneInput& in) override {
    if (c_.kv_keep.empty()) return {};
    const float kv_keep = kv_keep_at(in);
    if (c_.carry <= 0.f || !in.scores) return select_units(in, c_.unit, tail(), kv_keep, c_.pool);
    PruneInput mixed = in;  // the scores select() mixed for this layer (it always runs first)
    mixed.scores = mixed_.data();
    return select_units(mixed, c_.unit, tail(), kv_keep, 0);
  }

 private:
  int index(int l) const {
    for (size_t i = 0; i < c_.layers.size(); ++i)
      if (c_.layers[i] == l) return static_cast<int>(i);
    return -1;
  }
  // Keep ratio of pruning layer k (schedule index), raised so that at least min_keep prompt tokens (rounded up
  // to whole units) go on.
  float keep_of(int k, int n) const {
    float keep = c_.keep[k];
    if (k < static_cast<int>(c_.min_keep.size()) && n > 0) {
      const int n_units = (n + c_.unit - 1) / c_.unit;
      const int floor_units = (c_.min_keep[k] + c_.unit - 1) / c_.unit;
      keep = std::max(keep, std::min(1.f, static_cast<float>(floor_units) / static_cast<float>(n_units)));
    }
    return keep;
  }
  float keep_at(const PruneInput& in) const { return keep_of(index(in.layer), in.n); }
  // kv_keep of this layer: never below what goes on; a kv_keep that keeps all that entered the layer (the
  // previous keep, Gemma's default at its second pruning layer) keeps all that entered under the floor too.
  float kv_keep_at(const PruneInput& in) const {
    const int k = index(in.layer);
    float kv = c_.kv_keep[k];
    if (k > 0 && kv >= c_.keep[k - 1]) kv = std::max(kv, keep_of(k - 1, in.n));
    return std::max(kv, keep_at(in));
  }
  // Units touching the last tail() prompt positions are always kept: the scoring window, or more (recent=N).
  int tail() const { return std::max(c_.window, c_.recent); }
  // carry=β: a row's score at pruning layer k is its pooled probe score (normalized to sum 1 over the alive
  // rows) plus β times its mixed score at pruning layer k-1. A token the question found at an earlier layer
  // then stays a candidate even when this layer's probe looks elsewhere (methods.md: the probes of different
  // layers disagree; H2O-style accumulation). Layer 0 of the schedule starts afresh, so every prompt (and
  // every decode re-scoring pass) is independent of the previous one.
  void carry_scores(const PruneInput& in) {
    std::vector<float> s = pool_scores(in, c_.pool);
    double sum = 0;
    for (float v : s) sum += v;
    const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.f;
    if (index(in.layer) == 0) carried_.assign(in.n, 0.f);
    if (static_cast<int>(carried_.size()) != in.n) carried_.assign(in.n, 0.f);  // defensive: a new prompt
    for (int i = 0; i < in.m; ++i) {
      float& c = carried_[in.pos[i] - in.p0];
      c = s[i] * inv + c_.carry * c;
      s[i] = c;
    }
    mixed_ = std::move(s);
  }
  PruneConfig c_;
  std::vector<float> carried_;  // per prompt position: mixed score at the last pruning layer that saw it
  std::vector<float> mixed_;    // per alive row of the current layer
};

// Test-only: drops a seeded random fraction of the prompt rows at one layer (never the last row), to check
// that the evaluation suite notices a bad configuration.
class RandomPolicy : public PrefillPolicy {
 public:
  explicit RandomPolicy(const PruneConfig& c) : c_(c) {}
  bool prunes_after(int l) const override { return l == c_.drop_layer; }
  bool wants_probe(int) const override { return false; }
  std::vector<int> select(const PruneInput& in) override {
    std::vector<int> rows;
    for (int i = 0; i < in.m; ++i) {
      // splitmix64 of (seed, position): the same tokens drop on every machine.
      uint64_t z = c_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(in.pos[i]) + 1;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
      if (u >= c_.drop || i == in.m - 1) rows.push_back(i);
    }
    return rows;
  }

 private:
  PruneConfig c_;
};

}  // namespace

std::unique_ptr<PrefillPolicy> make_prefill_policy(const PruneConfig& cfg) {
  switch (cfg.method) {
    case PruneMethod::SlimInfer: return std::make_unique<SlimInferPolicy>(cfg);
    case PruneMethod::Random: return std::make_unique<RandomPolicy>(cfg);
    default: return nullptr;
  }
}

}  // namespace slim
