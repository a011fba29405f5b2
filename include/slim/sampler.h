// Token sampling with llama.cpp's usual chain: penalties → top-k → top-p → min-p → temperature → draw.
// temperature <= 0 means greedy. The same seed gives the same tokens.
//
// Semantics (see docs/sampling.md):
//  * penalties look at the last repeat_last_n accepted tokens (0: off, < 0: every accepted token):
//    repetition (llama.cpp: logit > 0 → logit / penalty, else logit * penalty), then
//    logit -= count * frequency_penalty + (count > 0) * presence_penalty (OpenAI).
//  * greedy (temperature <= 0) is the argmax of the penalised logits; ties go to the lowest id.
//  * top-p and min-p judge the untempered (penalised) distribution, as llama.cpp does; temperature only
//    reshapes what survives them.
//  * the draw uses 53 uniform bits from std::mt19937_64 per token, never std:: distributions, so a seed
//    gives the same tokens with every standard library.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace slim {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;             // <= 0: off
  float top_p = 0.95f;        // >= 1: off
  float min_p = 0.05f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;     // window of recent tokens the penalties look at
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0xFFFFFFFF;  // 0xFFFFFFFF: pick a random seed (reported via Sampler::seed())
};

class Sampler {
 public:
  Sampler(const SamplingParams& p, int32_t n_vocab);
  int32_t sample(const float* logits);  // does not modify logits
  void accept(int32_t token);           // record for penalties
  void reset();                         // forget accepted tokens and restart the random stream from seed()
  uint64_t seed() const { return seed_; }
  const SamplingParams& params() const { return p_; }

  // Argmax with ties to the lowest id (no penalties): the plain greedy choice.
  static int32_t argmax(const float* logits, int32_t n_vocab);

 private:
  bool penalties_on() const;
  float penalised(float logit, int count) const;
  int32_t sample_greedy(const float* logits);
  void gather_top_k(const float* logits, int k);  // cand_ = best k, sorted descending
  void gather_all(const float* logits);           // cand_ = every token, id order
  double uniform01();                             // [0, 1) from 53 random bits

  SamplingParams p_;
  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::unordered_map<int32_t, int> counts_;      // occurrences of each token in recent_
  std::vector<std::pair<float, int32_t>> cand_;  // reused buffer
  std::vector<double> probs_;                    // reused buffer
};

}  // namespace slim
