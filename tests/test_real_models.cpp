// The two real models (installed by tools/setup.sh) against llama.cpp reference outputs stored in
// tests/fixtures/reference/: greedy 64-token continuations of 5 prompts, and perplexity on the first chunks of
// the corpus compared with llama-perplexity's running value after the same number of chunks.
// The full-length figures (all chunks, -c 4096/2048) are in docs/correctness.md; CI checks a prefix for time.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/perplexity.h"
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

TEST_P(RealModelTest, GreedyContinuationsMatchLlamaCpp) {
  auto m = Model::load(path_.string());
  const nlohmann::json fx = fixture("-greedy.json");
  int identical = 0, total = 0;
  for (const auto& g : fx["greedy"]) {
    const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
    const auto want = g["output_ids"].get<std::vector<int32_t>>();
    ASSERT_EQ(m->tokenizer().encode(g["prompt"].get<std::string>(), true, true), prompt);
    ContextParams cp;
    cp.n_ctx = 512;
    Context ctx(*m, cp);
    SamplingParams sp;
    sp.temperature = 0;
    Sampler greedy(sp, m->config().n_vocab);
    ctx.eval(prompt.data(), static_cast<int>(prompt.size()));
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      const int32_t t = greedy.sample(ctx.last_logits());
      got.push_back(t);
      if (m->tokenizer().is_eog(t)) break;
      ctx.eval(&t, 1);
    }
    const bool same = got == want;
    identical += same;
    ++total;
    if (!same) {
      size_t k = 0;
      while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
      std::printf("  prompt %d differs from token %zu on\n", total, k);
    }
  }
  std::printf("[ %s ] greedy 64-token continuations identical to llama.cpp: %d/%d\n", GetParam().fixture, identical,
              total);
  EXPECT_GE(identical, 4) << "the bar: at least 4 of the 5 identical";
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
