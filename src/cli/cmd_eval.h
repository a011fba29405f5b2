// `slim eval`: options of the long-context evaluation command (src/cli/cmd_eval.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace slim::cli {

struct EvalOptions {
  bool selected = false;
  std::string model, tier = "smoke", out_dir, dump_samples, text_dir, prose = "austen";
  std::vector<std::string> tasks, configs, prune_config_files;
  std::vector<int> lengths;
  std::vector<double> depths;
  int samples = 0;           // 0: the tier's default
  int ppl_windows = -1;      // -1: the tier's default
  int n_threads = 2;
  uint64_t seed = 42;
  bool query_first = false, self_check = false, report_only = false, no_self_check = false;
  // --multi-turn: two questions over one niah_multiquery document (src/eval/multiturn.h)
  bool multi_turn = false;
  std::vector<int> mt_questions = {0, 1};  // key indices asked first and second
  bool mt_dense_history = false;           // every configuration continues after dense's answer 1
};

void add_eval_command(CLI::App& app, EvalOptions& o);
int eval_command(const EvalOptions& o);

}  // namespace slim::cli
