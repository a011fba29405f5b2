// Eval task generators and scorers (src/eval/tasks*.cpp, score.cpp). Generation runs with the tiny Gemma 3
// tokenizer (tests/models) so it is fast; Real* tests use the real Gemma tokenizer when it is present.
// The golden fixture tests/fixtures/eval/golden-tiny-gemma3.txt pins the generator output; regenerate it
// after a deliberate change with SLIM_UPDATE_GOLDEN=1 build/slim_tests --gtest_filter=EvalGolden.*
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "eval/rng.h"
#include "eval/tasks.h"
#include "eval/text_sources.h"
#include "slim/error.h"
#include "slim/gguf.h"
#include "slim/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using slim::eval::GenOptions;
using slim::eval::Sample;

const fs::path kRoot = fs::path(SLIM_SOURCE_DIR);

struct Tok {
  std::unique_ptr<slim::GgufFile> file;
  std::unique_ptr<slim::Tokenizer> tok;
};

const slim::Tokenizer* load_tok(const fs::path& p) {
  static std::map<std::string, Tok> cache;
  auto it = cache.find(p.string());
  if (it == cache.end()) {
    if (!fs::exists(p)) return nullptr;
    Tok t;
    t.file = slim::GgufFile::open(p.string());
    t.tok = slim::Tokenizer::from_gguf(*t.file);
    it = cache.emplace(p.string(), std::move(t)).first;
  }
  return it->second.tok.get();
}

const slim::Tokenizer& tiny() {
  const slim::Tokenizer* t = load_tok(kRoot / "tests/models/tiny-gemma3-q4km.gguf");
  if (!t) throw std::runtime_error("tests/models/tiny-gemma3-q4km.gguf missing (tools/gen_tiny_models.py)");
  return *t;
}

GenOptions base_options() {
  GenOptions o;
  o.text_dir = (kRoot / "tests/data").string();
  return o;
}

std::vector<std::string> tasks_without_code() {
  std::vector<std::string> t = slim::eval::task_names();
  t.erase(std::remove(t.begin(), t.end(), "lcc"), t.end());
  return t;
}

bool have_code_sources() {
  try {
    slim::eval::load_code_lines("");
    return true;
  } catch (const slim::Error&) {
    return false;
  }
}

std::string joined_answers(const Sample& s) {
  std::string r;
  for (const std::string& a : s.answers) r += (r.empty() ? "" : ", ") + a;
  return r;
}

std::string decode_span(const slim::Tokenizer& tok, const Sample& s, std::pair<int, int> sp) {
  return tok.decode(std::vector<int32_t>(s.tokens.begin() + sp.first, s.tokens.begin() + sp.second));
}

std::string to_jsonl(const std::vector<Sample>& v) {
  std::ostringstream os;
  slim::eval::write_jsonl(os, v);
  return os.str();
}

// Invariants every generated sample must satisfy.
void check_sample(const slim::Tokenizer& tok, const Sample& s, double min_fill) {
  SCOPED_TRACE(s.id);
  EXPECT_EQ(s.tokens, tok.encode(s.prompt, true, false));
  const double fill = static_cast<double>(s.tokens.size() + static_cast<size_t>(s.max_new_tokens)) / s.target_len;
  EXPECT_LE(s.tokens.size() + static_cast<size_t>(s.max_new_tokens), static_cast<size_t>(s.target_len));
  EXPECT_GE(fill, min_fill);
  ASSERT_FALSE(s.answers.empty());
  for (const std::string& a : s.answers) EXPECT_FALSE(a.empty());
  // The gold answer scores 100, a wrong one 0 (or low for code).
  EXPECT_EQ(slim::eval::score(s, joined_answers(s)), 100.0);
  if (s.metric == "code_sim") {
    EXPECT_LT(slim::eval::score(s, "pass"), 50.0);
  } else {
    EXPECT_EQ(slim::eval::score(s, "Paragraph 99999 none"), 0.0);
  }
  int prev_end = 0;
  for (const auto& sp : s.needle_spans) {
    EXPECT_LE(prev_end, sp.first);
    EXPECT_LT(sp.first, sp.second);
    EXPECT_LE(sp.second, static_cast<int>(s.tokens.size()));
    prev_end = sp.second;
  }
  // Needle tasks: each answer lies in a needle span (and needles are not just any text).
  const bool spans_hold_answers = s.task.rfind("niah", 0) == 0 || s.task == "vt" || s.task == "qa_1hop";
  if (spans_hold_answers) {
    ASSERT_FALSE(s.needle_spans.empty());
    for (const std::string& a : s.answers) {
      bool found = false;
      for (const auto& sp : s.needle_spans) found = found || decode_span(tok, s, sp).find(a) != std::string::npos;
      EXPECT_TRUE(found) << "answer " << a << " is in no needle span";
    }
  }
  if (s.task.rfind("niah", 0) == 0) {
    for (const auto& sp : s.needle_spans) EXPECT_NE(decode_span(tok, s, sp).find("One of the special magic"), std::string::npos);
  }
  if (s.task == "qa_2hop") {
    ASSERT_EQ(s.needle_spans.size(), 2u);
    std::string both = decode_span(tok, s, s.needle_spans[0]) + decode_span(tok, s, s.needle_spans[1]);
    EXPECT_NE(both.find("works at the"), std::string::npos);
    EXPECT_NE(both.find("is based in the town of " + s.answers[0]), std::string::npos);
  }
  if (s.task == "passage_retrieval") {
    ASSERT_EQ(s.needle_spans.size(), 1u);
    // The quoted sentence (in the tail of the prompt) is inside the gold paragraph's span.
    const size_t q = s.prompt.rfind("one of the paragraphs.\n\n");
    ASSERT_NE(q, std::string::npos);
    const size_t qb = q + 24, qe = s.prompt.find("\n\n", qb);
    EXPECT_NE(decode_span(tok, s, s.needle_spans[0]).find(s.prompt.substr(qb, qe - qb)), std::string::npos);
    EXPECT_NE(s.prompt.find(s.answers[0] + ": "), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------------------
// PRNG

TEST(EvalRng, FixedSequences) {
  EXPECT_EQ(slim::eval::splitmix64(0), 0xE220A8397B1DCDAFull);  // published first output of SplitMix64(0)
  EXPECT_EQ(slim::eval::fnv1a64(""), 0xCBF29CE484222325ull);
  EXPECT_EQ(slim::eval::fnv1a64("a"), 0xAF63DC4C8601EC8Cull);
  slim::eval::Rng a(42), b(42), c(43);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 8; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
    vc.push_back(c.next());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(EvalRng, BoundedShuffleSample) {
  slim::eval::Rng r(7);
  std::vector<int> hist(6, 0);
  for (int i = 0; i < 6000; ++i) {
    const uint64_t x = r.below(6);
    ASSERT_LT(x, 6u);
    ++hist[x];
  }
  for (int h : hist) EXPECT_GT(h, 800);
  std::vector<int> v{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  r.shuffle(v);
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  const std::vector<size_t> s = r.sample(100, 10);
  EXPECT_EQ(std::set<size_t>(s.begin(), s.end()).size(), 10u);
  for (size_t x : s) EXPECT_LT(x, 100u);
}

// ---------------------------------------------------------------------------------------------------------
// Scorers

TEST(EvalScore, StringMatchAll) {
  using slim::eval::score_metric;
  EXPECT_EQ(score_metric("string_match_all", {"1234567"}, " 1234567."), 100);
  EXPECT_EQ(score_metric("string_match_all", {"ABC", "def"}, "abc and DEF"), 100);  // case-insensitive
  EXPECT_EQ(score_metric("string_match_all", {"a1", "b2", "c3", "d4"}, "a1, c3"), 50);
  EXPECT_EQ(score_metric("string_match_all", {"1234567"}, "7654321"), 0);
  EXPECT_EQ(score_metric("string_match_all", {"1234567"}, ""), 0);
  // Only the first line of the completion counts (leading blank lines are stripped first).
  EXPECT_EQ(score_metric("string_match_all", {"1234567"}, "\n\n 1234567\nmore"), 100);
  EXPECT_EQ(score_metric("string_match_all", {"1234567"}, "no idea\n1234567"), 0);
}

TEST(EvalScore, StringMatchPart) {
  using slim::eval::score_metric;
  EXPECT_EQ(score_metric("string_match_part", {"Garo Rozu", "Rozu"}, " rozu"), 100);
  EXPECT_EQ(score_metric("string_match_part", {"Mikomu"}, " Mikoma"), 0);
}

TEST(EvalScore, CountAndRetrieval) {
  using slim::eval::score_metric;
  EXPECT_EQ(score_metric("count", {"17"}, "17"), 100);
  EXPECT_EQ(score_metric("count", {"17"}, "There are 17 paragraphs, not 18."), 50);
  EXPECT_EQ(score_metric("count", {"17"}, "seventeen"), 0);
  EXPECT_EQ(score_metric("count", {"7"}, "17"), 0);  // whole numbers, not digits
  EXPECT_EQ(score_metric("retrieval", {"Paragraph 3"}, "Paragraph 3"), 100);
  EXPECT_EQ(score_metric("retrieval", {"Paragraph 3"}, "Paragraph 13"), 0);
  EXPECT_NEAR(score_metric("retrieval", {"Paragraph 3"}, "Paragraph 3 or Paragraph 4 or 5"), 100.0 / 3, 1e-9);
  EXPECT_EQ(score_metric("retrieval", {"Paragraph 3"}, "I do not know"), 0);
}

TEST(EvalScore, CodeSim) {
  using slim::eval::edit_similarity;
  using slim::eval::score_metric;
  EXPECT_EQ(edit_similarity("kitten", "sitting"), 62);  // fuzz.ratio("kitten", "sitting")
  EXPECT_EQ(edit_similarity("abc", "abc"), 100);
  EXPECT_EQ(edit_similarity("", "abc"), 0);
  EXPECT_EQ(edit_similarity("abc", "xyz"), 0);
  EXPECT_EQ(edit_similarity("h\xC3\xA9llo", "hello"), 80);  // code points, not bytes: LCS 4 of 5 + 5
  // First line without ` # // is compared; indentation is ignored.
  EXPECT_EQ(score_metric("code_sim", {"x = foo(1)"}, "```python\n# comment\n    x = foo(1)\nmore"), 100);
  EXPECT_EQ(score_metric("code_sim", {"x = foo(1)"}, "\n\nx = foo(1)"), 100);
  EXPECT_EQ(score_metric("code_sim", {"x = foo(1)"}, "# only comments"), 0);
  EXPECT_EQ(score_metric("code_sim", {"return self._value"}, "return self.value"), 97);
  EXPECT_THROW(score_metric("rouge", {"a"}, "a"), slim::Error);
}

// ---------------------------------------------------------------------------------------------------------
// Text sources

TEST(EvalText, SentenceSplitter) {
  const auto s = slim::eval::split_sentences("Mr. Bennet came. \"Is he?\" said she. Mrs. Long said no! Then Col. Forster left.");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "Mr. Bennet came.");
  EXPECT_EQ(s[1], "\"Is he?\" said she.");
  EXPECT_EQ(s[2], "Mrs. Long said no!");
  EXPECT_EQ(s[3], "Then Col. Forster left.");
}

TEST(EvalText, AustenLoads) {
  const slim::eval::ProseText p = slim::eval::load_prose("austen", (kRoot / "tests/data").string());
  EXPECT_GT(p.sentences.size(), 2000u);
  EXPECT_GT(p.paragraphs.size(), 500u);
  EXPECT_GT(p.vocabulary.size(), 2000u);
  EXPECT_TRUE(std::is_sorted(p.vocabulary.begin(), p.vocabulary.end()));
  for (const std::string& para : p.paragraphs) EXPECT_EQ(para.rfind("Chapter ", 0), std::string::npos);
  EXPECT_THROW(slim::eval::load_prose("klingon", ""), slim::Error);
}

// ---------------------------------------------------------------------------------------------------------
// Generation (tiny tokenizer)

TEST(EvalTasks, AllTasksAtTwoLengths) {
  GenOptions o = base_options();
  o.tasks = tasks_without_code();
  o.lengths = {2048, 4096};
  o.depths = {0.0, 0.5, 1.0};
  o.query_first_variants = true;
  const std::vector<Sample> v = slim::eval::generate(tiny(), o);
  std::set<std::string> ids, tasks;
  for (const Sample& s : v) {
    EXPECT_TRUE(ids.insert(s.id).second) << "duplicate id " << s.id;
    tasks.insert(s.task);
    // Prose paragraphs are coarse units: the passage tasks fill less closely at short lengths.
    const double min_fill = s.task.rfind("passage", 0) == 0 ? 0.70 : 0.93;
    check_sample(tiny(), s, min_fill);
  }
  EXPECT_EQ(tasks.size(), tasks_without_code().size());
}

TEST(EvalTasks, DepthMovesTheNeedle) {
  GenOptions o = base_options();
  o.tasks = {"niah_single_1", "niah_single_2", "passage_retrieval", "qa_1hop"};
  o.depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  const std::vector<Sample> v = slim::eval::generate(tiny(), o);
  ASSERT_EQ(v.size(), 20u);
  for (size_t t = 0; t < 4; ++t) {
    for (size_t d = 1; d < 5; ++d) {
      const Sample& a = v[t * 5 + d - 1];
      const Sample& b = v[t * 5 + d];
      EXPECT_LT(a.needle_spans[0].first, b.needle_spans[0].first) << a.id << " vs " << b.id;
    }
    const Sample& last = v[t * 5 + 4];
    const double at = static_cast<double>(last.needle_spans[0].second) / static_cast<double>(last.tokens.size());
    EXPECT_GT(at, 0.8) << last.id;  // depth 1.0: the needle ends near the question
  }
}

TEST(EvalTasks, QueryFirstVariantStatesTheQuestionFirst) {
  GenOptions o = base_options();
  o.tasks = {"niah_single_2", "vt"};
  o.depths = {0.5};
  o.query_first_variants = true;
  const std::vector<Sample> v = slim::eval::generate(tiny(), o);
  ASSERT_EQ(v.size(), 4u);
  for (size_t i = 0; i < v.size(); i += 2) {
    EXPECT_FALSE(v[i].query_first);
    EXPECT_TRUE(v[i + 1].query_first);
    EXPECT_EQ(v[i].answers, v[i + 1].answers);
    EXPECT_EQ(v[i].seed, v[i + 1].seed);
    EXPECT_NE(v[i].id, v[i + 1].id);
    // The question ("... for <key> ..." / "... value <v> ...") appears in the first fifth of the q-first prompt only.
    const std::string& qf = v[i + 1].prompt;
    const std::string key = v[i].task == "vt" ? "assigned the value" : "What is the special magic";
    EXPECT_LT(qf.find(key), qf.size() / 5) << v[i + 1].id;
    const size_t first_last = v[i].prompt.find(key);
    if (v[i].task != "vt") {
      EXPECT_GT(first_last, v[i].prompt.size() / 2);  // vt's one-shot example asks too
    }
  }
}

TEST(EvalTasks, DeterministicAndSeedSensitive) {
  GenOptions o = base_options();
  o.tasks = {"niah_multikey_2", "cwe", "fwe", "qa_2hop", "passage_count"};
  const std::string a = to_jsonl(slim::eval::generate(tiny(), o));
  const std::string b = to_jsonl(slim::eval::generate(tiny(), o));
  EXPECT_EQ(a, b);
  o.seed = 43;
  EXPECT_NE(a, to_jsonl(slim::eval::generate(tiny(), o)));
  // A sample does not depend on which other tasks are generated with it.
  GenOptions one = base_options();
  one.tasks = {"fwe"};
  const std::vector<Sample> single = slim::eval::generate(tiny(), one);
  o.seed = 42;
  const std::vector<Sample> many = slim::eval::generate(tiny(), o);
  const auto it = std::find_if(many.begin(), many.end(), [](const Sample& s) { return s.task == "fwe"; });
  ASSERT_NE(it, many.end());
  EXPECT_EQ(to_jsonl(single), to_jsonl({*it}));
}

TEST(EvalTasks, TaskSpecificContent) {
  GenOptions o = base_options();
  o.tasks = {"cwe", "fwe", "passage_count", "vt"};
  const std::vector<Sample> v = slim::eval::generate(tiny(), o);
  ASSERT_EQ(v.size(), 4u);
  auto occurrences = [](const std::string& text, const std::string& w) {
    size_t n = 0;
    for (size_t at = text.find(w); at != std::string::npos; at = text.find(w, at + 1)) ++n;
    return n;
  };
  // cwe: every common word appears in the list more often than any word that is not an answer.
  EXPECT_EQ(v[0].answers.size(), 10u);
  for (const std::string& a : v[0].answers) EXPECT_GE(occurrences(v[0].prompt, ". " + a + " "), 6u) << a;
  // fwe: the three answers are the most frequent coded words, in order.
  ASSERT_EQ(v[1].answers.size(), 3u);
  const size_t c1 = occurrences(v[1].prompt, " " + v[1].answers[0] + " "), c2 = occurrences(v[1].prompt, " " + v[1].answers[1] + " "),
               c3 = occurrences(v[1].prompt, " " + v[1].answers[2] + " ");
  EXPECT_GT(c1, c2);
  EXPECT_GT(c2, c3);
  // passage_count: the answer is the number of distinct paragraphs.
  std::set<std::string> paras;
  for (size_t at = v[2].prompt.find("Paragraph "); at != std::string::npos; at = v[2].prompt.find("Paragraph ", at + 1)) {
    const size_t b = v[2].prompt.find(": ", at) + 2;
    paras.insert(v[2].prompt.substr(b, v[2].prompt.find("\n\n", b) - b));
  }
  EXPECT_EQ(std::to_string(paras.size()), v[2].answers[0]);
  // vt: five names, chained in order.
  ASSERT_EQ(v[3].answers.size(), 5u);
  for (size_t i = 1; i < 5; ++i) {
    EXPECT_NE(v[3].prompt.find("VAR " + v[3].answers[i] + " = VAR " + v[3].answers[i - 1]), std::string::npos);
  }
}

TEST(EvalTasks, CodeTask) {
  if (!have_code_sources()) GTEST_SKIP() << "no Python sources (/usr/lib/python3.11)";
  GenOptions o = base_options();
  o.tasks = {"lcc"};
  o.lengths = {2048};
  o.samples_per_cell = 3;
  const std::vector<Sample> v = slim::eval::generate(tiny(), o);
  ASSERT_EQ(v.size(), 3u);
  for (const Sample& s : v) {
    check_sample(tiny(), s, 0.93);
    EXPECT_EQ(s.prompt.rfind("Please complete the code given below. \n", 0), 0u);
    EXPECT_EQ(s.prompt.substr(s.prompt.size() - 19), "Next line of code:\n");
  }
}

TEST(EvalTasks, PaulGrahamProseWhenInstalled) {
  if (!fs::exists(kRoot / "models/texts/PaulGrahamEssays/.complete")) GTEST_SKIP() << "essays not installed (tools/setup.sh)";
  GenOptions o;
  o.text_dir = (kRoot / "models/texts").string();
  o.prose = "pg";
  o.tasks = {"niah_single_2", "qa_2hop", "passage_retrieval", "passage_count", "cwe"};
  o.depths = {0.5};
  for (const Sample& s : slim::eval::generate(tiny(), o)) {
    check_sample(tiny(), s, s.task.rfind("passage", 0) == 0 ? 0.70 : 0.93);
    // Not Austen, except the passage tasks, which always use Austen's paragraphs.
    if (s.task.rfind("passage", 0) != 0) {
      EXPECT_EQ(s.prompt.find("Bennet"), std::string::npos) << s.id;
    }
  }
}

TEST(EvalTasks, BadOptions) {
  GenOptions o = base_options();
  o.tasks = {"niah_single_9"};
  EXPECT_THROW(slim::eval::generate(tiny(), o), slim::Error);
  o = base_options();
  o.tasks = {"niah_single_1"};
  o.depths = {1.5};
  EXPECT_THROW(slim::eval::generate(tiny(), o), slim::Error);
  o.depths = {0.5};
  o.lengths = {100};
  EXPECT_THROW(slim::eval::generate(tiny(), o), slim::Error);
  o.lengths = {2048};
  o.prose = "nosuch";
  o.tasks = {"niah_single_2"};
  EXPECT_THROW(slim::eval::generate(tiny(), o), slim::Error);
}

// ---------------------------------------------------------------------------------------------------------
// JSONL

TEST(EvalJsonl, RoundTrip) {
  GenOptions o = base_options();
  o.tasks = {"niah_single_3", "qa_2hop"};
  o.depths = {0.25};
  std::vector<Sample> v = slim::eval::generate(tiny(), o);
  Sample odd;
  odd.id = "odd/1";
  odd.task = "x";
  odd.family = "ruler";
  odd.prompt = std::string("quote \" backslash \\ tab \t nl \n ctrl \x01 del \x7f e\xCC\x81 \xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  odd.answers = {"\xE2\x9C\x93", ""};
  odd.depth = 0.1;
  odd.seed = 0xFFFFFFFFFFFFFFFFull;
  odd.tokens = {2, -1, 2147483647};
  odd.needle_spans = {{0, 1}, {1, 3}};
  v.push_back(odd);
  const std::string text = to_jsonl(v);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<long>(v.size()));  // one line per sample
  std::istringstream in(text);
  const std::vector<Sample> back = slim::eval::read_jsonl(in);
  ASSERT_EQ(back.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(back[i].id, v[i].id);
    EXPECT_EQ(back[i].prompt, v[i].prompt);
    EXPECT_EQ(back[i].tokens, v[i].tokens);
    EXPECT_EQ(back[i].answers, v[i].answers);
    EXPECT_EQ(back[i].needle_spans, v[i].needle_spans);
    EXPECT_EQ(back[i].seed, v[i].seed);
    EXPECT_EQ(back[i].depth, v[i].depth);
    EXPECT_EQ(back[i].query_first, v[i].query_first);
    EXPECT_EQ(back[i].max_new_tokens, v[i].max_new_tokens);
    EXPECT_EQ(back[i].metric, v[i].metric);
  }
  EXPECT_EQ(to_jsonl(back), text);
}

TEST(EvalJsonl, BadInputIsAnError) {
  std::istringstream bad("{\"id\": \"a\"}\n");
  EXPECT_THROW(slim::eval::read_jsonl(bad), slim::Error);
  std::istringstream garbage("not json\n");
  EXPECT_THROW(slim::eval::read_jsonl(garbage), slim::Error);
  Sample s;
  s.prompt = "\xFF\xFE";  // invalid UTF-8 cannot be written as JSON
  std::ostringstream os;
  EXPECT_THROW(slim::eval::write_jsonl(os, {s}), std::exception);
}

// ---------------------------------------------------------------------------------------------------------
// Golden hashes: same options, same tokenizer => same bytes on every machine.

TEST(EvalGolden, TinyGemma3) {
  GenOptions o = base_options();
  o.tasks = tasks_without_code();  // lcc reads the installed Python, which differs between Python releases
  o.lengths = {2048};
  o.depths = {0.0, 0.5, 1.0};
  o.query_first_variants = true;
  const std::vector<Sample> v = slim::eval::generate(tiny(), o);
  std::ostringstream actual;
  uint64_t total = 0xCBF29CE484222325ull;
  for (const Sample& s : v) {
    const std::string line = to_jsonl({s});
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(slim::eval::fnv1a64(line)));
    actual << s.id << " " << buf << "\n";
    total = slim::eval::splitmix64(total ^ slim::eval::fnv1a64(line));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(total));
  actual << "total " << buf << "\n";

  const fs::path fixture = kRoot / "tests/fixtures/eval/golden-tiny-gemma3.txt";
  if (std::getenv("SLIM_UPDATE_GOLDEN")) {
    fs::create_directories(fixture.parent_path());
    std::ofstream(fixture) << actual.str();
    GTEST_SKIP() << "rewrote " << fixture;
  }
  std::ifstream in(fixture);
  ASSERT_TRUE(in) << "missing " << fixture << " (SLIM_UPDATE_GOLDEN=1 writes it)";
  std::stringstream expected;
  expected << in.rdbuf();
  if (expected.str() != actual.str()) {
    std::istringstream e(expected.str()), a(actual.str());
    std::string el, al;
    while (std::getline(e, el) && std::getline(a, al)) EXPECT_EQ(el, al) << "generator output changed";
    FAIL() << "generator output differs from " << fixture << "; if the change is deliberate, rerun with SLIM_UPDATE_GOLDEN=1";
  }
}

// ---------------------------------------------------------------------------------------------------------
// Real Gemma tokenizer (skipped when the model is absent)

TEST(RealEvalTasks, GemmaAllTasks4k) {
  const slim::Tokenizer* tok = load_tok(kRoot / "models/gemma-3-270m-q4_k_m.gguf");
  if (!tok) GTEST_SKIP() << "models/gemma-3-270m-q4_k_m.gguf absent";
  GenOptions o = base_options();
  o.tasks = have_code_sources() ? slim::eval::task_names() : tasks_without_code();
  o.depths = {0.0, 0.5, 1.0};
  o.query_first_variants = true;
  for (const Sample& s : slim::eval::generate(*tok, o)) check_sample(*tok, s, s.task.rfind("passage", 0) == 0 ? 0.85 : 0.95);
}

TEST(RealEvalTasks, Gemma32kIsQuickAndFull) {
  const slim::Tokenizer* tok = load_tok(kRoot / "models/gemma-3-270m-q4_k_m.gguf");
  if (!tok) GTEST_SKIP() << "models/gemma-3-270m-q4_k_m.gguf absent";
  GenOptions o = base_options();
  o.tasks = {"niah_single_1", "niah_multikey_3", "qa_2hop", "fwe"};
  o.lengths = {8192, 16384, 32768};
  o.depths = {0.5};
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Sample> v = slim::eval::generate(*tok, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const Sample& s : v) check_sample(*tok, s, 0.98);
  EXPECT_LT(secs, 20.0);  // generous: the budget is well under a second per 32k sample in Release
  std::printf("[ info ] %zu samples at 8k-32k in %.2f s\n", v.size(), secs);
}

}  // namespace
