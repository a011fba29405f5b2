#include "model/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "runtime/thread_pool.h"
#include "tensor/kernels.h"

namespace slim {
namespace {

inline float dot_f16(const float* q, const uint16_t* k, int n) {
#if defined(__AVX512F__)
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 kv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + i)));
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), kv, acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; i < n; ++i) s += q[i] * kernels::fp16_to_fp32(k[i]);
  return s;
#else
  float s = 0.f;
  for (int i = 0; i < n; ++i) s += q[i] * kernels::fp16_to_fp32(k[i]);
  return s;
#endif
}

inline void axpy_f16(float* acc, const uint16_t* v, float w, int n) {
#if defined(__AVX512F__)
  const __m512 wv = _mm512_set1_ps(w);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 vv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)));
    _mm512_storeu_ps(acc + i, _mm512_fmadd_ps(wv, vv, _mm512_loadu_ps(acc + i)));
  }
  for (; i < n; ++i) acc[i] += w * kernels::fp16_to_fp32(v[i]);
#else
  for (int i = 0; i < n; ++i) acc[i] += w * kernels::fp16_to_fp32(v[i]);
#endif
}

inline float dot_f32(const float* q, const float* k, int n) {
  float s = 0.f;
  for (int i = 0; i < n; ++i) s += q[i] * k[i];
  return s;
}

inline void axpy_f32(float* acc, const float* v, float w, int n) {
  for (int i = 0; i < n; ++i) acc[i] += w * v[i];
}

}  // namespace

void attention(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
               ThreadPool& pool) {
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const int n_slots = kv.size();
  const int64_t n_tasks = int64_t(n) * s.n_head_kv;
  const int32_t* kpos = kv.positions();
  const bool f16 = kv.type() == KVType::F16;
  const int first = kv.first_slot();
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    // Per-thread scratch: the visible slots of one query and their scores for each head of the group.
    thread_local std::vector<int> slots;
    thread_local std::vector<float> scores;
    slots.resize(n_slots);
    scores.resize(static_cast<size_t>(n_slots) * group);
    for (;;) {
      const int64_t t0 = next.fetch_add(4);  // small chunks: causal rows differ in cost
      if (t0 >= n_tasks) break;
      for (int64_t t = t0; t < std::min(t0 + 4, n_tasks); ++t) {
        const int r = static_cast<int>(t / s.n_head_kv), g = static_cast<int>(t % s.n_head_kv);
        const int32_t p = qpos[r];
        // Visible keys in position order (see LayerKV::first_slot), so sums do not depend on storage order.
        int nv = 0;
        for (int i = 0, j = first; i < n_slots; ++i, j = j + 1 == n_slots ? 0 : j + 1) {
          const int32_t kp = kpos[j];
          if (kp < 0 || kp > p || (s.window > 0 && p - kp >= s.window)) continue;
          slots[nv++] = j;
        }
        if (!kv.in_order())
          std::sort(slots.begin(), slots.begin() + nv, [&](int a, int b) { return kpos[a] < kpos[b]; });
        for (int h = 0; h < group; ++h) {
          const int head = g * group + h;
          const float* qh = q + (int64_t(r) * s.n_head + head) * hd;
          float* sc = scores.data() + static_cast<size_t>(h) * n_slots;
          float mx = -INFINITY;
          for (int i = 0; i < nv; ++i) {
            const void* krow = kv.k_row(slots[i]);
            const float d = f16 ? dot_f16(qh, static_cast<const uint16_t*>(krow) + g * hd, hd)
                                : dot_f32(qh, static_cast<const float*>(krow) + g * hd, hd);
            sc[i] = d;
            mx = std::max(mx, d);
          }
          double sum = 0.0;
          for (int i = 0; i < nv; ++i) {
            sc[i] = std::exp(sc[i] - mx);
            sum += sc[i];
          }
          const float inv = nv > 0 ? static_cast<float>(1.0 / sum) : 0.f;
          float* o = out + (int64_t(r) * s.n_head + head) * hd;
          std::fill(o, o + hd, 0.f);
          for (int i = 0; i < nv; ++i) {
            const void* vrow = kv.v_row(slots[i]);
            if (f16) axpy_f16(o, static_cast<const uint16_t*>(vrow) + g * hd, sc[i] * inv, hd);
            else axpy_f32(o, static_cast<const float*>(vrow) + g * hd, sc[i] * inv, hd);
          }
        }
      }
    }
  });
}

}  // namespace slim
