// CLI options shared by the commands that can prune (run, bench, eval): --prune, --prune-opt,
// --prune-config, --kv-budget, --kv-cold-dir.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "slim/context.h"

namespace slim::cli {

struct PruneOptions {
  std::string method = "dense";        // spec string: METHOD[:key=value,...]
  std::vector<std::string> opts;       // extra key=value options, applied after the spec
  std::string config_file;             // key=value lines
  std::string kv_budget;               // "64M", "1.5G", "25%" (of a dense KV cache for the context)
  std::string kv_cold_dir;
};

void add_prune_options(CLI::App* cmd, PruneOptions& o);
// Sets cp.prune, cp.kv_budget and cp.kv_cold_dir (cp.n_ctx and cp.kv_f32 must already be set: a percentage
// budget is relative to the dense KV size of that context). Throws slim::Error on bad values.
void apply_prune_options(const PruneOptions& o, const Model& model, ContextParams& cp);
// Help text describing the spec syntax and the SlimInfer options.
extern const char* const kPruneHelp;

}  // namespace slim::cli
