// `slim eval`: the long-context evaluation suite. Generates the tasks (src/eval/tasks*.cpp), runs every sample
// densely and under each pruning configuration (src/eval/runner.cpp), and writes the report (src/eval/report.cpp).
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/cmd_eval.h"
#include "cli/common.h"
#include "eval/multiturn.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "eval/tasks.h"
#include "slim/error.h"
#include "slim/model.h"

namespace slim::cli {

namespace {

constexpr const char* kPplTask = "ppl_prose";

const char* const kEvalFooter =
    "Every sample runs densely first, then under each --config, in this process and on the same tokens.\n"
    "Per (sample, configuration) it records the greedy answer's task score and, against dense: KL(dense||config)\n"
    "of the next-token distributions along the dense answer, top-1 agreement, greedy-answer agreement, the gold\n"
    "answer's log-likelihood, needle retention (needle tokens still in each layer's KV after prefill), TTFT and\n"
    "prompt KV bytes. ppl_prose scores 256 tokens of Austen after a prefix prefilled by the configuration.\n"
    "\n"
    "Tiers (flags given explicitly override the tier's choice):\n"
    "  ci     1024-token prompts, 3 tasks + ppl_prose, 1 sample, dense + dense-self + sliminfer (seconds-minutes)\n"
    "  smoke  4096 tokens, all tasks + ppl_prose, 1 sample per cell (depth 0.5), dense + sliminfer\n"
    "  full   4k/8k/16k/32k (up to the model's context), depths 0/.25/.5/.75/1, 2 samples per cell\n"
    "\n"
    "Configurations are prune specs: dense | sliminfer[:layers=2/5/11,keep=0.5/0.3/0.2,unit=16,window=32]\n"
    "  | lazyllm[:rates=...] | random:drop=0.5,layer=0 (test only: deliberately broken, must be flagged worse).\n"
    "\n"
    "Output folder (-o): results.jsonl (one line per sample x config, appended as each finishes: rerun the same\n"
    "command to resume after Ctrl-C), timings.jsonl, results.json, report.md, *.svg.\n"
    "\n"
    "Examples:\n"
    "  slim eval --tier ci -m tests/models/tiny-gemma3-q4km.gguf -o /tmp/eval-ci\n"
    "  slim eval --tier smoke -o eval-smoke                       # Gemma 3 270M, dense vs default SlimInfer\n"
    "  slim eval --tasks niah_single_2,vt --lengths 8192 --depths 0,0.5,1 --samples 3 \\\n"
    "            --config sliminfer --config 'sliminfer:keep=0.5/0.25/0.125' -o eval-keep\n"
    "  slim eval --tier full --config dense -m models/smollm2-135m-instruct-q4_1.gguf -o base-smollm2\n"
    "  slim eval --dump-samples samples.jsonl --tasks niah_single_1 --lengths 4096   # generate only\n"
    "  slim eval --report-only -o eval-keep                      # rebuild report.md from results.jsonl\n"
    "\n"
    "Multi-turn (--multi-turn): each niah_multiquery sample becomes a conversation: the document, a question about\n"
    "one key, the greedy answer, a question about another key, the greedy answer. Dense continues in one context\n"
    "and also re-prefills the whole conversation (the work baseline); each --config continues in one context\n"
    "(LazyLLM revives what question 2 needs; SlimInfer answers over its frozen KV) and, unless it is LazyLLM, also\n"
    "re-prefills. Records answer 2's score and agreement with dense, question 2's prefill work ((token, layer)\n"
    "pairs / a fresh dense prefill of the conversation) and TTFT. Default configurations: lazyllm, sliminfer.\n"
    "  slim eval --multi-turn -m models/smollm2-135m-instruct-q4_1.gguf --lengths 8000 --depths 0.3,0.7 \\\n"
    "            --samples 2 -o eval/multiturn/smollm2-8k";

struct Tier {
  std::vector<std::string> tasks;  // empty: all (and ppl_prose)
  std::vector<int> lengths;
  std::vector<double> depths;
  int samples = 1, ppl_windows = 1;
  std::vector<std::string> configs;
  bool self_check = false;
};

Tier tier_defaults(const std::string& name) {
  Tier t;
  if (name == "ci") {
    t.tasks = {"niah_single_1", "niah_multikey_2", "vt", kPplTask};
    t.lengths = {1024};
    t.depths = {0.5};
    t.configs = {"sliminfer"};
    t.self_check = true;
  } else if (name == "smoke") {
    t.lengths = {4096};
    t.depths = {0.5};
    t.configs = {"sliminfer"};
  } else if (name == "full") {
    t.lengths = {4096, 8192, 16384, 32768};
    t.depths = {0.0, 0.25, 0.5, 0.75, 1.0};
    t.samples = 2;
    t.ppl_windows = 2;
    t.configs = {"sliminfer"};
  } else {
    throw Error("eval: unknown tier '" + name + "' (choose ci, smoke or full)");
  }
  return t;
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string shell_quote(const std::string& s) {
  if (s.find_first_of(" '\"$;|&<>*?()") == std::string::npos) return s;
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

// The command, as one line a reader can rerun.
std::string command_line(const EvalOptions& o, const std::string& model) {
  std::ostringstream c;
  c << "slim eval -m " << shell_quote(model) << " --tier " << o.tier;
  if (!o.tasks.empty()) c << " --tasks " << join(o.tasks);
  if (!o.lengths.empty()) {
    c << " --lengths ";
    for (size_t i = 0; i < o.lengths.size(); ++i) c << (i ? "," : "") << o.lengths[i];
  }
  if (!o.depths.empty()) {
    c << " --depths ";
    for (size_t i = 0; i < o.depths.size(); ++i) c << (i ? "," : "") << o.depths[i];
  }
  if (o.samples > 0) c << " --samples " << o.samples;
  if (o.ppl_windows >= 0) c << " --ppl-windows " << o.ppl_windows;
  for (const std::string& s : o.configs) c << " --config " << shell_quote(s);
  for (const std::string& f : o.prune_config_files) c << " --prune-config " << shell_quote(f);
  if (o.prose != "austen") c << " --prose " << o.prose;
  if (o.query_first) c << " --query-first";
  if (o.self_check) c << " --self-check";
  if (o.no_self_check) c << " --no-self-check";
  c << " --seed " << o.seed << " -t " << o.n_threads;
  if (!o.out_dir.empty()) c << " -o " << shell_quote(o.out_dir);
  return c.str();
}


std::string fmt_duration(double s) {
  char b[32];
  if (s < 60) std::snprintf(b, sizeof b, "%.0fs", s);
  else if (s < 3600) std::snprintf(b, sizeof b, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(b, sizeof b, "%dh%02dm", int(s) / 3600, (int(s) / 60) % 60);
  return b;
}

// A progress bar with ETA on a terminal; one line per finished pair otherwise (logs, CI).
class EvalProgress {
 public:
  explicit EvalProgress(bool tty) : tty_(tty) {}
  void update(const eval::RunnerProgress& p) {
    const double el = t_.ms() / 1000.0;
    const double eta = p.tokens_done > 0 ? el * double(p.tokens_total - p.tokens_done) / double(p.tokens_done) : 0;
    if (tty_) {
      const double frac = p.tokens_total ? double(p.tokens_done) / double(p.tokens_total) : 0;
      const int width = 30, fill = std::min(width, static_cast<int>(frac * width));
      std::fprintf(stderr, "\r\033[Keval [%.*s%*s] %d/%d runs, %s elapsed, ETA %s", fill,
                   "##############################", width - fill, "", p.pairs_done, p.pairs_total,
                   fmt_duration(el).c_str(), p.tokens_done ? fmt_duration(eta).c_str() : "?");
      std::fflush(stderr);
      drawn_ = true;
      return;
    }
    if (!p.last) return;
    const eval::Result& r = *p.last;
    std::fprintf(stderr, "[%d/%d] %s %s: score %.0f, TTFT %.2fs", p.pairs_done, p.pairs_total, r.id.c_str(),
                 r.config_spec.c_str(), r.score, r.timing.ttft_ms / 1000.0);
    if (r.compared) std::fprintf(stderr, ", KL %.3g, top-1 %.2f", r.kl.mean, r.top1);
    std::fprintf(stderr, ", ETA %s\n", fmt_duration(eta).c_str());
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
  }

 private:
  bool tty_;
  bool drawn_ = false;
  Timer t_;
};

// Refuses to mix results of another model or seed into an existing output folder.
void check_manifest(const std::string& dir, const std::string& model, uint64_t seed, const std::string& prose) {
  const std::string path = dir + "/run.json";
  const nlohmann::json want = {{"model", std::filesystem::path(model).filename().string()}, {"seed", seed},
                               {"prose", prose}};
  std::ifstream in(path);
  if (in) {
    nlohmann::json have;
    try {
      in >> have;
    } catch (const std::exception&) {
      throw Error("eval: " + path + " is damaged; delete it or choose another -o");
    }
    if (have != want)
      throw Error("eval: " + dir + " holds results for " + have.dump() + ", not " + want.dump() +
                  "; choose another -o");
    return;
  }
  std::ofstream out(path);
  out << want.dump(2) << "\n";
}

// The long-text perplexity windows come from Pride and Prejudice (ch. 1-30, shipped in tests/data), whitespace
// collapsed, read here rather than through the generators' text loader so the windows stay fixed.
std::string read_ppl_text(const std::string& text_dir) {
  namespace fs = std::filesystem;
  const char* const file = "pride-and-prejudice-ch1-30.txt";
  std::vector<fs::path> dirs;
  if (!text_dir.empty()) dirs.emplace_back(text_dir);
  if (const char* env = std::getenv("SLIM_TEXT_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back("tests/data");
#ifdef SLIM_SOURCE_DIR
  dirs.emplace_back(fs::path(SLIM_SOURCE_DIR) / "tests/data");
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path() / "../tests/data");
  for (const fs::path& d : dirs) {
    if (!fs::exists(d / file, ec)) continue;
    const std::string raw = read_file((d / file).string());
    std::string text;
    bool space = false;
    for (char c : raw) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        space = !text.empty();
        continue;
      }
      if (space) text += ' ';
      space = false;
      text += c;
    }
    return text;
  }
  throw Error(std::string("eval: ppl_prose needs tests/data/") + file + " (pass --text-dir DIR)");
}

// `slim eval --multi-turn`: generates niah_multiquery samples and runs the two-question conversations
// (src/eval/multiturn.h), writing results.jsonl and report.md.
int multi_turn_command(const EvalOptions& o, const std::string& model_path, const std::string& dir,
                       const eval::ReportOptions& ro) {
  if (o.report_only) {  // the report of an earlier run, with this build's table
    const std::string report = dir + "/report.md";
    std::string command;
    if (std::ifstream old(report); old) {  // keep the command that produced the results
      std::stringstream ss;
      ss << old.rdbuf();
      const std::string t = ss.str();
      const size_t b = t.find("```\nslim eval");
      if (b != std::string::npos) command = t.substr(b + 4, t.find('\n', b + 4) - b - 4);
    }
    std::ofstream(report) << eval::multiturn_report(eval::read_multiturn_results(dir + "/results.jsonl"), ro.model,
                                                    command);
    std::fprintf(stderr, "wrote %s\n", report.c_str());
    return 0;
  }
  for (const std::string& t : o.tasks)
    if (t != "niah_multiquery")
      throw Error("eval: --multi-turn runs niah_multiquery only, not '" + t + "'");
  if (o.query_first) throw Error("eval: --multi-turn needs query-last prompts; drop --query-first");
  if (o.mt_questions.size() != 2) throw Error("eval: --mt-questions wants two key indices, e.g. 0,1");
  const Tier tier = tier_defaults(o.tier);
  std::unique_ptr<Model> model = Model::load(model_path);

  eval::GenOptions g;
  g.tasks = {"niah_multiquery"};
  g.lengths = o.lengths.empty() ? tier.lengths : o.lengths;
  g.depths = o.depths.empty() ? tier.depths : o.depths;
  g.samples_per_cell = o.samples > 0 ? o.samples : tier.samples;
  g.seed = o.seed;
  g.text_dir = o.text_dir;
  g.prose = o.prose;
  const std::vector<eval::Sample> samples = eval::generate(model->tokenizer(), g);

  eval::MultiTurnOptions mo;
  if (!o.configs.empty() || !o.prune_config_files.empty()) mo.configs = o.configs;
  for (const std::string& f : o.prune_config_files) mo.configs.push_back(to_string(load_prune_config(f)));
  mo.first = o.mt_questions[0];
  mo.second = o.mt_questions[1];
  mo.n_threads = o.n_threads;
  mo.dense_history = o.mt_dense_history;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("eval: cannot create '" + dir + "': " + ec.message());
  mo.results_path = dir + "/results.jsonl";

  std::fprintf(stderr, "eval: model %s, %zu multi-turn conversations, dense + %zu configurations\n", ro.model.c_str(),
               samples.size(), mo.configs.size());
  Timer run_timer;
  const std::vector<eval::MultiTurnResult> rows =
      eval::run_multiturn(*model, samples, mo, [&](const eval::MultiTurnResult& r) {
        std::fprintf(stderr, "%s %s %s: answer 2 \"%s\" (gold %s, %s dense), q2 work %.2f%%, q2 TTFT %.2fs [%s]\n",
                     r.id.c_str(), r.config_spec.c_str(), r.mode.c_str(), r.answer2.c_str(), r.gold2.c_str(),
                     r.answer2_matches_dense ? "=" : "!=", 100 * r.q2_work, r.q2_ttft_ms / 1000.0,
                     fmt_duration(run_timer.ms() / 1000.0).c_str());
      });
  std::string command = ro.command + " --multi-turn --mt-questions " + std::to_string(mo.first) + "," +
                        std::to_string(mo.second) + (mo.dense_history ? " --mt-dense-history" : "");
  const std::string report = dir + "/report.md";
  std::ofstream(report) << eval::multiturn_report(rows, ro.model, command);
  std::fprintf(stderr, "wrote %s and %s\n", mo.results_path.c_str(), report.c_str());
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, EvalOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "eval", "Long-context evaluation: synthetic RULER/LongBench-style tasks, dense vs pruning configurations");
  cmd->footer(kEvalFooter);
  cmd->add_option("-m,--model", o.model, "GGUF model file (default: installed Gemma 3 270M, or $SLIM_MODEL)");
  cmd->add_option("--tier", o.tier, "Preset: ci, smoke or full (see below)")->capture_default_str();
  cmd->add_option("--tasks", o.tasks, "Comma list of tasks (default: the tier's; ppl_prose = long-text perplexity)")
      ->delimiter(',');
  cmd->add_option("--lengths", o.lengths, "Comma list of target prompt lengths in tokens, e.g. 4096,8192")
      ->delimiter(',');
  cmd->add_option("--depths", o.depths, "Comma list of needle depths in [0,1] for needle tasks")->delimiter(',');
  cmd->add_option("--samples", o.samples, "Samples per task x length x depth cell (default: the tier's)");
  cmd->add_option("--ppl-windows", o.ppl_windows, "ppl_prose windows per length (default: the tier's)");
  cmd->add_option("--config", o.configs, "Pruning configuration to compare with dense (repeatable); dense is implicit");
  cmd->add_option("--prune-config", o.prune_config_files, "A configuration from a key=value file (repeatable)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--query-first", o.query_first, "Also run query-first variants of the prompts");
  cmd->add_flag("--self-check", o.self_check, "Also run a second dense context (dense-self): its KL must be 0");
  cmd->add_flag("--no-self-check", o.no_self_check, "Skip dense-self even in the ci tier");
  cmd->add_option("-t,--threads", o.n_threads, "Threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("-o,--output", o.out_dir, "Output folder (default: eval-<model>-<tier>)");
  cmd->add_option("--seed", o.seed, "Generator seed (same seed, same samples and results)")->capture_default_str();
  cmd->add_option("--dump-samples", o.dump_samples, "Only generate the samples and write them to this JSONL file");
  cmd->add_option("--prose", o.prose, "Prose haystack: austen (ships with the repository) or pg (Paul Graham essays, "
                  "installed by tools/setup.sh)")->capture_default_str();
  cmd->add_option("--text-dir", o.text_dir, "Where the haystack texts are (default: models/texts, tests/data)");
  cmd->add_flag("--report-only", o.report_only, "Rebuild report.md / results.json / plots from OUTDIR/results.jsonl");
  cmd->add_flag("--multi-turn", o.multi_turn,
                "Two questions over one document (niah_multiquery): question 2's prefill work, TTFT and answer "
                "against dense (see below)");
  cmd->add_option("--mt-questions", o.mt_questions, "With --multi-turn: the key indices asked first and "
                  "second (0-3)")->delimiter(',')->expected(2)->capture_default_str();
  cmd->add_flag("--mt-dense-history", o.mt_dense_history,
                "With --multi-turn: every configuration continues after dense's answer 1, not its own");
  cmd->callback([&o] { o.selected = true; });
}

int eval_command(const EvalOptions& o) {
  const std::string model_path = resolve_model_path(o.model);
  const std::string stem = std::filesystem::path(model_path).stem().string();
  const std::string dir = o.out_dir.empty() ? "eval-" + stem + "-" + (o.multi_turn ? std::string("multiturn") : o.tier) : o.out_dir;
  eval::ReportOptions ro;
  ro.out_dir = dir;
  ro.model = std::filesystem::path(model_path).filename().string();
  ro.command = command_line(o, model_path);

  if (o.multi_turn) return multi_turn_command(o, model_path, dir, ro);
  if (o.report_only) {
    const std::vector<eval::Result> results = eval::read_results(dir + "/results.jsonl", dir + "/timings.jsonl");
    if (results.empty()) throw Error("eval: no results in " + dir + "/results.jsonl");
    // The model and command are those of the run, not of this invocation's defaults: the model from run.json,
    // the command from the report being replaced (it may have been edited to name several commands).
    ro.command.clear();
    if (std::ifstream manifest(dir + "/run.json"); manifest) {
      try {
        nlohmann::json m;
        manifest >> m;
        if (m.contains("model") && m["model"].is_string()) ro.model = m["model"].get<std::string>();
      } catch (const std::exception&) {
        // a damaged manifest only loses the model line
      }
    }
    if (std::ifstream old(dir + "/report.md"); old) {
      std::string line;
      while (std::getline(old, line))
        if (line.rfind("Command: `", 0) == 0) {
          const size_t end = line.find('`', 10);  // a command holds no backquote; a note after it may
          if (end == std::string::npos) break;
          ro.command = line.substr(10, end - 10);
          ro.command_note = line.substr(end + 1);
          break;
        }
    }
    for (const std::string& p : eval::write_report(results, ro)) std::fprintf(stderr, "wrote %s\n", p.c_str());
    return 0;
  }

  const Tier tier = tier_defaults(o.tier);
  Timer load_timer;
  std::unique_ptr<Model> model = Model::load(model_path);
  const Tokenizer& tok = model->tokenizer();
  const int n_ctx_train = model->config().n_ctx_train;

  std::vector<int> lengths = o.lengths.empty() ? tier.lengths : o.lengths;
  if (o.lengths.empty()) {  // a tier's lengths stop at what the model was trained for
    std::vector<int> fit;
    for (int L : lengths)
      if (L <= n_ctx_train) fit.push_back(L);
    if (fit.size() < lengths.size())
      std::fprintf(stderr, "eval: lengths above the model's %d-token context skipped\n", n_ctx_train);
    lengths = fit.empty() ? std::vector<int>{std::min(1024, n_ctx_train / 2)} : fit;
  }
  std::vector<std::string> tasks = o.tasks.empty() ? tier.tasks : o.tasks;
  bool ppl = tasks.empty();
  std::vector<std::string> gen_tasks;
  for (const std::string& t : tasks) {
    if (t == kPplTask) ppl = true;
    else gen_tasks.push_back(t);
  }
  const bool only_ppl = !tasks.empty() && gen_tasks.empty();

  eval::GenOptions g;
  g.tasks = gen_tasks;
  g.lengths = lengths;
  g.depths = o.depths.empty() ? tier.depths : o.depths;
  g.samples_per_cell = o.samples > 0 ? o.samples : tier.samples;
  g.query_first_variants = o.query_first;
  g.seed = o.seed;
  g.text_dir = o.text_dir;
  g.prose = o.prose;
  Timer gen_timer;
  std::vector<eval::Sample> samples;
  if (!only_ppl) samples = eval::generate(tok, g);
  const int windows = o.ppl_windows >= 0 ? o.ppl_windows : tier.ppl_windows;
  if (ppl && windows > 0) {
    const std::string text = read_ppl_text(o.text_dir);
    // A window may not exceed the prompt budget other tasks get; leave room for nothing else (no generation).
    std::vector<int> ppl_lengths;
    for (int L : lengths) ppl_lengths.push_back(std::min(L, n_ctx_train - 1));
    std::vector<eval::Sample> p = eval::make_ppl_samples(tok, text, kPplTask, ppl_lengths, windows, o.seed);
    for (size_t i = 0; i < p.size(); ++i) p[i].target_len = lengths[i / static_cast<size_t>(windows)];  // its cell
    samples.insert(samples.end(), p.begin(), p.end());
  }
  std::fprintf(stderr, "eval: %zu samples generated in %.1f s\n", samples.size(), gen_timer.ms() / 1000.0);

  if (!o.dump_samples.empty()) {
    std::ofstream out(o.dump_samples, std::ios::binary);
    if (!out) throw Error("eval: cannot write '" + o.dump_samples + "'");
    eval::write_jsonl(out, samples);
    std::fprintf(stderr, "eval: wrote %s\n", o.dump_samples.c_str());
    return 0;
  }

  eval::RunnerOptions ropt;
  ropt.configs = o.configs.empty() && o.prune_config_files.empty() ? tier.configs : o.configs;
  for (const std::string& f : o.prune_config_files) ropt.configs.push_back(to_string(load_prune_config(f)));
  ropt.self_check = (o.self_check || tier.self_check) && !o.no_self_check;
  ropt.n_threads = o.n_threads;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("eval: cannot create '" + dir + "': " + ec.message());
  check_manifest(dir, model_path, o.seed, o.prose);
  ropt.results_path = dir + "/results.jsonl";
  ropt.timings_path = dir + "/timings.jsonl";
  const size_t before = eval::read_results(ropt.results_path).size();
  if (before) std::fprintf(stderr, "eval: resuming, %zu results already in %s\n", before, ropt.results_path.c_str());

  std::set<std::string> labels = {eval::kDenseLabel};  // also checks every spec before the long run starts
  for (const std::string& spec : ropt.configs) labels.insert(eval::config_label(spec, *model));
  std::fprintf(stderr, "eval: model %s, %zu samples x %zu configurations (dense first)\n", ro.model.c_str(),
               samples.size(), labels.size() + (ropt.self_check ? 1 : 0));
  EvalProgress bar(isatty(STDERR_FILENO));
  Timer run_timer;
  const std::vector<eval::Result> results =
      eval::run_matrix(*model, samples, ropt, [&](const eval::RunnerProgress& p) { bar.update(p); });
  bar.finish();
  std::fprintf(stderr, "eval: %zu results in %s\n", results.size(), fmt_duration(run_timer.ms() / 1000.0).c_str());
  // Reload so that the report carries the recorded timings of pairs finished in an earlier, interrupted run.
  std::vector<eval::Result> recorded = eval::read_results(ropt.results_path, ropt.timings_path);
  std::vector<eval::Result> current;
  for (const eval::Result& r : results)
    for (const eval::Result& x : recorded)
      if (x.id == r.id && x.config == r.config) {
        current.push_back(x);
        break;
      }
  for (const std::string& p : eval::write_report(current, ro)) std::fprintf(stderr, "wrote %s\n", p.c_str());
  return 0;
}

}  // namespace slim::cli
