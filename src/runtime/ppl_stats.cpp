// Perplexity / KL statistics, following llama-perplexity's arithmetic closely enough that the printed
// digits agree (float where it uses float, double where it uses double).
#include "runtime/ppl_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace slim {

namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, size_t(std::min<int>(n, int(sizeof buf) - 1)));
}

double covariance(double suma, double sumb, double sumab, size_t count) {
  if (count < 10) return 0.0;
  double var = sumab / double(count) - (suma / double(count)) * (sumb / double(count));
  return var / double(count - 1);
}

}  // namespace

double token_nll(const float* logits, int32_t n_vocab, int32_t tok) {
  float mx = logits[0];
  for (int32_t i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum_exp = 0.0;
  for (int32_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - mx);
  return -(double(logits[tok] - mx) - std::log(sum_exp));
}

TokenComparison compare_to_base(const LogProbRecord& base, const float* logits, int32_t next_token) {
  const int32_t n = base.n_vocab;
  TokenComparison r;
  float max_logit = logits[0];
  int32_t imax = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (logits[i] > max_logit) {
      max_logit = logits[i];
      imax = i;
    }
  }
  double sum_exp = 0.0;
  for (int32_t i = 0; i < n; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const float log_sum_exp = float(std::log(sum_exp));
  r.nll = max_logit + log_sum_exp - logits[next_token];
  r.nll_base = -base.log_prob(next_token);

  const float log_norm = max_logit + log_sum_exp;  // ln p_ours(i) = logits[i] - log_norm
  double kld = 0.0;
  int32_t imax_base = 0;
  float lp_base_max = 0.0f;
  for (int32_t i = 0; i < n; ++i) {
    const float lp_base = base.log_prob(i);
    if (i == 0 || lp_base > lp_base_max) {
      lp_base_max = lp_base;
      imax_base = i;
    }
    // The record floor stands for "below e^-16 of the maximum": llama.cpp leaves those terms out.
    if (lp_base > -16.f) {
      const float p_base = std::exp(lp_base);
      kld += p_base * (lp_base - logits[i] + log_norm);
    }
  }
  r.kld = kld;
  r.top = imax;
  r.top_base = imax_base;
  r.p_diff = std::exp(-r.nll) - std::exp(-r.nll_base);
  return r;
}

double kl_divergence_exact(const float* p_logits, const float* q_logits, int32_t n) {
  double pm = p_logits[0], qm = q_logits[0];
  for (int32_t i = 1; i < n; ++i) {
    pm = std::max(pm, double(p_logits[i]));
    qm = std::max(qm, double(q_logits[i]));
  }
  double ps = 0.0, qs = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    ps += std::exp(double(p_logits[i]) - pm);
    qs += std::exp(double(q_logits[i]) - qm);
  }
  const double plse = pm + std::log(ps), qlse = qm + std::log(qs);
  double kl = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    const double lp = double(p_logits[i]) - plse;
    if (lp < -745.0) continue;  // exp underflows to 0: the term is 0 (p ln p → 0)
    const double lq = double(q_logits[i]) - qlse;
    kl += std::exp(lp) * (lp - lq);
  }
  return std::max(kl, 0.0);  // rounding can leave a tiny negative for identical rows
}

MeanUnc mean_and_uncertainty(double sum, double sum2, size_t count) {
  if (count < 1) return {};
  const double f = sum / double(count);
  double df = sum2 / double(count) - f * f;
  df = df > 0 && count > 10 ? std::sqrt(df / double(count - 1)) : 0.0;
  return {f, df};
}

float percentile_sorted(const std::vector<float>& v, float fraction) {
  if (v.empty()) return 0.0f;
  if (fraction <= 0) return v.front();
  if (fraction >= 1) return v.back();
  float p = fraction * float(v.size() - 1);
  const size_t ip = size_t(p);
  p -= float(ip);
  return (1 - p) * v[ip] + p * v[std::min(ip + 1, v.size() - 1)];
}

float median_sorted(const std::vector<float>& v) {
  if (v.empty()) return 0.0f;
  const size_t n = v.size();
  return n % 2 == 0 ? 0.5f * (v[n / 2] + v[n / 2 - 1]) : v[n / 2];
}

// ------------------------------------------------------------------------------------- plain perplexity

double PplAccumulator::ppl() const { return std::exp(mean_nll()); }

double PplAccumulator::ppl_uncertainty() const {
  if (count_ < 2) return 0.0;
  const double m = mean_nll();
  const double var = nll2_ / double(count_) - m * m;
  return var > 0 ? std::sqrt(var / double(count_ - 1)) * ppl() : 0.0;
}

std::string PplAccumulator::final_estimate() const {
  std::string s;
  appendf(s, "Final estimate: PPL = %.4f +/- %.5f", ppl(), ppl_uncertainty());
  return s;
}

// ------------------------------------------------------------------------------------------ KL mode

void KlAccumulator::add(const TokenComparison& t) {
  // Squares in float, sums in double: the types llama-perplexity uses.
  sum_nll_ += t.nll;
  sum_nll2_ += t.nll * t.nll;
  sum_nll_base_ += t.nll_base;
  sum_nll_base2_ += t.nll_base * t.nll_base;
  sum_nll_nll_base_ += t.nll * t.nll_base;
  sum_kld_ += t.kld;
  sum_kld2_ += t.kld * t.kld;
  sum_p_diff_ += t.p_diff;
  const double p_diff2 = t.p_diff * t.p_diff;
  sum_p_diff2_ += p_diff2;
  sum_p_diff4_ += p_diff2 * p_diff2;
  max_p_diff_ = std::max(max_p_diff_, std::fabs(t.p_diff));
  n_same_top_ += t.same_top();
  ++count_;
  kld_values_.push_back(float(t.kld));
  p_diff_values_.push_back(t.p_diff);
}

KlSummary KlAccumulator::summary() const {
  KlSummary s;
  s.count = count_;
  if (count_ == 0) return s;
  const MeanUnc lp = mean_and_uncertainty(sum_nll_, sum_nll2_, count_);
  const MeanUnc lpb = mean_and_uncertainty(sum_nll_base_, sum_nll_base2_, count_);
  s.ppl = {std::exp(lp.mean), std::exp(lp.mean) * lp.unc};
  s.ppl_base = {std::exp(lpb.mean), std::exp(lpb.mean) * lpb.unc};
  const double cov = covariance(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
  s.log_ppl_cor = lp.unc * lpb.unc > 0 ? cov / (lp.unc * lpb.unc) : 0.0;
  const double ratio_unc = std::sqrt(std::max(0.0, lp.unc * lp.unc + lpb.unc * lpb.unc - 2.0 * cov));
  s.log_ppl_ratio = {lp.mean - lpb.mean, ratio_unc};
  s.ppl_ratio = {std::exp(lp.mean - lpb.mean), std::exp(lp.mean - lpb.mean) * ratio_unc};
  const double ppl_cov = s.ppl.mean * s.ppl_base.mean * cov;
  s.ppl_diff = {s.ppl.mean - s.ppl_base.mean,
                std::sqrt(std::max(0.0, s.ppl.unc * s.ppl.unc + s.ppl_base.unc * s.ppl_base.unc - 2.0 * ppl_cov))};
  s.kld = mean_and_uncertainty(sum_kld_, sum_kld2_, count_);

  std::vector<float> k = kld_values_, d = p_diff_values_;
  std::sort(k.begin(), k.end());
  std::sort(d.begin(), d.end());
  s.kld_max = k.back();
  s.kld_p999 = percentile_sorted(k, 0.999f);
  s.kld_p99 = percentile_sorted(k, 0.990f);
  s.kld_p95 = percentile_sorted(k, 0.950f);
  s.kld_p90 = percentile_sorted(k, 0.900f);
  s.kld_median = median_sorted(k);
  s.kld_p10 = percentile_sorted(k, 0.100f);
  s.kld_p05 = percentile_sorted(k, 0.050f);
  s.kld_p01 = percentile_sorted(k, 0.010f);
  s.kld_p001 = percentile_sorted(k, 0.001f);
  s.kld_min = k.front();

  s.p_diff = mean_and_uncertainty(sum_p_diff_, sum_p_diff2_, count_);
  s.dp_max = d.back();
  s.dp_p999 = percentile_sorted(d, 0.999f);
  s.dp_p99 = percentile_sorted(d, 0.990f);
  s.dp_p95 = percentile_sorted(d, 0.950f);
  s.dp_p90 = percentile_sorted(d, 0.900f);
  s.dp_p75 = percentile_sorted(d, 0.750f);
  s.dp_median = median_sorted(d);
  s.dp_p25 = percentile_sorted(d, 0.250f);
  s.dp_p10 = percentile_sorted(d, 0.100f);
  s.dp_p05 = percentile_sorted(d, 0.050f);
  s.dp_p01 = percentile_sorted(d, 0.010f);
  s.dp_p001 = percentile_sorted(d, 0.001f);
  s.dp_min = d.front();

  const MeanUnc mse = mean_and_uncertainty(sum_p_diff2_, sum_p_diff4_, count_);
  const double rms = std::sqrt(mse.mean);
  s.rms_p_diff = {rms, rms > 0 ? 0.5 / rms * mse.unc : 0.0};
  const double top = double(n_same_top_) / double(count_);
  s.same_top = {top, count_ > 1 ? std::sqrt(top * (1 - top) / double(count_ - 1)) : 0.0};
  return s;
}

std::string KlAccumulator::chunk_line(int chunk_number) const {
  const KlSummary s = summary();
  std::string o;
  appendf(o, "%4d", chunk_number);
  appendf(o, "    %9.4lf ± %9.4lf", s.ppl.mean, s.ppl.unc);
  appendf(o, "    %10.5lf ± %10.5lf", s.log_ppl_ratio.mean, s.log_ppl_ratio.unc);
  appendf(o, "    %10.5lf ± %10.5lf", s.kld.mean, s.kld.unc);
  appendf(o, "    %6.3lf ± %6.3lf %%", 100.0 * s.rms_p_diff.mean, 100.0 * s.rms_p_diff.unc);
  appendf(o, "    %6.3lf ± %6.3lf %%", 100.0 * s.same_top.mean, 100.0 * s.same_top.unc);
  return o;
}

std::string KlAccumulator::report() const {
  if (count_ < 100) return "";  // llama-perplexity: "we do not wish to do statistics on so few values"
  const KlSummary s = summary();
  std::string o;
  appendf(o, "====== Perplexity statistics ======\n");
  appendf(o, "Mean PPL(Q)                   : %10.6lf ± %10.6lf\n", s.ppl.mean, s.ppl.unc);
  appendf(o, "Mean PPL(base)                : %10.6lf ± %10.6lf\n", s.ppl_base.mean, s.ppl_base.unc);
  appendf(o, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2lf%%\n", 100.0 * s.log_ppl_cor);
  appendf(o, "Mean ln(PPL(Q)/PPL(base))     : %10.6lf ± %10.6lf\n", s.log_ppl_ratio.mean, s.log_ppl_ratio.unc);
  appendf(o, "Mean PPL(Q)/PPL(base)         : %10.6lf ± %10.6lf\n", s.ppl_ratio.mean, s.ppl_ratio.unc);
  appendf(o, "Mean PPL(Q)-PPL(base)         : %10.6lf ± %10.6lf\n", s.ppl_diff.mean, s.ppl_diff.unc);
  appendf(o, "\n====== KL divergence statistics ======\n");
  appendf(o, "Mean    KLD: %10.6lf ± %10.6lf\n", s.kld.mean, s.kld.unc);
  appendf(o, "Maximum KLD: %10.6f\n", s.kld_max);
  appendf(o, "99.9%%   KLD: %10.6f\n", s.kld_p999);
  appendf(o, "99.0%%   KLD: %10.6f\n", s.kld_p99);
  appendf(o, "95.0%%   KLD: %10.6f\n", s.kld_p95);
  appendf(o, "90.0%%   KLD: %10.6f\n", s.kld_p90);
  appendf(o, "Median  KLD: %10.6f\n", s.kld_median);
  appendf(o, "10.0%%   KLD: %10.6f\n", s.kld_p10);
  appendf(o, " 5.0%%   KLD: %10.6f\n", s.kld_p05);
  appendf(o, " 1.0%%   KLD: %10.6f\n", s.kld_p01);
  appendf(o, " 0.1%%   KLD: %10.6f\n", s.kld_p001);
  appendf(o, "Minimum KLD: %10.6f\n", s.kld_min);
  appendf(o, "\n====== Token probability statistics ======\n");
  appendf(o, "Mean    Δp: %6.3lf ± %5.3lf %%\n", 100.0 * s.p_diff.mean, 100.0 * s.p_diff.unc);
  appendf(o, "Maximum Δp: %6.3lf%%\n", 100.0 * s.dp_max);
  appendf(o, "99.9%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p999);
  appendf(o, "99.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p99);
  appendf(o, "95.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p95);
  appendf(o, "90.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p90);
  appendf(o, "75.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p75);
  appendf(o, "Median  Δp: %6.3lf%%\n", 100.0 * s.dp_median);
  appendf(o, "25.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p25);
  appendf(o, "10.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p10);
  appendf(o, " 5.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p05);
  appendf(o, " 1.0%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p01);
  appendf(o, " 0.1%%   Δp: %6.3lf%%\n", 100.0 * s.dp_p001);
  appendf(o, "Minimum Δp: %6.3lf%%\n", 100.0 * s.dp_min);
  appendf(o, "RMS Δp    : %6.3lf ± %5.3lf %%\n", 100.0 * s.rms_p_diff.mean, 100.0 * s.rms_p_diff.unc);
  appendf(o, "Same top p: %6.3lf ± %5.3lf %%\n", 100.0 * s.same_top.mean, 100.0 * s.same_top.unc);
  return o;
}

}  // namespace slim
