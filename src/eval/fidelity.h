// Fidelity metrics: how far a pruned configuration's next-token distributions are from dense on the same
// tokens, computed in one process (no logits files). Also the small statistics the report needs (summaries,
// paired bootstrap CIs). See ../shared/docs/eval-suite.md §6.4 and docs/evaluation.md.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace slim {
class Context;
}

namespace slim::eval {

// Index of the largest logit, lowest id on ties (as the greedy sampler picks).
int32_t argmax(const float* logits, int n_vocab);
// KL(P_dense || Q_pruned) of the softmaxes of two logit rows: log-softmax and sums in double, no cut-off.
// Exactly 0 for bit-identical rows.
double kl_divergence(const float* dense_logits, const float* pruned_logits, int n_vocab);
// -ln softmax(logits)[token].
double token_nll(const float* logits, int n_vocab, int32_t token);

// Accumulates the per-position comparison of a configuration against dense at teacher-forced positions.
class StepComparison {
 public:
  // dense/pruned: logits at the same position after the same tokens; next: the token that follows there
  // (the dense greedy token, or the text's next token); < 0 when none is scored.
  void add(const float* dense, const float* pruned, int n_vocab, int32_t next);
  int steps() const { return static_cast<int>(kl_.size()); }
  const std::vector<double>& kl() const { return kl_; }
  int top1_same() const { return top1_same_; }
  double top1_agreement() const { return kl_.empty() ? 1.0 : double(top1_same_) / double(kl_.size()); }
  double nll_dense() const { return nll_dense_; }    // summed over scored tokens
  double nll_pruned() const { return nll_pruned_; }
  int scored() const { return scored_; }
  // Σ (p_pruned(next) - p_dense(next))² (for Δp RMS).
  double dp_sq() const { return dp_sq_; }

 private:
  std::vector<double> kl_;
  int top1_same_ = 0, scored_ = 0;
  double nll_dense_ = 0, nll_pruned_ = 0, dp_sq_ = 0;
};

struct Summary {
  int n = 0;
  double mean = 0, median = 0, p90 = 0, p99 = 0, max = 0;
};
// Mean and order statistics (linear interpolation between order statistics at q·(n-1)).
Summary summarize(std::vector<double> values);
double mean_of(const std::vector<double>& v);

struct Interval {
  int n = 0;
  double mean = 0, lo = 0, hi = 0;  // mean of the paired differences and its 95% percentile-bootstrap CI
  bool excludes_zero() const { return n > 1 && (lo > 0 || hi < 0); }
};
// Paired bootstrap of mean(config[i] - dense[i]) over samples: `resamples` resamples with a fixed-seed
// xoshiro256** (same inputs, same interval on any machine). n < 2 gives lo = hi = mean.
Interval paired_bootstrap(const std::vector<double>& dense, const std::vector<double>& config, int resamples = 1000,
                          uint64_t seed = 20240601);

// Two-sided exact sign test: the probability, if each changed sample went either way with probability 1/2,
// of a split of `a` against `b` at least as lopsided as the one seen. 1 when nothing changed.
double sign_test_p(int a, int b);

// Per layer: fraction of the tokens in `spans` ([begin, end) prompt indices = positions) whose K/V the layer
// still holds (Context::layer_positions). 1 everywhere for dense, except sliding-window layers.
std::vector<double> needle_retention(const Context& ctx, const std::vector<std::pair<int, int>>& spans);

}  // namespace slim::eval
