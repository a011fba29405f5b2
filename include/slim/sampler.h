// Token sampling with llama.cpp's usual chain: penalties → top-k → top-p → min-p → temperature → draw.
// temperature <= 0 means greedy. The same seed gives the same tokens.
#pragma once
#include <cstdint>
#include <deque>
#include <random>
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
  void reset();
  uint64_t seed() const { return seed_; }

 private:
  SamplingParams p_;
  int32_t n_vocab_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> cand_;  // reused buffer
};

}  // namespace slim
