// The score probe: how much the prompt's last W queries attend to each token at one layer.
// It captures the layer's post-RoPE queries (last W rows only) and keys (all rows) through the LayerTap seam
// and computes explicit softmax probabilities, so the main attention kernel stays fused and untouched.
// The probe is global: it ignores a sliding window, so a local layer (Gemma 3) can still rank distant tokens
// with its own queries and keys (docs/pruning.md explains the choice).
#pragma once
#include <cstdint>
#include <vector>

#include "model/forward.h"

namespace slim {
class ThreadPool;

class ScoreProbe : public LayerTap {
 public:
  // qd/kvd: query/key widths; rows at positions >= window_from are scoring queries.
  ScoreProbe(int n_head, int n_head_kv, int head_dim, float kq_scale, int32_t window_from, int expected_rows);
  void on_qk(const float* q, const float* k, const int32_t* pos, int n) override;

  // Reduce over heads by max instead of mean (heads=max): a few retrieval heads that find a token then
  // rank it even when most heads look elsewhere. Queries are still averaged within each head.
  void set_head_max(bool on) { head_max_ = on; }

  int rows() const { return static_cast<int>(kpos_.size()); }
  // score[i] for the i-th captured row (capture order): mean over heads and window queries of the
  // probability that query gives row i; keys after a query's position get nothing (causal).
  // Deterministic for any thread count.
  std::vector<float> scores(ThreadPool& pool) const;
  // The same scores with keys read from a layer's store instead of the captured ones (decode-time
  // re-scoring, SlimInfer option B: the tap captured the step's query, the keys are what the layer stores):
  // score[i] for the row in slot slots[i]. Only those slots are read: they must be resident, or the layer
  // streams through a KV budget (the keys are then read window by window).
  std::vector<float> scores_stored(const LayerKV& kv, const std::vector<int>& slots, ThreadPool& pool) const;

 private:
  int n_head_, n_head_kv_, hd_;
  float kq_scale_;
  int32_t window_from_;
  bool head_max_ = false;
  std::vector<float> q_, k_;
  std::vector<int32_t> qpos_, kpos_;
};

}  // namespace slim
