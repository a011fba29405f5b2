#include "prune/probe.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kv/kv_tier.h"
#include "runtime/thread_pool.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace slim {


ScoreProbe::ScoreProbe(int n_head, int n_head_kv, int head_dim, float kq_scale, int32_t window_from,
                       int expected_rows)
    : n_head_(n_head), n_head_kv_(n_head_kv), hd_(head_dim), kq_scale_(kq_scale), window_from_(window_from) {
  k_.reserve(size_t(expected_rows) * n_head_kv * head_dim);
  kpos_.reserve(expected_rows);
}

void ScoreProbe::on_qk(const float* q, const float* k, const int32_t* pos, int n) {
  const size_t qd = size_t(n_head_) * hd_, kvd = size_t(n_head_kv_) * hd_;
  k_.insert(k_.end(), k, k + n * kvd);
  kpos_.insert(kpos_.end(), pos, pos + n);
  for (int r = 0; r < n; ++r)
    if (pos[r] >= window_from_) {
      q_.insert(q_.end(), q + r * qd, q + (r + 1) * qd);
      qpos_.push_back(pos[r]);
    }
}

namespace {

// p: nrows × nk logits, row-major. logits(j, col) writes key j's logit for every row r at col[r * nk]
// (-inf where the key is hidden); keys [j0, j1), parallel over keys (each value is one independent dot product).
template <class KeyLogits>
void fill_logits(int j0, int j1, KeyLogits& logits, std::vector<float>& p, ThreadPool& pool) {
  pool.run([&](int tid, int nth) {
    int64_t b, e;
    ThreadPool::split(j1 - j0, tid, nth, b, e);
    for (int64_t j = j0 + b; j < j0 + e; ++j) logits(static_cast<int>(j), &p[j]);
  });
}

// Mean over (query, head) softmax rows of the probabilities each of nk keys receives, from the logits p
// (rows ordered query-major: row = query * n_head + head). head_max: the mean over queries per head, then the
// max over heads. Fixed reduction order: the result does not depend on the thread count.
std::vector<float> mean_softmax(int nrows, int nk, std::vector<float>& p, ThreadPool& pool, int n_head,
                                bool head_max) {
  std::vector<float> out(nk, 0.f);
  if (nk == 0 || nrows == 0) return out;
  // Softmax per (query, head) row, sequential within the row.
  pool.run([&](int tid, int nth) {
    int64_t b, e;
    ThreadPool::split(nrows, tid, nth, b, e);
    for (int64_t r = b; r < e; ++r) {
      float* row = &p[size_t(r) * nk];
      float mx = -INFINITY;
      for (int j = 0; j < nk; ++j) mx = std::max(mx, row[j]);
      double sum = 0;
      for (int j = 0; j < nk; ++j) {
        row[j] = row[j] == -INFINITY ? 0.f : std::exp(row[j] - mx);
        sum += row[j];
      }
      const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.f;
      for (int j = 0; j < nk; ++j) row[j] *= inv;
    }
  });
  // Per key: the mean over all rows in row order, or (head_max) the max over heads of each head's mean.
  const int nq = nrows / n_head;
  const float inv_rows = 1.f / static_cast<float>(nrows), inv_q = 1.f / static_cast<float>(nq);
  pool.run([&](int tid, int nth) {
    int64_t b, e;
    ThreadPool::split(nk, tid, nth, b, e);
    for (int64_t j = b; j < e; ++j) {
      if (!head_max) {
        double s = 0;
        for (int r = 0; r < nrows; ++r) s += p[size_t(r) * nk + j];
        out[j] = static_cast<float>(s) * inv_rows;
        continue;
      }
      float best = 0.f;
      for (int h = 0; h < n_head; ++h) {
        double s = 0;
        for (int q = 0; q < nq; ++q) s += p[(size_t(q) * n_head + h) * nk + j];
        best = std::max(best, static_cast<float>(s) * inv_q);
      }
      out[j] = best;
    }
  });
  return out;
}

}  // namespace

std::vector<float> ScoreProbe::scores(ThreadPool& pool) const {
  const int nk = rows(), nq = static_cast<int>(qpos_.size());
  const int group = n_head_ / n_head_kv_;
  const size_t qd = size_t(n_head_) * hd_, kvd = size_t(n_head_kv_) * hd_;
  auto logits = [&](int j, float* col) {
    for (int qi = 0; qi < nq; ++qi)
      for (int h = 0; h < n_head_; ++h) {
        float& dst = col[(size_t(qi) * n_head_ + h) * nk];
        if (kpos_[j] > qpos_[qi]) {
          dst = -INFINITY;
          continue;
        }
        dst = ops::dot(&q_[qi * qd + size_t(h) * hd_], &k_[j * kvd + size_t(h / group) * hd_], hd_) * kq_scale_;
      }
  };
  std::vector<float> p(size_t(nq) * n_head_ * nk);
  fill_logits(0, nk, logits, p, pool);
  return mean_softmax(nq * n_head_, nk, p, pool, n_head_, head_max_);
}

std::vector<float> ScoreProbe::scores_stored(const LayerKV& kv, const std::vector<int>& slots,
                                             ThreadPool& pool) const {
  const int nk = static_cast<int>(slots.size()), nq = static_cast<int>(qpos_.size());
  const int group = n_head_ / n_head_kv_;
  const int kvd = n_head_kv_ * hd_;
  const size_t qd = size_t(n_head_) * hd_;
  auto logits = [&](int j, float* col) {
    const int slot = slots[j];
    const int32_t kp = kv.pos(slot);
    // The stored row in f32, as attention sees it (f16 rows are widened exactly).
    thread_local std::vector<float> key;
    key.resize(kvd);
    if (kv.type() == KVType::F32) std::memcpy(key.data(), kv.k_row(slot), sizeof(float) * kvd);
    else kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(kv.k_row(slot)), key.data(), kvd);
    for (int qi = 0; qi < nq; ++qi)
      for (int h = 0; h < n_head_; ++h) {
        float& dst = col[(size_t(qi) * n_head_ + h) * nk];
        dst = kp > qpos_[qi] ? -INFINITY
                             : ops::dot(&q_[qi * qd + size_t(h) * hd_], &key[size_t(h / group) * hd_], hd_) * kq_scale_;
      }
  };
  std::vector<float> p(size_t(nq) * n_head_ * nk);
  KVTier* tier = kv.tier();
  if (!tier || !tier->streaming(kv.layer_index())) {
    fill_logits(0, nk, logits, p, pool);
  } else {
    // The layer is larger than the KV budget and streams (kv/kv_tier.h): read the keys window by window.
    // Runs of slots whose blocks fit one window; each key's logit does not depend on the windows.
    struct Run {
      int j0, j1;
      std::vector<int> blocks;
    };
    std::vector<Run> runs;
    const size_t cap = static_cast<size_t>(tier->stream_capacity());
    for (int j = 0; j < nk; ++j) {
      const int b = kv.block_of(slots[j]);
      if (!runs.empty() && std::find(runs.back().blocks.begin(), runs.back().blocks.end(), b) != runs.back().blocks.end()) {
        runs.back().j1 = j + 1;
        continue;
      }
      if (runs.empty() || runs.back().blocks.size() >= cap) runs.push_back(Run{j, j, {}});
      runs.back().blocks.push_back(b);
      runs.back().j1 = j + 1;
    }
    for (size_t w = 0; w < runs.size(); ++w) {
      tier->stream_window(kv.layer_index(), runs[w].blocks, w + 1 < runs.size() ? runs[w + 1].blocks : std::vector<int>{});
      fill_logits(runs[w].j0, runs[w].j1, logits, p, pool);
    }
  }
  return mean_softmax(nq * n_head_, nk, p, pool, n_head_, head_max_);
}

}  // namespace slim
