// The transformer forward pass on a set of token rows tagged with their absolute positions.
// Rows need not be contiguous positions: RoPE, causality and sliding windows use the tags, so a caller
// (e.g. a pruning policy) may run a layer on any subset of the sequence's tokens.
#pragma once
#include <cstdint>
#include <vector>

#include "kv/kv_cache.h"
#include "slim/model.h"
#include "tensor/kernels.h"

namespace slim {
class ThreadPool;

// Scratch for up to `cap` rows, allocated once per context.
struct Workspace {
  int cap = 0;
  std::vector<float> h, q, k, v, att, o, gate, up, act;
  std::vector<float> rope_cs;  // cos/sin per row for the current layer's base
  void reserve(const ModelConfig& c, int rows);
};

// Hidden states of n active rows (x: n × n_embd, row-major) and their positions.
struct Rows {
  float* x = nullptr;
  int32_t* pos = nullptr;
  int n = 0;
};

kernels::Weight as_weight(const TensorView& t);

// Writes the rows' embeddings (scaled as the architecture wants).
void embed_tokens(const Model& m, const int32_t* tokens, int n, float* x, ThreadPool& pool);

// Runs layer l on the rows: appends their K/V to kv, then attention + FFN update rows.x in place.
// If keep_rows >= 0, only the first keep_rows rows need outputs after attention (their K/V are still stored
// for all n rows); rows.n becomes keep_rows — used to skip work for rows whose logits are not needed in the
// last layer.
// llama_compat: for calls of fewer than kLlamaCompatRows rows, attention reproduces llama.cpp's CPU numerics
// for such batches (ContextParams::llama_compat); the result then depends on the batch size.
constexpr int kLlamaCompatRows = 64;  // llama.cpp's flash-attention query tile: smaller batches go per row

// Sees each call's queries and keys after RoPE (q: n × n_head × head_dim, already scaled for Gemma 3;
// k: n × n_head_kv × head_dim, f32 before the cache rounds it). Pruning probes use it to score tokens with
// the layer's own attention without materialising the main kernel's probabilities.
struct LayerTap {
  virtual ~LayerTap() = default;
  virtual void on_qk(const float* q, const float* k, const int32_t* pos, int n) = 0;
};

// key_mask (optional, see AttentionShape::key_mask): attention sees only the stored keys whose position it
// lets through (LazyLLM's selection); null sees every stored key, bit-identically to before.
void forward_layer(const Model& m, int l, Rows& rows, LayerKV& kv, Workspace& ws, ThreadPool& pool,
                   int keep_rows = -1, bool llama_compat = false, LayerTap* tap = nullptr,
                   const uint8_t* key_mask = nullptr);

// forward_layer in two halves, so a pruning layer can store every row's K/V and score the rows before it
// spends attention and FFN on the ones that survive:
//   layer_qkv:  norm, q/k/v projections, RoPE; appends the rows' K/V; leaves q in ws.q.
//   layer_q:    the same q only (no K/V), for rows whose K/V are already stored — bit-identical to layer_qkv's.
//   layer_rest: attention of the first keep_rows rows (all if -1) with ws.q, output projection, FFN.
// n_batch is the row count llama.cpp would see for this call (it picks compat numerics by it).
void layer_qkv(const Model& m, int l, const Rows& rows, LayerKV& kv, Workspace& ws, ThreadPool& pool,
               LayerTap* tap = nullptr);
void layer_q(const Model& m, int l, const Rows& rows, Workspace& ws, ThreadPool& pool);
void layer_rest(const Model& m, int l, Rows& rows, int n_batch, const LayerKV& kv, Workspace& ws, ThreadPool& pool,
                int keep_rows = -1, bool llama_compat = false, const uint8_t* key_mask = nullptr);

// Final norm + LM head for n rows of x → logits (n × n_vocab).
void output_logits(const Model& m, const float* x, int n, float* logits, Workspace& ws, ThreadPool& pool);

}  // namespace slim
