// Deterministic long-context tasks (RULER- and LongBench-style), generated offline from installed text.
// Contract between the generators (src/eval/tasks*.cpp), the scorers (src/eval/score.cpp) and the
// `slim eval` runner (src/eval/runner.cpp, src/cli/cmd_eval.cpp). See ../shared/docs/eval-suite.md §6.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace slim {
class Tokenizer;
}

namespace slim::eval {

// One generated prompt with its gold answers.
struct Sample {
  std::string id;             // unique and stable: "<task>/<length>/<depth-bin>/<q-first|q-last>/<index>"
  std::string task;           // e.g. "niah_single_1", "vt", "cwe", "passage_count"
  std::string family;         // "ruler" or "longbench"
  int target_len = 0;         // requested prompt length in tokens (4096, 8192, ...)
  double depth = -1;          // needle depth in [0, 1] for needle tasks, -1 otherwise
  bool query_first = false;   // question before the context (true) or after it (false)
  uint64_t seed = 0;          // seed this sample was generated from
  std::string prompt;         // full prompt text (no BOS; the runner tokenizes with add_special=true)
  std::vector<int32_t> tokens;          // prompt tokens as the runner will evaluate them (BOS included)
  std::vector<std::string> answers;     // gold answers
  std::string metric;         // "string_match_all" | "string_match_part" | "count" | "retrieval" | "code_sim"
  std::vector<std::pair<int, int>> needle_spans;  // [begin, end) token indices of needles/evidence in `tokens`
  int max_new_tokens = 32;    // generation budget for the answer
};

struct GenOptions {
  std::vector<std::string> tasks;   // empty = all tasks
  std::vector<int> lengths = {4096};
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};  // needle-depth grid (needle tasks)
  int samples_per_cell = 1;         // samples per (task, length, depth, query position)
  bool query_first_variants = false;  // also emit query-first prompts
  uint64_t seed = 42;
  std::string text_dir;             // where the haystack sources were installed (tools/setup.sh); "" = default
  std::string prose = "austen";     // prose haystack: "austen" (ships in tests/data) or "pg" (Paul Graham
                                    // essays, models/texts/PaulGrahamEssays after tools/setup.sh)
};

// Names of all tasks, in a fixed order.
std::vector<std::string> task_names();
// Generates the samples in a fixed order. Identical output for identical (options, tokenizer) on any machine.
// Throws slim::Error if a task name is unknown or a text source is missing (naming the setup command).
std::vector<Sample> generate(const Tokenizer& tok, const GenOptions& opt);

// The multi-turn form of a query-last niah_multiquery sample (src/eval/multiturn.h): the document (the prompt
// without its question) and one single-key follow-up per queried key, worded as the single-key needle tasks'
// question and answer prefix ("\nWhat is the special magic number for K ...? The special magic number for K
// ... is"), with its gold value. Derived from the sample itself, so it also works on samples read back from
// JSONL. Throws slim::Error for any other sample.
struct KeyQuestion {
  std::string key, text, answer;
};
struct MultiQueryConversation {
  std::string document;
  std::vector<KeyQuestion> questions;  // in the order the keys were generated (= the order of `answers`)
};
MultiQueryConversation multiquery_conversation(const Sample& s);

// JSONL: one sample per line with every field above.
void write_jsonl(std::ostream& out, const std::vector<Sample>& samples);
std::vector<Sample> read_jsonl(std::istream& in);

// Score of a model's answer text in [0, 100], as RULER / LongBench score the sample's metric.
double score(const Sample& s, const std::string& prediction);
// The same for a metric name and gold answers; throws slim::Error for an unknown metric.
double score_metric(const std::string& metric, const std::vector<std::string>& answers, const std::string& prediction);
// fuzzywuzzy's fuzz.ratio (indel similarity, rounded to an integer) of two strings, in [0, 100].
double edit_similarity(const std::string& a, const std::string& b);

}  // namespace slim::eval
