// `slim perplexity`: llama-perplexity's method and output — split the text into chunks of -c tokens (BOS first
// when the model adds one), score the second half of each chunk, print running PPL per chunk and the final
// estimate. --kl-divergence-base FILE saves logits in llama.cpp's format; adding --kl-divergence compares
// against such a file instead (e.g. one written by llama-perplexity), printing KL divergence and top-1 agreement.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/perplexity.h"
#include "slim/error.h"

namespace slim::cli {

void add_perplexity_command(CLI::App& app, PerplexityOptions& o) {
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a text file, llama-perplexity style");
  cmd->footer(
      "Each chunk of -c tokens is evaluated from an empty cache; the second half of each chunk is scored.\n"
      "Examples:\n"
      "  slim perplexity -f tests/data/corpus.txt -c 512 --chunks 8\n"
      "  llama-perplexity -m M -f T -c 512 --kl-divergence-base ref.kld      # llama.cpp saves its logits\n"
      "  slim perplexity -m M --kl-divergence-base ref.kld --kl-divergence   # slim compares against them");
  add_model_options(cmd, o.common);
  cmd->add_option("-f,--file", o.file, "Text file to score (not needed with --kl-divergence)");
  cmd->add_option("--chunks", o.chunks, "Max number of chunks (-1: all)")->capture_default_str();
  cmd->add_option("--kl-divergence-base", o.kld_base, "Logits file (llama.cpp format): written, or read with --kl-divergence");
  cmd->add_flag("--kl-divergence", o.kld, "Compare against --kl-divergence-base: KL divergence, top-1 agreement");
  cmd->callback([&o] { o.selected = true; });
  o.common.n_ctx = 512;
}

int perplexity_command(const PerplexityOptions& o) {
  if (o.kld && o.kld_base.empty()) throw Error("--kl-divergence needs --kl-divergence-base FILE");
  if (!o.kld && o.file.empty()) throw Error("perplexity: give the text with -f FILE");
  Timer load_timer;
  std::unique_ptr<Model> model = Model::load(resolve_model_path(o.common.model));
  std::fprintf(stderr, "perplexity: model loaded in %.0f ms\n", load_timer.ms());
  PerplexityParams p;
  p.n_ctx = o.common.n_ctx;
  p.n_chunks = o.chunks;
  p.n_threads = o.common.n_threads;
  p.n_ubatch = o.common.n_ubatch;
  p.kv_f32 = o.common.kv_f32;
  p.llama_compat = o.common.llama_compat;
  p.logits_file = o.kld_base;
  p.compare = o.kld;
  const std::string text = o.kld ? std::string() : read_file(o.file);
  const bool tty = isatty(STDERR_FILENO);
  p.on_chunk = [tty](int c, int n) { std::fprintf(stderr, tty ? "\rchunk %d/%d" : "chunk %d/%d\n", c + 1, n); };
  const PerplexityResult r = run_perplexity(*model, text, p);
  if (tty) std::fprintf(stderr, "\r\033[K");
  std::printf("perplexity: %zu tokens, %d chunks of %d, %.1f s (%.1f tokens/s), peak RSS %.0f MiB\n", r.n_tokens,
              r.n_chunk, r.n_ctx, r.seconds, r.n_chunk * double(r.n_ctx) / r.seconds, peak_rss_mib());
  std::printf("%s\n", r.ppl.final_estimate().c_str());
  if (o.kld) {
    std::printf("%s", r.kl.report().c_str());
    const KlSummary s = r.kl.summary();
    std::printf("\nsummary: mean KLD %.6f, p99 KLD %.6f, top-1 agreement %.2f%% over %zu tokens\n", s.kld.mean,
                s.kld_p99, 100.0 * s.same_top.mean, s.count);
  }
  return 0;
}

}  // namespace slim::cli
