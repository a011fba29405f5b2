// slim — long-context LLM inference with dynamic token pruning. Entry point: parses the sub-command.
#include <cstdio>
#include <exception>

#include "cli/cmd_eval.h"
#include "cli/commands.h"
#include "simd/cpu.h"
#include "slim/error.h"

namespace slim::cli {

void add_model_options(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("-m,--model", o.model, "GGUF model file (default: installed Gemma 3 270M, or $SLIM_MODEL)");
  cmd->add_option("-c,--ctx-size", o.n_ctx, "Context size in tokens (0: the model's trained length)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", o.n_threads, "Threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--ubatch-size", o.n_ubatch, "Tokens per forward micro-batch in prompt processing")
      ->capture_default_str()
      ->check(CLI::Range(1, 8192));
  cmd->add_flag("--kv-f32", o.kv_f32, "Keep the KV cache in F32 instead of F16");
  cmd->add_flag("--llama-compat", o.llama_compat,
                "Reproduce llama.cpp's batch-size-dependent attention numerics (fp16 accumulation for batches "
                "under 64 rows, e.g. every decode step) to get its exact greedy output; default: slim's "
                "batch-invariant f32 attention");
}

void add_sampling_options(CLI::App* cmd, SamplingParams& s) {
  cmd->add_option("--temp", s.temperature, "Temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens (0: off)")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Nucleus sampling threshold (1: off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Drop tokens below min-p × p(best) (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Penalty for repeated tokens (1: off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back over")->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "OpenAI-style presence penalty")->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "OpenAI-style frequency penalty")
      ->capture_default_str();
  cmd->add_option("-s,--seed", s.seed, "Random seed (default: random, printed)");
}

}  // namespace slim::cli

int main(int argc, char** argv) {
  using namespace slim::cli;
  CLI::App app{
      "slim — long-context LLM inference on the CPU, with dynamic token pruning.\n"
      "Loads GGUF models (Gemma 3, Llama, Qwen2, Qwen3). Start with:  slim run -p \"Hello\""};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    std::string v = "slim " SLIM_VERSION "\ncpu: " + slim::simd::cpu_model() + "\nkernels: ";
    for (auto t : slim::simd::available()) v += std::string(slim::simd::name(t)) + " ";
    try {
      v += "(in use: " + slim::simd::describe(slim::simd::active()) + "; set SLIM_CPU to force one)";
    } catch (const slim::Error& e) {
      v += std::string("(") + e.what() + ")";
    }
    return v;
  });
  RunOptions run;
  InspectOptions inspect;
  PerplexityOptions ppl;
  BenchOptions bench;
  EvalOptions eval;
  add_run_command(app, run);
  add_inspect_command(app, inspect);
  add_perplexity_command(app, ppl);
  add_bench_command(app, bench);
  add_eval_command(app, eval);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    // Pick the kernels' SIMD target now, so that a bad $SLIM_CPU is reported here and not in a worker thread.
    slim::simd::active();
    if (run.selected) return run_command(run);
    if (inspect.selected) return inspect_command(inspect);
    if (ppl.selected) return perplexity_command(ppl);
    if (bench.selected) return bench_command(bench);
    if (eval.selected) return eval_command(eval);
  } catch (const slim::Error& e) {
    std::fprintf(stderr, "slim: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "slim: error: out of memory (try a smaller context with -c)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "slim: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
