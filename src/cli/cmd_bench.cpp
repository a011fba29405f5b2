// `slim bench`: llama-bench-style throughput figures. Tests (each repeated -r times after one warm-up):
//   pp N       prefill N seeded random token ids into an empty context
//   tg N       N single-token decode steps (greedy argmax fed back) after a 1-token prompt
//   ... @ dD   the same after D untimed tokens already in the cache
//   ttft L     empty context to the first token's logits for an L-token prompt, reported in ms
//   e2e L      ttft L plus the first -n value of greedy decode steps (end-to-end latency), in ms; its
//              prompt part is also reported as a ttft L row
// Each test runs under every --prune configuration (default: dense); with several, a column gives the
// speed-up over dense measured in the same run, and prompt KV bytes are shown beside.
// Only Context::eval calls are timed (no tokenization, no sampling), as llama-bench times only llama_decode.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "simd/cpu.h"
#include "slim/context.h"
#include "slim/error.h"

namespace slim::cli {

void add_bench_command(CLI::App& app, BenchOptions& o) {
  CLI::App* cmd = app.add_subcommand("bench", "Benchmark prefill, decode and time to first token, llama-bench style");
  cmd->footer(
      "Lists (-p/-n/-d/--ttft) are comma-separated; every depth in -d applies to every pp and tg test.\n"
      "Examples:\n"
      "  slim bench -m models/smollm2-135m-instruct-q4_1.gguf -p 512 -n 128 -r 3\n"
      "  slim bench -p 512,1024 -n 0 -d 0,4096 -o json\n"
      "  slim bench -p 0 -n 0 --ttft 4096,8192 -r 2\n"
      "bench/compare_llama.sh runs the same tests through llama-bench for a side-by-side table.");
  cmd->add_option("-m,--model", o.model, "GGUF model file (default: installed Gemma 3 270M, or $SLIM_MODEL)");
  cmd->add_option("-t,--threads", o.n_threads, "Threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("-p,--n-prompt", o.n_prompt, "Prompt sizes for pp tests (0: none)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--n-gen", o.n_gen, "Generated tokens for tg tests (0: none)")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-d,--n-depth", o.n_depth, "Tokens already in the cache before each pp/tg test")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--ttft", o.ttft, "Prompt lengths for time-to-first-token tests (ms)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--e2e", o.e2e, "Prompt lengths for end-to-end tests: ttft plus n-gen (first -n value) decode steps, ms")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--prune", o.prune,
                  "Pruning configuration to benchmark (repeatable; e.g. --prune dense --prune sliminfer). "
                  "Spec syntax: see `slim run --help`")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", o.reps, "Timed runs per test")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("-o,--output", o.output, "Output format: md or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"md", "json"}));
  cmd->add_option("--ubatch-size", o.n_ubatch, "Tokens per forward micro-batch in prompt processing")
      ->capture_default_str()
      ->check(CLI::Range(1, 8192));
  cmd->add_flag("--kv-f32", o.kv_f32, "Keep the KV cache in F32 instead of F16");
  cmd->add_option("-s,--seed", o.seed, "Seed for the random prompt token ids")->capture_default_str();
  cmd->callback([&o] { o.selected = true; });
}

namespace {

enum class Kind { PP, TG, TTFT, E2E };

struct Test {
  Kind kind;
  int n_prompt = 0, n_gen = 0, n_depth = 0;
  std::vector<int64_t> samples_ns;
  std::vector<int64_t> prompt_ns;  // e2e: the time-to-first-token part of each repetition
  std::string prune = "dense";
  size_t kv_bytes = 0, kv_dense = 0;  // after the last repetition

  std::string name() const {
    std::string s;
    if (kind == Kind::PP) s = "pp" + std::to_string(n_prompt);
    if (kind == Kind::TG) s = "tg" + std::to_string(n_gen);
    if (kind == Kind::TTFT) s = "ttft" + std::to_string(n_prompt);
    if (kind == Kind::E2E) s = "e2e" + std::to_string(n_prompt) + "+" + std::to_string(n_gen);
    if (n_depth > 0) s += " @ d" + std::to_string(n_depth);
    return s;
  }
  // Context cells the test occupies: the depth, then the prompt (tg: a 1-token prompt when there is no depth).
  int cells() const {
    if (kind == Kind::TG) return std::max(n_depth, 1) + n_gen;
    if (kind == Kind::E2E) return n_prompt + n_gen;
    return n_depth + n_prompt;
  }
  int timed_tokens() const { return kind == Kind::TG ? n_gen : kind == Kind::E2E ? n_prompt + n_gen : n_prompt; }
  bool in_ms() const { return kind == Kind::TTFT || kind == Kind::E2E; }
};

struct Stats {
  double mean = 0, sd = 0;
};

// Mean and sample standard deviation (n-1), 0 for a single value.
Stats stats(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / double(v.size() - 1));
  }
  return s;
}

std::vector<double> tokens_per_s(const Test& t) {
  std::vector<double> v;
  for (int64_t ns : t.samples_ns) v.push_back(1e9 * t.timed_tokens() / double(ns));
  return v;
}

std::vector<double> millis(const Test& t) {
  std::vector<double> v;
  for (int64_t ns : t.samples_ns) v.push_back(double(ns) / 1e6);
  return v;
}

int32_t argmax(const float* x, int n) {
  return int32_t(std::max_element(x, x + n) - x);
}

class Runner {
 public:
  Runner(Context& ctx, uint32_t seed) : ctx_(ctx), rng_(seed), n_vocab_(ctx.model().config().n_vocab) {}

  std::vector<int32_t> random_tokens(int n) {
    std::uniform_int_distribution<int32_t> dist(0, n_vocab_ - 1);
    std::vector<int32_t> t(size_t(std::max(n, 0)));
    for (int32_t& x : t) x = dist(rng_);
    return t;
  }

  // Runs one repetition from an empty context and returns the timed nanoseconds.
  int64_t run_once(Test& t) {
    ctx_.reset();
    if (t.n_depth > 0) {
      const std::vector<int32_t> fill = random_tokens(t.n_depth);
      ctx_.eval(fill.data(), t.n_depth);
    }
    if (t.kind == Kind::TG) {
      if (t.n_depth == 0) {
        const std::vector<int32_t> first = random_tokens(1);
        ctx_.eval(first.data(), 1);
      }
      int64_t ns = 0;
      int32_t tok = argmax(ctx_.last_logits(), n_vocab_);
      for (int i = 0; i < t.n_gen; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        ctx_.eval(&tok, 1);
        ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        tok = argmax(ctx_.last_logits(), n_vocab_);  // untimed, as sampling is in llama-bench
      }
      return ns;
    }
    const std::vector<int32_t> prompt = random_tokens(t.n_prompt);
    const auto t0 = std::chrono::steady_clock::now();
    ctx_.eval(prompt.data(), t.n_prompt);
    if (t.kind == Kind::E2E) {
      t.prompt_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
      int32_t tok = argmax(ctx_.last_logits(), n_vocab_);
      for (int i = 0; i < t.n_gen; ++i) {
        ctx_.eval(&tok, 1);
        tok = argmax(ctx_.last_logits(), n_vocab_);
      }
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  Context& ctx_;
  std::mt19937 rng_;
  int n_vocab_;
};

std::string json_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      r += '\\';
      r += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      r += buf;
    } else {
      r += c;
    }
  }
  return r;
}

}  // namespace

int bench_command(const BenchOptions& o) {
  const std::string path = resolve_model_path(o.model);
  std::unique_ptr<Model> model = Model::load(path);
  const ModelConfig& cfg = model->config();
  const std::string model_name = std::filesystem::path(path).stem().string();

  std::vector<Test> base;
  for (int d : o.n_depth) {
    for (int p : o.n_prompt)
      if (p > 0) base.push_back({Kind::PP, p, 0, d, {}, {}});
    for (int n : o.n_gen)
      if (n > 0) base.push_back({Kind::TG, 0, n, d, {}, {}});
  }
  for (int l : o.ttft) base.push_back({Kind::TTFT, l, 0, 0, {}, {}});
  const int e2e_gen = o.n_gen.empty() ? 128 : o.n_gen.front();
  for (int l : o.e2e) base.push_back({Kind::E2E, l, e2e_gen, 0, {}, {}});
  if (base.empty()) throw Error("bench: no tests (all of -p, -n, --ttft and --e2e are 0 or empty)");

  // One context per pruning configuration, sized for the largest test, reused (reset) by all of them.
  int n_ctx = 0;
  for (const Test& t : base) {
    if (cfg.n_ctx_train > 0 && t.cells() > cfg.n_ctx_train)
      throw Error("bench: test '" + t.name() + "' needs " + std::to_string(t.cells()) +
                  " context cells, more than the model's trained length " + std::to_string(cfg.n_ctx_train));
    n_ctx = std::max(n_ctx, t.cells());
  }
  std::vector<std::string> prunes = o.prune.empty() ? std::vector<std::string>{"dense"} : o.prune;
  std::vector<Test> tests;
  for (const std::string& spec : prunes) {
    ContextParams cp;
    cp.n_ctx = std::max(n_ctx, 8);
    cp.n_threads = o.n_threads;
    cp.n_ubatch = o.n_ubatch;
    cp.kv_f32 = o.kv_f32;
    cp.prune = parse_prune_spec(spec);
    Context ctx(*model, cp);
    const std::string label = to_string(ctx.prune_config());
    Runner runner(ctx, o.seed);  // same seed: every configuration sees the same prompts

    // Warm-up: touch the weights (page them in), the scratch buffers and the thread pool once, untimed.
    {
      ctx.reset();
      const int wp = std::min({64, o.n_ubatch, ctx.n_ctx() - 4});
      const std::vector<int32_t> w = runner.random_tokens(wp);
      ctx.eval(w.data(), wp);
      int32_t tok = argmax(ctx.last_logits(), cfg.n_vocab);
      for (int i = 0; i < 4; ++i) {
        ctx.eval(&tok, 1);
        tok = argmax(ctx.last_logits(), cfg.n_vocab);
      }
    }
    for (size_t i = 0; i < base.size(); ++i) {
      Test t = base[i];
      t.prune = prunes.size() > 1 || spec != "dense" ? spec : "dense";
      std::fprintf(stderr, "bench: %s [%s] (%zu/%zu)\n", t.name().c_str(), label.c_str(), i + 1, base.size());
      for (int r = 0; r < o.reps; ++r) t.samples_ns.push_back(runner.run_once(t));
      t.kv_bytes = ctx.kv_bytes_used();
      t.kv_dense = ctx.kv_bytes_dense();
      if (t.kind == Kind::E2E) {  // its prompt part is a TTFT measurement too: report it, no second run
        Test tt{Kind::TTFT, t.n_prompt, 0, 0, t.prompt_ns, {}};
        tt.prune = t.prune;
        tt.kv_bytes = t.kv_bytes;
        tt.kv_dense = t.kv_dense;
        tests.push_back(tt);
      }
      tests.push_back(t);
    }
  }
  // Speed-up over the dense run of the same test (same tokens, same process).
  auto dense_mean = [&](const Test& t) -> double {
    for (const Test& d : tests)
      if (d.prune == "dense" && d.name() == t.name()) return stats(d.in_ms() ? millis(d) : tokens_per_s(d)).mean;
    return 0;
  };

  const double size_mib = double(model->weight_bytes()) / (1024.0 * 1024.0);
  const double params_m = double(model->n_params()) / 1e6;
  if (o.output == "json") {
    std::printf("[\n");
    for (size_t i = 0; i < tests.size(); ++i) {
      const Test& t = tests[i];
      const Stats ts = stats(tokens_per_s(t));
      std::printf("  {\"model\": \"%s\", \"arch\": \"%s\", \"size_bytes\": %zu, \"n_params\": %zu, \"threads\": %d, ",
                  json_escape(model_name).c_str(), json_escape(cfg.arch_name).c_str(), model->weight_bytes(),
                  model->n_params(), o.n_threads);
      std::printf("\"test\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, \"n_depth\": %d, \"samples_ns\": [",
                  t.name().c_str(), t.n_prompt, t.n_gen, t.n_depth);
      for (size_t k = 0; k < t.samples_ns.size(); ++k)
        std::printf("%s%" PRId64, k ? ", " : "", t.samples_ns[k]);
      std::printf("], \"avg_ts\": %.6f, \"stddev_ts\": %.6f", ts.mean, ts.sd);
      if (t.in_ms()) {
        const Stats ms = stats(millis(t));
        std::printf(", \"avg_ms\": %.6f, \"stddev_ms\": %.6f", ms.mean, ms.sd);
      }
      std::printf(", \"prune\": \"%s\", \"kv_bytes\": %zu, \"kv_bytes_dense\": %zu", json_escape(t.prune).c_str(),
                  t.kv_bytes, t.kv_dense);
      const double dm = dense_mean(t);
      if (dm > 0) {
        const double m = stats(t.in_ms() ? millis(t) : tokens_per_s(t)).mean;
        std::printf(", \"speedup_vs_dense\": %.4f", t.in_ms() ? dm / m : m / dm);
      }
      std::printf("}%s\n", i + 1 < tests.size() ? "," : "");
    }
    std::printf("]\n");
    return 0;
  }

  const bool show_prune = prunes.size() > 1 || prunes.front() != "dense";
  std::printf("cpu: %s; kernels: %s\n\n", simd::cpu_model().c_str(), simd::describe(simd::active()).c_str());
  std::printf("| model | size | params | threads |%s test | t/s (ttft, e2e: ms) |%s\n",
              show_prune ? " prune |" : "", show_prune ? " vs dense | prompt KV MiB (dense) |" : "");
  std::printf("| --- | ---: | ---: | ---: |%s ---: | ---: |%s\n", show_prune ? " --- |" : "",
              show_prune ? " ---: | ---: |" : "");
  for (const Test& t : tests) {
    const bool ms = t.in_ms();
    const Stats s = ms ? stats(millis(t)) : stats(tokens_per_s(t));
    std::printf("| %s | %.2f MiB | %.2f M | %d |", model_name.c_str(), size_mib, params_m, o.n_threads);
    if (show_prune) std::printf(" %s |", t.prune.c_str());
    std::printf(" %s%s | %.2f ± %.2f |", t.name().c_str(), ms ? " (ms)" : "", s.mean, s.sd);
    if (show_prune) {
      const double dm = dense_mean(t);
      if (dm > 0) std::printf(" %.2fx |", ms ? dm / s.mean : s.mean / dm);
      else std::printf(" - |");
      std::printf(" %.1f (%.1f) |", t.kv_bytes / 1048576.0, t.kv_dense / 1048576.0);
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace slim::cli
