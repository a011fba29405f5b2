// The `slim eval` runner: every sample is run densely (the reference) and then under each pruning
// configuration, in one process, on the same tokens. Per (sample, configuration) it records the task score of
// the greedy answer and the fidelity metrics against dense (eval/fidelity.h), appending one JSONL line as
// each pair finishes, so a rerun with the same output folder skips what is done.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/fidelity.h"
#include "eval/tasks.h"
#include "slim/context.h"
#include "slim/prune.h"

namespace slim {
class Model;
class Tokenizer;
}  // namespace slim

namespace slim::eval {

// Label of the dense reference, and of the optional second dense run that checks the harness itself.
inline constexpr const char* kDenseLabel = "dense";
inline constexpr const char* kDenseSelfLabel = "dense-self";

// One configuration under evaluation, with its own Context.
struct ConfigRun {
  std::string label, spec;
  PruneConfig prune;
  std::unique_ptr<Context> ctx;
};

// Contexts (parameters cp) for dense first, then dense-self if asked, then each spec resolved for the model
// and labelled label_of(spec, resolved config); a label seen before is skipped.
std::vector<ConfigRun> make_config_runs(
    const Model& m, const ContextParams& cp, const std::vector<std::string>& specs, bool self_check,
    const std::function<std::string(const std::string& spec, const PruneConfig& resolved)>& label_of);

// One (sample, configuration) outcome: one line of results.jsonl. Deterministic fields only (same seed, same
// model, same machine => same line); wall-clock figures live in `timing` and go to timings.jsonl.
struct Result {
  std::string id, task, family, metric;
  int target_len = 0, n_tokens = 0;
  double depth = -1;
  bool query_first = false;
  std::string config;         // label: "dense", "dense-self" or the canonical resolved prune spec
  std::string config_spec;    // as the user wrote it

  // Generative tasks: the greedy answer and its score in [0, 100].
  std::string prediction;
  double score = 0;
  int n_generated = 0;
  std::string stop;           // "eog", "newline", "max" or "ctx"
  // Gold answer teacher-forced after the prompt: Σ -ln p(gold token), and whether greedy would emit it.
  int gold_tokens = 0;
  double gold_nll = 0;
  bool gold_greedy = false;

  // Against dense (false for the reference row). For generative tasks the positions are the dense greedy
  // answer's steps (teacher-forced); for "ppl" samples the scored continuation of the text.
  bool compared = false;
  Summary kl;
  double top1 = 1;            // fraction of positions with the same argmax as dense
  int steps = 0;
  int greedy_prefix = 0;      // dense greedy tokens reproduced before the first divergence
  double greedy_frac = 1;     // greedy_prefix / dense greedy length
  bool greedy_exact = true;
  double dp_rms = 0;          // RMS of p_config(next) - p_dense(next)
  // At the first divergence: how much dense preferred its token over the configuration's choice, in nats
  // (ln p_dense(dense's token) - ln p_dense(config's token)); -1 when the answers agree. A small margin means
  // dense itself was near a tie there, so a tiny perturbation flips the answer.
  double flip_margin = -1;

  // "ppl" samples: mean NLL per scored continuation token (its exp is the perplexity).
  double nll_mean = 0;
  int ppl_tokens = 0;

  // KV cache after the prompt, and per-layer needle retention (empty without needle spans).
  double kv_bytes = 0, kv_bytes_dense = 0;
  std::vector<double> retention;
  double retention_global = 1;  // mean over the non-sliding-window layers

  struct Timing {
    double ttft_ms = 0, prefill_ms = 0, decode_ms_per_token = 0;
  } timing;
};

struct RunnerOptions {
  std::vector<std::string> configs;  // prune spec strings; dense (the reference) is implicit and runs first
  bool self_check = false;           // also run a second dense context, "dense-self": its KL must be exactly 0
  int n_threads = 2;
  int n_ubatch = 512;
  int ppl_score_tokens = 256;        // "ppl" samples: continuation tokens scored after the pruned prefix
  std::string results_path;          // results.jsonl (appended; finished pairs are skipped); "" = keep in memory
  std::string timings_path;          // timings.jsonl; "" = none
};

struct RunnerProgress {
  int64_t tokens_done = 0, tokens_total = 0;  // prompt tokens prefilled (the ETA's unit)
  int pairs_done = 0, pairs_total = 0;        // (sample, configuration) pairs to run in this invocation
  const Result* last = nullptr;               // the pair that just finished (nullptr: a reference re-run)
};
using RunnerProgressFn = std::function<void(const RunnerProgress&)>;

// Canonical label of a spec for this model ("dense" for dense); throws slim::Error on a bad spec.
std::string config_label(const std::string& spec, const Model& model);

// Runs the matrix and returns every result for these samples (those already in the results file included),
// in sample order, dense first. Throws slim::Error for a sample that does not fit the model's context.
std::vector<Result> run_matrix(const Model& model, const std::vector<Sample>& samples, const RunnerOptions& opt,
                               const RunnerProgressFn& progress = {});

// Fidelity samples: windows of `length` tokens (BOS first) from `text`, metric "ppl", task `task`.
// Throws slim::Error if the text is shorter than a window.
std::vector<Sample> make_ppl_samples(const Tokenizer& tok, const std::string& text, const std::string& task,
                                     const std::vector<int>& lengths, int windows, uint64_t seed);

// results.jsonl / timings.jsonl I/O. read_results() merges timings from timings_path when given and ignores
// a torn last line (interrupted write).
std::string to_json_line(const Result& r);
Result result_from_json_line(const std::string& line);
std::vector<Result> read_results(const std::string& results_path, const std::string& timings_path = "");

}  // namespace slim::eval
