// `slim eval --multi-turn` (src/eval/multiturn.h) on the tiny random-weight Gemma 3: the conversation is
// built from a niah_multiquery sample's own text, dense answers are deterministic and a fresh dense prefill
// of the conversation reproduces them, LazyLLM's question 2 computes a fraction of a fresh prefill, LazyLLM
// with every rate 0 answers as dense, and the report states the issue's conditions.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "eval/multiturn.h"
#include "eval/tasks.h"
#include "slim/error.h"
#include "slim/model.h"
#include "slim/prune.h"
#include "tiny_models.h"

using namespace slim;
using namespace slim::eval;

namespace {

const Model& tiny_gemma() {
  static std::unique_ptr<Model> m = Model::load(testing_util::tiny("tiny-gemma3-q4km.gguf"));
  return *m;
}

// One query-last niah_multiquery sample of about 1k tokens, with short answers to keep the test quick.
const Sample& multiquery_sample() {
  static const Sample s = [] {
    GenOptions g;
    g.tasks = {"niah_multiquery"};
    g.lengths = {1024};
    g.depths = {0.5};
    g.text_dir = (std::filesystem::path(SLIM_SOURCE_DIR) / "tests/data").string();
    std::vector<Sample> v = generate(tiny_gemma().tokenizer(), g);
    Sample x = v.at(0);
    x.max_new_tokens = 8;
    return x;
  }();
  return s;
}

// "lazyllm:rates=0/0/...": LazyLLM that prunes nothing.
std::string zero_rates_spec() {
  std::string spec = "lazyllm:rates=";
  for (int l = 0; l < tiny_gemma().config().n_layer; ++l) spec += l ? "/0" : "0";
  return spec;
}

// One run shared by the tests below: dense, default LazyLLM, LazyLLM with rates 0, default SlimInfer.
const std::vector<MultiTurnResult>& shared_run() {
  static const std::vector<MultiTurnResult> rows = [] {
    MultiTurnOptions o;
    // min_keep=0: the tiny conversation is shorter than the default floor of kept tokens (1536), under which
    // SlimInfer would not prune at all.
    o.configs = {"lazyllm", zero_rates_spec(), "sliminfer:min_keep=0"};
    return run_multiturn(tiny_gemma(), {multiquery_sample()}, o);
  }();
  return rows;
}

const MultiTurnResult& find_row(const std::string& prefix, const std::string& mode, const std::string& not_prefix = "") {
  for (const MultiTurnResult& r : shared_run())
    if (r.config_spec.rfind(prefix, 0) == 0 && r.mode == mode && (not_prefix.empty() || r.config_spec != not_prefix))
      return r;
  throw std::runtime_error("no row " + prefix + " " + mode);
}

}  // namespace

TEST(MultiTurn, ConversationAsksTwoDifferentKeysFromTheSampleText) {
  const Sample& s = multiquery_sample();
  const MultiQueryConversation c = multiquery_conversation(s);
  ASSERT_EQ(c.questions.size(), 4u);
  EXPECT_EQ(s.prompt.rfind(c.document, 0), 0u);  // the document opens the prompt
  EXPECT_LT(c.document.size(), s.prompt.size());
  EXPECT_EQ(c.document.find("What are all"), std::string::npos);  // the multi-query question is gone
  for (size_t i = 0; i < c.questions.size(); ++i) {
    const KeyQuestion& q = c.questions[i];
    EXPECT_EQ(q.answer, s.answers[i]);
    // The needle is in the document, and the question asks for this key only.
    EXPECT_NE(c.document.find("for " + q.key + " is: " + q.answer + "."), std::string::npos) << q.key;
    EXPECT_EQ(q.text, "\nWhat is the special magic number for " + q.key +
                          " mentioned in the provided text? The special magic number for " + q.key +
                          " mentioned in the provided text is");
  }
  // The run asks key 0 then key 1 and the conversation holds document + q1 + answer 1 + q2.
  const MultiTurnResult& d = find_row("dense", kContinueMode);
  EXPECT_EQ(d.key1, c.questions[0].key);
  EXPECT_EQ(d.key2, c.questions[1].key);
  EXPECT_NE(d.key1, d.key2);
  EXPECT_EQ(d.n_history, d.n_turn1 + d.n_answer1 + d.n_question2);
  EXPECT_GT(d.n_question2, 20);
}

TEST(MultiTurn, RejectsOtherSamplesAndBadQuestionIndices) {
  Sample other = multiquery_sample();
  other.task = "niah_single_1";
  EXPECT_THROW(multiquery_conversation(other), Error);
  Sample qf = multiquery_sample();
  qf.query_first = true;
  EXPECT_THROW(multiquery_conversation(qf), Error);
  MultiTurnOptions o;
  o.configs = {};
  o.first = 2;
  o.second = 2;
  EXPECT_THROW(run_multiturn(tiny_gemma(), {multiquery_sample()}, o), Error);
  o.second = 4;
  EXPECT_THROW(run_multiturn(tiny_gemma(), {multiquery_sample()}, o), Error);
}

TEST(MultiTurn, DenseAnswersAreDeterministicAndMatchAFreshPrefill) {
  MultiTurnOptions o;
  o.configs = {};
  const std::vector<MultiTurnResult> again = run_multiturn(tiny_gemma(), {multiquery_sample()}, o);
  ASSERT_EQ(again.size(), 2u);  // dense continue + dense re-prefill
  const MultiTurnResult& d = find_row("dense", kContinueMode);
  EXPECT_EQ(again[0].answer1, d.answer1);
  EXPECT_EQ(again[0].answer2, d.answer2);
  EXPECT_FALSE(d.answer2.empty());
  // Dense continued: question 2 computes only its own tokens.
  EXPECT_DOUBLE_EQ(d.q2_work, double(d.n_question2) / d.n_history);
  // A fresh dense prefill of the same conversation is the work baseline and gives the same answer.
  const MultiTurnResult& re = find_row("dense", kReprefillMode);
  EXPECT_DOUBLE_EQ(re.q2_work, 1.0);
  EXPECT_EQ(re.n_history, d.n_history);
  EXPECT_EQ(re.answer2, d.answer2);
  EXPECT_TRUE(re.answer2_matches_dense);
}

TEST(MultiTurn, LazyQuestionTwoComputesAFractionOfAFreshPrefill) {
  const MultiTurnResult& d = find_row("dense", kContinueMode);
  const MultiTurnResult& lazy = find_row("lazyllm", kContinueMode, zero_rates_spec());
  EXPECT_EQ(lazy.config_spec, "lazyllm");
  EXPECT_GT(lazy.q2_work, 0.0);
  EXPECT_LT(lazy.q2_work, 1.0);
  // Question 2 computed at least its own tokens at the layers before the first pruning, plus what it revived.
  EXPECT_GE(lazy.q2_pairs, lazy.q2_revived);
  EXPECT_LT(lazy.turn1_work, 1.0);  // the document prefill pruned something
  EXPECT_DOUBLE_EQ(d.turn1_work, 1.0);
}

TEST(MultiTurn, LazyWithAllRatesZeroAnswersAsDense) {
  const MultiTurnResult& d = find_row("dense", kContinueMode);
  const MultiTurnResult& z = find_row(zero_rates_spec(), kContinueMode);
  EXPECT_EQ(z.answer1, d.answer1);
  EXPECT_EQ(z.answer2, d.answer2);
  EXPECT_TRUE(z.answer1_matches_dense);
  EXPECT_TRUE(z.answer2_matches_dense);
  EXPECT_EQ(z.q2_revived, 0u);  // nothing was pruned, so nothing waits in aux
  EXPECT_DOUBLE_EQ(z.q2_work, d.q2_work);
}

TEST(MultiTurn, SlimInferContinuesDenseOverFrozenKVAndReprefillsPruned) {
  const MultiTurnResult& cont = find_row("sliminfer", kContinueMode);
  const MultiTurnResult& re = find_row("sliminfer", kReprefillMode);
  // Question 2 is too short to prune: a dense call over the stored KV.
  EXPECT_DOUBLE_EQ(cont.q2_work, double(cont.n_question2) / cont.n_history);
  // The re-prefill prunes the whole conversation: less than a dense prefill, far more than a continuation.
  EXPECT_LT(re.q2_work, 1.0);
  EXPECT_GT(re.q2_work, cont.q2_work);
  EXPECT_EQ(re.answer1, cont.answer1);  // the same turn 1 (its own)
  EXPECT_EQ(re.n_history, cont.n_history);
}

TEST(MultiTurn, DenseHistoryFeedsDenseAnswerOneToEveryConfiguration) {
  MultiTurnOptions o;
  o.configs = {"lazyllm", zero_rates_spec()};
  o.dense_history = true;
  const std::vector<MultiTurnResult> rows = run_multiturn(tiny_gemma(), {multiquery_sample()}, o);
  ASSERT_EQ(rows.size(), 4u);  // dense x2, lazyllm, lazyllm rates 0
  for (const MultiTurnResult& r : rows) {
    EXPECT_EQ(r.history, "dense");
    EXPECT_EQ(r.answer1, rows[0].answer1);
    EXPECT_EQ(r.n_history, rows[0].n_history);  // question 2 follows the same tokens everywhere
  }
  // Fed as decode steps, dense's answer 1 leaves a rates-0 LazyLLM context exactly as dense's.
  EXPECT_EQ(rows[3].answer2, rows[0].answer2);
  EXPECT_GT(rows[2].q2_work, 0.0);
  EXPECT_LT(rows[2].q2_work, 1.0);
  EXPECT_NE(multiturn_report(rows, "m", "").find("--mt-dense-history"), std::string::npos);
}

TEST(MultiTurn, ReportStatesTheIssueConditions) {
  const std::string md = multiturn_report(shared_run(), "tiny-gemma3-q4km.gguf", "slim eval --multi-turn");
  EXPECT_NE(md.find("| lazyllm | continue | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| sliminfer:min_keep=0 | re-prefill | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("question 2's work at most 25% of a fresh dense prefill"), std::string::npos) << md;
  EXPECT_NE(md.find("re-prefill: **"), std::string::npos) << md;
  const std::vector<MultiTurnSummary> sum = summarize_multiturn(shared_run());
  ASSERT_EQ(sum.size(), 6u);  // dense x2, lazyllm, lazyllm rates 0, sliminfer x2
  EXPECT_EQ(sum[0].config, "dense");
  EXPECT_EQ(sum[0].agree2, 1);
  EXPECT_EQ(sum[0].same_value2, 1);
  // results.jsonl lines read back into the same rows (--report-only rebuilds the report from them).
  for (const MultiTurnResult& r : shared_run()) {
    const MultiTurnResult b = multiturn_from_json_line(to_json_line(r));
    EXPECT_EQ(b.id, r.id);
    EXPECT_EQ(b.config, r.config);
    EXPECT_EQ(b.mode, r.mode);
    EXPECT_EQ(b.answer2, r.answer2);
    EXPECT_EQ(b.q2_pairs, r.q2_pairs);
    EXPECT_DOUBLE_EQ(b.q2_work, r.q2_work);
    EXPECT_EQ(b.answer2_matches_dense, r.answer2_matches_dense);
  }
}
