// Sampler: greedy, reproducibility, each filter of the chain on crafted distributions.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "slim/sampler.h"

using slim::Sampler;
using slim::SamplingParams;

namespace {

SamplingParams plain(float temp, uint64_t seed = 1234) {
  SamplingParams p;
  p.temperature = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = seed;
  return p;
}

// Logits whose softmax is exactly the given probabilities (ln p), every other token -inf-like.
std::vector<float> logits_from_probs(const std::vector<double>& probs, int n_vocab) {
  std::vector<float> l(size_t(n_vocab), -1e30f);
  for (size_t i = 0; i < probs.size(); ++i) l[i] = float(std::log(probs[i]));
  return l;
}

std::vector<float> random_logits(int n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> l(static_cast<size_t>(n));
  for (auto& v : l) v = nd(g);
  return l;
}

std::map<int, int> histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::map<int, int> h;
  for (int i = 0; i < draws; ++i) ++h[s.sample(logits.data())];
  return h;
}

}  // namespace

TEST(Sampler, GreedyPicksArgmax) {
  auto l = random_logits(262144, 7);
  l[123457] = 50.0f;
  Sampler s(plain(0.0f), 262144);
  EXPECT_EQ(s.sample(l.data()), 123457);
  EXPECT_EQ(Sampler::argmax(l.data(), 262144), 123457);
  // Negative temperature is greedy too.
  Sampler s2(plain(-1.0f), 262144);
  EXPECT_EQ(s2.sample(l.data()), 123457);
}

TEST(Sampler, GreedyTiesGoToLowestId) {
  std::vector<float> l = {0.0f, 3.0f, 1.0f, 3.0f, 3.0f};
  Sampler s(plain(0.0f), 5);
  EXPECT_EQ(s.sample(l.data()), 1);
}

TEST(Sampler, DoesNotModifyLogits) {
  auto l = random_logits(1000, 3);
  const auto copy = l;
  SamplingParams p;  // full default chain
  p.seed = 9;
  p.repeat_penalty = 1.3f;
  Sampler s(p, 1000);
  s.accept(5);
  s.sample(l.data());
  EXPECT_EQ(l, copy);
}

TEST(Sampler, SameSeedSameSequence) {
  auto l = random_logits(262144, 11);
  SamplingParams p;  // default chain: top-k 40, top-p .95, min-p .05, temp .8
  p.seed = 42;
  p.temperature = 1.5f;
  p.min_p = 0.0f;
  Sampler a(p, 262144), b(p, 262144);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.sample(l.data()));
    tb.push_back(b.sample(l.data()));
  }
  EXPECT_EQ(ta, tb);
  // The draws are genuinely random: several distinct tokens appear.
  std::map<int, int> distinct;
  for (int t : ta) ++distinct[t];
  EXPECT_GT(distinct.size(), 5u);
  // A different seed gives a different sequence; reset() replays the first one.
  p.seed = 43;
  Sampler c(p, 262144);
  std::vector<int32_t> tc;
  for (int i = 0; i < 200; ++i) tc.push_back(c.sample(l.data()));
  EXPECT_NE(ta, tc);
  a.reset();
  std::vector<int32_t> ta2;
  for (int i = 0; i < 200; ++i) ta2.push_back(a.sample(l.data()));
  EXPECT_EQ(ta, ta2);
}

TEST(Sampler, KnownSeedGivesKnownTokens) {
  // Pins the draw to the documented algorithm (53 high bits of mt19937_64, inverse CDF in candidate
  // order), so an accidental change of the random stream shows up. Two equiprobable tokens: the token
  // is 0 iff the uniform < 0.5, i.e. iff the top bit of the raw 64-bit output is 0.
  std::vector<float> l = {0.0f, 0.0f};
  SamplingParams p = plain(1.0f, 5489);
  Sampler s(p, 2);
  std::mt19937_64 ref(5489);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(s.sample(l.data()), int(ref() >> 63)) << i;
  EXPECT_EQ(s.seed(), 5489u);
}

TEST(Sampler, RandomSeedIsReported) {
  SamplingParams p = plain(1.0f, 0xFFFFFFFF);
  Sampler a(p, 10), b(p, 10);
  EXPECT_NE(a.seed(), 0xFFFFFFFFu);
  EXPECT_NE(a.seed(), b.seed());  // 2^-64 chance of a false failure
}

TEST(Sampler, TopK1EqualsGreedy) {
  SamplingParams p = plain(1.0f, 77);
  p.top_k = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto l = random_logits(50000, seed);
    Sampler s(p, 50000);
    EXPECT_EQ(s.sample(l.data()), Sampler::argmax(l.data(), 50000));
  }
}

TEST(Sampler, TopKRestrictsToBestK) {
  // 8 tokens, equal-ish mass; top_k=3 must only ever return the 3 largest.
  std::vector<float> l = {1.0f, 5.0f, 2.0f, 4.9f, 0.5f, 4.8f, 4.7f, 3.0f};
  SamplingParams p = plain(5.0f, 1);  // high temperature flattens the survivors
  p.top_k = 3;
  Sampler s(p, 8);
  auto h = histogram(s, l, 3000);
  for (const auto& [tok, n] : h) EXPECT_TRUE(tok == 1 || tok == 3 || tok == 5) << tok;
  EXPECT_EQ(h.size(), 3u);
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  // p = .5 .3 .15 .05 : top_p .7 keeps {0,1} (.5 < .7 <= .8), in ratio .5:.3.
  const int n = 300;
  auto l = logits_from_probs({0.5, 0.3, 0.15, 0.05}, n);
  SamplingParams p = plain(1.0f, 2024);
  p.top_p = 0.7f;
  Sampler s(p, n);
  const int draws = 20000;
  auto h = histogram(s, l, draws);
  EXPECT_EQ(h.size(), 2u);
  const double f0 = double(h[0]) / draws;
  EXPECT_NEAR(f0, 0.625, 0.015);  // binomial sd ≈ 0.0034
  // Without top-k the vocabulary is unsorted: the same result must come from the partial-sort path.
  p.top_p = 0.9f;  // keeps {0,1,2}
  Sampler s2(p, n);
  auto h2 = histogram(s2, l, draws);
  EXPECT_EQ(h2.size(), 3u);
  EXPECT_NEAR(double(h2[2]) / draws, 0.15 / 0.95, 0.012);
}

TEST(Sampler, TopPBeyondThePartialSortPrefix) {
  // 2000 equiprobable tokens: top_p .5 needs 1000 of them, more than the 256 first sorted.
  const int n = 2000;
  std::vector<float> l(n, 0.0f);
  SamplingParams p = plain(1.0f, 99);
  p.top_p = 0.5f;
  Sampler s(p, n);
  auto h = histogram(s, l, 5000);
  int max_tok = 0;
  for (const auto& [tok, cnt] : h) max_tok = std::max(max_tok, tok);
  // Ties rank by id, so exactly the ids 0..999 survive (cumulative reaches .5 at the 1000th).
  EXPECT_LE(max_tok, 1000);  // 1000 if rounding leaves the sum a hair under .5
  EXPECT_GE(max_tok, 990);
  EXPECT_GT(h.size(), 850u);  // 5 draws per token on average: nearly all appear
  // A kept set beyond 8192 tokens takes the O(n) rebuild: still exactly the best-ranked half.
  const int big = 40000;
  std::vector<float> lb(big, 1.0f);
  Sampler sb(p, big);
  auto hb = histogram(sb, lb, 400);
  int max_big = 0;
  for (const auto& [tok, cnt] : hb) max_big = std::max(max_big, tok);
  EXPECT_LE(max_big, 20000);
  EXPECT_GT(max_big, 15000);
}

TEST(Sampler, MinPDropsTokensBelowFractionOfMax) {
  // p = .5 .3 .15 .05 : min_p .2 keeps p >= .1 → {0,1,2} in ratio .5:.3:.15.
  const int n = 1000;  // no top-k: the unsorted filter
  auto l = logits_from_probs({0.5, 0.3, 0.15, 0.05}, n);
  SamplingParams p = plain(1.0f, 7);
  p.min_p = 0.2f;
  Sampler s(p, n);
  const int draws = 20000;
  auto h = histogram(s, l, draws);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.count(3), 0u);
  EXPECT_NEAR(double(h[2]) / draws, 0.15 / 0.95, 0.012);
  // Sorted path (after top-k): same answer.
  p.top_k = 10;
  Sampler s2(p, n);
  auto h2 = histogram(s2, l, draws);
  EXPECT_EQ(h2.size(), 3u);
  EXPECT_NEAR(double(h2[0]) / draws, 0.5 / 0.95, 0.015);
  // A vocabulary larger than Gemma's, top-p and min-p together: the stricter of the two wins.
  const int big = 300000;
  auto lb = logits_from_probs({0.5, 0.3, 0.15, 0.05}, big);
  p.top_k = 0;
  p.top_p = 0.7f;  // keeps {0,1}
  Sampler s3(p, big);
  auto h3 = histogram(s3, lb, 100);
  EXPECT_EQ(h3.size(), 2u);
  EXPECT_EQ(h3.count(2), 0u);
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  auto l = logits_from_probs({0.6, 0.4}, 2);
  const int draws = 20000;
  // T = 0.5 squares the odds: .36/.52 ≈ .692; T = 2 takes the square root: .7746/1.4071 ≈ .5505.
  Sampler cold(plain(0.5f, 3), 2), hot(plain(2.0f, 3), 2);
  EXPECT_NEAR(double(histogram(cold, l, draws)[0]) / draws, 0.36 / 0.52, 0.015);
  EXPECT_NEAR(double(histogram(hot, l, draws)[0]) / draws, std::sqrt(0.6) / (std::sqrt(0.6) + std::sqrt(0.4)), 0.015);
}

TEST(Sampler, RepeatPenaltyChangesGreedyChoice) {
  // Token 0 leads (2.0 vs 1.5); after it is accepted, a 1.5 penalty makes it 1.333 < 1.5.
  std::vector<float> l = {2.0f, 1.5f, -1.0f};
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  Sampler s(p, 3);
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()), 1);
  // Negative logits are multiplied (made less likely), not divided.
  std::vector<float> neg = {-1.0f, -1.2f, -5.0f};
  Sampler s2(p, 3);
  s2.accept(0);
  EXPECT_EQ(s2.sample(neg.data()), 1);  // -1 * 1.5 = -1.5 < -1.2
}

TEST(Sampler, RepeatWindowForgetsOldTokens) {
  std::vector<float> l = {2.0f, 1.5f, -1.0f, -2.0f};
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 2;
  Sampler s(p, 4);
  s.accept(0);
  EXPECT_EQ(s.sample(l.data()), 1);
  s.accept(2);
  s.accept(3);  // token 0 has left the 2-token window
  EXPECT_EQ(s.sample(l.data()), 0);
  s.accept(0);
  s.reset();  // forgets accepted tokens
  EXPECT_EQ(s.sample(l.data()), 0);
  // repeat_last_n = 0 turns penalties off.
  p.repeat_last_n = 0;
  Sampler off(p, 4);
  off.accept(0);
  EXPECT_EQ(off.sample(l.data()), 0);
}

TEST(Sampler, FrequencyAndPresencePenalties) {
  std::vector<float> l = {3.0f, 2.2f, 1.0f};
  // Frequency: 0.5 per occurrence. One occurrence: 2.5 > 2.2 stays; two: 2.0 < 2.2 switches.
  SamplingParams p = plain(0.0f);
  p.frequency_penalty = 0.5f;
  Sampler f(p, 3);
  f.accept(0);
  EXPECT_EQ(f.sample(l.data()), 0);
  f.accept(0);
  EXPECT_EQ(f.sample(l.data()), 1);
  // Presence: a flat 0.9 once present, however often: 2.1 < 2.2 switches at the first occurrence.
  SamplingParams q = plain(0.0f);
  q.presence_penalty = 0.9f;
  Sampler pr(q, 3);
  pr.accept(0);
  EXPECT_EQ(pr.sample(l.data()), 1);
  pr.accept(1);  // 2.2 - 0.9 = 1.3 < 2.1: back to token 0
  EXPECT_EQ(pr.sample(l.data()), 0);
}

TEST(Sampler, PenaltiesApplyInsideTopK) {
  // A penalised token must be ranked by its penalised logit when top-k picks candidates.
  const int n = 100000;
  std::vector<float> l(n, -10.0f);
  l[10] = 5.0f;
  l[20] = 4.0f;
  l[30] = 3.0f;
  SamplingParams p = plain(1.0f, 5);
  p.top_k = 1;
  p.repeat_penalty = 2.0f;  // 5 → 2.5: token 20 becomes the single best
  Sampler s(p, n);
  s.accept(10);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(l.data()), 20);
  // top_k = 2 keeps {20, 30}; token 10 (2.5) is out.
  p.top_k = 2;
  Sampler s2(p, n);
  s2.accept(10);
  auto h = histogram(s2, l, 2000);
  EXPECT_EQ(h.count(10), 0u);
  EXPECT_GT(h[20], h[30]);
}

TEST(Sampler, DefaultChainStaysInHighProbabilitySet) {
  // Full default chain on a Gemma-sized vocabulary: every sample is among the top 40 logits.
  const int n = 262144;
  auto l = random_logits(n, 5);
  SamplingParams p;
  p.seed = 1;
  Sampler s(p, n);
  std::vector<float> sorted = l;
  std::nth_element(sorted.begin(), sorted.begin() + 39, sorted.end(), std::greater<float>());
  const float kth = sorted[39];
  for (int i = 0; i < 50; ++i) {
    const int t = s.sample(l.data());
    ASSERT_GE(t, 0);
    ASSERT_LT(t, n);
    EXPECT_GE(l[size_t(t)], kth);
  }
}
