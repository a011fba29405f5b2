#include "prune/probe.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/thread_pool.h"
#include "tensor/kernels.h"

namespace slim {

namespace {
// 16 independent partial sums: the compiler vectorises this without -ffast-math, and the result does not
// depend on the thread that computes it.
float dot(const float* a, const float* b, int n) {
  float acc[16] = {};
  int d = 0;
  for (; d + 16 <= n; d += 16)
    for (int t = 0; t < 16; ++t) acc[t] += a[d + t] * b[d + t];
  for (; d < n; ++d) acc[d & 15] += a[d] * b[d];
  float s = 0.f;
  for (float x : acc) s += x;
  return s;
}
}  // namespace

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

// Mean over (query, head) softmax rows of the probabilities each of nk keys receives. logits(j, col) writes
// key j's logit for every row r at col[r * nk] (-inf where the key is hidden). Fixed reduction order:
// the result does not depend on the thread count.
template <class KeyLogits>
std::vector<float> mean_softmax(int nrows, int nk, KeyLogits logits, ThreadPool& pool) {
  std::vector<float> out(nk, 0.f);
  if (nk == 0 || nrows == 0) return out;
  std::vector<float> p(size_t(nrows) * nk);
  // 1. logits, parallel over keys (each value is one independent dot product).
  pool.run([&](int tid, int nth) {
    int64_t b, e;
    ThreadPool::split(nk, tid, nth, b, e);
    for (int64_t j = b; j < e; ++j) logits(static_cast<int>(j), &p[j]);
  });
  // 2. softmax per (query, head) row, sequential within the row.
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
  // 3. mean over rows, in row order for every key.
  const float inv_rows = 1.f / static_cast<float>(nrows);
  pool.run([&](int tid, int nth) {
    int64_t b, e;
    ThreadPool::split(nk, tid, nth, b, e);
    for (int64_t j = b; j < e; ++j) {
      double s = 0;
      for (int r = 0; r < nrows; ++r) s += p[size_t(r) * nk + j];
      out[j] = static_cast<float>(s) * inv_rows;
    }
  });
  return out;
}

}  // namespace

std::vector<float> ScoreProbe::scores(ThreadPool& pool) const {
  const int nk = rows(), nq = static_cast<int>(qpos_.size());
  const int group = n_head_ / n_head_kv_;
  const size_t qd = size_t(n_head_) * hd_, kvd = size_t(n_head_kv_) * hd_;
  return mean_softmax(
      nq * n_head_, nk,
      [&](int j, float* col) {
        for (int qi = 0; qi < nq; ++qi)
          for (int h = 0; h < n_head_; ++h) {
            float& dst = col[(size_t(qi) * n_head_ + h) * nk];
            if (kpos_[j] > qpos_[qi]) {
              dst = -INFINITY;
              continue;
            }
            dst = dot(&q_[qi * qd + size_t(h) * hd_], &k_[j * kvd + size_t(h / group) * hd_], hd_) * kq_scale_;
          }
      },
      pool);
}

std::vector<float> ScoreProbe::scores_stored(const LayerKV& kv, const std::vector<int>& slots,
                                             ThreadPool& pool) const {
  const int nk = static_cast<int>(slots.size()), nq = static_cast<int>(qpos_.size());
  const int group = n_head_ / n_head_kv_;
  const int kvd = n_head_kv_ * hd_;
  const size_t qd = size_t(n_head_) * hd_;
  return mean_softmax(
      nq * n_head_, nk,
      [&](int j, float* col) {
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
                                 : dot(&q_[qi * qd + size_t(h) * hd_], &key[size_t(h / group) * hd_], hd_) * kq_scale_;
          }
      },
      pool);
}

}  // namespace slim
