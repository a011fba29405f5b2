#include "eval/runner.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

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

// Decides where a greedy answer ends: end of generation, a newline after some text (the answers are one
// line; leading newlines are skipped), or the token budget.
class AnswerStream {
 public:
  AnswerStream(const Tokenizer& tok, int budget) : tok_(tok), dec_(tok, false), budget_(budget) {}

  // Takes the next greedy token; true when generation stops with it (it is then not fed back).
  bool push(int32_t t) {
    ++steps_;
    if (tok_.is_eog(t)) {
      stop_ = "eog";
      return true;
    }
    ++generated_;
    text_ += dec_.push(t);
    const size_t first = text_.find_first_not_of(" \t\r\n");
    if (first != std::string::npos) {
      const size_t nl = text_.find('\n', first);
      if (nl != std::string::npos) {
        text_.resize(nl);
        stop_ = "newline";
        return true;
      }
    }
    if (steps_ >= budget_) {
      stop_ = "max";
      return true;
    }
    return false;
  }
  void stop_for_context() { stop_ = "ctx"; }
  std::string text() {
    if (stop_ != "newline") text_ += dec_.flush();
    return text_;
  }
  const std::string& stop() const { return stop_; }
  int generated() const { return generated_; }

 private:
  const Tokenizer& tok_;
  StreamDecoder dec_;
  int budget_;
  int steps_ = 0, generated_ = 0;
  std::string text_, stop_ = "max";
};

// What the dense reference leaves for the configurations of one sample.
struct Reference {
  std::vector<int32_t> prompt;       // tokens prefilled (the whole prompt; for "ppl" the prefix)
  std::vector<int32_t> gold;         // gold answer tokens after the prompt
  std::vector<int32_t> greedy;       // dense greedy tokens, the stopping one included
  std::vector<float> step_logits;    // greedy.size() rows: dense logits before each greedy token
  std::vector<int32_t> continuation; // "ppl": the scored tokens after the prefix
  std::vector<float> first_logits;   // "ppl": dense logits after the prefix
};

bool is_ppl(const Sample& s) { return s.metric == "ppl"; }

std::string gold_text(const Sample& s) {
  std::string g;
  for (size_t i = 0; i < s.answers.size(); ++i) g += (i ? ", " : "") + s.answers[i];
  return g;
}

// Gold answer tokens as they would follow the prompt: tokenized together with the prompt when that leaves
// the prompt's tokens unchanged (so the boundary merges as in the model's own text), else on their own.
std::vector<int32_t> gold_tokens(const Tokenizer& tok, const Sample& s) {
  if (s.answers.empty() || s.answers[0].empty()) return {};
  const bool space = !s.prompt.empty() && !std::isspace(static_cast<unsigned char>(s.prompt.back()));
  const std::string cont = (space ? " " : "") + gold_text(s);
  const std::vector<int32_t> whole = tok.encode(s.prompt + cont, true, false);
  if (whole.size() > s.tokens.size() && std::equal(s.tokens.begin(), s.tokens.end(), whole.begin()))
    return {whole.begin() + static_cast<std::ptrdiff_t>(s.tokens.size()), whole.end()};
  return tok.encode(cont, false, false);
}

// Brings ctx back to prompt + extra[0..n_extra): truncates, or, where the cache cannot be truncated, rebuilds
// that state the way it was first built (the prompt in one call, then token by token).
void rewind(Context& ctx, const std::vector<int32_t>& prompt, const std::vector<int32_t>& extra, int n_extra) {
  if (ctx.truncate(static_cast<int>(prompt.size()) + n_extra)) return;
  ctx.eval(prompt.data(), static_cast<int>(prompt.size()));
  for (int i = 0; i < n_extra; ++i) ctx.eval(&extra[static_cast<size_t>(i)], 1);
}

class MatrixRunner {
 public:
  MatrixRunner(const Model& model, const RunnerOptions& opt) : model_(model), tok_(model.tokenizer()), opt_(opt) {
    n_vocab_ = model.config().n_vocab;
  }

  std::vector<Result> run(const std::vector<Sample>& input, const RunnerProgressFn& progress);

 private:
  void make_contexts(const std::vector<Sample>& samples);
  Result blank_result(const Sample& s, const ConfigRun& c) const;
  void prefill(Context& ctx, const std::vector<int32_t>& toks, Result& r, std::vector<float>& first_logits);
  void cache_figures(const Context& ctx, const Sample& s, Result& r) const;
  void score_gold(Context& ctx, const float* first, const std::vector<int32_t>& gold, Result& r);
  Result run_reference(const Sample& s, ConfigRun& c, Reference& ref);
  Result run_config(const Sample& s, ConfigRun& c, ConfigRun& dense, const Reference& ref,
                    const Result& dense_result);
  void ppl_reference(const Sample& s, ConfigRun& c, Reference& ref, Result& r);
  void ppl_config(ConfigRun& c, ConfigRun& dense, const Reference& ref, const std::vector<float>& first, Result& r);
  void append(const Result& r);

  const Model& model_;
  const Tokenizer& tok_;
  RunnerOptions opt_;
  int n_vocab_ = 0;
  std::vector<ConfigRun> configs_;  // [0] is the dense reference
  std::ofstream results_out_, timings_out_;
  RunnerProgressFn progress_;
  RunnerProgress progress_state_;  // pairs finished so far (prefill progress is reported on top)
  static constexpr int kPplChunk = 16;  // continuation tokens per all-logits call
};

void MatrixRunner::make_contexts(const std::vector<Sample>& samples) {
  const ModelConfig& mc = model_.config();
  int need = 0;
  for (const Sample& s : samples) {
    const int n = static_cast<int>(s.tokens.size());
    if (n >= mc.n_ctx_train)
      throw Error("eval: sample '" + s.id + "' has " + std::to_string(n) + " tokens but the model was trained for " +
                  std::to_string(mc.n_ctx_train) + "; choose shorter --lengths");
    need = std::max(need, n + std::max(s.max_new_tokens, 64) + 8);
  }
  ContextParams cp;
  cp.n_ctx = std::min(need, mc.n_ctx_train);
  cp.n_threads = opt_.n_threads;
  cp.n_ubatch = opt_.n_ubatch;
  // The runner teacher-forces answers and rewinds with truncate(): local layers must keep enough slack.
  cp.swa_slack = 320;

  configs_ = make_config_runs(model_, cp, opt_.configs, opt_.self_check,
                              [](const std::string&, const PruneConfig& pc) { return to_string(pc); });
}

Result MatrixRunner::blank_result(const Sample& s, const ConfigRun& c) const {
  Result r;
  r.id = s.id;
  r.task = s.task;
  r.family = s.family;
  r.metric = s.metric;
  r.target_len = s.target_len;
  r.n_tokens = static_cast<int>(s.tokens.size());
  r.depth = s.depth;
  r.query_first = s.query_first;
  r.config = c.label;
  r.config_spec = c.spec;
  return r;
}

void MatrixRunner::prefill(Context& ctx, const std::vector<int32_t>& toks, Result& r, std::vector<float>& first) {
  ctx.reset();
  const auto t0 = std::chrono::steady_clock::now();
  ProgressCallback on_progress = [&](int done, int) {
    if (!progress_) return;
    RunnerProgress p = progress_state_;
    p.tokens_done += done;
    p.last = nullptr;
    progress_(p);
  };
  ctx.eval(toks.data(), static_cast<int>(toks.size()), nullptr, &on_progress);
  r.timing.prefill_ms = ms_since(t0);
  first.assign(ctx.last_logits(), ctx.last_logits() + n_vocab_);
  (void)argmax(first.data(), n_vocab_);  // the first token is chosen here: TTFT ends now
  r.timing.ttft_ms = ms_since(t0);
}

void MatrixRunner::cache_figures(const Context& ctx, const Sample& s, Result& r) const {
  r.kv_bytes = static_cast<double>(ctx.kv_bytes_used());
  r.kv_bytes_dense = static_cast<double>(ctx.kv_bytes_dense());
  if (s.needle_spans.empty()) return;
  r.retention = needle_retention(ctx, s.needle_spans);
  const std::vector<uint8_t>& swa = model_.config().layer_swa;
  double sum = 0;
  int n = 0;
  for (size_t l = 0; l < r.retention.size(); ++l)
    if (l >= swa.size() || !swa[l]) sum += r.retention[l], ++n;
  r.retention_global = n ? sum / n : mean_of(r.retention);
}

void MatrixRunner::score_gold(Context& ctx, const float* first, const std::vector<int32_t>& gold, Result& r) {
  const int room = ctx.n_ctx() - ctx.n_past();
  const size_t n = std::min(gold.size(), static_cast<size_t>(std::max(room, 0) + 1));
  r.gold_tokens = static_cast<int>(n);
  if (n == 0) return;
  double nll = token_nll(first, n_vocab_, gold[0]);
  bool greedy = argmax(first, n_vocab_) == gold[0];
  if (n > 1) {
    LogitsCallback cb = [&](int i, const float* lg) {
      const int32_t next = gold[static_cast<size_t>(i) + 1];
      nll += token_nll(lg, n_vocab_, next);
      greedy = greedy && argmax(lg, n_vocab_) == next;
    };
    ctx.eval(gold.data(), static_cast<int>(n - 1), &cb);
  }
  r.gold_nll = nll;
  r.gold_greedy = greedy;
}

Result MatrixRunner::run_reference(const Sample& s, ConfigRun& c, Reference& ref) {
  Result r = blank_result(s, c);
  Context& ctx = *c.ctx;
  if (is_ppl(s)) {
    ppl_reference(s, c, ref, r);
    return r;
  }
  ref.prompt = s.tokens;
  ref.gold = gold_tokens(tok_, s);
  std::vector<float> first;
  prefill(ctx, ref.prompt, r, first);
  cache_figures(ctx, s, r);
  score_gold(ctx, first.data(), ref.gold, r);
  rewind(ctx, ref.prompt, {}, 0);

  AnswerStream ans(tok_, std::max(s.max_new_tokens, 1));
  const auto t0 = std::chrono::steady_clock::now();
  const float* lg = first.data();
  int fed = 0;
  for (;;) {
    ref.step_logits.insert(ref.step_logits.end(), lg, lg + n_vocab_);
    const int32_t t = argmax(lg, n_vocab_);
    ref.greedy.push_back(t);
    if (ans.push(t)) break;
    if (ctx.n_past() >= ctx.n_ctx()) {
      ans.stop_for_context();
      break;
    }
    ctx.eval(&t, 1);
    ++fed;
    lg = ctx.last_logits();
  }
  r.timing.decode_ms_per_token = fed ? ms_since(t0) / fed : 0;
  r.prediction = ans.text();
  r.stop = ans.stop();
  r.n_generated = ans.generated();
  r.score = score(s, r.prediction);
  return r;
}

Result MatrixRunner::run_config(const Sample& s, ConfigRun& c, ConfigRun& dense, const Reference& ref,
                                const Result& dense_result) {
  Result r = blank_result(s, c);
  r.compared = true;
  Context& ctx = *c.ctx;
  if (is_ppl(s)) {
    std::vector<float> first;
    prefill(ctx, ref.prompt, r, first);
    cache_figures(ctx, s, r);
    ppl_config(c, dense, ref, first, r);
    return r;
  }
  std::vector<float> first;
  prefill(ctx, ref.prompt, r, first);
  cache_figures(ctx, s, r);

  // Teacher-force the dense greedy answer: compare the distributions at every step.
  StepComparison cmp;
  const int n = static_cast<int>(ref.greedy.size());
  int diverge = -1;
  int32_t own = -1;  // the configuration's own choice at the first divergence
  const float* lg = first.data();
  const auto t0 = std::chrono::steady_clock::now();
  int fed = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t dense_tok = ref.greedy[static_cast<size_t>(i)];
    cmp.add(&ref.step_logits[static_cast<size_t>(i) * n_vocab_], lg, n_vocab_, dense_tok);
    const int32_t mine = argmax(lg, n_vocab_);
    if (diverge < 0 && mine != dense_tok) {
      diverge = i;
      own = mine;
      const float* dl = &ref.step_logits[static_cast<size_t>(i) * n_vocab_];
      r.flip_margin = token_nll(dl, n_vocab_, mine) - token_nll(dl, n_vocab_, dense_tok);
    }
    if (i + 1 < n) {
      ctx.eval(&dense_tok, 1);
      ++fed;
      lg = ctx.last_logits();
    }
  }
  r.timing.decode_ms_per_token = fed ? ms_since(t0) / fed : 0;
  r.steps = cmp.steps();
  r.kl = summarize(cmp.kl());
  r.top1 = cmp.top1_agreement();
  r.dp_rms = cmp.scored() ? std::sqrt(cmp.dp_sq() / cmp.scored()) : 0;
  r.greedy_prefix = diverge < 0 ? n : diverge;
  r.greedy_frac = n ? double(r.greedy_prefix) / n : 1.0;
  r.greedy_exact = diverge < 0;

  if (diverge < 0) {  // the configuration's own greedy answer is the dense one
    r.prediction = dense_result.prediction;
    r.stop = dense_result.stop;
    r.n_generated = dense_result.n_generated;
  } else {  // same tokens up to the divergence, then its own choices
    rewind(ctx, ref.prompt, ref.greedy, diverge);
    AnswerStream ans(tok_, std::max(s.max_new_tokens, 1));
    for (int i = 0; i < diverge; ++i) ans.push(ref.greedy[static_cast<size_t>(i)]);
    int32_t t = own;
    while (!ans.push(t)) {
      if (ctx.n_past() >= ctx.n_ctx()) {
        ans.stop_for_context();
        break;
      }
      ctx.eval(&t, 1);
      t = argmax(ctx.last_logits(), n_vocab_);
    }
    r.prediction = ans.text();
    r.stop = ans.stop();
    r.n_generated = ans.generated();
  }
  r.score = score(s, r.prediction);
  // Gold scoring comes last: its all-logits call revives every pruned token under LazyLLM and ends SlimInfer's
  // decode re-scoring, and rewinding keeps what it computed, so done first it made the comparison and the
  // answer above run on an (almost) dense cache.
  rewind(ctx, ref.prompt, {}, 0);
  score_gold(ctx, first.data(), ref.gold, r);
  return r;
}

// "ppl" samples: prefill the prefix, then score the last tokens of the window with all-logits calls (these
// run densely but attend to whatever the prefill left in the cache).
void MatrixRunner::ppl_reference(const Sample& s, ConfigRun& c, Reference& ref, Result& r) {
  const int n = static_cast<int>(s.tokens.size());
  const int m = std::max(1, std::min(opt_.ppl_score_tokens, n / 2));
  ref.prompt.assign(s.tokens.begin(), s.tokens.end() - m);
  ref.continuation.assign(s.tokens.end() - m, s.tokens.end());
  Context& ctx = *c.ctx;
  std::vector<float> first;
  prefill(ctx, ref.prompt, r, first);
  cache_figures(ctx, s, r);
  ref.first_logits = first;
  double nll = token_nll(first.data(), n_vocab_, ref.continuation[0]);
  const auto t0 = std::chrono::steady_clock::now();
  for (int at = 0; at + 1 < m; at += kPplChunk) {
    const int k = std::min(kPplChunk, m - 1 - at);
    LogitsCallback cb = [&](int i, const float* lg) {
      nll += token_nll(lg, n_vocab_, ref.continuation[static_cast<size_t>(at + i + 1)]);
    };
    ctx.eval(&ref.continuation[static_cast<size_t>(at)], k, &cb);
  }
  r.timing.decode_ms_per_token = m > 1 ? ms_since(t0) / (m - 1) : 0;
  r.nll_mean = nll / m;
  r.ppl_tokens = m;
}

void MatrixRunner::ppl_config(ConfigRun& c, ConfigRun& dense, const Reference& ref, const std::vector<float>& first,
                              Result& r) {
  Context& ctx = *c.ctx;
  Context& dctx = *dense.ctx;
  const int m = static_cast<int>(ref.continuation.size());
  StepComparison cmp;
  cmp.add(ref.first_logits.data(), first.data(), n_vocab_, ref.continuation[0]);
  // The dense context is past the continuation: bring it back to the prefix and replay it in lockstep, one
  // chunk at a time, so only a chunk of dense logits is held.
  rewind(dctx, ref.prompt, {}, 0);
  std::vector<float> dbuf(static_cast<size_t>(kPplChunk) * n_vocab_);
  double config_ms = 0;
  for (int at = 0; at + 1 < m; at += kPplChunk) {
    const int k = std::min(kPplChunk, m - 1 - at);
    const int32_t* chunk = &ref.continuation[static_cast<size_t>(at)];
    LogitsCallback keep = [&](int i, const float* lg) {
      std::copy(lg, lg + n_vocab_, dbuf.begin() + static_cast<std::ptrdiff_t>(i) * n_vocab_);
    };
    dctx.eval(chunk, k, &keep);
    LogitsCallback compare = [&](int i, const float* lg) {
      cmp.add(&dbuf[static_cast<size_t>(i) * n_vocab_], lg, n_vocab_,
              ref.continuation[static_cast<size_t>(at + i + 1)]);
    };
    const auto t1 = std::chrono::steady_clock::now();
    ctx.eval(chunk, k, &compare);
    config_ms += ms_since(t1);
  }
  r.timing.decode_ms_per_token = m > 1 ? config_ms / (m - 1) : 0;
  r.steps = cmp.steps();
  r.kl = summarize(cmp.kl());
  r.top1 = cmp.top1_agreement();
  r.dp_rms = cmp.scored() ? std::sqrt(cmp.dp_sq() / cmp.scored()) : 0;
  r.nll_mean = cmp.nll_pruned() / m;
  r.ppl_tokens = m;
}

void MatrixRunner::append(const Result& r) {
  if (results_out_.is_open()) {
    results_out_ << to_json_line(r) << '\n';
    results_out_.flush();
  }
  if (timings_out_.is_open()) {
    json t = {{"id", r.id},
              {"config", r.config},
              {"ttft_ms", r.timing.ttft_ms},
              {"prefill_ms", r.timing.prefill_ms},
              {"decode_ms_per_token", r.timing.decode_ms_per_token}};
    timings_out_ << t.dump() << '\n';
    timings_out_.flush();
  }
}

std::vector<Result> MatrixRunner::run(const std::vector<Sample>& input, const RunnerProgressFn& progress) {
  std::vector<Sample> samples = input;
  for (Sample& s : samples)
    if (s.tokens.empty()) s.tokens = tok_.encode(s.prompt, true, false);
  make_contexts(samples);

  std::map<std::string, Result> done;  // "id\tconfig" -> result
  if (!opt_.results_path.empty()) {
    for (Result& r : read_results(opt_.results_path, opt_.timings_path)) done[r.id + '\t' + r.config] = r;
    results_out_.open(opt_.results_path, std::ios::app);
    if (!results_out_) throw Error("eval: cannot write '" + opt_.results_path + "'");
  }
  if (!opt_.timings_path.empty()) {
    timings_out_.open(opt_.timings_path, std::ios::app);
    if (!timings_out_) throw Error("eval: cannot write '" + opt_.timings_path + "'");
  }
  auto is_done = [&](const Sample& s, const ConfigRun& c) { return done.count(s.id + '\t' + c.label) > 0; };

  progress_ = progress;
  RunnerProgress& p = progress_state_;
  for (const Sample& s : samples) {
    int pending = 0;
    for (const ConfigRun& c : configs_) pending += !is_done(s, c);
    if (pending == 0) continue;
    p.pairs_total += pending;
    p.tokens_total += static_cast<int64_t>(s.tokens.size()) * (pending + (is_done(s, configs_[0]) ? 1 : 0));
  }
  if (progress) progress(p);

  std::vector<Result> out;
  for (const Sample& s : samples) {
    bool all_done = true;
    for (const ConfigRun& c : configs_) all_done = all_done && is_done(s, c);
    if (all_done) {
      for (const ConfigRun& c : configs_) out.push_back(done[s.id + '\t' + c.label]);
      continue;
    }
    Reference ref;
    Result dense = run_reference(s, configs_[0], ref);
    const bool dense_new = !is_done(s, configs_[0]);
    if (dense_new) append(dense);
    else dense = done[s.id + '\t' + configs_[0].label];  // keep the recorded line (and its timing)
    p.tokens_done += static_cast<int64_t>(s.tokens.size());
    p.pairs_done += dense_new;
    p.last = dense_new ? &dense : nullptr;
    if (progress) progress(p);
    out.push_back(dense);
    for (size_t i = 1; i < configs_.size(); ++i) {
      ConfigRun& c = configs_[i];
      if (is_done(s, c)) {
        out.push_back(done[s.id + '\t' + c.label]);
        continue;
      }
      Result r = run_config(s, c, configs_[0], ref, dense);
      append(r);
      out.push_back(r);
      p.tokens_done += static_cast<int64_t>(s.tokens.size());
      ++p.pairs_done;
      p.last = &out.back();
      if (progress) progress(p);
    }
  }
  return out;
}

}  // namespace

std::string config_label(const std::string& spec, const Model& model) {
  PruneConfig pc = parse_prune_spec(spec);
  if (!pc.enabled()) return kDenseLabel;
  resolve_prune_defaults(pc, model.config());
  return to_string(pc);
}

std::vector<Result> run_matrix(const Model& model, const std::vector<Sample>& samples, const RunnerOptions& opt,
                               const RunnerProgressFn& progress) {
  MatrixRunner runner(model, opt);
  return runner.run(samples, progress);
}

std::vector<Sample> make_ppl_samples(const Tokenizer& tok, const std::string& text, const std::string& task,
                                     const std::vector<int>& lengths, int windows, uint64_t seed) {
  const std::vector<int32_t> ids = tok.encode(text, false, false);
  const bool bos = tok.add_bos() && tok.bos() >= 0;
  std::vector<Sample> out;
  for (int L : lengths) {
    const int body = L - (bos ? 1 : 0);
    if (body <= 0 || static_cast<int>(ids.size()) < body)
      throw Error("eval: the text for '" + task + "' has " + std::to_string(ids.size()) +
                  " tokens, fewer than a window of " + std::to_string(L));
    const size_t stride = windows > 1 ? (ids.size() - static_cast<size_t>(body)) / static_cast<size_t>(windows - 1) : 0;
    for (int k = 0; k < windows; ++k) {
      Sample s;
      s.task = task;
      s.family = "fidelity";
      s.metric = "ppl";
      s.target_len = L;
      s.seed = seed;
      s.max_new_tokens = 0;
      const size_t start = static_cast<size_t>(k) * stride;
      s.id = task + "/" + std::to_string(L) + "/-/q-last/" + std::to_string(k);
      if (bos) s.tokens.push_back(tok.bos());
      s.tokens.insert(s.tokens.end(), ids.begin() + static_cast<std::ptrdiff_t>(start),
                      ids.begin() + static_cast<std::ptrdiff_t>(start + static_cast<size_t>(body)));
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string to_json_line(const Result& r) {
  json j = {{"id", r.id},
            {"task", r.task},
            {"family", r.family},
            {"metric", r.metric},
            {"L", r.target_len},
            {"n_tokens", r.n_tokens},
            {"depth", r.depth},
            {"query_first", r.query_first},
            {"config", r.config},
            {"config_spec", r.config_spec},
            {"prediction", r.prediction},
            {"score", r.score},
            {"n_generated", r.n_generated},
            {"stop", r.stop},
            {"gold_tokens", r.gold_tokens},
            {"gold_nll", r.gold_nll},
            {"gold_greedy", r.gold_greedy},
            {"kv_bytes", r.kv_bytes},
            {"kv_bytes_dense", r.kv_bytes_dense},
            {"retention", r.retention},
            {"retention_global", r.retention_global}};
  if (r.metric == "ppl") {
    j["nll_mean"] = r.nll_mean;
    j["ppl_tokens"] = r.ppl_tokens;
  }
  if (r.compared) {
    j["vs_dense"] = {{"kl_mean", r.kl.mean},         {"kl_median", r.kl.median},
                     {"kl_p90", r.kl.p90},           {"kl_p99", r.kl.p99},
                     {"kl_max", r.kl.max},           {"top1", r.top1},
                     {"steps", r.steps},             {"greedy_prefix", r.greedy_prefix},
                     {"greedy_frac", r.greedy_frac}, {"greedy_exact", r.greedy_exact},
                     {"dp_rms", r.dp_rms},           {"flip_margin", r.flip_margin}};
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);  // answers may hold broken UTF-8
}

Result result_from_json_line(const std::string& line) {
  const json j = json::parse(line);
  Result r;
  r.id = j.at("id");
  r.task = j.at("task");
  r.family = j.value("family", "");
  r.metric = j.value("metric", "");
  r.target_len = j.value("L", 0);
  r.n_tokens = j.value("n_tokens", 0);
  r.depth = j.value("depth", -1.0);
  r.query_first = j.value("query_first", false);
  r.config = j.at("config");
  r.config_spec = j.value("config_spec", r.config);
  r.prediction = j.value("prediction", "");
  r.score = j.value("score", 0.0);
  r.n_generated = j.value("n_generated", 0);
  r.stop = j.value("stop", "");
  r.gold_tokens = j.value("gold_tokens", 0);
  r.gold_nll = j.value("gold_nll", 0.0);
  r.gold_greedy = j.value("gold_greedy", false);
  r.kv_bytes = j.value("kv_bytes", 0.0);
  r.kv_bytes_dense = j.value("kv_bytes_dense", 0.0);
  r.retention = j.value("retention", std::vector<double>{});
  r.retention_global = j.value("retention_global", 1.0);
  r.nll_mean = j.value("nll_mean", 0.0);
  r.ppl_tokens = j.value("ppl_tokens", 0);
  if (j.contains("vs_dense")) {
    const json& v = j["vs_dense"];
    r.compared = true;
    r.kl.n = v.value("steps", 0);
    r.kl.mean = v.value("kl_mean", 0.0);
    r.kl.median = v.value("kl_median", 0.0);
    r.kl.p90 = v.value("kl_p90", 0.0);
    r.kl.p99 = v.value("kl_p99", 0.0);
    r.kl.max = v.value("kl_max", 0.0);
    r.top1 = v.value("top1", 1.0);
    r.steps = v.value("steps", 0);
    r.greedy_prefix = v.value("greedy_prefix", 0);
    r.greedy_frac = v.value("greedy_frac", 1.0);
    r.greedy_exact = v.value("greedy_exact", true);
    r.dp_rms = v.value("dp_rms", 0.0);
    // Results written before the field existed: unknown (NaN) when the answers diverged.
    r.flip_margin = v.value("flip_margin", r.greedy_exact ? -1.0 : std::nan(""));
  }
  return r;
}

namespace {
// Lines of a JSONL file written by append(); a torn last line (the run was killed mid-write) is cut off the
// file so that appending continues on a clean line.
std::vector<std::string> read_lines_repairing(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lines;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  in.close();
  const size_t end = all.rfind('\n');
  const size_t good = end == std::string::npos ? 0 : end + 1;
  if (good < all.size()) std::filesystem::resize_file(path, good);
  size_t at = 0;
  while (at < good) {
    const size_t nl = all.find('\n', at);
    if (nl > at) lines.push_back(all.substr(at, nl - at));
    at = nl + 1;
  }
  return lines;
}
}  // namespace

std::vector<Result> read_results(const std::string& results_path, const std::string& timings_path) {
  std::vector<Result> out;
  const std::vector<std::string> lines = read_lines_repairing(results_path);
  for (size_t i = 0; i < lines.size(); ++i) {
    try {
      out.push_back(result_from_json_line(lines[i]));
    } catch (const std::exception& e) {
      throw Error("eval: " + results_path + ":" + std::to_string(i + 1) + " is not a result line (" + e.what() +
                  "); delete that line or choose another -o");
    }
  }
  if (timings_path.empty()) return out;
  std::map<std::string, Result::Timing> timing;  // the last line for a pair wins
  for (const std::string& line : read_lines_repairing(timings_path)) {
    try {
      const json j = json::parse(line);
      Result::Timing t;
      t.ttft_ms = j.value("ttft_ms", 0.0);
      t.prefill_ms = j.value("prefill_ms", 0.0);
      t.decode_ms_per_token = j.value("decode_ms_per_token", 0.0);
      timing[j.at("id").get<std::string>() + '\t' + j.at("config").get<std::string>()] = t;
    } catch (const std::exception&) {
      // a damaged timing line only loses a timing
    }
  }
  for (Result& r : out)
    if (auto it = timing.find(r.id + '\t' + r.config); it != timing.end()) r.timing = it->second;
  return out;
}

std::vector<ConfigRun> make_config_runs(
    const Model& m, const ContextParams& cp, const std::vector<std::string>& specs, bool self_check,
    const std::function<std::string(const std::string& spec, const PruneConfig& resolved)>& label_of) {
  std::vector<ConfigRun> runs;
  std::set<std::string> labels;
  auto add = [&](const std::string& label, const std::string& spec, const PruneConfig& pc) {
    if (!labels.insert(label).second) return;
    ConfigRun c;
    c.label = label;
    c.spec = spec;
    c.prune = pc;
    ContextParams p = cp;
    p.prune = pc;
    c.ctx = std::make_unique<Context>(m, p);
    runs.push_back(std::move(c));
  };
  add(kDenseLabel, "dense", PruneConfig{});
  if (self_check) add(kDenseSelfLabel, kDenseSelfLabel, PruneConfig{});
  for (const std::string& spec : specs) {
    PruneConfig pc = parse_prune_spec(spec);
    if (pc.enabled()) resolve_prune_defaults(pc, m.config());
    add(label_of(spec, pc), spec, pc);
  }
  return runs;
}

}  // namespace slim::eval
