#include "eval/multiturn.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval/fidelity.h"
#include "eval/runner.h"
#include "slim/context.h"
#include "slim/error.h"
#include "slim/model.h"
#include "slim/tokenizer.h"

namespace slim::eval {

namespace {

using json = nlohmann::json;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") + 1 - b);
}

// The first run of digits in an answer ("" if none): the value a needle answer gives, whatever follows it.
std::string first_number(const std::string& s) {
  const size_t b = s.find_first_of("0123456789");
  if (b == std::string::npos) return "";
  const size_t e = s.find_first_not_of("0123456789", b);
  return s.substr(b, e == std::string::npos ? e : e - b);
}

// Dense's (continue) answer 2 per sample id.
std::string dense_answer2(const std::vector<MultiTurnResult>& rows, const std::string& id) {
  for (const MultiTurnResult& r : rows)
    if (r.id == id && r.config == kDenseLabel && r.mode == std::string(kContinueMode)) return r.answer2;
  return "";
}

// One sample's conversation, as tokens.
struct Script {
  const Sample* sample = nullptr;
  KeyQuestion q1, q2;
  std::vector<int32_t> turn1;      // BOS, document, question 1
  std::vector<int32_t> question2;  // question 2 alone (no BOS)
  int budget = 32;                 // tokens per answer
};

struct Answer {
  std::string text, stop;
  std::vector<int32_t> fed;  // the answer's tokens now in the context (a stopping EOG / newline token is not)
};

// One prefill call: time to its first token and the work it did.
struct Prefill {
  double ttft_ms = 0;
  uint64_t pairs = 0, revived = 0;
};

// What one configuration did in one conversation.
struct Flow {
  Prefill turn1, q2;
  Answer a1, a2;
  std::vector<int32_t> history;  // every token before answer 2
};

class MultiTurnRunner {
 public:
  MultiTurnRunner(const Model& model, const MultiTurnOptions& opt)
      : model_(model), tok_(model.tokenizer()), opt_(opt), n_vocab_(model.config().n_vocab),
        n_layer_(model.config().n_layer) {}

  std::vector<MultiTurnResult> run(const std::vector<Sample>& samples, const MultiTurnProgressFn& progress);

 private:
  Script script(const Sample& s) const;
  void make_contexts(const std::vector<Script>& scripts);
  Prefill timed_prefill(Context& ctx, const std::vector<int32_t>& tokens) const;
  uint64_t call_pairs(const Context& ctx, const PruneStats& before, int n) const;
  Answer greedy_answer(Context& ctx, int budget) const;
  Flow continue_flow(Context& ctx, const Script& sc, const Answer* forced_a1) const;
  Flow reprefill_flow(Context& ctx, const Script& sc, const Flow& turn1) const;
  MultiTurnResult row(const Script& sc, const ConfigRun& c, const char* mode, const Flow& f, const Flow* dense) const;

  const Model& model_;
  const Tokenizer& tok_;
  MultiTurnOptions opt_;
  int n_vocab_, n_layer_;
  std::vector<ConfigRun> configs_;  // [0] is dense
};

Script MultiTurnRunner::script(const Sample& s) const {
  const MultiQueryConversation conv = multiquery_conversation(s);
  const int n = static_cast<int>(conv.questions.size());
  if (opt_.first < 0 || opt_.second < 0 || opt_.first >= n || opt_.second >= n || opt_.first == opt_.second)
    throw Error("eval: --multi-turn asks key questions " + std::to_string(opt_.first) + " then " +
                std::to_string(opt_.second) + ", but sample '" + s.id + "' has keys 0.." + std::to_string(n - 1) +
                " and the two must differ");
  Script sc;
  sc.sample = &s;
  sc.q1 = conv.questions[static_cast<size_t>(opt_.first)];
  sc.q2 = conv.questions[static_cast<size_t>(opt_.second)];
  sc.turn1 = tok_.encode(conv.document + sc.q1.text, true, false);
  sc.question2 = tok_.encode(sc.q2.text, false, false);
  sc.budget = std::max(s.max_new_tokens, 1);
  return sc;
}

void MultiTurnRunner::make_contexts(const std::vector<Script>& scripts) {
  const ModelConfig& mc = model_.config();
  int need = 0;
  for (const Script& sc : scripts) {
    // Both answers may use their whole budget, and each is fed back in full.
    const int n = static_cast<int>(sc.turn1.size() + sc.question2.size()) + 2 * sc.budget + 2;
    if (n > mc.n_ctx_train)
      throw Error("eval: the conversation of sample '" + sc.sample->id + "' may need " + std::to_string(n) +
                  " tokens but the model was trained for " + std::to_string(mc.n_ctx_train) +
                  "; choose --lengths " + std::to_string(sc.sample->target_len - (n - mc.n_ctx_train)) +
                  " or shorter");
    need = std::max(need, n);
  }
  ContextParams cp;
  cp.n_ctx = need;
  cp.n_threads = opt_.n_threads;
  cp.n_ubatch = opt_.n_ubatch;
  configs_ = make_config_runs(model_, cp, opt_.configs, false,
                              [&](const std::string& spec, const PruneConfig&) { return config_label(spec, model_); });
}

// (token, layer) pairs one eval() call of n tokens computed: LazyLLM counts them; a SlimInfer prefill
// records its rows per layer; any other call (dense, or a call too short to prune) computes n x n_layer.
uint64_t MultiTurnRunner::call_pairs(const Context& ctx, const PruneStats& before, int n) const {
  const PruneConfig& pc = ctx.prune_config();
  const PruneStats& after = ctx.prune_stats();
  // LazyLLM: a row that resumes at a split layer (its K/V there already stored) counts as one more pair.
  if (pc.method == PruneMethod::LazyLLM)
    return after.pairs_computed + after.resumed - before.pairs_computed - before.resumed;
  if (pc.enabled() && n >= std::max(2, pc.min_tokens) && after.active && after.prompt_tokens == n) {
    uint64_t pairs = 0;
    for (int r : after.rows_per_layer) pairs += static_cast<uint64_t>(r);
    return pairs;
  }
  return static_cast<uint64_t>(n) * static_cast<uint64_t>(n_layer_);
}

Prefill MultiTurnRunner::timed_prefill(Context& ctx, const std::vector<int32_t>& tokens) const {
  const PruneStats before = ctx.prune_stats();
  const int n = static_cast<int>(tokens.size());
  Prefill p;
  const auto t0 = std::chrono::steady_clock::now();
  ctx.eval(tokens.data(), n);
  (void)argmax(ctx.last_logits(), n_vocab_);  // the first token is chosen here: TTFT ends now
  p.ttft_ms = ms_since(t0);
  p.pairs = call_pairs(ctx, before, n);
  if (ctx.prune_config().method == PruneMethod::LazyLLM) p.revived = ctx.prune_stats().revived - before.revived;
  return p;
}

// Greedy answer, ending as the runner's answers do: end of generation, a newline after some text, or the
// budget. Every token of the answer is fed back, so that the next question follows the whole answer.
Answer MultiTurnRunner::greedy_answer(Context& ctx, int budget) const {
  Answer a;
  a.stop = "max";
  StreamDecoder dec(tok_, false);
  std::string text;
  for (int step = 0; step < budget; ++step) {
    const int32_t t = argmax(ctx.last_logits(), n_vocab_);
    if (tok_.is_eog(t)) {
      a.stop = "eog";
      break;
    }
    text += dec.push(t);
    const size_t first = text.find_first_not_of(" \t\r\n");
    const size_t nl = first == std::string::npos ? first : text.find('\n', first);
    if (nl != std::string::npos) {
      text.resize(nl);
      a.stop = "newline";
      break;
    }
    if (ctx.n_past() >= ctx.n_ctx()) {
      a.stop = "ctx";
      break;
    }
    ctx.eval(&t, 1);
    a.fed.push_back(t);
  }
  if (a.stop != "newline") text += dec.flush();
  a.text = text;
  return a;
}

// Turn 1, answer 1 (its own, or `forced_a1` fed as decode steps are), question 2 in the same context, answer 2.
Flow MultiTurnRunner::continue_flow(Context& ctx, const Script& sc, const Answer* forced_a1) const {
  Flow f;
  ctx.reset();
  f.turn1 = timed_prefill(ctx, sc.turn1);
  if (forced_a1) {
    for (const int32_t t : forced_a1->fed) ctx.eval(&t, 1);
    f.a1 = *forced_a1;
  } else {
    f.a1 = greedy_answer(ctx, sc.budget);
  }
  f.history = sc.turn1;
  f.history.insert(f.history.end(), f.a1.fed.begin(), f.a1.fed.end());
  f.history.insert(f.history.end(), sc.question2.begin(), sc.question2.end());
  f.q2 = timed_prefill(ctx, sc.question2);
  f.a2 = greedy_answer(ctx, sc.budget);
  return f;
}

// A fresh prefill of the conversation `turn1` had up to question 2 (its own answer 1), then answer 2.
Flow MultiTurnRunner::reprefill_flow(Context& ctx, const Script& sc, const Flow& turn1) const {
  Flow f;
  f.turn1 = turn1.turn1;
  f.a1 = turn1.a1;
  f.history = turn1.history;
  ctx.reset();
  f.q2 = timed_prefill(ctx, f.history);
  f.a2 = greedy_answer(ctx, sc.budget);
  return f;
}

MultiTurnResult MultiTurnRunner::row(const Script& sc, const ConfigRun& c, const char* mode, const Flow& f,
                                     const Flow* dense) const {
  const Sample& s = *sc.sample;
  MultiTurnResult r;
  r.id = s.id;
  r.depth = s.depth;
  r.target_len = s.target_len;
  r.config = c.label;
  r.config_spec = c.spec;
  r.mode = mode;
  r.history = opt_.dense_history ? "dense" : "own";
  r.key1 = sc.q1.key;
  r.key2 = sc.q2.key;
  r.gold1 = sc.q1.answer;
  r.gold2 = sc.q2.answer;
  r.n_turn1 = static_cast<int>(sc.turn1.size());
  r.n_answer1 = static_cast<int>(f.a1.fed.size());
  r.n_question2 = static_cast<int>(sc.question2.size());
  r.n_history = static_cast<int>(f.history.size());
  r.answer1 = f.a1.text;
  r.answer2 = f.a2.text;
  r.stop1 = f.a1.stop;
  r.stop2 = f.a2.stop;
  r.score1 = score_metric(s.metric, {sc.q1.answer}, f.a1.text);
  r.score2 = score_metric(s.metric, {sc.q2.answer}, f.a2.text);
  const Flow& ref = dense ? *dense : f;
  r.answer1_matches_dense = trimmed(f.a1.text) == trimmed(ref.a1.text);
  r.answer2_matches_dense = trimmed(f.a2.text) == trimmed(ref.a2.text);
  r.q2_pairs = f.q2.pairs;
  r.q2_revived = f.q2.revived;
  r.q2_work = double(f.q2.pairs) / (double(r.n_history) * n_layer_);
  r.turn1_work = double(f.turn1.pairs) / (double(r.n_turn1) * n_layer_);
  r.q2_ttft_ms = f.q2.ttft_ms;
  r.turn1_ttft_ms = f.turn1.ttft_ms;
  return r;
}

std::vector<MultiTurnResult> MultiTurnRunner::run(const std::vector<Sample>& samples,
                                                  const MultiTurnProgressFn& progress) {
  std::vector<Script> scripts;
  for (const Sample& s : samples) scripts.push_back(script(s));
  make_contexts(scripts);
  std::ofstream out;
  if (!opt_.results_path.empty()) {
    out.open(opt_.results_path, std::ios::trunc);
    if (!out) throw Error("eval: cannot write '" + opt_.results_path + "'");
  }
  std::vector<MultiTurnResult> rows;
  auto emit = [&](MultiTurnResult r) {
    if (out.is_open()) {
      out << to_json_line(r) << '\n';
      out.flush();
    }
    rows.push_back(std::move(r));
    if (progress) progress(rows.back());
  };
  for (const Script& sc : scripts) {
    ConfigRun& dense = configs_[0];
    const Flow ref = continue_flow(*dense.ctx, sc, nullptr);
    emit(row(sc, dense, kContinueMode, ref, nullptr));
    emit(row(sc, dense, kReprefillMode, reprefill_flow(*dense.ctx, sc, ref), &ref));
    for (size_t i = 1; i < configs_.size(); ++i) {
      ConfigRun& c = configs_[i];
      const Flow f = continue_flow(*c.ctx, sc, opt_.dense_history ? &ref.a1 : nullptr);
      emit(row(sc, c, kContinueMode, f, &ref));
      // LazyLLM's point is that it continues; a frozen pruned KV (SlimInfer) is also re-prefilled.
      if (c.prune.method != PruneMethod::LazyLLM) emit(row(sc, c, kReprefillMode, reprefill_flow(*c.ctx, sc, f), &ref));
    }
  }
  return rows;
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Markdown table cells may not hold '|' or newlines.
std::string cell(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return o;
}

}  // namespace

std::vector<MultiTurnResult> run_multiturn(const Model& model, const std::vector<Sample>& samples,
                                           const MultiTurnOptions& opt, const MultiTurnProgressFn& progress) {
  MultiTurnRunner runner(model, opt);
  return runner.run(samples, progress);
}

std::vector<MultiTurnSummary> summarize_multiturn(const std::vector<MultiTurnResult>& rows) {
  std::vector<MultiTurnSummary> out;
  for (const MultiTurnResult& r : rows) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const MultiTurnSummary& s) { return s.config == r.config && s.mode == r.mode; });
    if (it == out.end()) {
      out.push_back({r.config, r.config_spec, r.mode});
      it = out.end() - 1;
    }
    MultiTurnSummary& s = *it;
    ++s.samples;
    s.accuracy1 += r.score1;
    s.accuracy2 += r.score2;
    s.agree1 += r.answer1_matches_dense;
    s.agree2 += r.answer2_matches_dense;
    s.same_value2 += first_number(r.answer2) == first_number(dense_answer2(rows, r.id));
    s.work_mean += r.q2_work;
    s.work_max = std::max(s.work_max, r.q2_work);
    s.q2_ttft_ms += r.q2_ttft_ms;
    s.turn1_ttft_ms += r.turn1_ttft_ms;
  }
  for (MultiTurnSummary& s : out) {
    const double n = s.samples;
    s.accuracy1 /= n;
    s.accuracy2 /= n;
    s.work_mean /= n;
    s.q2_ttft_ms /= n;
    s.turn1_ttft_ms /= n;
  }
  return out;
}

std::string to_json_line(const MultiTurnResult& r) {
  const json j = {{"id", r.id},
                  {"depth", r.depth},
                  {"L", r.target_len},
                  {"config", r.config},
                  {"config_spec", r.config_spec},
                  {"mode", r.mode},
                  {"history", r.history},
                  {"key1", r.key1},
                  {"key2", r.key2},
                  {"gold1", r.gold1},
                  {"gold2", r.gold2},
                  {"n_turn1", r.n_turn1},
                  {"n_answer1", r.n_answer1},
                  {"n_question2", r.n_question2},
                  {"n_history", r.n_history},
                  {"answer1", r.answer1},
                  {"answer2", r.answer2},
                  {"stop1", r.stop1},
                  {"stop2", r.stop2},
                  {"score1", r.score1},
                  {"score2", r.score2},
                  {"answer1_matches_dense", r.answer1_matches_dense},
                  {"answer2_matches_dense", r.answer2_matches_dense},
                  {"q2_pairs", r.q2_pairs},
                  {"q2_revived", r.q2_revived},
                  {"q2_work", r.q2_work},
                  {"turn1_work", r.turn1_work},
                  {"q2_ttft_ms", r.q2_ttft_ms},
                  {"turn1_ttft_ms", r.turn1_ttft_ms}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);  // answers may hold broken UTF-8
}

MultiTurnResult multiturn_from_json_line(const std::string& line) {
  const json j = json::parse(line);
  MultiTurnResult r;
  r.id = j.at("id");
  r.depth = j.value("depth", -1.0);
  r.target_len = j.value("L", 0);
  r.config = j.at("config");
  r.config_spec = j.value("config_spec", r.config);
  r.mode = j.at("mode");
  r.history = j.value("history", "own");
  r.key1 = j.value("key1", "");
  r.key2 = j.value("key2", "");
  r.gold1 = j.value("gold1", "");
  r.gold2 = j.value("gold2", "");
  r.n_turn1 = j.value("n_turn1", 0);
  r.n_answer1 = j.value("n_answer1", 0);
  r.n_question2 = j.value("n_question2", 0);
  r.n_history = j.value("n_history", 0);
  r.answer1 = j.value("answer1", "");
  r.answer2 = j.value("answer2", "");
  r.stop1 = j.value("stop1", "");
  r.stop2 = j.value("stop2", "");
  r.score1 = j.value("score1", 0.0);
  r.score2 = j.value("score2", 0.0);
  r.answer1_matches_dense = j.value("answer1_matches_dense", false);
  r.answer2_matches_dense = j.value("answer2_matches_dense", false);
  r.q2_pairs = j.value("q2_pairs", uint64_t{0});
  r.q2_revived = j.value("q2_revived", uint64_t{0});
  r.q2_work = j.value("q2_work", 0.0);
  r.turn1_work = j.value("turn1_work", 0.0);
  r.q2_ttft_ms = j.value("q2_ttft_ms", 0.0);
  r.turn1_ttft_ms = j.value("turn1_ttft_ms", 0.0);
  return r;
}

std::vector<MultiTurnResult> read_multiturn_results(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("eval: cannot read '" + path + "'");
  std::vector<MultiTurnResult> rows;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      rows.push_back(multiturn_from_json_line(line));
    } catch (const std::exception& e) {
      throw Error("eval: " + path + ":" + std::to_string(n) + " is not a multi-turn result line (" + e.what() + ")");
    }
  }
  return rows;
}

std::string multiturn_report(const std::vector<MultiTurnResult>& rows, const std::string& model,
                             const std::string& command) {
  std::ostringstream o;
  o << "# Multi-turn: two questions over one document\n\n";
  o << "Model `" << model << "`";
  if (!rows.empty()) {
    double mean_tokens = 0;
    int n = 0;
    for (const MultiTurnResult& r : rows)
      if (r.config == kDenseLabel && r.mode == std::string(kContinueMode)) mean_tokens += r.n_history, ++n;
    o << ", " << n << " niah_multiquery conversations, " << fmt("%.0f", n ? mean_tokens / n : 0)
      << " tokens before answer 2 on average";
  }
  o << ".\n";
  if (!rows.empty() && rows[0].history == "dense")
    o << "\nAnswer 1 is dense's in every configuration (--mt-dense-history): question 2 follows the same tokens "
         "everywhere, so answer 2 differs from dense's only through question 2's own turn.\n";
  if (!command.empty()) o << "\n```\n" << command << "\n```\n";
  o << "\nQuestion 2's work: (token, layer) pairs computed by its prefill / (tokens before answer 2 x layers), "
       "i.e. against a fresh dense prefill of the whole conversation. Accuracy: string_match_all against the "
       "gold value. \"= dense\": the answer equals dense's (continue) answer after trimming; \"value = dense\": its first "
       "number does (an answer that goes on after the number still counts). TTFT: the question's "
       "prefill until its first token (wall clock on a shared machine: ratios are indicative).\n\n";
  o << "| configuration | mode | samples | answer 1 acc | answer 2 acc | answer 1 = dense | answer 2 = dense | "
       "answer 2 value = dense | q2 work mean | q2 work max | q2 TTFT ms | turn-1 TTFT ms |\n";
  o << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const std::vector<MultiTurnSummary> sum = summarize_multiturn(rows);
  for (const MultiTurnSummary& s : sum) {
    o << "| " << cell(s.config_spec) << " | " << s.mode << " | " << s.samples << " | " << fmt("%.1f", s.accuracy1)
      << " | " << fmt("%.1f", s.accuracy2) << " | " << s.agree1 << "/" << s.samples << " | " << s.agree2 << "/"
      << s.samples << " | " << s.same_value2 << "/" << s.samples << " | " << fmt("%.2f%%", 100 * s.work_mean) << " | " << fmt("%.2f%%", 100 * s.work_max) << " | "
      << fmt("%.0f", s.q2_ttft_ms) << " | " << fmt("%.0f", s.turn1_ttft_ms) << " |\n";
  }
  o << "\nConfigurations: ";
  for (size_t i = 0; i < sum.size(); ++i)
    if (i == 0 || sum[i].config != sum[i - 1].config)
      o << (i ? ", " : "") << "`" << sum[i].config_spec << "` = `" << sum[i].config << "`";
  o << ".\n";

  // Issue 6: LazyLLM's question 2 costs at most 25% of a fresh dense prefill, and its answer 2 agrees with
  // dense at least as often as SlimInfer's re-prefill.
  const MultiTurnSummary* slim_re = nullptr;
  for (const MultiTurnSummary& s : sum)
    if (s.config.rfind("sliminfer", 0) == 0 && s.mode == std::string(kReprefillMode) && !slim_re) slim_re = &s;
  bool any = false;
  for (const MultiTurnSummary& s : sum) {
    if (s.config.rfind("lazyllm", 0) != 0 || s.mode != std::string(kContinueMode)) continue;
    if (!any) o << "\n## Issue 6 conditions\n\n";
    any = true;
    const bool work_ok = s.work_max <= 0.25;
    o << "- `" << s.config_spec << "`: question 2's work at most 25% of a fresh dense prefill in every sample: **"
      << (work_ok ? "holds" : "fails") << "** (max " << fmt("%.2f%%", 100 * s.work_max) << ", mean "
      << fmt("%.2f%%", 100 * s.work_mean) << ").\n";
    if (slim_re) {
      o << "- `" << s.config_spec << "`: answer 2 equals dense's at least as often as `" << slim_re->config_spec
        << "` re-prefill: **" << (s.agree2 >= slim_re->agree2 ? "holds" : "fails") << "** (" << s.agree2 << "/"
        << s.samples << " vs " << slim_re->agree2 << "/" << slim_re->samples << ").\n";
    }
  }

  o << "\n## Per sample\n\n";
  o << "| sample | configuration | mode | answer 1 | answer 2 | gold 2 | score 2 | = dense | q2 work | revived | "
       "q2 TTFT ms |\n";
  o << "|---|---|---|---|---|---|---:|---|---:|---:|---:|\n";
  for (const MultiTurnResult& r : rows) {
    o << "| " << cell(r.id) << " | " << cell(r.config_spec) << " | " << r.mode << " | " << cell(trimmed(r.answer1))
      << " | " << cell(trimmed(r.answer2)) << " | " << r.gold2 << " | " << fmt("%.0f", r.score2) << " | "
      << (r.answer2_matches_dense                                            ? "yes"
          : first_number(r.answer2) == first_number(dense_answer2(rows, r.id)) ? "value"
                                                                               : "no")
      << " | " << fmt("%.2f%%", 100 * r.q2_work) << " | " << r.q2_revived
      << " | " << fmt("%.0f", r.q2_ttft_ms) << " |\n";
  }
  return o.str();
}

}  // namespace slim::eval
