// `slim run`: prompt in, streamed text out, timings at the end. `--chat` keeps a conversation.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "prune/explain.h"
#include "simd/cpu.h"
#include "slim/chat.h"
#include "slim/context.h"
#include "slim/error.h"
#include "slim/sampler.h"

namespace slim::cli {

void add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "Generate text from a prompt (default model: Gemma 3 270M)");
  run->footer(
      "Examples:\n"
      "  slim run -p \"The capital of France is\" -n 32 --temp 0\n"
      "  slim run -f long_document.txt -n 128          # prompt from a file, progress shown while it is read\n"
      "  echo \"Hello\" | slim run -m models/smollm2-135m-instruct-q4_1.gguf\n"
      "  slim run --chat -m models/smollm2-135m-instruct-q4_1.gguf   # conversation on stdin\n"
      "  slim run -f book.txt -n 32 --prune sliminfer --explain kept.html   # prune the prompt, show what was kept\n"
      "  slim run -f book.txt -c 32768 --kv-budget 25%     # KV beyond 25% of a dense cache goes to a cold file\n"
      "Timings (load, prompt t/s, time to first token, decode t/s, peak RSS, and with pruning the rows\n"
      "computed per layer and prompt KV vs dense) go to stderr at the end.\n\n" +
      std::string(kPruneHelp));
  add_model_options(run, o.common);
  run->add_option("-p,--prompt", o.prompt, "Prompt text");
  run->add_option("-f,--file", o.prompt_file, "Read the prompt from a file");
  run->add_option("-n,--n-predict", o.n_predict, "Tokens to generate (-1: until end of generation or context full)")
      ->capture_default_str();
  run->add_flag("--chat", o.chat, "Conversation mode: read user turns from stdin, answer with the chat template");
  run->add_option("--system", o.system, "System message for --chat");
  run->add_flag("--special", o.special, "Print special tokens (e.g. <end_of_turn>) in the output");
  run->add_flag("--no-display-prompt", o.no_display_prompt, "Do not echo the prompt before the generated text");
  run->add_option("--stop", o.stops, "Stop when the output contains this string (repeatable)");
  add_prune_options(run, o.prune);
  run->add_option("--explain", o.explain, "Write an HTML picture of which prompt tokens each layer computed");
  add_sampling_options(run, o.sampling);
  run->callback([&o] { o.selected = true; });
}

namespace {

struct Generation {
  std::vector<int32_t> evaluated;  // generated tokens that were fed back (now in the KV cache)
  int n_generated = 0;
  double first_token_ms = 0;
  double decode_ms = 0;
  std::string text;
};

// Samples and streams up to n_predict tokens after the prompt already in ctx.
Generation generate(Context& ctx, Sampler& sampler, const RunOptions& o, const Timer& prompt_timer, bool echo) {
  const Tokenizer& tok = ctx.model().tokenizer();
  StreamDecoder dec(tok, o.special);
  Generation g;
  Timer decode_timer;
  int limit = o.n_predict < 0 ? ctx.n_ctx() - ctx.n_past() : o.n_predict;
  for (int i = 0; i < limit; ++i) {
    const int32_t t = sampler.sample(ctx.last_logits());
    if (i == 0) {
      g.first_token_ms = prompt_timer.ms();
      decode_timer = Timer();
    }
    sampler.accept(t);
    if (tok.is_eog(t)) break;
    ++g.n_generated;
    const std::string piece = dec.push(t);
    g.text += piece;
    if (echo) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    bool stop = false;
    for (const std::string& s : o.stops)
      if (!s.empty() && g.text.find(s) != std::string::npos) stop = true;
    if (stop || ctx.n_past() >= ctx.n_ctx()) break;
    ctx.eval(&t, 1);
    g.evaluated.push_back(t);
  }
  const std::string tail = dec.flush();
  g.text += tail;
  if (echo) std::fwrite(tail.data(), 1, tail.size(), stdout);
  g.decode_ms = decode_timer.ms();
  return g;
}

void print_timings(double load_ms, int n_prompt, double prompt_ms, const Generation& g, const Context& ctx,
                   int n_threads) {
  std::fprintf(stderr, "\n\n--- timings ---\n");
  std::fprintf(stderr, "cpu:             %s, %d threads\n", simd::describe(simd::active()).c_str(),
               n_threads);
  std::fprintf(stderr, "load:            %10.1f ms\n", load_ms);
  std::fprintf(stderr, "prompt:          %10.1f ms  %6d tokens  %8.1f t/s\n", prompt_ms, n_prompt,
               n_prompt / std::max(prompt_ms / 1000.0, 1e-9));
  std::fprintf(stderr, "first token:     %10.1f ms  (time to first token)\n", g.first_token_ms);
  std::fprintf(stderr, "generation:      %10.1f ms  %6d tokens  %8.1f t/s\n", g.decode_ms, g.n_generated,
               g.n_generated > 1 ? (g.n_generated - 1) / std::max(g.decode_ms / 1000.0, 1e-9) : 0.0);
  std::fprintf(stderr, "KV cache:        %10.1f MiB used (%.1f MiB reserved, dense would use %.1f MiB)\n",
               ctx.kv_bytes_used() / 1048576.0, ctx.kv_bytes_reserved() / 1048576.0, ctx.kv_bytes_dense() / 1048576.0);
  const PruneStats& ps = ctx.prune_stats();
  if (ctx.prune_config().enabled()) {
    std::fprintf(stderr, "pruning:         %s\n", to_string(ctx.prune_config()).c_str());
    if (!ps.active) {
      std::fprintf(stderr, "                 prompt ran dense (shorter than min_tokens=%d)\n", ctx.prune_config().min_tokens);
    } else {
      long rows = 0;
      for (int r : ps.rows_per_layer) rows += r;
      const long dense_rows = long(ps.prompt_tokens) * long(ps.rows_per_layer.size());
      std::fprintf(stderr, "rows per layer: ");
      for (size_t l = 0; l < ps.rows_per_layer.size(); ++l) std::fprintf(stderr, " %d", ps.rows_per_layer[l]);
      std::fprintf(stderr, "\n                 %.1f%% of the dense prompt rows computed; probe %.1f ms\n",
                   100.0 * rows / std::max(1L, dense_rows), ps.probe_seconds * 1000);
      const double kv_ratio = double(ps.kv_bytes) / std::max<double>(1, double(ps.kv_bytes_dense));
      std::fprintf(stderr, "prompt KV:       %10.1f MiB vs %.1f MiB dense (%.1f%% %s)\n", ps.kv_bytes / 1048576.0,
                   ps.kv_bytes_dense / 1048576.0, 100.0 * std::abs(1.0 - kv_ratio), kv_ratio <= 1.0 ? "less" : "more");
      if (!ps.kv_rows_per_layer.empty()) {
        std::fprintf(stderr, "KV rows/layer:  ");
        for (int r : ps.kv_rows_per_layer) std::fprintf(stderr, " %d", r);
        std::fprintf(stderr, "\n");
      }
      if (ctx.prune_config().method == PruneMethod::LazyLLM)
        std::fprintf(stderr,
                     "LazyLLM:         %llu of %llu (token, layer) pairs computed (%.1f%% of dense),\n"
                     "                 %llu of them revived from aux entries, %llu rows resumed at a split layer;\n"
                     "                 aux %.1f MiB held\n",
                     (unsigned long long)ps.pairs_computed, (unsigned long long)ps.pairs_dense,
                     100.0 * double(ps.pairs_computed) / std::max<double>(1, double(ps.pairs_dense)),
                     (unsigned long long)ps.revived, (unsigned long long)ps.resumed, ps.aux_bytes / 1048576.0);
      if (ctx.prune_config().rescore > 0)
        std::fprintf(stderr,
                     "re-scoring:      %d of %d decode steps re-scored (%.1f ms); %.1f%% of the stored prompt keys\n"
                     "                 visible per restricted layer; %llu KV block swaps\n",
                     ps.rescore_steps, ps.restricted_steps, ps.rescore_seconds * 1000, 100.0 * ps.rescore_visible,
                     (unsigned long long)ps.rescore_swaps);
    }
  }
  const KVManagerStats ks = ctx.kv_stats();
  if (ks.budget_bytes > 0)
    std::fprintf(stderr,
                 "KV manager:      budget %.1f MiB, hot peak %.1f MiB, offloaded %.1f MiB, fetched %.1f MiB,\n"
                 "                 prefetch hits %llu / misses %llu, stall %.1f ms, streamed windows %llu\n",
                 ks.budget_bytes / 1048576.0, ks.hot_bytes_peak / 1048576.0, ks.bytes_offloaded / 1048576.0,
                 ks.bytes_fetched / 1048576.0, (unsigned long long)ks.prefetch_hits,
                 (unsigned long long)ks.prefetch_misses, ks.stall_seconds * 1000,
                 (unsigned long long)ks.stream_windows);
  std::fprintf(stderr, "peak RSS:        %10.1f MiB\n", peak_rss_mib());
}

int run_chat(Context& ctx, Sampler& sampler, const RunOptions& o) {
  const Model& m = ctx.model();
  const Tokenizer& tok = m.tokenizer();
  const ChatFormat fmt = detect_chat_format(m.chat_template(), m.config().arch_name);
  std::vector<ChatMessage> msgs;
  if (!o.system.empty()) msgs.push_back({"system", o.system});
  std::vector<int32_t> evaluated;  // tokens in the KV cache, to feed only the new suffix each turn
  const bool tty = isatty(STDIN_FILENO);
  std::fprintf(stderr, "chat format: %s. Type a message and press Enter; Ctrl-D ends.\n", chat_format_name(fmt));
  std::string line;
  for (;;) {
    if (tty) std::fprintf(stderr, "\n> ");
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    msgs.push_back({"user", line});
    const std::string text = format_chat(fmt, msgs, true);
    std::vector<int32_t> ids = tok.encode(text, true, true);
    // Feed only what the cache does not hold yet: the longest common prefix with what was evaluated stays.
    size_t common = 0;
    while (common + 1 < ids.size() && common < evaluated.size() && ids[common] == evaluated[common]) ++common;
    if (!ctx.truncate(static_cast<int>(common))) common = 0;
    Timer t;
    ctx.eval(ids.data() + common, static_cast<int>(ids.size() - common));
    Generation g = generate(ctx, sampler, o, t, true);
    std::fputc('\n', stdout);
    msgs.push_back({"assistant", g.text});
    evaluated = ids;
    evaluated.insert(evaluated.end(), g.evaluated.begin(), g.evaluated.end());
  }
  return 0;
}

}  // namespace

int run_command(const RunOptions& o) {
  Timer load_timer;
  std::unique_ptr<Model> model = Model::load(resolve_model_path(o.common.model));
  ContextParams cp;
  cp.n_ctx = o.common.n_ctx;
  cp.n_threads = o.common.n_threads;
  cp.n_ubatch = o.common.n_ubatch;
  cp.kv_f32 = o.common.kv_f32;
  cp.llama_compat = o.common.llama_compat;
  apply_prune_options(o.prune, *model, cp);
  Context ctx(*model, cp);
  const double load_ms = load_timer.ms();
  Sampler sampler(o.sampling, model->config().n_vocab);

  if (o.chat) return run_chat(ctx, sampler, o);

  std::string prompt = o.prompt;
  if (!o.prompt_file.empty()) prompt = read_file(o.prompt_file);
  else if (prompt.empty() && !isatty(STDIN_FILENO)) prompt = read_stdin();
  if (prompt.empty()) throw Error("no prompt: give -p TEXT, -f FILE or pipe text on stdin");

  const Tokenizer& tok = model->tokenizer();
  std::vector<int32_t> ids = tok.encode(prompt, true, true);
  if (ids.empty()) throw Error("the prompt tokenized to nothing");
  if (static_cast<int>(ids.size()) >= ctx.n_ctx())
    throw Error("prompt is " + std::to_string(ids.size()) + " tokens but the context holds " +
                std::to_string(ctx.n_ctx()) + "; raise -c (max " + std::to_string(model->config().n_ctx_train) + ")");
  if (!o.no_display_prompt) {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    std::fflush(stdout);
  }
  Progress bar("prompt", static_cast<int>(ids.size()), ids.size() > static_cast<size_t>(cp.n_ubatch));
  ProgressCallback on_progress = [&](int done, int) { bar.update(done); };
  Timer prompt_timer;
  ctx.eval(ids.data(), static_cast<int>(ids.size()), nullptr, &on_progress);
  const double prompt_ms = prompt_timer.ms();
  bar.finish();
  Generation g = generate(ctx, sampler, o, prompt_timer, true);
  if (!o.explain.empty()) {
    write_explain_html(o.explain, tok, ids, ctx.prune_stats(), model->config().n_layer,
                       model->config().name + ", " + std::to_string(ids.size()) + " prompt tokens, " +
                           to_string(ctx.prune_config()));
    std::fprintf(stderr, "\nwrote %s\n", o.explain.c_str());
  }
  std::fflush(stdout);
  print_timings(load_ms, static_cast<int>(ids.size()), prompt_ms, g, ctx, cp.n_threads);
  return 0;
}

}  // namespace slim::cli
