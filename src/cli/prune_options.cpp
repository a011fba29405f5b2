#include "cli/prune_options.h"

#include <algorithm>
#include <cmath>

#include "slim/error.h"

namespace slim::cli {

const char* const kPruneHelp =
    "Token pruning (--prune METHOD[:key=value,...]; lists use '/'):\n"
    "  dense       no pruning (default)\n"
    "  sliminfer   SlimInfer: after chosen layers, keep only the prompt's most attended units of tokens;\n"
    "              deeper layers compute and store only those. Options: layers=5/11 keep=0.2/0.1\n"
    "              (cumulative fraction of prompt units kept after each layer), unit=16 (tokens per unit),\n"
    "              block=128 (KV rows per block), window=32 (last prompt tokens that score and are always kept),\n"
    "              pool=32 (a token's score lends to +-pool neighbours), min_tokens=512 (shorter prompts run\n"
    "              dense), evict=1 (also drop pruned tokens' K/V at the pruning layer: less KV, less accuracy),\n"
    "              rescore=N (re-score every N-th decode step and narrow deeper layers' keys; 0: off),\n"
    "              kv_keep=a/b (after prefill, each pruning layer keeps K/V of only its top a, b... of the units),\n"
    "              carry=B (a unit's score adds B x its score at the previous pruning layer; Gemma default 1),\n"
    "              recent=N (also always keep the last N prompt tokens), min_keep=A/B (keep at least A, B...\n"
    "              tokens whatever the ratios: short prompts are pruned less).\n"
    "              Defaults per model (Gemma 3: layers=5/11 keep=0.2/0.1 min_keep=1536/768 kv_keep=0.7/0.2\n"
    "              carry=1; others: one layer at 14/30 of the depth, keep=0.1): docs/pruning.md.\n"
    "              kv_keep=off: no eviction.\n"
    "  lazyllm     LazyLLM: per layer, drop the tokens the last tokens attend to least (rates=r0/r1/... one per\n"
    "              layer, fraction of the tokens present), in prefill and decode; pruned tokens wait in an aux\n"
    "              cache and are revived when needed later (window=32, pool=32 (Gemma 3: 48), revive=N per\n"
    "              decode step, carry=B as sliminfer's). Defaults: Gemma 3 rates 0.65 after layer 5, 0.45\n"
    "              after 11; others 0.9 after layer 14/30 of the depth.\n"
    "              docs/lazyllm.md.\n"
    "  random      test only: drop=0.5 of the prompt at layer=0 (seed=1), to see what bad pruning looks like\n"
    "Options can also come from --prune-opt key=value (repeatable) or --prune-config FILE (key=value lines,\n"
    "method=NAME selects the method).";

void add_prune_options(CLI::App* cmd, PruneOptions& o) {
  cmd->add_option("--prune", o.method, "Token pruning: dense, sliminfer, lazyllm, random, with :key=value options")
      ->capture_default_str();
  cmd->add_option("--prune-opt", o.opts, "Pruning option key=value (repeatable), e.g. --prune-opt keep=0.4/0.2");
  cmd->add_option("--prune-config", o.config_file, "File of pruning options, one key=value per line");
  cmd->add_option("--kv-budget", o.kv_budget,
                  "RAM for KV blocks, e.g. 64M, 1G or 25% (of a dense KV cache for -c); the rest lives in a "
                  "cold file and is prefetched a layer ahead (default: unlimited)");
  cmd->add_option("--kv-cold-dir", o.kv_cold_dir, "Directory for the cold KV file (default: $TMPDIR or /tmp)");
}

namespace {

size_t dense_kv_bytes(const Model& m, const ContextParams& cp) {
  const ModelConfig& c = m.config();
  const int n_ctx = cp.n_ctx <= 0 ? c.n_ctx_train : std::min(cp.n_ctx, c.n_ctx_train);
  const size_t row = size_t(c.n_head_kv) * c.head_dim * (cp.kv_f32 ? 4 : 2) * 2;
  size_t b = 0;
  for (int l = 0; l < c.n_layer; ++l) {
    const bool ring = !c.layer_swa.empty() && c.layer_swa[l] && c.sliding_window > 0 &&
                      c.sliding_window + cp.n_ubatch < n_ctx;
    b += row * size_t(ring ? c.sliding_window + cp.n_ubatch : n_ctx);
  }
  return b;
}

size_t parse_budget(const std::string& s, const Model& m, const ContextParams& cp) {
  if (s.empty()) return 0;
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(s, &used);
  } catch (...) {
    used = 0;
  }
  const std::string unit = s.substr(used);
  double mult = -1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KiB") mult = 1024.0;
  else if (unit == "M" || unit == "MiB") mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (unit == "%") mult = double(dense_kv_bytes(m, cp)) / 100.0;
  if (used == 0 || mult < 0 || !(x > 0) || !std::isfinite(x))
    throw Error("--kv-budget: '" + s + "' is not a size (e.g. 64M, 1G) or a percentage (e.g. 25%)");
  return static_cast<size_t>(x * mult);
}

}  // namespace

void apply_prune_options(const PruneOptions& o, const Model& model, ContextParams& cp) {
  PruneConfig c = parse_prune_spec(o.method);
  if (!o.config_file.empty()) c = load_prune_config(o.config_file, c);
  for (const std::string& kv : o.opts) apply_prune_option(c, kv);
  resolve_prune_defaults(c, model.config());
  cp.prune = c;
  cp.kv_budget = parse_budget(o.kv_budget, model, cp);
  cp.kv_cold_dir = o.kv_cold_dir;
}

}  // namespace slim::cli
