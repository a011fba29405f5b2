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
};

// q: n rows × n_head × head_dim (already normed, rotated and scaled); qpos: position of each row.
// out: n rows × n_head × head_dim.
void attention(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
               ThreadPool& pool);

}  // namespace slim
