// Sub-commands of the `slim` CLI. Each adds its options to the app and runs when selected.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/prune_options.h"
#include "slim/sampler.h"

namespace slim::cli {

struct CommonOptions {
  std::string model;
  int n_ctx = 4096;
  int n_threads = 2;
  int n_ubatch = 512;
  bool kv_f32 = false;
  bool llama_compat = false;
};

struct RunOptions {
  bool selected = false;
  CommonOptions common;
  SamplingParams sampling;
  std::string prompt, prompt_file, system;
  int n_predict = 256;
  bool chat = false, special = false, no_display_prompt = false;
  std::vector<std::string> stops;
  PruneOptions prune;
  std::string explain;  // --explain FILE.html
};

struct InspectOptions {
  bool selected = false;
  std::string model;
  bool no_tensors = false;
};

struct PerplexityOptions {
  bool selected = false;
  CommonOptions common;
  std::string file;
  int chunks = -1;
  std::string kld_base;      // --kl-divergence-base FILE
  bool kld = false;          // --kl-divergence: compare against the base instead of writing it
};

struct BenchOptions {  // `slim bench`: comma lists as in llama-bench
  bool selected = false, kv_f32 = false;
  std::string model, output = "md";
  int n_threads = 2, reps = 5, n_ubatch = 512;
  unsigned seed = 1234;
  std::vector<int> n_prompt{512}, n_gen{128}, n_depth{0}, ttft, e2e;
  std::vector<std::string> prune;  // pruning specs, one context each
};

void add_model_options(CLI::App* cmd, CommonOptions& o);
void add_sampling_options(CLI::App* cmd, SamplingParams& s);

void add_run_command(CLI::App& app, RunOptions& o);
int run_command(const RunOptions& o);
void add_inspect_command(CLI::App& app, InspectOptions& o);
int inspect_command(const InspectOptions& o);
void add_perplexity_command(CLI::App& app, PerplexityOptions& o);
int perplexity_command(const PerplexityOptions& o);
void add_bench_command(CLI::App& app, BenchOptions& o);
int bench_command(const BenchOptions& o);

}  // namespace slim::cli
