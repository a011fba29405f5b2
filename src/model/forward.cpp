#include "model/forward.h"

#include <cmath>
#include <cstring>

#include "model/attention.h"
#include "runtime/thread_pool.h"
#include "slim/error.h"
#include "tensor/ops.h"

namespace slim {

namespace {

template <class F>
void parallel_rows(ThreadPool& pool, int n, F&& f) {
  pool.run([&](int tid, int nth) {
    int64_t b, e;
    ThreadPool::split(n, tid, nth, b, e);
    for (int64_t r = b; r < e; ++r) f(static_cast<int>(r));
  });
}

const float* f32(const TensorView* t) { return t ? reinterpret_cast<const float*>(t->data) : nullptr; }

void mm(const TensorView& w, const float* x, int n, float* y, ThreadPool& pool) {
  kernels::matmul(as_weight(w), x, n, w.ne[0], y, w.ne[1], pool);
}

}  // namespace

kernels::Weight as_weight(const TensorView& t) {
  kernels::Weight w;
  w.type = t.type;
  w.cols = t.ne[0];
  w.rows = t.ne[1];
  w.data = t.data;
  w.row_stride = t.row_stride();
  return w;
}

void Workspace::reserve(const ModelConfig& c, int rows) {
  cap = rows;
  const size_t n = static_cast<size_t>(rows);
  const size_t qd = size_t(c.n_head) * c.head_dim, kvd = size_t(c.n_head_kv) * c.head_dim;
  h.resize(n * c.n_embd);
  q.resize(n * qd);
  k.resize(n * kvd);
  v.resize(n * kvd);
  att.resize(n * qd);
  o.resize(n * c.n_embd);
  gate.resize(n * c.n_ff);
  up.resize(n * c.n_ff);
  act.resize(n * c.n_ff);
  rope_cs.resize(n * c.n_rot);
}

void embed_tokens(const Model& m, const int32_t* tokens, int n, float* x, ThreadPool& pool) {
  const ModelConfig& c = m.config();
  const TensorView& e = m.token_embd();
  parallel_rows(pool, n, [&](int r) {
    const int32_t t = tokens[r];
    float* xr = x + int64_t(r) * c.n_embd;
    kernels::dequantize_row(e.type, e.data + size_t(t) * e.row_stride(), xr, c.n_embd);
    if (c.embd_scale != 1.f) ops::scale_inplace(xr, c.embd_scale, c.n_embd);
  });
}

void forward_layer(const Model& m, int l, Rows& rows, LayerKV& kv, Workspace& ws, ThreadPool& pool,
                   int keep_rows, bool llama_compat, LayerTap* tap) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.layer(l);
  const int n = rows.n, d = c.n_embd, hd = c.head_dim;
  const int qd = c.n_head * hd, kvd = c.n_head_kv * hd;
  if (n > ws.cap) throw Error("forward: batch larger than workspace");
  const bool swa = c.layer_swa[l] != 0;
  const float base = swa ? c.rope_base_swa : c.rope_base;
  const float fscale = swa ? 1.0f : c.rope_freq_scale;
  const float* ff = m.rope_freqs() ? f32(m.rope_freqs()) : nullptr;
  // llama.cpp decides its attention kernel by the batch's row count (all n rows: it selects output rows only
  // after attention). Outside Gemma 3, which scales q itself, it multiplies the scores by the scale after the
  // f16 dot product instead of scaling q, so compat mode leaves q unscaled there.
  const bool compat = llama_compat && n < kLlamaCompatRows;
  // llama.cpp scales q before attention for Gemma 3 and the scores inside attention for the others; the
  // two differ in the last bits when the scale is not a power of two (e.g. head_dim 128 or 64·k).
  const bool scale_scores = c.arch != Arch::Gemma3;

  // Attention block: norm → q, k, v projections.
  parallel_rows(pool, n, [&](int r) {
    ops::rmsnorm(rows.x + int64_t(r) * d, f32(L.attn_norm), ws.h.data() + int64_t(r) * d, d, c.norm_eps);
  });
  mm(*L.wq, ws.h.data(), n, ws.q.data(), pool);
  mm(*L.wk, ws.h.data(), n, ws.k.data(), pool);
  mm(*L.wv, ws.h.data(), n, ws.v.data(), pool);

  // Per row: biases, QK-norm, RoPE by the row's own position, query scaling.
  parallel_rows(pool, n, [&](int r) {
    float* qr = ws.q.data() + int64_t(r) * qd;
    float* kr = ws.k.data() + int64_t(r) * kvd;
    float* vr = ws.v.data() + int64_t(r) * kvd;
    if (c.qkv_bias) {
      ops::add_inplace(qr, f32(L.bq), qd);
      ops::add_inplace(kr, f32(L.bk), kvd);
      ops::add_inplace(vr, f32(L.bv), kvd);
    }
    if (c.qk_norm) {
      for (int h = 0; h < c.n_head; ++h) ops::rmsnorm(qr + h * hd, f32(L.q_norm), qr + h * hd, hd, c.norm_eps);
      for (int h = 0; h < c.n_head_kv; ++h) ops::rmsnorm(kr + h * hd, f32(L.k_norm), kr + h * hd, hd, c.norm_eps);
    }
    float* cs = ws.rope_cs.data() + int64_t(r) * c.n_rot;
    ops::rope_table(cs, c.n_rot, rows.pos[r], base, fscale, ff);
    for (int h = 0; h < c.n_head; ++h) ops::rope_apply(qr + h * hd, cs, c.n_rot, c.rope_neox);
    for (int h = 0; h < c.n_head_kv; ++h) ops::rope_apply(kr + h * hd, cs, c.n_rot, c.rope_neox);
    if (!scale_scores) ops::scale_inplace(qr, c.attn_scale, qd);
  });
  if (tap) tap->on_qk(ws.q.data(), ws.k.data(), rows.pos, n);
  for (int r = 0; r < n; ++r)
    kv.append(rows.pos[r], ws.k.data() + int64_t(r) * kvd, ws.v.data() + int64_t(r) * kvd);

  // From here on only rows whose outputs matter are computed (all of them except in the last layer).
  const int nq = keep_rows >= 0 ? keep_rows : n;
  AttentionShape shape{c.n_head, c.n_head_kv, hd, swa ? c.sliding_window : 0};
  shape.llama_compat = compat;
  shape.kq_scale = scale_scores ? c.attn_scale : 1.f;
  shape.one_row_batch = n == 1;
  attention(ws.q.data(), rows.pos, nq, kv, shape, ws.att.data(), pool);
  mm(*L.wo, ws.att.data(), nq, ws.o.data(), pool);
  parallel_rows(pool, nq, [&](int r) {
    float* o = ws.o.data() + int64_t(r) * d;
    if (c.post_norms) ops::rmsnorm(o, f32(L.post_attn_norm), o, d, c.norm_eps);
    float* xr = rows.x + int64_t(r) * d;
    ops::add_inplace(xr, o, d);
    ops::rmsnorm(xr, f32(L.ffn_norm), ws.h.data() + int64_t(r) * d, d, c.norm_eps);
  });

  // FFN block: gated activation, down projection, (post-norm), residual.
  mm(*L.w_gate, ws.h.data(), nq, ws.gate.data(), pool);
  mm(*L.w_up, ws.h.data(), nq, ws.up.data(), pool);
  parallel_rows(pool, nq, [&](int r) {
    const int64_t off = int64_t(r) * c.n_ff;
    if (c.act == Activation::GeluTanh) ops::geglu_tanh(&ws.gate[off], &ws.up[off], &ws.act[off], c.n_ff);
    else ops::swiglu(&ws.gate[off], &ws.up[off], &ws.act[off], c.n_ff);
  });
  mm(*L.w_down, ws.act.data(), nq, ws.o.data(), pool);
  parallel_rows(pool, nq, [&](int r) {
    float* o = ws.o.data() + int64_t(r) * d;
    if (c.post_norms) ops::rmsnorm(o, f32(L.post_ffn_norm), o, d, c.norm_eps);
    ops::add_inplace(rows.x + int64_t(r) * d, o, d);
  });
  rows.n = nq;
}

void output_logits(const Model& m, const float* x, int n, float* logits, Workspace& ws, ThreadPool& pool) {
  const ModelConfig& c = m.config();
  const int d = c.n_embd;
  parallel_rows(pool, n, [&](int r) {
    ops::rmsnorm(x + int64_t(r) * d, f32(&m.output_norm()), ws.h.data() + int64_t(r) * d, d, c.norm_eps);
  });
  mm(m.output(), ws.h.data(), n, logits, pool);
  if (c.final_softcap > 0.f) {
    const int64_t total = int64_t(n) * c.n_vocab;
    for (int64_t i = 0; i < total; ++i) logits[i] = c.final_softcap * std::tanh(logits[i] / c.final_softcap);
  }
}

}  // namespace slim
