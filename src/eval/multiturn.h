// `slim eval --multi-turn`: a two-question conversation over one document (issue 6). Each niah_multiquery
// sample becomes a conversation: the document (the haystack with its 4 key-value needles), question 1 about
// one key, the greedy answer, question 2 about another key, the greedy answer. Per sample, in one process:
//   dense       continue   one context; question 2 follows answer 1 (the reference answers)
//   dense       re-prefill a fresh dense prefill of the whole conversation before answer 2 (the work baseline)
//   <config>    continue   one pruned context (LazyLLM: question 2 revives pruned document tokens; SlimInfer:
//                          question 2 is a short dense call over the KV its pruned prefill froze)
//   <config>    re-prefill SlimInfer (any non-LazyLLM configuration): a fresh pruned prefill of the whole
//                          conversation so far (its own answer 1 included), then answer 2
// Recorded per row: both answers and their scores, whether answer 2 equals dense's (trimmed), the (token,
// layer) pairs computed for question 2's prefill as a fraction of a fresh dense prefill of everything before
// answer 2, and the TTFT of question 2.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/tasks.h"

namespace slim {
class Model;
}

namespace slim::eval {

inline constexpr const char* kContinueMode = "continue";
inline constexpr const char* kReprefillMode = "re-prefill";

struct MultiTurnOptions {
  std::vector<std::string> configs = {"lazyllm", "sliminfer"};  // prune specs compared with dense
  int first = 0, second = 1;  // which key questions (of the sample's 4) are asked first and second
  int n_threads = 2;
  int n_ubatch = 512;
  std::string results_path;   // results.jsonl, rewritten as rows finish; "" = keep in memory
  // Every configuration continues after dense's answer 1 (fed as decode steps) instead of its own, so that
  // answer 2 differs from dense's only through question 2's turn (default: each answers question 1 itself).
  bool dense_history = false;
};

struct MultiTurnResult {
  std::string id;
  double depth = -1;
  int target_len = 0;
  std::string config;        // "dense" or the canonical prune spec
  std::string config_spec;   // as the user wrote it
  std::string mode;          // kContinueMode | kReprefillMode
  std::string history;       // "own": answer 1 is the configuration's; "dense": dense's (dense_history)
  std::string key1, key2, gold1, gold2;
  int n_turn1 = 0;           // tokens of document + question 1 (BOS included)
  int n_answer1 = 0;         // answer 1 tokens fed back into the conversation
  int n_question2 = 0;
  int n_history = 0;         // tokens before answer 2: n_turn1 + n_answer1 + n_question2
  std::string answer1, answer2, stop1, stop2;
  double score1 = 0, score2 = 0;  // string_match_all against the gold value, [0, 100]
  bool answer1_matches_dense = false, answer2_matches_dense = false;
  uint64_t q2_pairs = 0;     // (token, layer) pairs computed by question 2's prefill (re-prefill: all of it)
  uint64_t q2_revived = 0;   // of those, LazyLLM pairs revived from an aux entry
  double q2_work = 0;        // q2_pairs / (n_history x n_layer)
  double turn1_work = 0;     // turn 1's prefill pairs / (n_turn1 x n_layer)
  double q2_ttft_ms = 0;     // question 2's prefill until its first token is chosen
  double turn1_ttft_ms = 0;  // the same for document + question 1
};

// Per (configuration, mode): the report's summary line.
struct MultiTurnSummary {
  std::string config, config_spec, mode;
  int samples = 0;
  double accuracy1 = 0, accuracy2 = 0;  // mean scores, [0, 100]
  int agree1 = 0, agree2 = 0;           // answers equal to dense's
  int same_value2 = 0;                  // answers 2 whose first number is dense's (or both have none)
  double work_mean = 0, work_max = 0;   // question 2's prefill work fraction
  double q2_ttft_ms = 0, turn1_ttft_ms = 0;  // means
};

using MultiTurnProgressFn = std::function<void(const MultiTurnResult&)>;

// Runs every sample (query-last niah_multiquery samples; throws slim::Error for others, for a bad spec, equal
// or out-of-range question indices, or a conversation longer than the model's context). Rows come in sample
// order, dense first.
std::vector<MultiTurnResult> run_multiturn(const Model& model, const std::vector<Sample>& samples,
                                           const MultiTurnOptions& opt, const MultiTurnProgressFn& progress = {});

std::vector<MultiTurnSummary> summarize_multiturn(const std::vector<MultiTurnResult>& rows);
std::string to_json_line(const MultiTurnResult& r);
MultiTurnResult multiturn_from_json_line(const std::string& line);  // throws on a malformed line
std::vector<MultiTurnResult> read_multiturn_results(const std::string& path);  // throws slim::Error
// report.md: the summary table, the two conditions, and one line per row.
std::string multiturn_report(const std::vector<MultiTurnResult>& rows, const std::string& model,
                             const std::string& command);

}  // namespace slim::eval
