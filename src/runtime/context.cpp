#include "slim/context.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kv/kv_cache.h"
#include "model/forward.h"
#include "runtime/thread_pool.h"
#include "slim/error.h"

namespace slim {

namespace {
constexpr int kLogitRows = 64;  // LM-head rows per pass: bounds the logits buffer (n_vocab × 64 floats)
}

struct Context::Impl {
  ThreadPool pool;
  std::vector<LayerKV> kv;
  Workspace ws;
  std::vector<float> x;
  std::vector<int32_t> pos;
  std::vector<int32_t> tok;
  std::vector<float> logits;
  int n_ubatch;
  bool llama_compat = false;
  Impl(int threads) : pool(threads) {}
};

Context::Context(const Model& model, const ContextParams& params) : model_(model) {
  const ModelConfig& c = model.config();
  n_ctx_ = params.n_ctx <= 0 ? c.n_ctx_train : std::min(params.n_ctx, c.n_ctx_train);
  if (n_ctx_ < 1) throw Error("context: n_ctx must be positive");
  impl_ = std::make_unique<Impl>(std::max(1, params.n_threads));
  Impl& I = *impl_;
  I.n_ubatch = std::max(1, std::min(params.n_ubatch, n_ctx_));
  I.llama_compat = params.llama_compat;
  const KVType kt = params.kv_f32 ? KVType::F32 : KVType::F16;
  const int kvd = c.n_head_kv * c.head_dim;
  I.kv.resize(c.n_layer);
  for (int l = 0; l < c.n_layer; ++l) {
    // Sliding-window layers only ever need the last `window` positions plus the batch being added.
    if (c.layer_swa[l] && c.sliding_window > 0 && c.sliding_window + I.n_ubatch < n_ctx_)
      I.kv[l].init(kvd, c.sliding_window + I.n_ubatch, /*ring=*/true, kt);
    else
      I.kv[l].init(kvd, n_ctx_, /*ring=*/false, kt);
  }
  I.ws.reserve(c, std::max(I.n_ubatch, kLogitRows));
  I.x.resize(size_t(I.n_ubatch) * c.n_embd);
  I.pos.resize(I.n_ubatch);
  I.tok.resize(I.n_ubatch);
  I.logits.resize(size_t(c.n_vocab));  // one row; grown to kLogitRows rows only if all logits are asked for
  last_logits_.resize(c.n_vocab);
}

Context::~Context() = default;

void Context::reset() {
  n_past_ = 0;
  for (LayerKV& k : impl_->kv) k.clear();
}

bool Context::truncate(int n) {
  if (n >= n_past_) return true;
  bool ok = n >= 0;
  const ModelConfig& c = model_.config();
  for (int l = 0; l < c.n_layer && ok; ++l)
    ok = impl_->kv[l].truncate(n, c.layer_swa[l] ? c.sliding_window : 0);
  if (!ok) {
    reset();
    return false;
  }
  n_past_ = n;
  return true;
}

size_t Context::kv_bytes_used() const {
  size_t b = 0;
  for (const LayerKV& k : impl_->kv) b += k.bytes_used();
  return b;
}

size_t Context::kv_bytes_reserved() const {
  size_t b = 0;
  for (const LayerKV& k : impl_->kv) b += k.bytes_reserved();
  return b;
}

void Context::eval(const int32_t* tokens, int n, const LogitsCallback* all_logits, const ProgressCallback* progress) {
  const ModelConfig& c = model_.config();
  Impl& I = *impl_;
  if (n <= 0) return;
  if (int64_t(n_past_) + n > n_ctx_)
    throw Error("context: " + std::to_string(n_past_ + int64_t(n)) + " tokens do not fit in the context of " +
                std::to_string(n_ctx_) + " (use -c to raise it; the model was trained for " +
                std::to_string(c.n_ctx_train) + ")");
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      throw Error("context: token id " + std::to_string(tokens[i]) + " out of range [0, " +
                  std::to_string(c.n_vocab) + ")");

  if (all_logits && I.logits.size() < size_t(kLogitRows) * c.n_vocab)
    I.logits.resize(size_t(kLogitRows) * c.n_vocab);  // 64 MiB for a 262k vocabulary: only when needed
  for (int done = 0; done < n;) {
    const int nb = std::min(I.n_ubatch, n - done);
    const bool last_batch = done + nb == n;
    std::memcpy(I.tok.data(), tokens + done, sizeof(int32_t) * nb);
    embed_tokens(model_, I.tok.data(), nb, I.x.data(), I.pool);
    for (int i = 0; i < nb; ++i) I.pos[i] = n_past_ + i;

    // Rows whose logits are wanted; in the last layer only they are computed past attention.
    int n_out = all_logits ? nb : (last_batch ? 1 : 0);
    if (!all_logits && last_batch && nb > 1) {
      // Put the last token first so the last layer can stop after row 0 (positions travel with the rows).
      std::swap_ranges(I.x.begin(), I.x.begin() + c.n_embd, I.x.begin() + int64_t(nb - 1) * c.n_embd);
      std::swap(I.pos[0], I.pos[nb - 1]);
    }
    Rows rows{I.x.data(), I.pos.data(), nb};
    for (int l = 0; l < c.n_layer; ++l)
      forward_layer(model_, l, rows, I.kv[l], I.ws, I.pool, l == c.n_layer - 1 ? n_out : -1, I.llama_compat);

    for (int r0 = 0; r0 < n_out; r0 += kLogitRows) {
      const int nr = std::min(kLogitRows, n_out - r0);
      output_logits(model_, I.x.data() + int64_t(r0) * c.n_embd, nr, I.logits.data(), I.ws, I.pool);
      for (int r = 0; r < nr; ++r) {
        const float* lg = I.logits.data() + int64_t(r) * c.n_vocab;
        if (all_logits) (*all_logits)(done + r0 + r, lg);
        if (last_batch && r0 + r == n_out - 1)
          std::memcpy(last_logits_.data(), lg, sizeof(float) * c.n_vocab);
      }
    }
    n_past_ += nb;
    done += nb;
    if (progress) (*progress)(done, n);
  }
}

}  // namespace slim
