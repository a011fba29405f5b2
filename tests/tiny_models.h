// Helpers shared by the tests that run the tiny random-weight models (tests/models, tools/gen_tiny_models.py).
#pragma once
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace slim::testing_util {

inline std::string tiny(const char* name) {
  return (std::filesystem::path(SLIM_SOURCE_DIR) / "tests/models" / name).string();
}

// Seeded token ids in [0, n_vocab).
inline std::vector<int32_t> random_tokens(int n, int n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (int& x : t) x = static_cast<int32_t>(rng() % n_vocab);
  return t;
}

}  // namespace slim::testing_util
