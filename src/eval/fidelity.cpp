#include "eval/fidelity.h"

#include <algorithm>
#include <cmath>

#include "eval/rng.h"
#include "runtime/ppl_stats.h"
#include "slim/context.h"

namespace slim::eval {

int32_t argmax(const float* logits, int n_vocab) {
  int32_t best = 0;
  for (int32_t i = 1; i < n_vocab; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

double kl_divergence(const float* dense_logits, const float* pruned_logits, int n_vocab) {
  return slim::kl_divergence_exact(dense_logits, pruned_logits, n_vocab);
}

double token_nll(const float* logits, int n_vocab, int32_t token) { return slim::token_nll(logits, n_vocab, token); }

void StepComparison::add(const float* dense, const float* pruned, int n_vocab, int32_t next) {
  kl_.push_back(kl_divergence(dense, pruned, n_vocab));
  if (argmax(dense, n_vocab) == argmax(pruned, n_vocab)) ++top1_same_;
  if (next < 0) return;
  const double nd = token_nll(dense, n_vocab, next), np = token_nll(pruned, n_vocab, next);
  nll_dense_ += nd;
  nll_pruned_ += np;
  const double dp = std::exp(-np) - std::exp(-nd);
  dp_sq_ += dp * dp;
  ++scored_;
}

namespace {
double quantile_sorted(const std::vector<double>& s, double q) {
  if (s.empty()) return 0;
  const double at = q * double(s.size() - 1);
  const size_t i = static_cast<size_t>(at);
  if (i + 1 >= s.size()) return s.back();
  return s[i] + (s[i + 1] - s[i]) * (at - double(i));
}
}  // namespace

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / double(v.size());
}

Summary summarize(std::vector<double> values) {
  Summary r;
  r.n = static_cast<int>(values.size());
  if (values.empty()) return r;
  r.mean = mean_of(values);
  std::sort(values.begin(), values.end());
  r.median = quantile_sorted(values, 0.5);
  r.p90 = quantile_sorted(values, 0.9);
  r.p99 = quantile_sorted(values, 0.99);
  r.max = values.back();
  return r;
}

double sign_test_p(int a, int b) {
  const int n = a + b, k = std::min(a, b);
  if (n == 0) return 1.0;
  // P(X <= k) for X ~ Binomial(n, 1/2), summed in logs so that large n cannot overflow.
  double tail = 0;
  for (int i = 0; i <= k; ++i)
    tail += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0));
  return std::min(1.0, 2 * tail);
}

Interval paired_bootstrap(const std::vector<double>& dense, const std::vector<double>& config, int resamples,
                          uint64_t seed) {
  Interval r;
  const size_t n = std::min(dense.size(), config.size());
  r.n = static_cast<int>(n);
  if (n == 0) return r;
  std::vector<double> diff(n);
  for (size_t i = 0; i < n; ++i) diff[i] = config[i] - dense[i];
  r.mean = mean_of(diff);
  r.lo = r.hi = r.mean;
  if (n < 2 || resamples < 2) return r;
  Rng rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += diff[static_cast<size_t>(rng.below(n))];
    m = s / double(n);
  }
  std::sort(means.begin(), means.end());
  r.lo = quantile_sorted(means, 0.025);
  r.hi = quantile_sorted(means, 0.975);
  return r;
}

std::vector<double> needle_retention(const Context& ctx, const std::vector<std::pair<int, int>>& spans) {
  const int n_layer = ctx.model().config().n_layer;
  std::vector<double> out(static_cast<size_t>(n_layer), 1.0);
  size_t total = 0;
  for (auto [b, e] : spans) total += e > b ? static_cast<size_t>(e - b) : 0;
  if (total == 0) return out;
  for (int l = 0; l < n_layer; ++l) {
    const std::vector<int32_t> pos = ctx.layer_positions(l);  // ascending
    size_t kept = 0;
    for (auto [b, e] : spans) {
      auto lo = std::lower_bound(pos.begin(), pos.end(), b);
      auto hi = std::lower_bound(pos.begin(), pos.end(), e);
      kept += static_cast<size_t>(hi - lo);
    }
    out[static_cast<size_t>(l)] = double(kept) / double(total);
  }
  return out;
}

}  // namespace slim::eval
