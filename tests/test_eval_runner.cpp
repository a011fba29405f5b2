// The `slim eval` runner, fidelity metrics and report: dense against a second dense context is exact (KL 0,
// agreement 1), the test-only random-drop configuration is flagged (KL > 0, agreement < 1, needles lost),
// results are deterministic and resumable, and the CI tier runs end to end on a tiny model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "eval/fidelity.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "eval/tasks.h"
#include "slim/context.h"
#include "slim/model.h"
#include "slim/prune.h"
#include "slim/tokenizer.h"

namespace fs = std::filesystem;
using namespace slim;
using namespace slim::eval;

namespace {

std::string source_path(const std::string& rel) { return (fs::path(SLIM_SOURCE_DIR) / rel).string(); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("slim_eval_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Prose haystack with a needle sentence in the middle; the answer prefix ends the prompt.
Sample hand_made_sample(const Tokenizer& tok, const std::string& prose, int index, int approx_tokens) {
  const std::string needle = " The special magic number for quiet-harbor is: 48" + std::to_string(10 + index) + "91.";
  // About 2.5 characters per token with the tiny models' 512-token vocabulary.
  const size_t at = static_cast<size_t>(index) * 997 % (prose.size() / 2);
  const std::string hay = prose.substr(at, static_cast<size_t>(approx_tokens) * 5 / 2);
  const size_t mid = hay.find(". ", hay.size() / 2) + 1;
  const std::string before = "Remember the number. " + hay.substr(0, mid);
  const std::string after = hay.substr(mid) + "\nWhat is the special magic number for quiet-harbor? The number is";
  Sample s;
  s.id = "hand/" + std::to_string(approx_tokens) + "/d050/q-last/" + std::to_string(index);
  s.task = "hand_niah";
  s.family = "ruler";
  s.target_len = approx_tokens;
  s.depth = 0.5;
  s.prompt = before + needle + after;
  s.tokens = tok.encode(s.prompt, true, false);
  const int b = static_cast<int>(tok.encode(before, true, false).size());
  const int e = static_cast<int>(tok.encode(before + needle, true, false).size());
  s.needle_spans = {{b, e}};
  s.answers = {"48" + std::to_string(10 + index) + "91"};
  s.metric = "string_match_all";
  s.max_new_tokens = 12;
  return s;
}

class EvalRunnerTiny : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Model::load(source_path("tests/models/tiny-gemma3-q4km.gguf"));
    prose_ = read_text(source_path("tests/data/pride-and-prejudice-ch1-30.txt"));
    prose_.resize(60000);  // enough for the windows; tokenizing all 300 kB is slow with a 512-token vocabulary
    for (char& c : prose_)
      if (c == '\n' || c == '\r') c = ' ';
  }
  std::vector<Sample> samples(int n) {
    std::vector<Sample> v;
    for (int i = 0; i < n; ++i) v.push_back(hand_made_sample(model_->tokenizer(), prose_, i, 700));
    std::vector<Sample> p = make_ppl_samples(model_->tokenizer(), prose_, "ppl_prose", {900}, 2, 42);
    v.insert(v.end(), p.begin(), p.end());
    return v;
  }
  std::unique_ptr<Model> model_;
  std::string prose_;
};

const Result& find(const std::vector<Result>& rs, const std::string& id, const std::string& config) {
  for (const Result& r : rs)
    if (r.id == id && r.config == config) return r;
  throw std::runtime_error("no result for " + id + " / " + config);
}

}  // namespace

TEST(EvalFidelity, KlIsZeroForIdenticalRowsAndPositiveOtherwise) {
  std::vector<float> a = {1.f, 2.f, 3.f, -1.f}, b = a;
  EXPECT_EQ(kl_divergence(a.data(), b.data(), 4), 0.0);
  b[0] = 2.5f;
  EXPECT_GT(kl_divergence(a.data(), b.data(), 4), 0.0);
  EXPECT_EQ(argmax(a.data(), 4), 2);
  std::vector<float> tie = {5.f, 5.f, 1.f};
  EXPECT_EQ(argmax(tie.data(), 3), 0);  // lowest id on ties, as the greedy sampler
  StepComparison cmp;
  cmp.add(a.data(), a.data(), 4, 2);
  cmp.add(a.data(), b.data(), 4, 2);
  EXPECT_EQ(cmp.steps(), 2);
  EXPECT_EQ(cmp.top1_agreement(), 1.0);
  EXPECT_EQ(cmp.kl()[0], 0.0);
}

TEST(EvalFidelity, SummaryAndBootstrap) {
  const Summary s = summarize({4, 1, 3, 2, 5});
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.max, 5);
  const std::vector<double> dense = {50, 60, 70, 80, 90, 100}, worse = {40, 45, 60, 70, 70, 85};
  const Interval a = paired_bootstrap(dense, worse), b = paired_bootstrap(dense, worse);
  EXPECT_EQ(a.lo, b.lo);  // fixed seed: same interval every time
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_DOUBLE_EQ(a.mean, -(10 + 15 + 10 + 10 + 20 + 15) / 6.0);
  EXPECT_LE(a.lo, a.mean);
  EXPECT_GE(a.hi, a.mean);
  EXPECT_LT(a.hi, 0);  // every pair is worse: the CI excludes 0
  const Interval same = paired_bootstrap(dense, dense);
  EXPECT_EQ(same.lo, 0);
  EXPECT_EQ(same.hi, 0);
}

TEST(EvalFidelity, SignTestIsTheExactBinomialTail) {
  EXPECT_DOUBLE_EQ(sign_test_p(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(sign_test_p(1, 1), 1.0);
  EXPECT_NEAR(sign_test_p(3, 0), 0.25, 1e-12);      // 2 * (1/2)^3
  EXPECT_NEAR(sign_test_p(0, 6), 0.03125, 1e-12);   // 2 * (1/2)^6
  EXPECT_NEAR(sign_test_p(8, 2), 0.109375, 1e-12);  // 2 * (1 + 10 + 45) / 1024
  EXPECT_DOUBLE_EQ(sign_test_p(2, 8), sign_test_p(8, 2));
  EXPECT_LT(sign_test_p(2000, 1000), 1e-20);        // large n neither overflows nor returns NaN
}

TEST(EvalReport, SvgChartIsWellFormed) {
  const std::string svg = svg_line_chart("t <x>", "x", "y", {{"a", {{1, 2}, {2, 3}}}, {"b & c", {{1, 1}}}});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("t &lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find("b &amp; c"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
}

// Dense against a second dense context is exact; the deliberately broken random-drop configuration is not.
TEST_F(EvalRunnerTiny, DenseSelfIsExactAndRandomDropIsFlagged) {
  const std::vector<Sample> ss = samples(3);
  RunnerOptions opt;
  opt.self_check = true;
  opt.configs = {"random:drop=0.5,layer=0"};
  const std::vector<Result> rs = run_matrix(*model_, ss, opt);
  ASSERT_EQ(rs.size(), ss.size() * 3);
  const std::string random_label = config_label("random:drop=0.5,layer=0", *model_);
  double kl_sum = 0, steps = 0, same = 0, retention = 0;
  for (const Sample& s : ss) {
    const Result& d = find(rs, s.id, kDenseLabel);
    const Result& self = find(rs, s.id, kDenseSelfLabel);
    const Result& rnd = find(rs, s.id, random_label);
    EXPECT_FALSE(d.compared);
    ASSERT_TRUE(self.compared);
    EXPECT_GT(self.steps, 0);
    EXPECT_EQ(self.kl.max, 0.0) << s.id;  // exactly: the same computation on the same tokens
    EXPECT_EQ(self.top1, 1.0);
    EXPECT_TRUE(self.greedy_exact);
    EXPECT_EQ(self.prediction, d.prediction);
    EXPECT_EQ(self.gold_nll, d.gold_nll);
    EXPECT_EQ(self.nll_mean, d.nll_mean);
    EXPECT_EQ(self.kv_bytes, d.kv_bytes);
    EXPECT_EQ(self.flip_margin, -1.0);
    ASSERT_TRUE(rnd.compared);
    if (rnd.greedy_exact) EXPECT_EQ(rnd.flip_margin, -1.0);
    else EXPECT_GE(rnd.flip_margin, 0.0) << s.id;  // dense's own greedy token is its argmax there
    kl_sum += rnd.kl.mean * rnd.steps;
    steps += rnd.steps;
    same += rnd.top1 * rnd.steps;
    EXPECT_LT(rnd.kv_bytes, d.kv_bytes);  // half the prompt is gone from every layer after layer 0
    if (!s.needle_spans.empty()) {
      EXPECT_EQ(d.retention_global, 1.0);
      EXPECT_EQ(d.retention.size(), static_cast<size_t>(model_->config().n_layer));
      EXPECT_EQ(rnd.retention[0], d.retention[0]);  // dropped after layer 0: layer 0 stores what dense stores
      retention += rnd.retention_global;
    }
  }
  EXPECT_GT(kl_sum / steps, 0.0);
  EXPECT_LT(same / steps, 1.0);
  EXPECT_LT(retention / 3, 0.9);

  // The report flags dense-self as identical and shows the random configuration's KL.
  const fs::path dir = fresh_dir("flag");
  ReportOptions ro;
  ro.out_dir = dir.string();
  write_report(rs, ro);
  const Aggregate a = aggregate(rs);
  for (const CellStats& c : a.by_config) {
    if (c.config == kDenseSelfLabel) {
      EXPECT_EQ(c.verdict, "identical");
    }
    if (c.config == random_label) {
      EXPECT_GT(c.kl_mean, 0.0);
      EXPECT_NE(c.verdict, "identical");
    }
  }
  EXPECT_TRUE(fs::exists(dir / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "results.json"));
  EXPECT_TRUE(fs::exists(dir / "ttft_vs_length.svg"));
  EXPECT_TRUE(fs::exists(dir / "needle_depth.svg"));
  fs::remove_all(dir);
}

// Samples whose score moved are listed with where the answer diverged and dense's margin there.
TEST(EvalReport, ListsScoreChangesWithTheDivergenceMargin) {
  auto make = [](const std::string& id, const std::string& config, double score, double margin) {
    Result r;
    r.id = id;
    r.task = "niah_single_1";
    r.family = "ruler";
    r.metric = "string_match_all";
    r.target_len = 4096;
    r.config = r.config_spec = config;
    r.score = score;
    r.prediction = score > 0 ? ": 9135002." : ": 10135002.";
    r.compared = config != kDenseLabel;
    r.greedy_exact = margin < 0;
    r.greedy_prefix = margin < 0 ? 8 : 2;
    r.flip_margin = margin;
    return r;
  };
  const std::vector<Result> rs = {make("a/0", kDenseLabel, 100, -1), make("a/0", "sliminfer", 0, 0.125),
                                  make("b/0", kDenseLabel, 0, -1), make("b/0", "sliminfer", 100, 2.5),
                                  make("c/0", kDenseLabel, 100, -1), make("c/0", "sliminfer", 100, -1),
                                  make("a/0", "lazyllm", 0, 0.125),  make("b/0", "lazyllm", 0, -1),
                                  make("c/0", "lazyllm", 100, -1)};
  const fs::path dir = fs::temp_directory_path() / "slim-eval-flip-report";
  fs::remove_all(dir);
  ReportOptions ro;
  ro.out_dir = dir.string();
  write_report(rs, ro);
  const std::string md = read_text((dir / "report.md").string());
  EXPECT_NE(md.find("## Samples whose score changed"), std::string::npos);
  EXPECT_NE(md.find("1 lost (1 at a margin below 1 nat), 1 gained (0 below 1 nat); sign test p = 1.000"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| sliminfer | a/0 | -100.0 | 2 | 0.125 | `: 9135002.` | `: 10135002.` |"), std::string::npos);
  EXPECT_NE(md.find("| sliminfer | b/0 | 100.0 | 2 | 2.500 |"), std::string::npos);
  EXPECT_EQ(md.find("| sliminfer | c/0 |"), std::string::npos);  // unchanged samples are not listed
  // The accuracy bar: sliminfer's loss and gain cancel; lazyllm is 33.3 below dense on its one cell.
  EXPECT_NE(md.find("- `sliminfer`: mean Δ score 0.0 (within the 1-point bar); no cell more than 3 below dense — "
                    "**meets the bar**"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- `lazyllm`: mean Δ score -33.3 (outside the 1-point bar); 1 cell(s) more than 3 below dense: "
                    "niah_single_1@4096 -33.3 (n=3) — misses the bar"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("`lazyllm`: 1 lost (1 at a margin below 1 nat), 0 gained (0 below 1 nat); sign test p = 1.000"),
            std::string::npos);
  fs::remove_all(dir);
}

// Same samples, same results file byte for byte; an interrupted file (torn last line) resumes to the same file.
TEST_F(EvalRunnerTiny, DeterministicAndResumable) {
  const std::vector<Sample> ss = samples(2);
  const fs::path d1 = fresh_dir("det1"), d2 = fresh_dir("det2");
  RunnerOptions opt;
  opt.configs = {"random:drop=0.5,layer=0"};
  opt.results_path = (d1 / "results.jsonl").string();
  run_matrix(*model_, ss, opt);
  opt.results_path = (d2 / "results.jsonl").string();
  run_matrix(*model_, ss, opt);
  const std::string full = read_text((d1 / "results.jsonl").string());
  EXPECT_EQ(full, read_text((d2 / "results.jsonl").string()));

  // Keep 3 whole lines and half of the 4th, as a kill mid-write would leave it.
  size_t cut = 0;
  for (int i = 0; i < 3; ++i) cut = full.find('\n', cut) + 1;
  const size_t half = cut + (full.find('\n', cut) - cut) / 2;
  {
    std::ofstream out(d2 / "results.jsonl", std::ios::binary | std::ios::trunc);
    out << full.substr(0, half);
  }
  int ran = 0;
  const std::vector<Result> rs =
      run_matrix(*model_, ss, opt, [&](const RunnerProgress& p) { ran = std::max(ran, p.pairs_done); });
  EXPECT_EQ(ran, static_cast<int>(ss.size() * 2) - 3);  // only the missing pairs ran
  EXPECT_EQ(rs.size(), ss.size() * 2);
  EXPECT_EQ(read_text((d2 / "results.jsonl").string()), full);
  fs::remove_all(d1);
  fs::remove_all(d2);
}

// The CI tier's path: generated tasks on the tiny model, dense + dense-self + default SlimInfer, report written.
TEST_F(EvalRunnerTiny, CiTierEndToEnd) {
  GenOptions g;
  g.tasks = {"niah_single_1", "vt"};
  g.lengths = {1024};
  g.depths = {0.5};
  std::vector<Sample> ss = generate(model_->tokenizer(), g);
  ASSERT_FALSE(ss.empty());
  std::vector<Sample> p = make_ppl_samples(model_->tokenizer(), prose_, "ppl_prose", {1024}, 1, 42);
  ss.insert(ss.end(), p.begin(), p.end());
  const fs::path dir = fresh_dir("ci");
  RunnerOptions opt;
  opt.self_check = true;
  opt.configs = {"sliminfer"};
  opt.results_path = (dir / "results.jsonl").string();
  opt.timings_path = (dir / "timings.jsonl").string();
  const std::vector<Result> rs = run_matrix(*model_, ss, opt);
  ASSERT_EQ(rs.size(), ss.size() * 3);
  for (const Result& r : rs) {
    if (r.config != kDenseSelfLabel) continue;
    EXPECT_EQ(r.kl.max, 0.0) << r.id;
    EXPECT_EQ(r.top1, 1.0) << r.id;
  }
  ReportOptions ro;
  ro.out_dir = dir.string();
  write_report(read_results(opt.results_path, opt.timings_path), ro);
  const std::string md = read_text((dir / "report.md").string());
  EXPECT_NE(md.find("| dense-self |"), std::string::npos);
  EXPECT_NE(md.find("identical"), std::string::npos);
  EXPECT_NE(md.find("ppl_prose"), std::string::npos);
  fs::remove_all(dir);
}

// On the real Gemma 3 270M, the deliberately broken configuration is flagged worse than dense by the report's
// paired statistics (gold-answer NLL, long-text perplexity) and by the fidelity metrics.
TEST(RealEvalRunner, RandomDropIsFlaggedWorseOnGemma) {
  const std::string path = source_path("models/gemma-3-270m-q4_k_m.gguf");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not installed (tools/setup.sh installs it)";
  std::unique_ptr<Model> model = Model::load(path);
  GenOptions g;
  g.tasks = {"niah_single_1", "niah_single_2"};
  g.lengths = {1024};
  g.depths = {0.25, 0.75};
  std::vector<Sample> ss = generate(model->tokenizer(), g);
  const std::string prose = read_text(source_path("tests/data/pride-and-prejudice-ch1-30.txt")).substr(0, 40000);
  std::vector<Sample> p = make_ppl_samples(model->tokenizer(), prose, "ppl_prose", {1024}, 3, 42);
  ss.insert(ss.end(), p.begin(), p.end());
  RunnerOptions opt;
  opt.configs = {"random:drop=0.5,layer=0"};
  const std::vector<Result> rs = run_matrix(*model, ss, opt);
  const Aggregate a = aggregate(rs);
  const std::string label = config_label("random:drop=0.5,layer=0", *model);
  bool seen = false;
  for (const CellStats& c : a.by_config) {
    if (c.config != label) continue;
    seen = true;
    EXPECT_EQ(c.verdict, "worse");
    EXPECT_GT(c.d_gold_nll.lo, 0.0);
    EXPECT_GT(c.d_log_ppl.mean, 0.0);
    EXPECT_GT(c.kl_mean, 0.05);
    EXPECT_LT(c.top1, 0.95);
    EXPECT_LT(c.retention, 0.9);
  }
  EXPECT_TRUE(seen);
}

// The greedy comparison must see the configuration's own cache after its prefill. Scoring the gold answer is
// an all-logits call that revives every pruned token under LazyLLM; it used to run first, and the comparison
// then ran on an almost dense cache (KL ~0). Recompute the comparison on fresh contexts and compare.
TEST_F(EvalRunnerTiny, LazyComparisonRunsOnItsOwnPrunedCache) {
  const std::vector<Sample> all = samples(1);
  const std::vector<Sample> ss(all.begin(), all.begin() + 1);
  const std::string spec = "lazyllm:rates=0/0.6/0/0/0/0,min_tokens=64";
  RunnerOptions opt;
  opt.configs = {spec};
  const std::vector<Result> rs = run_matrix(*model_, ss, opt);
  const Result& r = find(rs, ss[0].id, config_label(spec, *model_));
  ASSERT_TRUE(r.compared);
  ASSERT_GT(r.steps, 1);
  ContextParams pd, pl;
  pd.n_ctx = pl.n_ctx = 2048;
  pl.prune = parse_prune_spec(spec);
  Context dense(*model_, pd), lazy(*model_, pl);
  const std::vector<int32_t>& prompt = ss[0].tokens;
  dense.eval(prompt.data(), static_cast<int>(prompt.size()));
  lazy.eval(prompt.data(), static_cast<int>(prompt.size()));
  ASSERT_TRUE(lazy.prune_stats().active);
  const int nv = model_->config().n_vocab;
  StepComparison cmp;
  for (int i = 0; i < r.steps; ++i) {
    int32_t t = 0;
    for (int v = 1; v < nv; ++v)
      if (dense.last_logits()[v] > dense.last_logits()[t]) t = v;
    cmp.add(dense.last_logits(), lazy.last_logits(), nv, t);
    if (i + 1 < r.steps) {
      dense.eval(&t, 1);
      lazy.eval(&t, 1);
    }
  }
  const Summary kl = summarize(cmp.kl());
  EXPECT_GT(kl.mean, 0.0);  // pruning does change the distributions here
  EXPECT_NEAR(r.kl.mean, kl.mean, 1e-9 + 1e-6 * kl.mean);
  EXPECT_EQ(r.top1, cmp.top1_agreement());
}
