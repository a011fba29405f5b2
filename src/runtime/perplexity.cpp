#include "runtime/perplexity.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "runtime/logits_file.h"
#include "slim/context.h"
#include "slim/error.h"

namespace slim {

PerplexityResult run_perplexity(const Model& m, const std::string& text, const PerplexityParams& p) {
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer& tok = m.tokenizer();
  const int n_vocab = m.config().n_vocab;
  PerplexityResult res;

  std::unique_ptr<LogitsReader> base;
  std::vector<int32_t> tokens;
  int n_ctx = p.n_ctx;
  if (p.compare) {
    base = std::make_unique<LogitsReader>(p.logits_file);
    if (base->n_vocab() != n_vocab)
      throw Error("perplexity: '" + p.logits_file + "' has a vocabulary of " + std::to_string(base->n_vocab()) +
                  " but the model has " + std::to_string(n_vocab));
    n_ctx = base->n_ctx();
    tokens = base->header().tokens;
  } else {
    tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  }
  if (n_ctx < 4) throw Error("perplexity: context must be at least 4 tokens");
  if (static_cast<int64_t>(tokens.size()) < 2 * int64_t(n_ctx))
    throw Error("perplexity: the text has " + std::to_string(tokens.size()) + " tokens; need at least 2 × " +
                std::to_string(n_ctx));
  const int n_chunk_max = static_cast<int>(tokens.size() / n_ctx);
  const int n_chunk = p.n_chunks < 0 ? n_chunk_max : std::min(p.n_chunks, n_chunk_max);
  res.n_ctx = n_ctx;
  res.n_chunk = n_chunk;
  res.n_tokens = tokens.size();

  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_threads = p.n_threads;
  cp.n_ubatch = p.n_ubatch;
  cp.kv_f32 = p.kv_f32;
  cp.llama_compat = p.llama_compat;
  Context ctx(m, cp);
  if (ctx.n_ctx() != n_ctx) throw Error("perplexity: context exceeds the model's trained length");

  std::unique_ptr<LogitsWriter> writer;
  if (!p.compare && !p.logits_file.empty())
    writer = std::make_unique<LogitsWriter>(p.logits_file, n_ctx, n_vocab, n_chunk, tokens);

  const int first = logits_first_scored(n_ctx);
  std::vector<int32_t> chunk(n_ctx);
  for (int c = 0; c < n_chunk; ++c) {
    const int64_t start = int64_t(c) * n_ctx;
    std::copy(tokens.begin() + start, tokens.begin() + start + n_ctx, chunk.begin());
    if (tok.add_bos() && tok.bos() >= 0) chunk[0] = tok.bos();
    ctx.reset();
    if (base) base->seek_chunk(c);
    LogitsCallback score = [&](int j, const float* logits) {
      if (j < first || j >= n_ctx - 1) return;
      const int32_t next = tokens[start + j + 1];
      res.ppl.add(token_nll(logits, n_vocab, next));
      if (writer) writer->append(logits, 1);
      if (base) {
        LogProbRecord rec;
        int32_t rc = -1, rj = -1;
        if (!base->next(rec, &rc, &rj) || rc != c || rj != j)
          throw Error("perplexity: base logits file ended early or is out of order");
        res.kl.add(compare_to_base(rec, logits, next));
      }
    };
    ctx.eval(chunk.data(), n_ctx, &score);
    if (p.on_chunk) p.on_chunk(c, n_chunk);
  }
  if (writer) writer->finish();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace slim
