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

namespace {

struct LayerShape {
  int d, hd, qd, kvd;
  bool swa, scale_scores;
  float base, fscale;
  const float* ff;
};

LayerShape layer_shape(const Model& m, int l) {
  const ModelConfig& c = m.config();
  LayerShape s;
  s.d = c.n_embd;
  s.hd = c.head_dim;
  s.qd = c.n_head * c.head_dim;
  s.kvd = c.n_head_kv * c.head_dim;
  s.swa = c.layer_swa[l] != 0;
  s.base = s.swa ? c.rope_base_swa : c.rope_base;
  s.fscale = s.swa ? 1.0f : c.rope_freq_scale;
  s.ff = m.rope_freqs() ? f32(m.rope_freqs()) : nullptr;
  // llama.cpp scales q before attention for Gemma 3 and the scores inside attention for the others; the
  // two differ in the last bits when the scale is not a power of two (e.g. head_dim 128 or 64·k).
  s.scale_scores = c.arch != Arch::Gemma3;
  return s;
}

// Bias, QK-norm, RoPE by position and (Gemma) query scaling of row r's q (and k, v when given).
void finish_qkv_row(const Model& m, const LayerWeights& L, const LayerShape& s, int32_t pos, float* qr, float* kr,
                    float* vr, float* cs) {
  const ModelConfig& c = m.config();
  if (c.qkv_bias) {
    ops::add_inplace(qr, f32(L.bq), s.qd);
    if (kr) ops::add_inplace(kr, f32(L.bk), s.kvd);
    if (vr) ops::add_inplace(vr, f32(L.bv), s.kvd);
  }
  if (c.qk_norm) {
    for (int h = 0; h < c.n_head; ++h) ops::rmsnorm(qr + h * s.hd, f32(L.q_norm), qr + h * s.hd, s.hd, c.norm_eps);
    if (kr)
      for (int h = 0; h < c.n_head_kv; ++h) ops::rmsnorm(kr + h * s.hd, f32(L.k_norm), kr + h * s.hd, s.hd, c.norm_eps);
  }
  ops::rope_table(cs, c.n_rot, pos, s.base, s.fscale, s.ff);
  for (int h = 0; h < c.n_head; ++h) ops::rope_apply(qr + h * s.hd, cs, c.n_rot, c.rope_neox);
  if (kr)
    for (int h = 0; h < c.n_head_kv; ++h) ops::rope_apply(kr + h * s.hd, cs, c.n_rot, c.rope_neox);
  if (!s.scale_scores) ops::scale_inplace(qr, c.attn_scale, s.qd);
}

}  // namespace

namespace {

// Attention norm and the q projection (plus k and v when with_kv), then bias/norm/RoPE per row. Shared by
// layer_qkv and layer_q so that a recomputed q is bit-identical to the first one.
void project_rows(const Model& m, int l, const Rows& rows, Workspace& ws, ThreadPool& pool, bool with_kv) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.layer(l);
  const LayerShape s = layer_shape(m, l);
  const int n = rows.n;
  if (n > ws.cap) throw Error("forward: batch larger than workspace");
  parallel_rows(pool, n, [&](int r) {
    ops::rmsnorm(rows.x + int64_t(r) * s.d, f32(L.attn_norm), ws.h.data() + int64_t(r) * s.d, s.d, c.norm_eps);
  });
  mm(*L.wq, ws.h.data(), n, ws.q.data(), pool);
  if (with_kv) {
    mm(*L.wk, ws.h.data(), n, ws.k.data(), pool);
    mm(*L.wv, ws.h.data(), n, ws.v.data(), pool);
  }
  parallel_rows(pool, n, [&](int r) {
    finish_qkv_row(m, L, s, rows.pos[r], ws.q.data() + int64_t(r) * s.qd,
                   with_kv ? ws.k.data() + int64_t(r) * s.kvd : nullptr,
                   with_kv ? ws.v.data() + int64_t(r) * s.kvd : nullptr, ws.rope_cs.data() + int64_t(r) * c.n_rot);
  });
}

}  // namespace

void layer_qkv(const Model& m, int l, const Rows& rows, LayerKV& kv, Workspace& ws, ThreadPool& pool, LayerTap* tap) {
  project_rows(m, l, rows, ws, pool, true);
  const int kvd = m.config().n_head_kv * m.config().head_dim;
  if (tap) tap->on_qk(ws.q.data(), ws.k.data(), rows.pos, rows.n);
  for (int r = 0; r < rows.n; ++r)
    kv.append(rows.pos[r], ws.k.data() + int64_t(r) * kvd, ws.v.data() + int64_t(r) * kvd);
}

void layer_q(const Model& m, int l, const Rows& rows, Workspace& ws, ThreadPool& pool) {
  project_rows(m, l, rows, ws, pool, false);
}

void layer_rest(const Model& m, int l, Rows& rows, int n_batch, const LayerKV& kv, Workspace& ws, ThreadPool& pool,
                int keep_rows, bool llama_compat, const uint8_t* key_mask) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.layer(l);
  const LayerShape s = layer_shape(m, l);
  const int n = rows.n, d = s.d;
  // llama.cpp decides its attention kernel by the batch's row count (all n rows: it selects output rows only
  // after attention). Outside Gemma 3, which scales q itself, it multiplies the scores by the scale after the
  // f16 dot product instead of scaling q, so compat mode leaves q unscaled there.
  const bool compat = llama_compat && n_batch < kLlamaCompatRows;
  // From here on only rows whose outputs matter are computed (all of them except in the last layer).
  const int nq = keep_rows >= 0 ? keep_rows : n;
  AttentionShape shape{c.n_head, c.n_head_kv, s.hd, s.swa ? c.sliding_window : 0};
  shape.llama_compat = compat;
  shape.kq_scale = s.scale_scores ? c.attn_scale : 1.f;
  shape.one_row_batch = n_batch == 1;
  shape.key_mask = key_mask;
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

void forward_layer(const Model& m, int l, Rows& rows, LayerKV& kv, Workspace& ws, ThreadPool& pool,
                   int keep_rows, bool llama_compat, LayerTap* tap, const uint8_t* key_mask) {
  layer_qkv(m, l, rows, kv, ws, pool, tap);
  layer_rest(m, l, rows, rows.n, kv, ws, pool, keep_rows, llama_compat, key_mask);
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
