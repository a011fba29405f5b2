// Perplexity runs, llama-perplexity style: plain PPL over a text, saving llama.cpp-format logits, or comparing
// against a logits file saved by llama.cpp (or slim) — KL divergence, top-1 agreement, PPL ratio.
#pragma once
#include <functional>
#include <string>

#include "runtime/ppl_stats.h"
#include "slim/model.h"

namespace slim {

struct PerplexityParams {
  int n_ctx = 512;
  int n_chunks = -1;     // -1: all
  int n_threads = 2;
  int n_ubatch = 512;
  bool kv_f32 = false;
  bool llama_compat = false;  // see ContextParams::llama_compat
  std::string logits_file;  // with compare=false: write logits here; with compare=true: the base to compare to
  bool compare = false;
  std::function<void(int chunk, int n_chunk)> on_chunk;  // after each chunk (progress / running output)
};

struct PerplexityResult {
  int n_ctx = 0;
  int n_chunk = 0;
  size_t n_tokens = 0;  // tokens in the text (or the base file)
  PplAccumulator ppl;   // our PPL
  KlAccumulator kl;     // filled in compare mode
  double seconds = 0;
};

// text is ignored in compare mode (the tokens come from the base file, as in llama-perplexity).
// Throws slim::Error for a text shorter than two chunks or a base file that does not fit the model.
PerplexityResult run_perplexity(const Model& m, const std::string& text, const PerplexityParams& p);

}  // namespace slim
