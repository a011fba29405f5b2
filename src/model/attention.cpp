#include "model/attention.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <vector>

#include "runtime/thread_pool.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

// Numerics (see docs/correctness.md). The arithmetic follows what llama.cpp's CPU flash attention does for
// a batch of query rows (its tiled f32 path), so that our attention output is bit-identical to its output
// for the same Q/K/V and positions:
//  - keys are visited in tiles of kTile consecutive *positions* (tile t holds positions [t·kTile, (t+1)·kTile),
//    in position order; a position not in the cache is a masked entry); a tile with no visible key is skipped.
//    llama.cpp tiles by cache cell, and its cells hold positions 0, 1, 2, ... in order for one sequence, so
//    the tiles coincide; tiling by position also keeps our result independent of slot order, ring wrap-around
//    and micro-batch size (the invariants the row-subset forward pass relies on);
//  - a score is one sequential FMA chain over the head dimension (q·k, K converted from f16 to f32), in
//    float, starting from 0;
//  - per tile: running max M, rescale of the accumulator and sum by expf(M_old - M_new) when M grows, the
//    tile's exp(s - M) by ops::exp_approx, summed per 16 lanes and then in double;
//  - the output accumulator gets, per element, a sequential FMA chain over the tile's keys (p_j * v_j);
//  - finally out = acc * (1 / S).
// Masked and padding entries contribute exact zeros, so the result does not depend on how rows are grouped.
namespace slim {
namespace {

constexpr int kTile = 64;  // keys per tile (llama.cpp's KV tile of the tiled path)
constexpr int kRows = 8;   // query rows per task (shares the K/V tile conversion)

// Sum of 16 floats in the pairwise order of a 512-bit horizontal add (halves, quarters, pairs).
inline float sum16(const float* v) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = v[i + 8] + v[i];
  for (int i = 0; i < 4; ++i) u[i] = t[i + 4] + t[i];
  const float w0 = u[2] + u[0], w1 = u[3] + u[1];
  return w1 + w0;
}

// p[0..kTile) = exp(s - mx) in place; returns their sum (per 16 lanes in float, across groups in double).
inline double exp_tile(float* s, float mx) {
  double sum = 0.0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  for (int i = 0; i < kTile; i += 16) {
    const __m512 e = ops::exp_approx16(_mm512_sub_ps(_mm512_loadu_ps(s + i), _mm512_set1_ps(mx)));
    _mm512_storeu_ps(s + i, e);
    sum += static_cast<double>(_mm512_reduce_add_ps(e));
  }
#else
  for (int i = 0; i < kTile; i += 16) {
    for (int j = 0; j < 16; ++j) s[i + j] = ops::exp_approx(s[i + j] - mx);
    sum += static_cast<double>(sum16(s + i));
  }
#endif
  return sum;
}

// sc[c] = fma chain over d of q[d] * kt[d][c], c in [0, kTile): kt is the key tile transposed (hd × kTile).
inline void scores_tile(const float* q, const float* kt, int hd, float* sc) {
#if defined(__AVX512F__)
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int d = 0; d < hd; ++d) {
    const __m512 qd = _mm512_set1_ps(q[d]);
    const float* k = kt + d * kTile;
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(k), qd, a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(k + 16), qd, a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(k + 32), qd, a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(k + 48), qd, a3);
  }
  _mm512_storeu_ps(sc, a0);
  _mm512_storeu_ps(sc + 16, a1);
  _mm512_storeu_ps(sc + 32, a2);
  _mm512_storeu_ps(sc + 48, a3);
#else
  for (int c = 0; c < kTile; ++c) sc[c] = 0.f;
  for (int d = 0; d < hd; ++d)
    for (int c = 0; c < kTile; ++c) sc[c] = std::fma(q[d], kt[d * kTile + c], sc[c]);
#endif
}

// acc[d] = fma chain over j of p[j] * v[j][d] (v: kTile × hd, row-major).
inline void accumulate_tile(float* acc, const float* p, const float* v, int hd) {
  int d = 0;
#if defined(__AVX512F__)
  for (; d + 16 <= hd; d += 16) {
    __m512 a = _mm512_loadu_ps(acc + d);
    for (int j = 0; j < kTile; ++j) a = _mm512_fmadd_ps(_mm512_loadu_ps(v + j * hd + d), _mm512_set1_ps(p[j]), a);
    _mm512_storeu_ps(acc + d, a);
  }
#endif
  for (; d < hd; ++d) {
    float a = acc[d];
    for (int j = 0; j < kTile; ++j) a = std::fma(p[j], v[j * hd + d], a);
    acc[d] = a;
  }
}

inline void load_row(bool f16, const void* base, int off, int hd, float* dst) {
  if (f16) kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(base) + off, dst, hd);
  else std::copy_n(static_cast<const float*>(base) + off, hd, dst);
}

}  // namespace

void attention(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
               ThreadPool& pool) {
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const int n_slots = kv.size();
  const int32_t* kpos = kv.positions();
  // Slot of each position, over whole tiles: slot_at[(p - p0)] (or -1), p0 a multiple of kTile.
  int32_t pmin = INT32_MAX, pmax = -1;
  for (int j = 0; j < n_slots; ++j)
    if (kpos[j] >= 0) pmin = std::min(pmin, kpos[j]), pmax = std::max(pmax, kpos[j]);
  if (pmax < 0) pmin = pmax = 0;
  const int32_t p0 = pmin / kTile * kTile;
  const int n_tiles = pmax >= 0 && n_slots > 0 ? (pmax - p0) / kTile + 1 : 0;
  std::vector<int> slot_at(size_t(n_tiles) * kTile, -1);
  for (int j = 0; j < n_slots; ++j)
    if (kpos[j] >= 0) slot_at[kpos[j] - p0] = j;
  const int n_blocks = (n + kRows - 1) / kRows;
  const int64_t n_tasks = int64_t(n_blocks) * s.n_head_kv;
  const bool f16 = kv.type() == KVType::F16;
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    // Per-thread scratch: one K tile (transposed) and V tile in f32, the block's scores, and its running
    // softmax state (max, sum, accumulator) per (row, head).
    thread_local std::vector<float> kt, vt, sc, acc, mx, sum, krow;
    kt.resize(size_t(hd) * kTile);
    vt.resize(size_t(kTile) * hd);
    sc.resize(kTile);
    krow.resize(hd);
    const size_t states = size_t(kRows) * group;
    acc.resize(states * hd);
    mx.resize(states);
    sum.resize(states);
    for (;;) {
      const int64_t t = next.fetch_add(1);
      if (t >= n_tasks) break;
      const int g = static_cast<int>(t % s.n_head_kv);
      const int r0 = static_cast<int>(t / s.n_head_kv) * kRows, r1 = std::min(n, r0 + kRows);
      const int nr = r1 - r0;
      std::fill(acc.begin(), acc.begin() + size_t(nr) * group * hd, 0.f);
      std::fill(mx.begin(), mx.begin() + size_t(nr) * group, -INFINITY);
      std::fill(sum.begin(), sum.begin() + size_t(nr) * group, 0.f);
      auto visible = [&](int32_t p, int32_t kp) {
        return kp >= 0 && kp <= p && !(s.window > 0 && p - kp >= s.window);
      };
      for (int tile = 0; tile < n_tiles; ++tile) {
        const int* ts = slot_at.data() + size_t(tile) * kTile;
        const int32_t tp = p0 + tile * kTile;  // position of entry 0
        bool any = false;
        for (int r = r0; r < r1 && !any; ++r)
          for (int j = 0; j < kTile && !any; ++j) any = ts[j] >= 0 && visible(qpos[r], tp + j);
        if (!any) continue;
        // Convert the tile once for the whole block; absent keys are zero (their weight is zero).
        for (int j = 0; j < kTile; ++j) {
          if (ts[j] >= 0) {
            load_row(f16, kv.k_row(ts[j]), g * hd, hd, krow.data());
            for (int d = 0; d < hd; ++d) kt[size_t(d) * kTile + j] = krow[d];
            load_row(f16, kv.v_row(ts[j]), g * hd, hd, vt.data() + size_t(j) * hd);
          } else {
            for (int d = 0; d < hd; ++d) kt[size_t(d) * kTile + j] = 0.f;
            std::fill(vt.begin() + size_t(j) * hd, vt.begin() + size_t(j + 1) * hd, 0.f);
          }
        }
        for (int r = r0; r < r1; ++r) {
          const int32_t p = qpos[r];
          for (int h = 0; h < group; ++h) {
            const int head = g * group + h;
            const size_t st = size_t(r - r0) * group + h;
            scores_tile(q + (int64_t(r) * s.n_head + head) * hd, kt.data(), hd, sc.data());
            float tmax = -INFINITY;
            for (int j = 0; j < kTile; ++j) {
              if (ts[j] < 0 || !visible(p, tp + j)) sc[j] = -INFINITY;
              tmax = std::max(tmax, sc[j]);
            }
            if (tmax == -INFINITY) continue;  // nothing visible for this row in this tile
            float* a = acc.data() + st * hd;
            const float m_new = std::max(mx[st], tmax);
            if (m_new > mx[st]) {
              const float ms = std::exp(mx[st] - m_new);
              for (int d = 0; d < hd; ++d) a[d] *= ms;
              sum[st] *= ms;
            }
            mx[st] = m_new;
            sum[st] = static_cast<float>(static_cast<double>(sum[st]) + exp_tile(sc.data(), m_new));
            accumulate_tile(a, sc.data(), vt.data(), hd);
          }
        }
      }
      for (int r = r0; r < r1; ++r)
        for (int h = 0; h < group; ++h) {
          const size_t st = size_t(r - r0) * group + h;
          const float inv = sum[st] == 0.f ? 0.f : 1.0f / sum[st];
          const float* a = acc.data() + st * hd;
          float* o = out + (int64_t(r) * s.n_head + g * group + h) * hd;
          for (int d = 0; d < hd; ++d) o[d] = a[d] * inv;
        }
    }
  });
}

}  // namespace slim
