// Agreement with llama.cpp on the tiny random-weight models of every architecture, against fixtures that
// llama.cpp produced (tools/make_llama_fixtures.sh): perplexity, KL divergence and top-1 agreement of the
// next-token distributions over the same tokens, and greedy continuations token for token.
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

std::vector<std::string> fixture_models() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kRoot / "tests/fixtures/tiny", ec))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

class LlamaAgreement : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    model_path_ = kRoot / "tests/models" / (GetParam() + ".gguf");
    if (!fs::exists(model_path_)) GTEST_SKIP() << model_path_ << " missing: run tools/setup.sh";
    std::ifstream in(kRoot / "tests/fixtures/tiny" / (GetParam() + ".json"));
    fixture_ = nlohmann::json::parse(in);
  }
  fs::path model_path_;
  nlohmann::json fixture_;
};

TEST_P(LlamaAgreement, PerplexityKlAndTop1) {
  auto m = Model::load(model_path_.string());
  PerplexityParams p;
  p.logits_file = (kRoot / "tests/fixtures/tiny" / (GetParam() + ".kld")).string();
  p.compare = true;
  PerplexityResult r = run_perplexity(*m, "", p);
  const KlSummary s = r.kl.summary();
  const double ref_ppl = fixture_["perplexity"]["ppl"].get<double>();
  ASSERT_GT(s.count, 200u);
  EXPECT_NEAR(r.ppl.ppl() / ref_ppl, 1.0, 0.01) << "slim PPL " << r.ppl.ppl() << " vs llama.cpp " << ref_ppl;
  EXPECT_LT(s.kld.mean, 0.01);
  // The bar. slim's prefill is bit-identical to llama.cpp's for every type but F16/BF16 (ulp-level) and
  // Q5_K (one near-tied token in 252); the p99 KLD that remains comes from the base file's 16-bit log-probs.
  EXPECT_GE(s.same_top.mean, 0.98) << "mean KLD " << s.kld.mean;
  std::printf("[ %s ] PPL %.4f (llama.cpp %.4f), mean KLD %.6f, p99 %.6f, top-1 %.2f%%\n", GetParam().c_str(),
              r.ppl.ppl(), ref_ppl, s.kld.mean, s.kld_p99, 100 * s.same_top.mean);
}

TEST_P(LlamaAgreement, GreedyContinuations) {
  // Free-running greedy decoding of random-weight models amplifies near-ties (one flipped token changes the
  // rest), so llama.cpp's greedy tokens are checked teacher-forced: at least 90% must be slim's argmax too
  // (llama.cpp agrees with its own other code paths on ~96% of top-1 choices on these models; see
  // docs/correctness.md). Free-running identical continuations are printed too.
  auto m = Model::load(model_path_.string());
  const int nv = m->config().n_vocab;
  int steps = 0, exact = 0, identical = 0;
  for (const auto& g : fixture_["greedy"]) {
    const std::vector<int32_t> prompt = g["prompt_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> want = g["output_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(m->tokenizer().encode(g["prompt"].get<std::string>(), true, true), prompt);
    ContextParams cp;
    cp.n_ctx = 256;
    cp.llama_compat = true;  // short prompts: llama.cpp runs its per-row attention kernel, reproduce it
    Context ctx(*m, cp);
    std::vector<int32_t> seq = prompt;
    seq.insert(seq.end(), want.begin(), want.end());
    LogitsCallback check = [&](int i, const float* l) {
      const int step = i - static_cast<int>(prompt.size()) + 1;
      if (step < 0 || step >= static_cast<int>(want.size())) return;
      const int32_t best = static_cast<int32_t>(std::max_element(l, l + nv) - l);
      ++steps;
      exact += best == want[step];
      if (best != want[step])
        std::printf("  step %d: llama.cpp chose %d, slim prefers %d by %.4f\n", step, want[step], best,
                    l[best] - l[want[step]]);
    };
    ctx.eval(seq.data(), static_cast<int>(seq.size()), &check);

    Context free_run(*m, cp);
    SamplingParams sp;
    sp.temperature = 0;
    Sampler greedy(sp, nv);
    free_run.eval(prompt.data(), static_cast<int>(prompt.size()));
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      const int32_t t = greedy.sample(free_run.last_logits());
      got.push_back(t);
      if (m->tokenizer().is_eog(t)) break;
      free_run.eval(&t, 1);
    }
    identical += got == want;
  }
  std::printf("[ %s ] llama.cpp's greedy tokens: %d/%d are slim's argmax; free-running "
              "continuations identical: %d/%zu\n",
              GetParam().c_str(), exact, steps, identical, fixture_["greedy"].size());
  EXPECT_GE(exact, steps * 9 / 10);
}

INSTANTIATE_TEST_SUITE_P(Tiny, LlamaAgreement, ::testing::ValuesIn(fixture_models()), [](const auto& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LlamaAgreement);

}  // namespace
