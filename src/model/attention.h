// Attention of a batch of query rows against one layer's KV store, masked by absolute position
// (causal, plus a sliding window when window > 0). Memory is O(keys) per thread, never O(queries × keys).
#pragma once
#include <cstdint>

#include "kv/kv_cache.h"

namespace slim {
class ThreadPool;

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int window = 0;  // 0: global (causal only)
  // llama.cpp-compatible numerics (ContextParams::llama_compat). The caller sets it only for layer calls of
  // fewer than 64 rows, where llama.cpp's CPU flash attention takes its per-row path (q rounded to f16,
  // f16 dot products, value accumulator rounded to f16 after every key); see docs/correctness.md.
  bool llama_compat = false;
  float kq_scale = 1.f;     // scores are multiplied by this after the dot product (q left unscaled)
  bool one_row_batch = false;  // compat: the layer call has a single row; llama.cpp may then split the keys
                               // across its threads, so the result depends on pool.size() like llama.cpp's on -t
  // Optional key subset (LazyLLM attends only to the tokens selected at this layer): when set, a stored key
  // at position p is visible only if key_mask[p] != 0; it must cover every position the store holds.
  // A hidden key is a masked entry, so the result equals attention over a store holding only the visible
  // keys. Null: every stored key (bit-identical to no mask).
  const uint8_t* key_mask = nullptr;
};

// q: n rows × n_head × head_dim (already normed, rotated and scaled); qpos: position of each row.
// out: n rows × n_head × head_dim.
void attention(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
               ThreadPool& pool);

}  // namespace slim
