// SlimInfer decode-time re-scoring (rescore=N, methods.md option B) on the tiny random-weight models:
// keep-all re-scoring is bit-identical to frozen sets and to dense; a real selection always holds the sink
// and the question, lies within what the scoring layer stores and is nested across pruning layers;
// rescore=N reuses a selection between re-scorings; a KV budget does not change the logits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "slim/context.h"
#include "slim/error.h"
#include "slim/model.h"
#include "slim/prune.h"
#include "tiny_models.h"

using namespace slim;

namespace {

using testing_util::random_tokens;
using testing_util::tiny;

constexpr int kCtx = 1024;
constexpr int kPrompt = 600;

// ubatch = n_ctx: sliding-window layers then store every row (no ring), so tiny Gemma's local layers can
// be pruning layers that re-score.
ContextParams params(const std::string& spec, size_t kv_budget = 0, int threads = 2, int n_ctx = kCtx) {
  ContextParams p;
  p.n_ctx = n_ctx;
  p.n_ubatch = n_ctx;
  p.n_threads = threads;
  p.kv_budget = kv_budget;
  p.prune = parse_prune_spec(spec);
  return p;
}

std::vector<float> logits_of(const Context& ctx) {
  return {ctx.last_logits(), ctx.last_logits() + ctx.model().config().n_vocab};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

int32_t step_token(int i, int n_vocab) { return static_cast<int32_t>((37 * i + 11) % n_vocab); }

// Prompt, then `steps` one-token decode steps; the logits of every step.
std::vector<std::vector<float>> decode(const Model& m, const std::vector<int32_t>& prompt, const std::string& spec,
                                       int steps, size_t kv_budget = 0, PruneStats* stats = nullptr,
                                       KVManagerStats* kv_stats = nullptr, int n_ctx = kCtx) {
  Context ctx(m, params(spec, kv_budget, 2, n_ctx));
  ctx.eval(prompt.data(), static_cast<int>(prompt.size()));
  std::vector<std::vector<float>> out{logits_of(ctx)};
  for (int i = 0; i < steps; ++i) {
    const int32_t t = step_token(i, m.config().n_vocab);
    ctx.eval(&t, 1);
    out.push_back(logits_of(ctx));
  }
  if (stats) *stats = ctx.prune_stats();
  if (kv_stats) *kv_stats = ctx.kv_stats();
  return out;
}

// Pruning layers for each tiny model (they must precede the last layer).
std::string layers_for(const Model& m) {
  const int L = m.config().n_layer;
  return L >= 4 ? "layers=1/3" : L == 3 ? "layers=0/1" : "layers=0";
}
std::string keeps_for(const Model& m, const char* two, const char* one) {
  return m.config().n_layer >= 3 ? two : one;
}

bool contains(const std::vector<int32_t>& sorted, int32_t p) { return std::binary_search(sorted.begin(), sorted.end(), p); }

class RescoreTiny : public ::testing::TestWithParam<const char*> {};

TEST_P(RescoreTiny, KeepAllIsBitIdenticalToFrozenAndDense) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const auto prompt = random_tokens(kPrompt, m.config().n_vocab, 11);
  const std::string base = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "1/1", "1") +
                           ",min_tokens=64,unit=8,window=16";
  PruneStats st;
  const auto dense = decode(m, prompt, "dense", 4);
  const auto frozen = decode(m, prompt, base, 4);
  const auto rescored = decode(m, prompt, base + ",rescore=1", 4, 0, &st);
  EXPECT_EQ(st.rescore_steps, 4);
  EXPECT_EQ(st.restricted_steps, 4);
  EXPECT_DOUBLE_EQ(st.rescore_visible, 1.0);
  for (size_t i = 0; i < dense.size(); ++i) {
    EXPECT_TRUE(same_bits(dense[i], frozen[i])) << "step " << i;
    EXPECT_TRUE(same_bits(dense[i], rescored[i])) << "step " << i;
  }
}

TEST_P(RescoreTiny, SelectionHoldsSinkAndQuestionWithinStoredAndNested) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int unit = 8, window = 16;
  const std::string spec = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.5/0.25", "0.4") +
                           ",min_tokens=64,unit=8,window=16,rescore=1";
  Context ctx(m, params(spec));
  const PruneConfig& cfg = ctx.prune_config();
  const auto prompt = random_tokens(kPrompt, m.config().n_vocab, 12);
  ctx.eval(prompt.data(), kPrompt);
  const auto frozen_first = logits_of(ctx);
  std::vector<std::vector<int32_t>> stored;
  for (int l = 0; l < m.config().n_layer; ++l) stored.push_back(ctx.layer_positions(l));
  for (int step = 0; step < 3; ++step) {
    const int32_t t = step_token(step, m.config().n_vocab);
    ctx.eval(&t, 1);
    const PruneStats& st = ctx.prune_stats();
    ASSERT_EQ(st.rescore_selected.size(), cfg.layers.size());
    const int n_units = (kPrompt + unit - 1) / unit;
    for (size_t k = 0; k < cfg.layers.size(); ++k) {
      const std::vector<int32_t>& sel = st.rescore_selected[k];
      SCOPED_TRACE("step " + std::to_string(step) + " level " + std::to_string(k));
      ASSERT_TRUE(std::is_sorted(sel.begin(), sel.end()));
      for (int32_t p : sel) ASSERT_TRUE(p >= 0 && p < kPrompt) << p;  // prompt positions only
      EXPECT_TRUE(contains(sel, 0));                                   // sink unit
      for (int p = kPrompt - window; p < kPrompt; ++p) EXPECT_TRUE(contains(sel, p)) << p;  // question
      // Chosen among what the scoring layer stores (and, deeper, among what the shallower level left).
      const std::vector<int32_t>& here = stored[cfg.layers[k]];
      EXPECT_TRUE(std::includes(here.begin(), here.end(), sel.begin(), sel.end()));
      if (k > 0) {
        const std::vector<int32_t>& above = st.rescore_selected[k - 1];
        EXPECT_TRUE(std::includes(above.begin(), above.end(), sel.begin(), sel.end()));
      }
      // Whole units, at most ceil(keep * units) of them (exactly that many when the layer holds enough).
      const int target = static_cast<int>(std::ceil(double(cfg.keep[k]) * n_units - 1e-6 * n_units));
      EXPECT_EQ(sel.size() % unit, 0u);
      EXPECT_LE(static_cast<int>(sel.size()), target * unit);
      if (k == 0) {
        EXPECT_EQ(static_cast<int>(sel.size()), target * unit);
      }
    }
    EXPECT_EQ(st.rescore_steps, step + 1);
    EXPECT_GT(st.rescore_visible, 0.0);
    EXPECT_LT(st.rescore_visible, 1.0);
    for (float x : logits_of(ctx)) ASSERT_TRUE(std::isfinite(x));
  }
  // The restriction is real: decode logits differ from frozen (option A) ones.
  const auto frozen = decode(m, prompt, spec.substr(0, spec.size() - std::string(",rescore=1").size()), 3);
  const auto rescored = decode(m, prompt, spec, 3);
  EXPECT_TRUE(same_bits(frozen[0], rescored[0]));  // the prompt's logits: before any re-scoring
  EXPECT_TRUE(same_bits(frozen_first, rescored[0]));
  EXPECT_FALSE(same_bits(frozen[3], rescored[3]));
}

TEST_P(RescoreTiny, EveryNthStepReusesTheSelection) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const std::string base = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.5/0.25", "0.4") +
                           ",min_tokens=64,unit=8,window=16";
  const auto prompt = random_tokens(kPrompt, m.config().n_vocab, 13);
  Context ctx(m, params(base + ",rescore=3"));
  ctx.eval(prompt.data(), kPrompt);
  std::vector<std::vector<std::vector<int32_t>>> selections;
  for (int step = 0; step < 7; ++step) {
    const int32_t t = step_token(step, m.config().n_vocab);
    ctx.eval(&t, 1);
    EXPECT_EQ(ctx.prune_stats().rescore_steps, step / 3 + 1) << step;  // steps 0, 3, 6 re-score
    EXPECT_EQ(ctx.prune_stats().restricted_steps, step + 1);
    selections.push_back(ctx.prune_stats().rescore_selected);
  }
  EXPECT_EQ(selections[1], selections[0]);
  EXPECT_EQ(selections[2], selections[0]);
  EXPECT_EQ(selections[4], selections[3]);
  EXPECT_EQ(selections[5], selections[3]);
  // A re-scoring step is the same computation whatever N is: step 0 matches rescore=1 bit for bit.
  const auto every = decode(m, prompt, base + ",rescore=1", 1);
  const auto third = decode(m, prompt, base + ",rescore=3", 1);
  EXPECT_TRUE(same_bits(every[1], third[1]));
}

TEST_P(RescoreTiny, MultiTokenCallEqualsOneTokenSteps) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int nv = m.config().n_vocab;
  const std::string spec = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.5/0.25", "0.4") +
                           ",min_tokens=64,unit=8,window=16,rescore=2";
  const auto prompt = random_tokens(kPrompt, nv, 14);
  const std::vector<int32_t> follow = {step_token(0, nv), step_token(1, nv), step_token(2, nv)};
  const auto steps = decode(m, prompt, spec, 3);
  Context ctx(m, params(spec));
  ctx.eval(prompt.data(), kPrompt);
  std::vector<std::vector<float>> all;
  const LogitsCallback cb = [&](int, const float* lg) { all.emplace_back(lg, lg + nv); };
  ctx.eval(follow.data(), 3, &cb);
  ASSERT_EQ(all.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(same_bits(all[i], steps[i + 1])) << i;
  EXPECT_TRUE(same_bits(logits_of(ctx), steps[3]));
}

TEST_P(RescoreTiny, TruncateIntoThePromptEndsRescoring) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int nv = m.config().n_vocab;
  const std::string base = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.5/0.25", "0.4") +
                           ",min_tokens=64,unit=8,window=16";
  const auto prompt = random_tokens(kPrompt, nv, 15);
  auto run = [&](const std::string& spec, PruneStats* st) {
    Context ctx(m, params(spec));
    ctx.eval(prompt.data(), kPrompt);
    for (int i = 0; i < 3; ++i) {
      const int32_t t = step_token(i, nv);
      ctx.eval(&t, 1);
    }
    EXPECT_TRUE(ctx.truncate(kPrompt + 1));  // a rollback of generated tokens: re-scoring goes on
    int32_t t = step_token(7, nv);
    ctx.eval(&t, 1);
    if (st) *st = ctx.prune_stats();
    EXPECT_TRUE(ctx.truncate(kPrompt - 5));  // into the prompt: decoding is dense over the stores again
    for (int i = 0; i < 2; ++i) {
      t = step_token(8 + i, nv);
      ctx.eval(&t, 1);
    }
    return logits_of(ctx);
  };
  PruneStats st;
  const auto rescored = run(base + ",rescore=2", &st);
  const auto frozen = run(base, nullptr);
  EXPECT_EQ(st.rescore_steps, 3);  // steps 0 and 2, then the step after the rollback
  EXPECT_EQ(st.restricted_steps, 4);
  EXPECT_TRUE(same_bits(rescored, frozen));
}

TEST_P(RescoreTiny, ResultIndependentOfThreads) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const std::string spec = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.5/0.25", "0.4") +
                           ",min_tokens=64,unit=8,window=16,rescore=1";
  const auto prompt = random_tokens(kPrompt, m.config().n_vocab, 17);
  std::vector<std::vector<float>> out[2];
  std::vector<std::vector<int32_t>> selected[2];
  for (int threads : {1, 3}) {
    Context ctx(m, params(spec, 0, threads));
    ctx.eval(prompt.data(), kPrompt);
    for (int i = 0; i < 3; ++i) {
      const int32_t t = step_token(i, m.config().n_vocab);
      ctx.eval(&t, 1);
      out[threads > 1].push_back(logits_of(ctx));
    }
    selected[threads > 1] = ctx.prune_stats().rescore_selected;
  }
  EXPECT_EQ(selected[0], selected[1]);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(same_bits(out[0][i], out[1][i])) << i;
}

// A RAM budget only moves KV blocks; re-scoring narrows what each restricted layer needs (set_active).
TEST_P(RescoreTiny, KVBudgetDoesNotChangeLogits) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  const size_t row = size_t(c.n_head_kv) * c.head_dim * 2 * 2;  // f16 K and V
  const size_t budget = size_t(kCtx) * row + 128 * row;          // one full layer + one block: the minimum
  const std::string spec = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.5/0.25", "0.4") +
                           ",min_tokens=64,unit=8,window=16,rescore=1";
  const auto prompt = random_tokens(900, c.n_vocab, 16);  // long enough that even 2-layer Qwen2 goes cold
  PruneStats st_free, st_tight;
  KVManagerStats ks;
  const auto free_run = decode(m, prompt, spec, 8, 0, &st_free);
  const auto tight = decode(m, prompt, spec, 8, budget, &st_tight, &ks);
  for (size_t i = 0; i < free_run.size(); ++i) EXPECT_TRUE(same_bits(free_run[i], tight[i])) << "step " << i;
  EXPECT_EQ(st_free.rescore_selected, st_tight.rescore_selected);
  EXPECT_EQ(ks.budget_bytes, budget);
  EXPECT_LE(ks.hot_bytes_peak, budget);
  EXPECT_GT(ks.bytes_fetched, 0u);  // blocks really went cold
}

// Under the minimum budget (8 blocks of 128 rows) the 11-block pruning layers stream through windows: the
// re-scoring probe reads their keys window by window, attention too; the logits still do not change.
TEST_P(RescoreTiny, StreamedLayersDoNotChangeLogits) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  const size_t row = size_t(c.n_head_kv) * c.head_dim * 2 * 2;  // f16 K and V
  const size_t budget = 8 * 128 * row;
  const std::string spec = "sliminfer:" + layers_for(m) + ",keep=" + keeps_for(m, "0.9/0.8", "0.9") +
                           ",min_tokens=64,unit=8,window=16,rescore=1";
  const auto prompt = random_tokens(1300, c.n_vocab, 17);
  PruneStats st_free, st_tight;
  KVManagerStats ks;
  const auto free_run = decode(m, prompt, spec, 4, 0, &st_free, nullptr, 2048);
  const auto tight = decode(m, prompt, spec, 4, budget, &st_tight, &ks, 2048);
  for (size_t i = 0; i < free_run.size(); ++i) EXPECT_TRUE(same_bits(free_run[i], tight[i])) << "step " << i;
  EXPECT_EQ(st_free.rescore_selected, st_tight.rescore_selected);
  EXPECT_GT(st_tight.rescore_steps, 0u);
  EXPECT_GT(ks.stream_windows, 0u);  // layers really streamed
  EXPECT_LE(ks.hot_bytes_peak, budget);
}

INSTANTIATE_TEST_SUITE_P(Models, RescoreTiny,
                         ::testing::Values("tiny-gemma3-q4km.gguf", "tiny-llama3-q4km.gguf", "tiny-qwen2-q8_0.gguf"));

TEST(RescoreSpec, ParsesAndRejects) {
  PruneConfig c = parse_prune_spec("sliminfer:rescore=1");
  EXPECT_EQ(c.rescore, 1);
  EXPECT_EQ(parse_prune_spec("sliminfer:layers=2/5,keep=0.5/0.25,rescore=8").rescore, 8);
  EXPECT_EQ(parse_prune_spec("sliminfer").rescore, 0);  // off by default
  EXPECT_EQ(parse_prune_spec(to_string(parse_prune_spec("sliminfer:rescore=8"))).rescore, 8);
  EXPECT_EQ(to_string(parse_prune_spec("sliminfer")).find("rescore"), std::string::npos);
  EXPECT_THROW(parse_prune_spec("sliminfer:rescore=-1"), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:rescore=1.5"), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:rescore=x"), Error);
  ModelConfig mc;
  mc.n_layer = 6;
  PruneConfig lazy = parse_prune_spec("lazyllm:rescore=1");
  EXPECT_THROW(resolve_prune_defaults(lazy, mc), Error);  // a SlimInfer option
}

}  // namespace
