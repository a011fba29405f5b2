// LazyLLM invariants on the tiny random-weight models (methods.md §3.8): all rates 0 is bit-identical to
// dense; no (token, layer) pair is computed twice; the frontier per token never decreases; a revived token's
// K/V equal a reference recomputation from its aux entry with the same visible keys; the rows' order and
// chunking inside a step do not change anything; truncate + continue keeps the state consistent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "kv/kv_cache.h"
#include "model/forward.h"
#include "prune/lazyllm.h"
#include "runtime/thread_pool.h"
#include "slim/context.h"
#include "slim/error.h"
#include "slim/prune.h"
#include "tiny_models.h"
#include "slim/tokenizer.h"
#include "tensor/kernels.h"

namespace fs = std::filesystem;
using namespace slim;

namespace {

using testing_util::random_tokens;
using testing_util::tiny;

// "lazyllm:rates=r/r/.../0": rate r after every layer but the last.
std::string lazy_spec(int n_layer, float r) {
  std::ostringstream os;
  os << "lazyllm:rates=";
  for (int l = 0; l < n_layer; ++l) os << (l ? "/" : "") << (l + 1 < n_layer ? r : 0.f);
  return os.str();
}

ContextParams params(const std::string& spec, int ubatch = 64) {
  ContextParams p;
  p.n_ctx = 1024;
  p.n_threads = 2;
  p.n_ubatch = ubatch;
  p.prune = parse_prune_spec(spec);
  return p;
}

std::vector<float> logits_of(const Context& ctx) {
  return {ctx.last_logits(), ctx.last_logits() + ctx.model().config().n_vocab};
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Per position: how many layers hold its K/V; checks that they form a prefix and that no layer holds a
// position twice.
std::vector<int> frontiers(const Context& ctx) {
  const int L = ctx.model().config().n_layer;
  std::vector<int> f(ctx.n_past(), 0);
  for (int l = 0; l < L; ++l) {
    const std::vector<int32_t> p = ctx.layer_positions(l);
    EXPECT_TRUE(std::adjacent_find(p.begin(), p.end()) == p.end()) << "layer " << l << " holds a position twice";
    for (int32_t x : p) {
      EXPECT_EQ(f[x], l) << "position " << x << ": layers holding it are not a prefix";
      f[x] = l + 1;
    }
  }
  return f;
}

size_t stored_pairs(const Context& ctx) {
  size_t n = 0;
  for (int l = 0; l < ctx.model().config().n_layer; ++l) n += ctx.layer_positions(l).size();
  return n;
}

class LazyTiny : public ::testing::TestWithParam<const char*> {};

TEST_P(LazyTiny, AllRatesZeroIsBitIdenticalToDense) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int nv = m.config().n_vocab;
  const auto toks = random_tokens(300, nv, 3);
  Context dense(m, params("dense"));
  Context lazy(m, params(lazy_spec(m.config().n_layer, 0.f)));
  dense.eval(toks.data(), static_cast<int>(toks.size()));
  lazy.eval(toks.data(), static_cast<int>(toks.size()));
  EXPECT_TRUE(same(logits_of(dense), logits_of(lazy)));
  for (int i = 0; i < 4; ++i) {
    const int32_t t = (toks[i] * 31 + 5) % nv;
    dense.eval(&t, 1);
    lazy.eval(&t, 1);
    EXPECT_TRUE(same(logits_of(dense), logits_of(lazy))) << "decode step " << i;
  }
  // Every token's logits (perplexity mode), after a truncation.
  ASSERT_TRUE(dense.truncate(280));
  ASSERT_TRUE(lazy.truncate(280));
  std::vector<float> a, b;
  LogitsCallback ca = [&](int, const float* lg) { a.insert(a.end(), lg, lg + nv); };
  LogitsCallback cb = [&](int, const float* lg) { b.insert(b.end(), lg, lg + nv); };
  dense.eval(toks.data(), 70, &ca);
  lazy.eval(toks.data(), 70, &cb);
  EXPECT_EQ(a.size(), size_t(70) * nv);
  EXPECT_TRUE(same(a, b));
  const PruneStats& st = lazy.prune_stats();
  EXPECT_EQ(st.pairs_computed, st.pairs_dense);
  EXPECT_EQ(st.revived, 0u);
}

TEST_P(LazyTiny, EachPairOnceAndFrontierNeverDecreases) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int nv = m.config().n_vocab, L = m.config().n_layer;
  const auto toks = random_tokens(400, nv, 5);
  Context ctx(m, params(lazy_spec(L, 0.3f) + ",revive=4"));  // decode steps revive (the default does not)
  ctx.eval(toks.data(), static_cast<int>(toks.size()));
  std::vector<int> prev = frontiers(ctx);
  EXPECT_LT(stored_pairs(ctx), size_t(400) * L);  // something was pruned
  // Prompt KV is compared with what a dense context stores (rings on sliding-window layers), not with
  // LazyLLM's own whole stores.
  EXPECT_EQ(ctx.prune_stats().kv_bytes_dense, ctx.kv_bytes_dense());
  EXPECT_EQ(ctx.prune_stats().kv_bytes, ctx.kv_bytes_used());
  uint64_t revived_in_decode = 0;
  for (int i = 0; i < 12; ++i) {
    const uint64_t before = ctx.prune_stats().revived;
    const int32_t t = (toks[i] * 17 + 3) % nv;
    ctx.eval(&t, 1);
    revived_in_decode += ctx.prune_stats().revived - before;
    const std::vector<int> f = frontiers(ctx);
    ASSERT_EQ(f.size(), prev.size() + 1);
    for (size_t p = 0; p < prev.size(); ++p) EXPECT_GE(f[p], prev[p]) << "position " << p << " step " << i;
    EXPECT_EQ(f.back(), L);  // the new token goes through every layer
    prev = f;
    const PruneStats& st = ctx.prune_stats();
    EXPECT_EQ(st.pairs_computed, stored_pairs(ctx));  // every computed pair is stored exactly once
    EXPECT_LE(st.pairs_computed, st.pairs_dense);
  }
  EXPECT_GT(revived_in_decode, 0u) << "decode steps should revive tokens the prompt pruned";
  // Tokens the prompt dropped at a split scoring layer resume there (their K/V at that layer was stored).
  EXPECT_GT(ctx.prune_stats().resumed, 0u);
  // aux: one hidden vector per token whose frontier is short of the last layer.
  size_t behind = 0;
  for (int x : prev) behind += x < L;
  EXPECT_EQ(ctx.prune_stats().aux_bytes, behind * m.config().n_embd * sizeof(float));
  // Explain data: the prompt's tokens and their current frontier.
  ASSERT_EQ(ctx.prune_stats().token_layers.size(), size_t(400));
  for (int i = 0; i < 400; ++i) EXPECT_EQ(ctx.prune_stats().token_layers[i], prev[i]);
}

TEST_P(LazyTiny, TruncateThenContinue) {
  auto mp = Model::load(tiny(GetParam()));
  const Model& m = *mp;
  const int nv = m.config().n_vocab, L = m.config().n_layer;
  const auto doc = random_tokens(360, nv, 9);
  const auto q1 = random_tokens(20, nv, 10), q2 = random_tokens(25, nv, 11);
  Context ctx(m, params(lazy_spec(L, 0.35f)));
  ctx.eval(doc.data(), static_cast<int>(doc.size()));
  ctx.eval(q1.data(), static_cast<int>(q1.size()));
  for (int i = 0; i < 3; ++i) ctx.eval(&q1[i], 1);
  const std::vector<int> f1 = frontiers(ctx);
  // Second question: back to the document, then a new suffix.
  ASSERT_TRUE(ctx.truncate(static_cast<int>(doc.size())));
  for (int l = 0; l < L; ++l)
    for (int32_t p : ctx.layer_positions(l)) EXPECT_LT(p, static_cast<int32_t>(doc.size()));
  const uint64_t pairs0 = ctx.prune_stats().pairs_computed, rev0 = ctx.prune_stats().revived;
  ctx.eval(q2.data(), static_cast<int>(q2.size()));
  const std::vector<int> f2 = frontiers(ctx);
  for (size_t p = 0; p < doc.size(); ++p) EXPECT_GE(f2[p], f1[p]);
  for (size_t p = doc.size(); p < f2.size(); ++p) EXPECT_GE(f2[p], 1);
  const uint64_t turn2 = ctx.prune_stats().pairs_computed - pairs0;
  EXPECT_GE(turn2, uint64_t(q2.size()));
  EXPECT_LT(turn2, uint64_t(doc.size() + q2.size()) * L / 2);  // the document is not recomputed
  EXPECT_GT(ctx.prune_stats().revived, rev0);  // the new question brought back pruned tokens
  for (float x : logits_of(ctx)) ASSERT_TRUE(std::isfinite(x));
  // A dense context's decode after the same truncation matches a lazy one with rates 0 (state is dropped).
  Context d0(m, params("dense")), z0(m, params(lazy_spec(L, 0.f)));
  for (Context* c : {&d0, &z0}) {
    c->eval(doc.data(), static_cast<int>(doc.size()));
    c->eval(q1.data(), static_cast<int>(q1.size()));
    ASSERT_TRUE(c->truncate(static_cast<int>(doc.size())));
    c->eval(q2.data(), static_cast<int>(q2.size()));
  }
  EXPECT_TRUE(same(logits_of(d0), logits_of(z0)));
}

INSTANTIATE_TEST_SUITE_P(Models, LazyTiny,
                         ::testing::Values("tiny-gemma3-q4km.gguf", "tiny-llama-q4_0.gguf", "tiny-qwen3-q4km.gguf"));

// LazyLLM driven directly, as the Context does, so a test can look at the aux entries and the key sets.
struct Direct {
  const Model& m;
  ThreadPool pool{2};
  std::vector<LayerKV> kv;
  Workspace ws;
  std::vector<float> scratch, last;
  PruneStats stats;
  LazyLLM lazy;
  int32_t n_past = 0;
  Direct(const Model& model, const PruneConfig& cfg, int cap) : m(model), lazy(model, cfg, 1024) {
    const ModelConfig& c = m.config();
    kv.resize(c.n_layer);
    for (LayerKV& k : kv) k.init(c.n_head_kv * c.head_dim, 1024, false, KVType::F16);
    ws.reserve(c, cap);
    scratch.resize(c.n_vocab);
    last.resize(c.n_vocab);
  }
  void eval(const std::vector<int32_t>& t) {
    lazy.eval(t.data(), static_cast<int>(t.size()), n_past, kv, ws, pool, scratch.data(), last.data(), nullptr,
              nullptr, stats);
    n_past += static_cast<int32_t>(t.size());
  }
  // K (or V) row of position p at layer l as floats; empty if absent.
  std::vector<float> row(int l, int32_t p, bool v) const {
    const LayerKV& k = kv[l];
    for (int s = 0; s < k.size(); ++s)
      if (k.pos(s) == p) {
        std::vector<float> out(size_t(m.config().n_head_kv) * m.config().head_dim);
        kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(v ? k.v_row(s) : k.k_row(s)), out.data(),
                                  int64_t(out.size()));
        return out;
      }
    return {};
  }
};

PruneConfig lazy_cfg(const Model& m, float r) {
  PruneConfig cfg = parse_prune_spec(lazy_spec(m.config().n_layer, r));
  resolve_prune_defaults(cfg, m.config());
  return cfg;
}

TEST(LazyRevival, RevivedKVEqualsRecomputationFromAux) {
  auto mp = Model::load(tiny("tiny-gemma3-q4km.gguf"));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  const int L = c.n_layer, d = c.n_embd;
  PruneConfig cfg = lazy_cfg(m, 0.4f);
  cfg.revive = -1;  // decode steps revive every candidate
  Direct run(m, cfg, 64);
  run.eval(random_tokens(300, c.n_vocab, 21));
  run.lazy.set_trace(true);
  int checked = 0;
  for (int step = 0; step < 6; ++step) {
    // State before the step: frontier and aux of every token.
    const int32_t np = run.n_past;
    std::vector<int> f0(np), a0(np);
    std::vector<std::vector<float>> aux0(np);
    for (int32_t p = 0; p < np; ++p) {
      f0[p] = run.lazy.frontier(p);
      a0[p] = run.lazy.aux_layer(p);
      EXPECT_TRUE(a0[p] == f0[p] || a0[p] == f0[p] - 1) << "position " << p;
      if (const float* a = run.lazy.aux(p)) aux0[p].assign(a, a + d);
    }
    run.eval({static_cast<int32_t>((step * 97 + 11) % c.n_vocab)});
    const auto& trace = run.lazy.trace();
    ASSERT_EQ(trace.size(), size_t(L));
    for (int32_t t = 0; t < np; ++t) {
      const int f1 = run.lazy.frontier(t);
      ASSERT_GE(f1, f0[t]);
      if (f1 == f0[t]) continue;
      ASSERT_EQ(aux0[t].size(), size_t(d)) << "a revived token had no aux entry";
      // Recompute t from its aux entry, one layer at a time, against a store holding exactly the keys its
      // attention saw (the ones selected at that layer in this step). A token dropped at a split scoring
      // layer resumes there: its stored K/V at that layer must equal the recomputed ones too.
      std::vector<float> h = aux0[t], h_in;  // h_in: the input of the last layer recomputed
      int32_t pos = t;
      for (int l = a0[t]; l < f1; ++l) {
        h_in = h;
        LayerKV ref;
        ref.init(c.n_head_kv * c.head_dim, 1024, false, KVType::F16);
        for (int32_t p = 0; p < run.n_past; ++p)
          if (p != t && trace[l][p]) {
            const std::vector<float> k = run.row(l, p, false), v = run.row(l, p, true);
            ASSERT_FALSE(k.empty()) << "selected key missing at layer " << l;
            ref.append(p, k.data(), v.data());
          }
        Rows rows{h.data(), &pos, 1};
        forward_layer(m, l, rows, ref, run.ws, run.pool);
        EXPECT_EQ(run.row(l, t, false), [&] {
          for (int s = 0; s < ref.size(); ++s)
            if (ref.pos(s) == t) {
              std::vector<float> out(size_t(c.n_head_kv) * c.head_dim);
              kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(ref.k_row(s)), out.data(), int64_t(out.size()));
              return out;
            }
          return std::vector<float>{};
        }()) << "K of revived token " << t << " at layer " << l;
        ++checked;
      }
      if (f1 < L) {
        const float* a = run.lazy.aux(t);
        ASSERT_NE(a, nullptr);
        // Dropped again at a scoring layer (f1 - 1): it keeps that layer's input; else its output.
        const int al = run.lazy.aux_layer(t);
        ASSERT_TRUE(al == f1 || al == f1 - 1) << "token " << t;
        EXPECT_EQ(0, std::memcmp(a, (al == f1 ? h : h_in).data(), sizeof(float) * d)) << "aux of token " << t;
      } else {
        EXPECT_EQ(run.lazy.aux(t), nullptr);
      }
    }
  }
  EXPECT_GT(checked, 0) << "no token was revived: the test checked nothing";
}

// Compares two runs: last logits, every layer's K/V by position, frontiers and aux entries.
void expect_same_state(Direct& a, Direct& b) {
  const ModelConfig& c = a.m.config();
  ASSERT_EQ(a.n_past, b.n_past);
  EXPECT_TRUE(same(a.last, b.last));
  for (int32_t p = 0; p < a.n_past; ++p) {
    ASSERT_EQ(a.lazy.frontier(p), b.lazy.frontier(p)) << "position " << p;
    const float *xa = a.lazy.aux(p), *xb = b.lazy.aux(p);
    ASSERT_EQ(xa == nullptr, xb == nullptr);
    if (xa) {
      EXPECT_EQ(0, std::memcmp(xa, xb, sizeof(float) * c.n_embd)) << "aux of " << p;
    }
    for (int l = 0; l < a.lazy.frontier(p); ++l) {
      EXPECT_EQ(a.row(l, p, false), b.row(l, p, false)) << "K at layer " << l << " position " << p;
      EXPECT_EQ(a.row(l, p, true), b.row(l, p, true)) << "V at layer " << l << " position " << p;
    }
  }
}

TEST(LazyRevival, RowOrderAndChunkingDoNotMatter) {
  auto mp = Model::load(tiny("tiny-gemma3-q4km.gguf"));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  const PruneConfig cfg = lazy_cfg(m, 0.35f);
  const auto doc = random_tokens(250, c.n_vocab, 31), q = random_tokens(12, c.n_vocab, 32);
  Direct base(m, cfg, 512), shuffled(m, cfg, 512), small(m, cfg, 5);
  shuffled.lazy.set_row_shuffle(7);
  small.lazy.set_row_shuffle(3);
  for (Direct* r : {&base, &shuffled, &small}) {
    r->eval(doc);
    for (int i = 0; i < 3; ++i) r->eval({q[i]});
    r->eval(q);  // a multi-token step: revived and new rows together
  }
  EXPECT_GT(base.stats.revived, 0u);
  expect_same_state(base, shuffled);
  expect_same_state(base, small);
}

// Revival budget (PruneConfig::revive): at any layer a decode step computes at most `revive` revived rows
// (with 0 only the new token); calls of 2+ tokens revive without a limit.
std::vector<int> frontier_list(const Direct& r) {
  std::vector<int> f(r.n_past);
  for (int32_t p = 0; p < r.n_past; ++p) f[p] = r.lazy.frontier(p);
  return f;
}

// Per layer: how many old tokens were computed there in the call (revived rows: frontier <= l before the
// call, > l after it).
std::vector<int> revived_rows_per_layer(const std::vector<int>& before, const std::vector<int>& after, int L) {
  std::vector<int> n(L, 0);
  for (size_t p = 0; p < before.size(); ++p)
    for (int l = before[p]; l < after[p]; ++l) ++n[l];
  return n;
}

TEST(LazyRevival, BudgetZeroNeverRevivesInDecode) {
  auto mp = Model::load(tiny("tiny-gemma3-q4km.gguf"));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  PruneConfig cfg = lazy_cfg(m, 0.4f);
  cfg.revive = 0;
  Direct run(m, cfg, 64);
  run.eval(random_tokens(300, c.n_vocab, 41));
  const uint64_t pairs0 = run.stats.pairs_computed;
  std::vector<int> f0 = frontier_list(run);
  ASSERT_TRUE(std::any_of(f0.begin(), f0.end(), [&](int x) { return x < c.n_layer; })) << "nothing pruned";
  for (int step = 0; step < 8; ++step) {
    run.eval({static_cast<int32_t>((step * 53 + 7) % c.n_vocab)});
    const std::vector<int> f1 = frontier_list(run);
    for (size_t p = 0; p < f0.size(); ++p) EXPECT_EQ(f1[p], f0[p]) << "position " << p << " step " << step;
    f0 = f1;
  }
  EXPECT_EQ(run.stats.revived, 0u);
  EXPECT_EQ(run.stats.pairs_computed - pairs0, uint64_t(8) * c.n_layer);  // the new tokens alone
}

TEST(LazyRevival, BudgetCapsRevivedRowsPerLayerPerDecodeStep) {
  auto mp = Model::load(tiny("tiny-gemma3-q4km.gguf"));
  const Model& m = *mp;
  const ModelConfig& c = m.config();
  const int L = c.n_layer;
  const auto doc = random_tokens(300, c.n_vocab, 43), q = random_tokens(5, c.n_vocab, 44);
  int most_unlimited = 0;
  for (int budget : {2, -1}) {
    PruneConfig cfg = lazy_cfg(m, 0.4f);
    cfg.revive = budget;
    Direct run(m, cfg, 64);
    run.eval(doc);
    int most = 0;
    for (int step = 0; step < 6; ++step) {
      const std::vector<int> f0 = frontier_list(run);
      run.eval({static_cast<int32_t>((step * 29 + 3) % c.n_vocab)});
      const std::vector<int> per = revived_rows_per_layer(f0, frontier_list(run), L);
      for (int l = 0; l < L; ++l) {
        if (budget >= 0) {
          EXPECT_LE(per[l], budget) << "layer " << l << " step " << step;
        }
        most = std::max(most, per[l]);
      }
    }
    if (budget >= 0) EXPECT_GT(most, 0) << "nothing revived: the cap was not exercised";
    else most_unlimited = most;
    // A follow-up question (5 tokens) is not limited by the decode budget.
    const std::vector<int> f0 = frontier_list(run);
    run.eval(q);
    const std::vector<int> per = revived_rows_per_layer(f0, frontier_list(run), L);
    EXPECT_GT(*std::max_element(per.begin(), per.end()), budget) << "budget " << budget;
  }
  EXPECT_GT(most_unlimited, 2) << "without a budget some layer should compute more than 2 revived rows";
}

TEST(LazyConfig, ReviveOptionParsesAndRoundTrips) {
  PruneConfig cfg = parse_prune_spec("lazyllm:rates=0/0.5/0,revive=3,window=4,pool=5");
  EXPECT_EQ(cfg.revive, 3);
  EXPECT_EQ(cfg.window, 4);
  const PruneConfig back = parse_prune_spec(to_string(cfg));
  EXPECT_EQ(back.revive, 3);
  EXPECT_EQ(back.window, 4);
  EXPECT_EQ(back.pool, 5);
  EXPECT_EQ(back.rates, cfg.rates);
  EXPECT_EQ(parse_prune_spec("lazyllm:revive=-1").revive, -1);
  EXPECT_THROW(parse_prune_spec("lazyllm:revive=-2"), Error);
  EXPECT_THROW(parse_prune_spec("lazyllm:revive=x"), Error);
}

// Per-model defaults (docs/lazyllm.md): Gemma 3 prunes after its first two global layers (0.65, then 0.45)
// with pool 48; other models cut once at 14/30 of the depth (0.9) with pool 32. A pool of one's own stays.
TEST(LazyConfig, PerModelDefaults) {
  ModelConfig gm;
  gm.arch = Arch::Gemma3;
  gm.n_layer = 18;
  gm.layer_swa.assign(18, 1);
  gm.layer_swa[5] = gm.layer_swa[11] = gm.layer_swa[17] = 0;
  PruneConfig g = parse_prune_spec("lazyllm"), gp = parse_prune_spec("lazyllm:pool=16");
  resolve_prune_defaults(g, gm);
  resolve_prune_defaults(gp, gm);
  std::vector<float> want(18, 0.f);
  want[5] = 0.65f, want[11] = 0.45f;
  EXPECT_EQ(g.rates, want);
  EXPECT_EQ(g.pool, 48);
  EXPECT_EQ(gp.pool, 16);
  EXPECT_EQ(parse_prune_spec(to_string(g)).pool, 48);  // the resolved spec names it
  ModelConfig sm;
  sm.n_layer = 30;
  PruneConfig s = parse_prune_spec("lazyllm");
  resolve_prune_defaults(s, sm);
  std::vector<float> want_s(30, 0.f);
  want_s[14] = 0.9f;
  EXPECT_EQ(s.rates, want_s);
  EXPECT_EQ(s.pool, 32);
}

TEST(LazyConfig, RejectsWrongRateCount) {
  auto mp = Model::load(tiny("tiny-llama-q4_0.gguf"));
  ContextParams p = params("lazyllm:rates=0.1/0.1");
  EXPECT_THROW(Context(*mp, p), Error);
}

// A two-question conversation over one ~8k-token document on the real Gemma 3 270M with the default
// LazyLLM schedule: the second question's prefill work (pairs computed / (tokens so far × layers)) must stay
// under 25% of a fresh dense prefill. Prints the figures for docs/lazyllm.md.
TEST(RealLazy, SecondQuestionRevivesWithoutRecomputingTheDocument) {
  const std::string path = (fs::path(SLIM_SOURCE_DIR) / "models/gemma-3-270m-q4_k_m.gguf").string();
  if (!fs::exists(path)) GTEST_SKIP() << "real model not installed";
  auto mp = Model::load(path);
  const Model& m = *mp;
  std::ifstream in(fs::path(SLIM_SOURCE_DIR) / "tests/data/pride-and-prejudice-ch1-30.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text = text.substr(0, 30000);
  text.insert(15000, "\n\nThe secret passphrase for the Netherfield ball is \"blue-harbor-42\". Remember it.\n\n");
  const Tokenizer& tok = m.tokenizer();
  const std::vector<int32_t> doc = tok.encode(text, true, true);
  const std::vector<int32_t> q1 = tok.encode("\n\nQuestion: Who is Mr. Darcy's friend?\nAnswer:", false, true);
  const std::vector<int32_t> q2 =
      tok.encode("\n\nQuestion: What is the secret passphrase for the Netherfield ball?\nAnswer: The secret passphrase is \"",
                 false, true);
  ContextParams p;
  p.n_ctx = 10000;
  p.n_threads = 2;
  p.n_ubatch = 512;
  p.prune = parse_prune_spec("lazyllm");
  Context ctx(m, p);
  const int L = m.config().n_layer, nv = m.config().n_vocab;
  auto greedy = [&](int n) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      const float* lg = ctx.last_logits();
      const int32_t t = static_cast<int32_t>(std::max_element(lg, lg + nv) - lg);
      out.push_back(t);
      ctx.eval(&t, 1);
    }
    return tok.decode(out);
  };
  ctx.eval(doc.data(), static_cast<int>(doc.size()));
  ctx.eval(q1.data(), static_cast<int>(q1.size()));
  const std::string a1 = greedy(8);
  ASSERT_TRUE(ctx.truncate(static_cast<int>(doc.size())));
  const uint64_t pairs0 = ctx.prune_stats().pairs_computed + ctx.prune_stats().resumed,
                 rev0 = ctx.prune_stats().revived;
  ctx.eval(q2.data(), static_cast<int>(q2.size()));
  // Work: K/V pairs computed plus rows that resumed at a split layer (one layer's attention and FFN each).
  const uint64_t turn2 = ctx.prune_stats().pairs_computed + ctx.prune_stats().resumed - pairs0;
  const uint64_t rev2 = ctx.prune_stats().revived - rev0;
  const double frac = double(turn2) / (double(doc.size() + q2.size()) * L);
  const std::string a2 = greedy(8);
  std::printf("[ lazyllm ] doc %zu tokens; answer 1: %s | answer 2: %s\n", doc.size(), a1.c_str(), a2.c_str());
  std::printf("[ lazyllm ] turn 2: %zu new tokens, %llu pairs computed (%llu revived) = %.2f%% of a dense prefill; "
              "aux %.1f MiB\n", q2.size(), (unsigned long long)turn2,
              (unsigned long long)rev2, 100 * frac,
              ctx.prune_stats().aux_bytes / 1048576.0);
  EXPECT_LE(frac, 0.25);
}

}  // namespace
