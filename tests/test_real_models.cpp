// The two real models (installed by tools/setup.sh) against llama.cpp reference outputs stored in
// tests/fixtures/reference/: greedy 64-token continuations of 5 prompts, and perplexity on the first chunks of
// the corpus compared with llama-perplexity's running value after the same number of chunks.
// The full-length figures (all chunks, -c 4096/2048) are in docs/correctness.md; CI checks a prefix for time.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/perplexity.h"
#include "simd/cpu.h"
#include "slim/context.h"
#include "slim/sampler.h"

namespace fs = std::filesystem;
using namespace slim;

namespace {

const fs::path kRoot = SLIM_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct RealModel {
  const char* file;     // under models/
  const char* fixture;  // stem under tests/fixtures/reference/
};

const RealModel kModels[] = {
    {"gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m"},
    {"smollm2-135m-instruct-q4_1.gguf", "smollm2-135m-instruct-q4_1"},
};

class RealModelTest : public ::testing::TestWithParam<RealModel> {
 protected:
  void SetUp() override {
    path_ = kRoot / "models" / GetParam().file;
    if (!fs::exists(path_)) GTEST_SKIP() << path_ << " not installed (tools/setup.sh installs it)";
  }
  nlohmann::json fixture(const std::string& suffix) {
    std::ifstream in(kRoot / "tests/fixtures/reference" / (std::string(GetParam().fixture) + suffix));
    return nlohmann::json::parse(in);
  }
  fs::path path_;
};

// Greedy continuation of `prompt` as llama-completion runs it (prompt in one batch, then one token per eval).
std::vector<int32_t> greedy_run(const Model& m, const std::vector<int32_t>& prompt, size_t n, bool llama_compat) {
  ContextParams cp;
  cp.n_ctx = 512;       // as the fixture's -c 512
  cp.n_threads = 2;     // as its -t 2 (compat mode splits long single-row attention like llama.cpp's threads)
  cp.llama_compat = llama_compat;
  Context ctx(m, cp);
  SamplingParams sp;
  sp.temperature = 0;
  Sampler greedy(sp, m.config().n_vocab);
  ctx.eval(prompt.data(), static_cast<int>(prompt.size()));
  std::vector<int32_t> got;
  for (size_t i = 0; i < n; ++i) {
    const int32_t t = greedy.sample(ctx.last_logits());
    got.push_back(t);
    if (m.tokenizer().is_eog(t)) break;
    ctx.eval(&t, 1);
  }
  return got;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t k = 0;
  while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
  return k;
}

// With llama_compat, attention follows llama.cpp's per-row fp16 path for these small batches, so the
// continuations must match token for token.
TEST_P(RealModelTest, GreedyContinuationsMatchLlamaCpp) {
  if (simd::active() == simd::Target::kScalar)
    GTEST_SKIP() << "scalar target: matmul in the reference order (vec_dot_ref), not llama.cpp's lanes";
  auto m = Model::load(path_.string());
  const nlohmann::json fx = fixture("-greedy.json");
  int identical = 0, total = 0;
  for (const auto& g : fx["greedy"]) {
    const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = g["output_ids"].get<std::vector<int32_t>>();
    ASSERT_EQ(m->tokenizer().encode(g["prompt"].get<std::string>(), true, true), prompt);
    const auto margin = g["top2_logit_margin"].get<std::vector<double>>();
    const auto got = greedy_run(*m, prompt, want.size(), /*llama_compat=*/true);
    const bool same = got == want;
    identical += same;
    ++total;
    if (!same) {
      const size_t k = common_prefix(got, want);
      std::printf("  prompt %d differs from token %zu on (llama.cpp margin there %.4f)\n", total, k,
                  k < margin.size() ? margin[k] : -1.0);
    }
  }
  std::printf("[ %s ] llama_compat greedy 64-token continuations identical to llama.cpp: %d/%d\n",
              GetParam().fixture, identical, total);
  EXPECT_GE(identical, 4) << "the bar: at least 4 of the 5 identical";
}

// Default mode accumulates attention in f32 independently of the batch size, so it may part from
// llama.cpp's fp16 decode path, but only where llama.cpp's top two logits nearly tie.
TEST_P(RealModelTest, DefaultModeDivergesOnlyAtNearTies) {
  auto m = Model::load(path_.string());
  const nlohmann::json fx = fixture("-greedy.json");
  // In logits. Observed first divergences: margins 0.02-0.20, and once 0.39 (SmolLM2 prompt 5, step 6: llama.cpp's
  // fp16 value accumulator moves its logits that much), so the bar is 0.5 rather than 0.25.
  constexpr double kNearTie = 0.5;
  int identical = 0, total = 0;
  for (const auto& g : fx["greedy"]) {
    const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = g["output_ids"].get<std::vector<int32_t>>();
    const auto margin = g["top2_logit_margin"].get<std::vector<double>>();
    ASSERT_EQ(margin.size(), want.size());
    const auto got = greedy_run(*m, prompt, want.size(), /*llama_compat=*/false);
    ++total;
    // The first step whose reference margin is below kNearTie: up to there the outputs must agree.
    size_t first_tie = 0;
    while (first_tie < margin.size() && margin[first_tie] >= kNearTie) ++first_tie;
    const size_t k = common_prefix(got, want);
    identical += got == want;
    if (got != want) {
      std::printf("  prompt %d differs from token %zu on (llama.cpp margin there %.4f)\n", total, k,
                  k < margin.size() ? margin[k] : -1.0);
      EXPECT_GE(k, std::min(first_tie, want.size()))
          << "prompt " << total << ": diverged at token " << k << " before the first near-tie (token " << first_tie
          << ")";
    }
  }
  std::printf("[ %s ] default-mode greedy continuations identical to llama.cpp: %d/%d\n", GetParam().fixture,
              identical, total);
}

TEST_P(RealModelTest, PerplexityPrefixWithinOnePercent) {
  auto m = Model::load(path_.string());
  const nlohmann::json fx = fixture(".json");
  const auto& run = fx["perplexity"][0];  // -c 512
  ASSERT_EQ(run["ctx"].get<int>(), 512);
  const int chunks = 4;
  const double ref = run["running_ppl"][chunks - 1].get<double>();
  PerplexityParams p;
  p.n_ctx = 512;
  p.n_chunks = chunks;
  PerplexityResult r = run_perplexity(*m, slurp(kRoot / fx["corpus"].get<std::string>()), p);
  std::printf("[ %s ] PPL after %d chunks of 512: slim %.4f, llama.cpp %.4f (%.2f%%)\n", GetParam().fixture, chunks,
              r.ppl.ppl(), ref, 100 * (r.ppl.ppl() / ref - 1));
  EXPECT_NEAR(r.ppl.ppl() / ref, 1.0, 0.01);
}

INSTANTIATE_TEST_SUITE_P(Real, RealModelTest, ::testing::ValuesIn(kModels), [](const auto& info) {
  std::string s = info.param.fixture;
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
});

}  // namespace
