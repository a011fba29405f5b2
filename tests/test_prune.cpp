// Pruning substrate invariants on the tiny random-weight models: keep-all pruning is bit-identical to dense,
// kept sets always hold the sink and the question, results do not depend on threads or micro-batches,
// deeper layers store subsets of shallower ones, and the KV accounting matches what is stored.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "prune/policy.h"
#include "slim/context.h"
#include "slim/error.h"
#include "slim/prune.h"
#include "tiny_models.h"

namespace fs = std::filesystem;
using namespace slim;

namespace {

using testing_util::random_tokens;
using testing_util::tiny;

struct RunResult {
  std::vector<float> prompt_logits, decode_logits;
  PruneStats stats;
  std::vector<std::vector<int32_t>> layer_pos;
  size_t kv_bytes = 0, kv_dense = 0;
};

RunResult run(const Model& m, const std::vector<int32_t>& toks, const std::string& spec, int threads = 2,
              int ubatch = 128, size_t kv_budget = 0, KVManagerStats* kv_stats = nullptr, int n_ctx = 1024) {
  ContextParams p;
  p.n_ctx = n_ctx;
  p.kv_budget = kv_budget;
  p.n_threads = threads;
  p.n_ubatch = ubatch;
  p.prune = parse_prune_spec(spec);
  Context ctx(m, p);
  RunResult r;
  const int nv = m.config().n_vocab;
  ctx.eval(toks.data(), static_cast<int>(toks.size()));
  r.prompt_logits.assign(ctx.last_logits(), ctx.last_logits() + nv);
  r.stats = ctx.prune_stats();
  for (int l = 0; l < m.config().n_layer; ++l) r.layer_pos.push_back(ctx.layer_positions(l));
  r.kv_bytes = ctx.kv_bytes_used();
  r.kv_dense = ctx.kv_bytes_dense();
  // Two decode steps over what the layers stored.
  for (int i = 0; i < 2; ++i) {
    const int32_t t = static_cast<int32_t>((toks[i] + 7) % nv);
    ctx.eval(&t, 1);
  }
  r.decode_logits.assign(ctx.last_logits(), ctx.last_logits() + nv);
  if (kv_stats) *kv_stats = ctx.kv_stats();
  return r;
}

bool local(const Model& m, int l) {
  const ModelConfig& c = m.config();
  return c.sliding_window > 0 && !c.layer_swa.empty() && c.layer_swa[l];
}

class PruneTiny : public ::testing::TestWithParam<const char*> {};

TEST_P(PruneTiny, KeepAllIsBitIdenticalToDense) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const auto toks = random_tokens(600, m.config().n_vocab, 1);
  const RunResult dense = run(m, toks, "dense");
  const RunResult keep_all = run(m, toks, "sliminfer:layers=0,keep=1,min_tokens=64,unit=8,block=64");
  EXPECT_TRUE(keep_all.stats.active);
  EXPECT_EQ(0, std::memcmp(dense.prompt_logits.data(), keep_all.prompt_logits.data(),
                           dense.prompt_logits.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(dense.decode_logits.data(), keep_all.decode_logits.data(),
                           dense.decode_logits.size() * sizeof(float)));
  EXPECT_EQ(dense.kv_bytes, keep_all.kv_bytes);
}

TEST_P(PruneTiny, PrunedRunKeepsSinkQuestionAndSubsets) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int n = 600, L = m.config().n_layer;
  const auto toks = random_tokens(n, m.config().n_vocab, 2);
  const RunResult r = run(m, toks, "sliminfer:layers=0,keep=0.3,min_tokens=64,unit=8,block=64,window=16");
  ASSERT_TRUE(r.stats.active);
  EXPECT_EQ(r.stats.rows_per_layer[0], n);
  // ceil(0.3 * 75 units) = 23 units of 8 tokens (sink and question included).
  EXPECT_EQ(r.stats.rows_per_layer[1], 23 * 8);
  // The first layer after the pruning layer that stores every computed row (sliding-window layers keep a ring).
  int g = 1;
  while (g < L && local(m, g)) ++g;
  ASSERT_LT(g, L);
  const auto& deep = r.layer_pos[g];
  EXPECT_EQ(static_cast<int>(deep.size()), 23 * 8);
  EXPECT_TRUE(std::binary_search(deep.begin(), deep.end(), 0));  // sink unit
  for (int p = n - 16; p < n; ++p) EXPECT_TRUE(std::binary_search(deep.begin(), deep.end(), p)) << p;
  for (int l = g + 1; l < L; ++l) {
    if (!local(m, l)) {
      EXPECT_TRUE(std::includes(deep.begin(), deep.end(), r.layer_pos[l].begin(), r.layer_pos[l].end()));
    }
  }
  EXPECT_LT(r.kv_bytes, r.kv_dense);
  EXPECT_EQ(r.stats.kv_bytes, r.kv_bytes);
  // Per-layer KV rows: what each layer stores, summing to the bytes accounted.
  ASSERT_EQ(static_cast<int>(r.stats.kv_rows_per_layer.size()), L);
  size_t rows = 0;
  for (int l = 0; l < L; ++l) {
    const auto& lp = r.layer_pos[l];  // forgotten ring rows are holes, position -1
    EXPECT_EQ(r.stats.kv_rows_per_layer[l], std::count_if(lp.begin(), lp.end(), [](int32_t p) { return p >= 0; }))
        << l;
    rows += r.stats.kv_rows_per_layer[l];
  }
  EXPECT_EQ(rows * 2 * (r.kv_bytes / std::max<size_t>(1, rows * 2)), r.kv_bytes);
  for (float x : r.decode_logits) ASSERT_TRUE(std::isfinite(x));
}

TEST_P(PruneTiny, EvictDropsPrunedRowsFromThePruningLayerOnly) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  if (local(m, 0)) GTEST_SKIP() << "layer 0 is a sliding-window layer here (no split pruning layer)";
  const auto toks = random_tokens(600, m.config().n_vocab, 6);
  const std::string spec = "sliminfer:layers=0,keep=0.3,min_tokens=64,unit=8,block=64";
  const RunResult keep = run(m, toks, spec), evict = run(m, toks, spec + ",evict=1");
  // Prefill (and so the first token) is unchanged; layer 0 now stores only what layer 1 stores.
  EXPECT_EQ(0, std::memcmp(keep.prompt_logits.data(), evict.prompt_logits.data(),
                           keep.prompt_logits.size() * sizeof(float)));
  EXPECT_EQ(keep.layer_pos[0].size(), 600u);
  EXPECT_EQ(evict.layer_pos[0], evict.layer_pos[1]);
  for (int l = 1; l < m.config().n_layer; ++l) EXPECT_EQ(keep.layer_pos[l], evict.layer_pos[l]);
  EXPECT_LT(evict.kv_bytes, keep.kv_bytes);
  for (float x : evict.decode_logits) ASSERT_TRUE(std::isfinite(x));
}

// kv_keep: the pruning layer keeps the K/V of the top kv_keep units: between evict=1 (kv_keep = keep) and none.
TEST_P(PruneTiny, KvKeepEvictsOnlyTheLowestScoredDroppedUnits) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  if (local(m, 0)) GTEST_SKIP() << "layer 0 is a sliding-window layer here (no split pruning layer)";
  const auto toks = random_tokens(600, m.config().n_vocab, 6);
  const std::string spec = "sliminfer:layers=0,keep=0.3,min_tokens=64,unit=8,block=64";
  const RunResult none = run(m, toks, spec), half = run(m, toks, spec + ",kv_keep=0.6"),
                  all = run(m, toks, spec + ",kv_keep=1"), tight = run(m, toks, spec + ",kv_keep=0.3"),
                  evict = run(m, toks, spec + ",evict=1");
  EXPECT_EQ(0, std::memcmp(none.prompt_logits.data(), half.prompt_logits.data(),
                           none.prompt_logits.size() * sizeof(float)));  // eviction comes after prefill
  // kv_keep=1 evicts nothing (same decode bits), kv_keep=keep is evict=1.
  EXPECT_EQ(all.layer_pos[0], none.layer_pos[0]);
  EXPECT_EQ(0, std::memcmp(none.decode_logits.data(), all.decode_logits.data(),
                           none.decode_logits.size() * sizeof(float)));
  EXPECT_EQ(tight.layer_pos[0], evict.layer_pos[0]);
  // 0.6 of 75 units = 45 units of 8 tokens: a superset of what layer 1 keeps, a subset of all.
  const auto& l0 = half.layer_pos[0];
  EXPECT_EQ(l0.size(), 45u * 8);
  for (int32_t p : half.layer_pos[1]) EXPECT_TRUE(std::find(l0.begin(), l0.end(), p) != l0.end()) << p;
  for (int l = 1; l < m.config().n_layer; ++l) EXPECT_EQ(none.layer_pos[l], half.layer_pos[l]);
  EXPECT_LT(half.kv_bytes, none.kv_bytes);
  EXPECT_GT(half.kv_bytes, evict.kv_bytes);
  EXPECT_THROW(run(m, toks, spec + ",kv_keep=0.2"), Error);   // below keep
  EXPECT_THROW(run(m, toks, spec + ",kv_keep=0.5/0.4"), Error);  // one per pruning layer
}

TEST_P(PruneTiny, PrunedResultIndependentOfThreadsAndMicroBatch) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const auto toks = random_tokens(500, m.config().n_vocab, 3);
  const std::string spec = "sliminfer:layers=0,keep=0.4,min_tokens=64,unit=8,block=64";
  const RunResult a = run(m, toks, spec, 2, 128), b = run(m, toks, spec, 1, 96);
  for (int l = 0; l < m.config().n_layer; ++l)
    if (!local(m, l)) {
      EXPECT_EQ(a.layer_pos[l], b.layer_pos[l]) << l;
    }
  EXPECT_EQ(0, std::memcmp(a.prompt_logits.data(), b.prompt_logits.data(), a.prompt_logits.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.decode_logits.data(), b.decode_logits.data(), a.decode_logits.size() * sizeof(float)));
}

TEST_P(PruneTiny, RandomDropChangesLogits) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const auto toks = random_tokens(400, m.config().n_vocab, 4);
  const RunResult dense = run(m, toks, "dense");
  const RunResult bad = run(m, toks, "random:drop=0.5,layer=0,min_tokens=64");
  ASSERT_TRUE(bad.stats.active);
  EXPECT_NEAR(bad.stats.rows_per_layer[1], 200, 40);
  EXPECT_NE(0, std::memcmp(dense.prompt_logits.data(), bad.prompt_logits.data(),
                           dense.prompt_logits.size() * sizeof(float)));
}

// A RAM budget only moves KV blocks between RAM and the cold file: logits must not change.
TEST_P(PruneTiny, KVBudgetDoesNotChangeLogits) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  const auto toks = random_tokens(1300, c.n_vocab, 5);
  const size_t row = size_t(c.n_head_kv) * c.head_dim * 2 * 2;  // f16 K and V
  // One full layer + one block (every layer resident in turn), and the minimum of 8 blocks of 128 rows,
  // under which the 11-block global layers stream through windows of 2 blocks.
  std::vector<std::string> specs = {"dense", "sliminfer:layers=0,keep=0.4,min_tokens=64,unit=8,block=64",
                                    "sliminfer:layers=0,keep=0.9,min_tokens=64"};
  if (!local(m, 0)) {  // store rewrites after prefill: at the small budget layer 0 streams and is compacted
    specs.push_back("sliminfer:layers=0,keep=0.9,min_tokens=64,kv_keep=0.95");  // window by window
    specs.push_back("sliminfer:layers=0,keep=0.5,min_tokens=64,evict=1");
  }
  for (const size_t budget : {2048 * row + 128 * row, 8 * 128 * row})
  for (const std::string& spec : specs) {
    SCOPED_TRACE(budget / row);
    KVManagerStats ks;
    const RunResult free_run = run(m, toks, spec, 2, 128, 0, nullptr, 2048);
    const RunResult tight = run(m, toks, spec, 2, 128, budget, &ks, 2048);
    EXPECT_EQ(0, std::memcmp(free_run.prompt_logits.data(), tight.prompt_logits.data(),
                             free_run.prompt_logits.size() * sizeof(float))) << spec;
    EXPECT_EQ(0, std::memcmp(free_run.decode_logits.data(), tight.decode_logits.data(),
                             free_run.decode_logits.size() * sizeof(float))) << spec;
    EXPECT_EQ(free_run.layer_pos, tight.layer_pos) << spec;  // the same rows stored (compactions included)
    EXPECT_EQ(ks.budget_bytes, budget);
    EXPECT_LE(ks.hot_bytes_peak, budget) << spec;
    if (free_run.kv_bytes > budget) {
      EXPECT_GT(ks.bytes_fetched, 0u) << spec;  // blocks really went cold
    }
    if (budget < 2048 * row && spec.find("keep=0.4") == std::string::npos) {
      EXPECT_GT(ks.stream_windows, 0u) << spec;  // layers really streamed
    }
  }
  ContextParams p;
  p.n_ctx = 1024;
  p.kv_budget = 7 * 128 * row;  // below the minimum: a clear error, not a crash
  EXPECT_THROW(Context(m, p), Error);
}

INSTANTIATE_TEST_SUITE_P(Models, PruneTiny,
                         ::testing::Values("tiny-gemma3-q4km.gguf", "tiny-llama3-q4km.gguf", "tiny-qwen2-q8_0.gguf"));

TEST(PruneSelect, SinkAndTailForcedTopScoresChosen) {
  // 10 units of 4 tokens at positions 100..139; unit 5 scores highest, then unit 2.
  std::vector<int32_t> pos(40);
  std::vector<float> sc(40, 0.f);
  for (int i = 0; i < 40; ++i) pos[i] = 100 + i;
  sc[21] = 0.9f;
  sc[9] = 0.5f;
  PruneInput in{3, pos.data(), 40, sc.data(), 100, 40};
  const std::vector<int> rows = select_units(in, 4, 6, 0.5f);  // 5 units: sink, 2 tail units, then 5 and 2
  std::vector<int> want;
  for (int u : {0, 2, 5, 8, 9})
    for (int t = 0; t < 4; ++t) want.push_back(u * 4 + t);
  EXPECT_EQ(rows, want);
  // Pooling over ±4 positions lends unit 5's score (token 21) to its neighbours: unit 4 (tokens 16-19, within
  // reach) now outranks unit 2, whose own best token scores 0.5.
  const std::vector<int> pooled = select_units(in, 4, 6, 0.5f, 4);
  std::vector<int> want_pooled;
  for (int u : {0, 4, 5, 8, 9})
    for (int t = 0; t < 4; ++t) want_pooled.push_back(u * 4 + t);
  EXPECT_EQ(pooled, want_pooled);
  // A ratio below the forced units keeps exactly the forced ones.
  const std::vector<int> few = select_units(in, 4, 6, 0.05f);
  EXPECT_EQ(few.size(), 12u);
}

TEST(PruneSelect, CarryKeepsWhatAnEarlierLayerFound) {
  // Two pruning layers over 12 units of 4 tokens (positions 0..47), window 4: forced units 0 and 11.
  // Layer 1's probe finds unit 3; layer 2's probe prefers unit 7 and gives unit 3 only a little.
  PruneConfig c = parse_prune_spec("sliminfer:layers=1/2,keep=0.5/0.3,unit=4,block=4,window=4,pool=0");
  ModelConfig mc;
  mc.n_layer = 4;
  resolve_prune_defaults(c, mc);
  std::vector<int32_t> pos(48);
  for (int i = 0; i < 48; ++i) pos[i] = i;
  std::vector<float> s1(48, 0.01f), s2;
  s1[13] = 0.8f;  // unit 3
  s1[29] = 0.1f;  // unit 7
  s1[21] = 0.05f, s1[25] = 0.05f;  // units 5 and 6 fill layer 1's budget
  auto units_of = [&](const std::vector<int>& rows, const std::vector<int32_t>& p) {
    std::vector<int> u;
    for (int r : rows)
      if (u.empty() || u.back() != p[r] / 4) u.push_back(p[r] / 4);
    return u;
  };
  auto run = [&](float carry) {
    PruneConfig cc = c;
    cc.carry = carry;
    auto policy = make_prefill_policy(cc);
    const std::vector<int> rows1 = policy->select(PruneInput{1, pos.data(), 48, s1.data(), 0, 48});
    std::vector<int32_t> pos2;
    for (int r : rows1) pos2.push_back(pos[r]);
    s2.assign(pos2.size(), 0.01f);
    for (size_t i = 0; i < pos2.size(); ++i) {
      if (pos2[i] / 4 == 7) s2[i] = 0.6f;
      if (pos2[i] / 4 == 3) s2[i] = 0.02f;
      if (pos2[i] / 4 == 5) s2[i] = 0.05f;
    }
    EXPECT_EQ(units_of(rows1, pos), (std::vector<int>{0, 3, 5, 6, 7, 11}));
    return units_of(policy->select(PruneInput{2, pos2.data(), static_cast<int>(pos2.size()), s2.data(), 0, 48}),
                    pos2);
  };
  EXPECT_EQ(run(0.f), (std::vector<int>{0, 5, 7, 11}));  // this layer's probe alone drops unit 3
  EXPECT_EQ(run(1.f), (std::vector<int>{0, 3, 7, 11}));  // carried: unit 3 stays, unit 5 goes
  EXPECT_EQ(to_string(parse_prune_spec("sliminfer:carry=0.5")).find("carry=0.5") != std::string::npos, true);
  // recent=N forces the units touching the last N positions on top of the scoring window's (here units 8-11),
  // and they count against the keep budget: layer 1 keeps 6 units = sink + 4 recent + the best scored (3).
  PruneConfig r = c;
  r.recent = 16;
  const std::vector<int> kept = make_prefill_policy(r)->select(PruneInput{1, pos.data(), 48, s1.data(), 0, 48});
  EXPECT_EQ(units_of(kept, pos), (std::vector<int>{0, 3, 8, 9, 10, 11}));
  EXPECT_THROW(parse_prune_spec("sliminfer:recent=-2"), Error);
  // Defaults: SlimInfer carries (1), LazyLLM does not (0); an explicit carry=0 stays 0 and round-trips.
  PruneConfig d = parse_prune_spec("sliminfer"), z = parse_prune_spec("sliminfer:carry=0"),
              lz = parse_prune_spec("lazyllm");
  resolve_prune_defaults(d, mc);
  resolve_prune_defaults(z, mc);
  resolve_prune_defaults(lz, mc);
  EXPECT_EQ(d.carry, 1.f);
  EXPECT_EQ(z.carry, 0.f);
  EXPECT_EQ(lz.carry, 0.f);
  // Gemma's default schedule evicts at its first pruning layer (kv_keep 0.7/0.2); kv_keep=off turns it off and
  // round-trips; keep ratios of one's own, or evict=1, get no default eviction.
  ModelConfig gm;
  gm.arch = Arch::Gemma3;
  gm.n_layer = 18;
  gm.layer_swa.assign(18, 1);
  gm.layer_swa[5] = gm.layer_swa[11] = gm.layer_swa[17] = 0;
  PruneConfig g = parse_prune_spec("sliminfer"), goff = parse_prune_spec("sliminfer:kv_keep=off"),
              gk = parse_prune_spec("sliminfer:keep=0.3/0.15");
  resolve_prune_defaults(g, gm);
  resolve_prune_defaults(goff, gm);
  resolve_prune_defaults(gk, gm);
  EXPECT_EQ(g.kv_keep, (std::vector<float>{0.7f, 0.2f}));
  EXPECT_TRUE(goff.kv_keep.empty());
  EXPECT_TRUE(gk.kv_keep.empty());
  // ... and keeps at least 1536 / 768 tokens (a floor under the ratios), unless the keep ratios are one's own.
  EXPECT_EQ(g.min_keep, (std::vector<int>{1536, 768}));
  EXPECT_TRUE(gk.min_keep.empty());
  PruneConfig goff2 = parse_prune_spec(to_string(goff));
  resolve_prune_defaults(goff2, gm);
  EXPECT_TRUE(goff2.kv_keep.empty());
  PruneConfig z2 = parse_prune_spec(to_string(z));
  resolve_prune_defaults(z2, mc);
  EXPECT_EQ(z2.carry, 0.f);
  EXPECT_THROW(parse_prune_spec("sliminfer:carry=-1"), Error);
}

// min_keep=N: a pruning layer keeps at least N prompt tokens (whole units), whatever its ratio; kv_keep then
// keeps at least as many; neither goes beyond what is alive.
TEST(PruneSelect, MinKeepIsAFloorInTokens) {
  ModelConfig mc;
  mc.n_layer = 4;
  std::vector<int32_t> pos(48);
  std::vector<float> s(48, 0.01f);
  for (int i = 0; i < 48; ++i) pos[i] = i, s[i] = 0.01f * float(i % 7);  // ranked, ties to earlier units
  auto kept_units = [&](const std::string& spec, bool retain) {
    PruneConfig c = parse_prune_spec(spec);
    resolve_prune_defaults(c, mc);
    auto policy = make_prefill_policy(c);
    PruneInput in{1, pos.data(), 48, s.data(), 0, 48};
    std::vector<int> rows = policy->select(in);
    if (retain) rows = policy->retain(in);
    return static_cast<int>(rows.size()) / 4;
  };
  const std::string base = "sliminfer:layers=1,keep=0.25,unit=4,block=4,window=4,pool=0";  // 12 units
  EXPECT_EQ(kept_units(base, false), 3);
  EXPECT_EQ(kept_units(base + ",min_keep=24", false), 6);    // 24 tokens = 6 units
  EXPECT_EQ(kept_units(base + ",min_keep=21", false), 6);    // rounded up to whole units
  EXPECT_EQ(kept_units(base + ",min_keep=8", false), 3);     // below the ratio: the ratio rules
  EXPECT_EQ(kept_units(base + ",min_keep=4096", false), 12); // more than the prompt: everything
  // kv_keep (0.375 = 5 units) is raised to what continues (6 units), never below it.
  EXPECT_EQ(kept_units(base + ",kv_keep=0.375", true), 5);
  EXPECT_EQ(kept_units(base + ",kv_keep=0.375,min_keep=24", true), 6);
  // Second pruning layer whose kv_keep is the previous keep (evicts nothing): under a floor it still keeps
  // all that entered (here 8 units: the floor of layer 1), not the bare ratio's 0.25.
  {
    PruneConfig c2 = parse_prune_spec("sliminfer:layers=1/2,keep=0.25/0.125,kv_keep=1/0.25,min_keep=32/16,"
                                      "unit=4,block=4,window=4,pool=0");
    resolve_prune_defaults(c2, mc);
    auto policy = make_prefill_policy(c2);
    PruneInput in1{1, pos.data(), 48, s.data(), 0, 48};
    const std::vector<int> rows1 = policy->select(in1);
    ASSERT_EQ(rows1.size(), 32u);
    std::vector<int32_t> pos2;
    std::vector<float> s2;
    for (int r : rows1) pos2.push_back(pos[r]), s2.push_back(s[r]);
    PruneInput in2{2, pos2.data(), 32, s2.data(), 0, 48};
    EXPECT_EQ(policy->select(in2).size(), 16u);  // 16 tokens go on
    EXPECT_EQ(policy->retain(in2).size(), 32u);  // all 32 that entered keep their K/V
  }
  // Spec: round-trips, one count per pruning layer, non-increasing, not negative.
  PruneConfig c = parse_prune_spec("sliminfer:layers=1/2,keep=0.5/0.25,min_keep=1536/768");
  EXPECT_EQ(parse_prune_spec(to_string(c)).min_keep, (std::vector<int>{1536, 768}));
  resolve_prune_defaults(c, mc);
  PruneConfig bad1 = parse_prune_spec("sliminfer:layers=1/2,keep=0.5/0.25,min_keep=100");
  PruneConfig bad2 = parse_prune_spec("sliminfer:layers=1/2,keep=0.5/0.25,min_keep=100/200");
  EXPECT_THROW(resolve_prune_defaults(bad1, mc), Error);
  EXPECT_THROW(resolve_prune_defaults(bad2, mc), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:min_keep=-1"), Error);
}

TEST(PruneSpec, ParsesRoundTripsAndRejectsNonsense) {
  PruneConfig c = parse_prune_spec("sliminfer:layers=2/5,keep=0.5/0.25,unit=8,block=64");
  EXPECT_EQ(c.method, PruneMethod::SlimInfer);
  EXPECT_EQ(c.layers, (std::vector<int>{2, 5}));
  EXPECT_EQ(parse_prune_spec(to_string(c)).layers, c.layers);
  EXPECT_EQ(to_string(parse_prune_spec("dense")), "dense");
  EXPECT_THROW(parse_prune_spec("magic"), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:keep=1.5"), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:unit=0"), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:bogus=1"), Error);
  EXPECT_THROW(parse_prune_spec("sliminfer:layers=a"), Error);
  ModelConfig mc;
  mc.n_layer = 6;
  PruneConfig bad = parse_prune_spec("sliminfer:layers=5,keep=0.5");
  EXPECT_THROW(resolve_prune_defaults(bad, mc), Error);  // no layer after the last one to prune for
  PruneConfig mismatch = parse_prune_spec("sliminfer:layers=1/2,keep=0.5");
  EXPECT_THROW(resolve_prune_defaults(mismatch, mc), Error);
  for (int L : {2, 3, 18, 30}) {
    mc.n_layer = L;
    PruneConfig d = parse_prune_spec("sliminfer");
    EXPECT_NO_THROW(resolve_prune_defaults(d, mc)) << L;
  }
}

}  // namespace
