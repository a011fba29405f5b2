// Perplexity and KL-divergence statistics with llama-perplexity's definitions, so that
// `slim perplexity` prints numbers that can be set beside llama.cpp's line by line.
//
// Scored positions (both modes): text split into chunks of n_ctx tokens, BOS substituted for the first
// token of every chunk when the model adds BOS, logits of positions n_ctx/2 .. n_ctx-2 score tokens
// n_ctx/2+1 .. n_ctx-1 (logits_first_scored / logits_scored_per_chunk in logits_file.h).
//
// Every function here is pure (no shared state), so callers may score rows on several threads and feed
// the results to one accumulator in file order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/logits_file.h"

namespace slim {

// -ln softmax(logits)[tok], as llama-perplexity's plain perplexity computes it (fp32 exps summed in fp64).
double token_nll(const float* logits, int32_t n_vocab, int32_t tok);

// One scored token: our logits against a base record from a logits file.
struct TokenComparison {
  double kld = 0.0;        // KL(base || ours) = Σ p_base (ln p_base - ln p_ours), over base ln p > -16
  float nll = 0.0f;        // -ln p_ours(next token)
  float nll_base = 0.0f;   // -ln p_base(next token), decoded from the record
  float p_diff = 0.0f;     // p_ours(next) - p_base(next)
  int32_t top = 0;         // argmax of our logits (lowest id on ties)
  int32_t top_base = 0;    // argmax of the decoded base record (lowest id on ties)
  bool same_top() const { return top == top_base; }
};

// llama-perplexity's per-token KL comparison, same arithmetic (float/double) and the same -16 cut-off:
// base entries stored as the record's floor (ln p <= -16) contribute nothing.
TokenComparison compare_to_base(const LogProbRecord& base, const float* logits, int32_t next_token);

// KL(P || Q) between two full logit rows, log-softmax and sums in double, no cut-off. For same-process
// comparisons (dense vs pruned) where nothing is compressed.
double kl_divergence_exact(const float* p_logits, const float* q_logits, int32_t n_vocab);

struct MeanUnc {
  double mean = 0.0;
  double unc = 0.0;
};

// llama-perplexity's mean and standard error: sqrt((Σx²/n - mean²)/(n-1)); 0 for n <= 10 or a
// non-positive variance.
MeanUnc mean_and_uncertainty(double sum, double sum2, size_t count);
// Linear interpolation between order statistics at fraction*(n-1), as llama-perplexity's percentile().
float percentile_sorted(const std::vector<float>& sorted, float fraction);
// Mean of the two middle values for an even count.
float median_sorted(const std::vector<float>& sorted);

// Plain perplexity (`llama-perplexity` without --kl-divergence).
class PplAccumulator {
 public:
  void add(double nll) {
    nll_ += nll;
    nll2_ += nll * nll;
    ++count_;
  }
  size_t count() const { return count_; }
  double mean_nll() const { return count_ ? nll_ / double(count_) : 0.0; }
  double ppl() const;              // exp(mean nll): the "[chunk]ppl," running value and the final PPL
  double ppl_uncertainty() const;  // the "+/-" of "Final estimate: PPL = x +/- y"; 0 if undefined
  // "Final estimate: PPL = %.4f +/- %.5f" (llama-perplexity's wording and precision).
  std::string final_estimate() const;

 private:
  double nll_ = 0.0, nll2_ = 0.0;
  size_t count_ = 0;
};

struct KlSummary {
  size_t count = 0;
  MeanUnc ppl, ppl_base;              // exp(mean nll) ± ppl·se
  double log_ppl_cor = 0.0;           // correlation of ln PPL(Q) and ln PPL(base)
  MeanUnc log_ppl_ratio, ppl_ratio, ppl_diff;
  MeanUnc kld;                        // mean KLD ± se
  float kld_max = 0, kld_p999 = 0, kld_p99 = 0, kld_p95 = 0, kld_p90 = 0, kld_median = 0, kld_p10 = 0,
        kld_p05 = 0, kld_p01 = 0, kld_p001 = 0, kld_min = 0;
  MeanUnc p_diff;                     // mean Δp ± se (fractions, not %)
  float dp_max = 0, dp_p999 = 0, dp_p99 = 0, dp_p95 = 0, dp_p90 = 0, dp_p75 = 0, dp_median = 0, dp_p25 = 0,
        dp_p10 = 0, dp_p05 = 0, dp_p01 = 0, dp_p001 = 0, dp_min = 0;
  MeanUnc rms_p_diff;                 // RMS Δp ± se
  MeanUnc same_top;                   // fraction of same argmax ± binomial se
};

// `llama-perplexity --kl-divergence`: the running sums and per-token values it keeps.
class KlAccumulator {
 public:
  void add(const TokenComparison& t);
  size_t count() const { return count_; }
  KlSummary summary() const;
  // The per-chunk progress line llama-perplexity prints (running values), e.g.
  // "   1     12.3456 ±    0.1234       0.00123 ±    0.00045 ...".
  std::string chunk_line(int chunk_number) const;
  // The three final sections ("====== Perplexity statistics ======" ...), formatted as llama.cpp does.
  // Empty when fewer than 100 tokens were scored (llama.cpp prints nothing then either).
  std::string report() const;

 private:
  double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
  double sum_kld_ = 0, sum_kld2_ = 0, sum_p_diff_ = 0, sum_p_diff2_ = 0, sum_p_diff4_ = 0;
  float max_p_diff_ = 0;
  size_t n_same_top_ = 0, count_ = 0;
  std::vector<float> kld_values_, p_diff_values_;
};

}  // namespace slim
