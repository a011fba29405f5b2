// `slim perplexity`: llama-perplexity's method — split the text into chunks of -c tokens (BOS first when the
// model adds one), score the second half of each chunk, print running PPL per chunk and the final estimate.
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "slim/context.h"
#include "slim/error.h"

namespace slim::cli {

void add_perplexity_command(CLI::App& app, PerplexityOptions& o) {
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a text file, llama-perplexity style");
  cmd->footer(
      "Each chunk of -c tokens is evaluated from an empty cache; the second half of each chunk is scored.\n"
      "Example:  slim perplexity -f tests/data/corpus.txt -c 512 --chunks 8");
  add_model_options(cmd, o.common);
  cmd->add_option("-f,--file", o.file, "Text file to score")->required();
  cmd->add_option("--chunks", o.chunks, "Max number of chunks (-1: all)")->capture_default_str();
  cmd->callback([&o] { o.selected = true; });
  o.common.n_ctx = 512;
}

int perplexity_command(const PerplexityOptions& o) {
  Timer load_timer;
  std::unique_ptr<Model> model = Model::load(resolve_model_path(o.common.model));
  const int n_ctx = o.common.n_ctx;
  if (n_ctx < 4) throw Error("perplexity: -c must be at least 4");
  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_threads = o.common.n_threads;
  cp.n_ubatch = o.common.n_ubatch;
  cp.kv_f32 = o.common.kv_f32;
  Context ctx(*model, cp);
  if (ctx.n_ctx() != n_ctx) throw Error("perplexity: -c exceeds the model's trained context");
  const Tokenizer& tok = model->tokenizer();
  std::vector<int32_t> tokens = tok.encode(read_file(o.file), /*add_special=*/true, /*parse_special=*/false);
  if (static_cast<int64_t>(tokens.size()) < 2 * int64_t(n_ctx))
    throw Error("perplexity: the file has " + std::to_string(tokens.size()) + " tokens; need at least 2 × -c = " +
                std::to_string(2 * n_ctx));
  const int n_chunk_max = static_cast<int>(tokens.size() / n_ctx);
  const int n_chunk = o.chunks < 0 ? n_chunk_max : std::min(o.chunks, n_chunk_max);
  const int first = n_ctx / 2;
  const int n_vocab = model->config().n_vocab;
  std::fprintf(stderr, "perplexity: %zu tokens, %d chunks of %d, scoring the last %d of each, load %.0f ms\n",
               tokens.size(), n_chunk, n_ctx, n_ctx - first - 1, load_timer.ms());

  double nll = 0, nll2 = 0;
  int64_t count = 0;
  Timer total;
  std::vector<int32_t> chunk(n_ctx);
  for (int i = 0; i < n_chunk; ++i) {
    const int start = i * n_ctx;
    std::copy(tokens.begin() + start, tokens.begin() + start + n_ctx, chunk.begin());
    if (tok.add_bos() && tok.bos() >= 0) chunk[0] = tok.bos();
    ctx.reset();
    LogitsCallback score = [&](int j, const float* logits) {
      if (j < first || j >= n_ctx - 1) return;
      const int32_t next = tokens[start + j + 1];
      float mx = logits[0];
      for (int v = 1; v < n_vocab; ++v) mx = std::max(mx, logits[v]);
      double sum = 0;
      for (int v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(logits[v] - mx));
      const double lp = logits[next] - mx - std::log(sum);
      nll -= lp;
      nll2 += lp * lp;
      ++count;
    };
    ctx.eval(chunk.data(), n_ctx, &score);
    std::printf("[%d]%.4f,", i + 1, std::exp(nll / count));
    std::fflush(stdout);
  }
  const double mean = nll / count;
  const double ppl = std::exp(mean);
  double var = nll2 / count - mean * mean;
  const double err = var > 0 ? std::sqrt(var / (count - 1)) * ppl : 0.0;
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, err);
  std::fprintf(stderr, "perplexity: %.1f s, %.1f tokens/s, peak RSS %.0f MiB\n", total.ms() / 1000,
               n_chunk * double(n_ctx) / (total.ms() / 1000), peak_rss_mib());
  return 0;
}

}  // namespace slim::cli
