// Attention kernels, compiled once per SIMD target (simd/foreach_target.h): this file includes itself once
// per pass with SLIM_NS set; the outer pass holds the includes and the dispatching entry point.
#ifndef SLIM_NS
// GCC 12's 512-bit intrinsics trip -W(maybe-)uninitialized on their internal _mm512_undefined_*().
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "model/attention.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kv/kv_tier.h"
#include "runtime/thread_pool.h"
#include "slim/error.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"
#include "simd/dispatch.h"

#define SLIM_TARGET_INCLUDE "model/attention.cpp"
#include "simd/foreach_target.h"

namespace slim {

void attention(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
               ThreadPool& pool) {
  SLIM_DISPATCH(attention)(q, qpos, n, kv, s, out, pool);
}

}  // namespace slim

#else  // one SIMD pass

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
namespace slim::SLIM_NS {
namespace {

#include "tensor/vec-inl.h"

constexpr int kTile = 64;  // keys per tile (llama.cpp's KV tile of the tiled path)
constexpr int kRows = 16;  // query rows per task (shares the K/V tile conversion)

// p[0..kTile) = exp(s - mx) in place; returns their sum (per 16 lanes in float, across groups in double).
inline double exp_tile(float* s, float mx) {
  double sum = 0.0;
#if SLIM_AVX512
  for (int i = 0; i < kTile; i += 16) {
    const __m512 e = exp_approx16(_mm512_sub_ps(_mm512_loadu_ps(s + i), _mm512_set1_ps(mx)));
    _mm512_storeu_ps(s + i, e);
    sum += static_cast<double>(_mm512_reduce_add_ps(e));
  }
#elif SLIM_AVX2
  const __m256 m = _mm256_set1_ps(mx);
  for (int i = 0; i < kTile; i += 16) {
    const __m256 e0 = exp_approx8(_mm256_sub_ps(_mm256_loadu_ps(s + i), m));
    const __m256 e1 = exp_approx8(_mm256_sub_ps(_mm256_loadu_ps(s + i + 8), m));
    _mm256_storeu_ps(s + i, e0);
    _mm256_storeu_ps(s + i + 8, e1);
    sum += static_cast<double>(hsum16(e0, e1));
  }
#elif SLIM_NEON
  const float32x4_t m = vdupq_n_f32(mx);
  for (int i = 0; i < kTile; i += 16) {
    float32x4_t e[4];
    for (int k = 0; k < 4; ++k) {
      e[k] = exp_approx4(vsubq_f32(vld1q_f32(s + i + 4 * k), m));
      vst1q_f32(s + i + 4 * k, e[k]);
    }
    sum += static_cast<double>(hsum16(e[0], e[1], e[2], e[3]));
  }
#else
  for (int i = 0; i < kTile; i += 16) {
    for (int j = 0; j < 16; ++j) s[i + j] = ops::exp_approx(s[i + j] - mx);
    sum += static_cast<double>(sum16(s + i));
  }
#endif
  return sum;
}

// Scores of S query states against one key tile: sc[i·kTile + c] = fma chain over d of q_i[d] · kt[d][c]
// (kt: the key tile transposed, hd × kTile). The states share every load of the tile; each score is still
// one sequential chain over d starting from 0.
template <int S>
inline void scores_tile(const float* const* q, const float* kt, int hd, float* sc) {
#if SLIM_AVX512
  __m512 a[S][4];
  for (int i = 0; i < S; ++i)
    for (int c = 0; c < 4; ++c) a[i][c] = _mm512_setzero_ps();
  for (int d = 0; d < hd; ++d) {
    const float* k = kt + size_t(d) * kTile;
    const __m512 k0 = _mm512_loadu_ps(k), k1 = _mm512_loadu_ps(k + 16), k2 = _mm512_loadu_ps(k + 32),
                 k3 = _mm512_loadu_ps(k + 48);
    for (int i = 0; i < S; ++i) {
      const __m512 qd = _mm512_set1_ps(q[i][d]);
      a[i][0] = _mm512_fmadd_ps(k0, qd, a[i][0]);
      a[i][1] = _mm512_fmadd_ps(k1, qd, a[i][1]);
      a[i][2] = _mm512_fmadd_ps(k2, qd, a[i][2]);
      a[i][3] = _mm512_fmadd_ps(k3, qd, a[i][3]);
    }
  }
  for (int i = 0; i < S; ++i)
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(sc + i * kTile + 16 * c, a[i][c]);
#elif SLIM_AVX2
  // 16 ymm registers: S states × 16 keys per pass over d (S <= 4: 8 sums, 2 key loads, S broadcasts).
  for (int c0 = 0; c0 < kTile; c0 += 16) {
    __m256 a[S][2];
    for (int i = 0; i < S; ++i) a[i][0] = a[i][1] = _mm256_setzero_ps();
    for (int d = 0; d < hd; ++d) {
      const float* k = kt + size_t(d) * kTile + c0;
      const __m256 k0 = _mm256_loadu_ps(k), k1 = _mm256_loadu_ps(k + 8);
      for (int i = 0; i < S; ++i) {
        const __m256 qd = _mm256_broadcast_ss(&q[i][d]);
        a[i][0] = _mm256_fmadd_ps(k0, qd, a[i][0]);
        a[i][1] = _mm256_fmadd_ps(k1, qd, a[i][1]);
      }
    }
    for (int i = 0; i < S; ++i) {
      _mm256_storeu_ps(sc + i * kTile + c0, a[i][0]);
      _mm256_storeu_ps(sc + i * kTile + c0 + 8, a[i][1]);
    }
  }
#elif SLIM_NEON
  // 32 q registers: S states (S <= 4) × 16 keys of sums per pass over d, 4 key loads, S broadcasts.
  for (int c0 = 0; c0 < kTile; c0 += 16) {
    float32x4_t a[S][4];
    for (int i = 0; i < S; ++i)
      for (int b = 0; b < 4; ++b) a[i][b] = vdupq_n_f32(0.f);
    for (int d = 0; d < hd; ++d) {
      const float* k = kt + size_t(d) * kTile + c0;
      float32x4_t kb[4];
      for (int b = 0; b < 4; ++b) kb[b] = vld1q_f32(k + 4 * b);
      for (int i = 0; i < S; ++i) {
        const float32x4_t qd = vdupq_n_f32(q[i][d]);
        for (int b = 0; b < 4; ++b) a[i][b] = vfmaq_f32(a[i][b], kb[b], qd);
      }
    }
    for (int i = 0; i < S; ++i)
      for (int b = 0; b < 4; ++b) vst1q_f32(sc + i * kTile + c0 + 4 * b, a[i][b]);
  }
#else
  for (int i = 0; i < S; ++i) {
    float* si = sc + i * kTile;
    for (int c = 0; c < kTile; ++c) si[c] = 0.f;
    for (int d = 0; d < hd; ++d)
      for (int c = 0; c < kTile; ++c) si[c] = std::fma(q[i][d], kt[d * kTile + c], si[c]);
  }
#endif
}

// Where a tile's values come from: the converted f32 tile (kTile × hd, row-major), or straight from the f16
// cache rows (rows[j]: row j's head slice, a zero row for an absent key), converted in registers.
struct VTileF32 {
  const float* v;
  int hd;
  float at(int j, int e) const { return v[size_t(j) * hd + e]; }
#if SLIM_AVX512
  __m512 load(int j, int d) const { return _mm512_loadu_ps(v + size_t(j) * hd + d); }
#endif
#if SLIM_AVX2
  __m256 load8(int j, int d) const { return _mm256_loadu_ps(v + size_t(j) * hd + d); }
#endif
#if SLIM_NEON
  float32x4_t load4(int j, int d) const { return vld1q_f32(v + size_t(j) * hd + d); }
#endif
};
struct VTileF16 {
  const uint16_t* const* rows;
  float at(int j, int e) const { return kernels::fp16_to_fp32(rows[j][e]); }
#if SLIM_AVX512
  __m512 load(int j, int d) const {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[j] + d)));
  }
#endif
#if SLIM_AVX2
  __m256 load8(int j, int d) const {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[j] + d)));
  }
#endif
#if SLIM_NEON
  float32x4_t load4(int j, int d) const { return load4_f16(rows[j] + d); }
#endif
};

#if SLIM_AVX512
// Columns [d, d + 16·NB) of accumulate_tile: S·NB independent chains, each element's chain over j in order.
template <int S, int NB, class V>
inline void accumulate_cols(float* const* acc, const float* const* p, const V& v, int d) {
  __m512 a[S][NB];
  for (int i = 0; i < S; ++i)
    for (int b = 0; b < NB; ++b) a[i][b] = _mm512_loadu_ps(acc[i] + d + 16 * b);
  for (int j = 0; j < kTile; ++j) {
    __m512 pj[S];
    for (int i = 0; i < S; ++i) pj[i] = _mm512_set1_ps(p[i][j]);
    for (int b = 0; b < NB; ++b) {
      const __m512 x = v.load(j, d + 16 * b);
      for (int i = 0; i < S; ++i) a[i][b] = _mm512_fmadd_ps(x, pj[i], a[i][b]);
    }
  }
  for (int i = 0; i < S; ++i)
    for (int b = 0; b < NB; ++b) _mm512_storeu_ps(acc[i] + d + 16 * b, a[i][b]);
}
#elif SLIM_AVX2
// Columns [d, d + 8·NB) of accumulate_tile on 8-lane registers (S·NB <= 8 sums).
template <int S, int NB, class V>
inline void accumulate_cols8(float* const* acc, const float* const* p, const V& v, int d) {
  __m256 a[S][NB];
  for (int i = 0; i < S; ++i)
    for (int b = 0; b < NB; ++b) a[i][b] = _mm256_loadu_ps(acc[i] + d + 8 * b);
  for (int j = 0; j < kTile; ++j) {
    __m256 pj[S];
    for (int i = 0; i < S; ++i) pj[i] = _mm256_broadcast_ss(&p[i][j]);
    for (int b = 0; b < NB; ++b) {
      const __m256 x = v.load8(j, d + 8 * b);
      for (int i = 0; i < S; ++i) a[i][b] = _mm256_fmadd_ps(x, pj[i], a[i][b]);
    }
  }
  for (int i = 0; i < S; ++i)
    for (int b = 0; b < NB; ++b) _mm256_storeu_ps(acc[i] + d + 8 * b, a[i][b]);
}
#elif SLIM_NEON
// Columns [d, d + 4·NB) of accumulate_tile on 4-lane registers (S·NB <= 16 sums).
template <int S, int NB, class V>
inline void accumulate_cols4(float* const* acc, const float* const* p, const V& v, int d) {
  float32x4_t a[S][NB];
  for (int i = 0; i < S; ++i)
    for (int b = 0; b < NB; ++b) a[i][b] = vld1q_f32(acc[i] + d + 4 * b);
  for (int j = 0; j < kTile; ++j) {
    float32x4_t pj[S];
    for (int i = 0; i < S; ++i) pj[i] = vdupq_n_f32(p[i][j]);
    for (int b = 0; b < NB; ++b) {
      const float32x4_t x = v.load4(j, d + 4 * b);
      for (int i = 0; i < S; ++i) a[i][b] = vfmaq_f32(a[i][b], x, pj[i]);
    }
  }
  for (int i = 0; i < S; ++i)
    for (int b = 0; b < NB; ++b) vst1q_f32(acc[i] + d + 4 * b, a[i][b]);
}
#endif

// acc_i[d] = fma chain over j of p_i[j] · v[j][d] for S states sharing the V loads. Blocks of 16-lane
// columns keep several independent chains in flight (one chain per column would wait on the FMA latency);
// each element's chain over j is the same whatever the blocking or the V source.
template <int S, class V>
inline void accumulate_tile(float* const* acc, const float* const* p, const V& v, int hd) {
  int d = 0;
#if SLIM_AVX512
  constexpr int NB = S >= 4 ? 4 : 8;
  for (; d + 16 * NB <= hd; d += 16 * NB) accumulate_cols<S, NB>(acc, p, v, d);
  if constexpr (NB > 4)
    for (; d + 64 <= hd; d += 64) accumulate_cols<S, 4>(acc, p, v, d);
  for (; d + 16 <= hd; d += 16) accumulate_cols<S, 1>(acc, p, v, d);
#elif SLIM_AVX2
  constexpr int NB = S >= 3 ? 2 : 4;
  for (; d + 8 * NB <= hd; d += 8 * NB) accumulate_cols8<S, NB>(acc, p, v, d);
  for (; d + 8 <= hd; d += 8) accumulate_cols8<S, 1>(acc, p, v, d);
#elif SLIM_NEON
  constexpr int NB = S >= 3 ? 4 : 8;
  for (; d + 4 * NB <= hd; d += 4 * NB) accumulate_cols4<S, NB>(acc, p, v, d);
  for (; d + 4 <= hd; d += 4) accumulate_cols4<S, 1>(acc, p, v, d);
#endif
  for (int i = 0; i < S; ++i)
    for (int e = d; e < hd; ++e) {
      float a = acc[i][e];
      for (int j = 0; j < kTile; ++j) a = std::fma(p[i][j], v.at(j, e), a);
      acc[i][e] = a;
    }
}

inline void load_row(bool f16, const void* base, int off, int hd, float* dst) {
  if (f16) kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(base) + off, dst, hd);
  else std::copy_n(static_cast<const float*>(base) + off, hd, dst);
}

#if SLIM_AVX512
// In-register transpose of a 16 × 16 float block: r[i] holds row i on entry, column i on exit.
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);  // per 128-bit lane: a0 b0 a1 b1
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3
  }
  for (int i = 0; i < 16; i += 4) {  // u[i + k], lane L: column 4L + k of rows i..i+3
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    const __m512 e0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88), e1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
    const __m512 o0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD), o1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_f32x4(e0, e1, 0x88);
    r[8 + k] = _mm512_shuffle_f32x4(e0, e1, 0xDD);
    r[4 + k] = _mm512_shuffle_f32x4(o0, o1, 0x88);
    r[12 + k] = _mm512_shuffle_f32x4(o0, o1, 0xDD);
  }
}
#endif

// scores_tile for a few states, reading the key rows straight from the f16 cache (rows[j]: key j's head
// slice, a zero row when absent): each 16 × 16 block is converted and transposed in registers and used at
// once, instead of being stored as the f32 tile and loaded again. For decode, where a tile serves only the
// group's few query heads, that round trip cost more than the arithmetic. Same chains as scores_tile (over d
// in order from 0, fma(k, q, acc)), so the same bits. Needs hd % 16 == 0.
// Key rows of a tile: a table of row pointers, or (the common case: slots consecutive in the tile) one base
// pointer and a stride, which keeps the 16 loads of a block from competing for registers with the sums.
struct KRowsTable {
  const uint16_t* const* rows;
  const uint16_t* row(int j) const { return rows[j]; }
};
struct KRowsStrided {
  const uint16_t* base;
  size_t stride;
  const uint16_t* row(int j) const { return base + size_t(j) * stride; }
};

#if SLIM_AVX512
template <int S, class Rows>
inline void scores_rows_f16(const float* const* q, const Rows& rows, int hd, float* sc) {
  for (int jb = 0; jb < kTile; jb += 16) {
    __m512 a[S];
    for (int i = 0; i < S; ++i) a[i] = _mm512_setzero_ps();
    for (int db = 0; db < hd; db += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows.row(jb + i) + db)));
      transpose16(r);
      for (int e = 0; e < 16; ++e)
        for (int i = 0; i < S; ++i) a[i] = _mm512_fmadd_ps(r[e], _mm512_set1_ps(q[i][db + e]), a[i]);
    }
    for (int i = 0; i < S; ++i) _mm512_storeu_ps(sc + i * kTile + jb, a[i]);
  }
}
#elif SLIM_AVX2
// The same on 8 × 8 blocks.
template <int S, class Rows>
inline void scores_rows_f16(const float* const* q, const Rows& rows, int hd, float* sc) {
  for (int jb = 0; jb < kTile; jb += 8) {
    __m256 a[S];
    for (int i = 0; i < S; ++i) a[i] = _mm256_setzero_ps();
    for (int db = 0; db < hd; db += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows.row(jb + i) + db)));
      transpose8(r);
      for (int e = 0; e < 8; ++e)
        for (int i = 0; i < S; ++i) a[i] = _mm256_fmadd_ps(r[e], _mm256_broadcast_ss(&q[i][db + e]), a[i]);
    }
    for (int i = 0; i < S; ++i) _mm256_storeu_ps(sc + i * kTile + jb, a[i]);
  }
}
#elif SLIM_NEON
// The same on 4 × 4 blocks, two blocks of keys per pass (2·S independent chains).
template <int S, class Rows>
inline void scores_rows_f16(const float* const* q, const Rows& rows, int hd, float* sc) {
  for (int jb = 0; jb < kTile; jb += 8) {
    float32x4_t a[S][2];
    for (int i = 0; i < S; ++i) a[i][0] = a[i][1] = vdupq_n_f32(0.f);
    for (int db = 0; db < hd; db += 4) {
      float32x4_t r[2][4];
      for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < 4; ++i) r[h][i] = load4_f16(rows.row(jb + 4 * h + i) + db);
        transpose4(r[h]);
      }
      for (int e = 0; e < 4; ++e)
        for (int i = 0; i < S; ++i) {
          const float32x4_t qe = vdupq_n_f32(q[i][db + e]);
          a[i][0] = vfmaq_f32(a[i][0], r[0][e], qe);
          a[i][1] = vfmaq_f32(a[i][1], r[1][e], qe);
        }
    }
    for (int i = 0; i < S; ++i) {
      vst1q_f32(sc + i * kTile + jb, a[i][0]);
      vst1q_f32(sc + i * kTile + jb + 4, a[i][1]);
    }
  }
}
#endif

#if SLIM_AVX2 || SLIM_NEON

template <class Rows>
inline void scores_rows_f16(int S, const float* const* q, const Rows& rows, int hd, float* sc) {
  switch (S) {
    case 4: scores_rows_f16<4>(q, rows, hd, sc); break;
    case 3: scores_rows_f16<3>(q, rows, hd, sc); break;
    case 2: scores_rows_f16<2>(q, rows, hd, sc); break;
    default: scores_rows_f16<1>(q, rows, hd, sc); break;
  }
}
#endif

// Converts the key tile with slots ts[0..kTile) (-1: absent, zeros) of kv head offset off into kt
// (transposed, hd × kTile) and the value tile into vt (kTile × hd), both f32. Pure data movement.
inline void load_tile(const LayerKV& kv, bool f16, const int* ts, int off, int hd, float* kt, float* vt,
                      float* krow) {
  for (int j = 0; j < kTile; ++j) {
    if (ts[j] >= 0) load_row(f16, kv.v_row(ts[j]), off, hd, vt + size_t(j) * hd);
    else std::fill(vt + size_t(j) * hd, vt + size_t(j + 1) * hd, 0.f);
  }
#if SLIM_AVX512
  if (hd % 16 == 0) {
    for (int jb = 0; jb < kTile; jb += 16)
      for (int db = 0; db < hd; db += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; ++i) {
          const int slot = ts[jb + i];
          if (slot < 0) r[i] = _mm512_setzero_ps();
          else if (f16)
            r[i] = _mm512_cvtph_ps(_mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(kv.k_row(slot)) + off + db)));
          else r[i] = _mm512_loadu_ps(static_cast<const float*>(kv.k_row(slot)) + off + db);
        }
        transpose16(r);
        for (int i = 0; i < 16; ++i) _mm512_storeu_ps(kt + size_t(db + i) * kTile + jb, r[i]);
      }
    return;
  }
#elif SLIM_AVX2
  if (hd % 8 == 0) {
    for (int jb = 0; jb < kTile; jb += 8)
      for (int db = 0; db < hd; db += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) {
          const int slot = ts[jb + i];
          if (slot < 0) r[i] = _mm256_setzero_ps();
          else if (f16)
            r[i] = _mm256_cvtph_ps(_mm_loadu_si128(
                reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(kv.k_row(slot)) + off + db)));
          else r[i] = _mm256_loadu_ps(static_cast<const float*>(kv.k_row(slot)) + off + db);
        }
        transpose8(r);
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(kt + size_t(db + i) * kTile + jb, r[i]);
      }
    return;
  }
#elif SLIM_NEON
  if (hd % 4 == 0) {
    for (int jb = 0; jb < kTile; jb += 4)
      for (int db = 0; db < hd; db += 4) {
        float32x4_t r[4];
        for (int i = 0; i < 4; ++i) {
          const int slot = ts[jb + i];
          if (slot < 0) r[i] = vdupq_n_f32(0.f);
          else if (f16) r[i] = load4_f16(static_cast<const uint16_t*>(kv.k_row(slot)) + off + db);
          else r[i] = vld1q_f32(static_cast<const float*>(kv.k_row(slot)) + off + db);
        }
        transpose4(r);
        for (int i = 0; i < 4; ++i) vst1q_f32(kt + size_t(db + i) * kTile + jb, r[i]);
      }
    return;
  }
#endif
  for (int j = 0; j < kTile; ++j) {
    if (ts[j] >= 0) {
      load_row(f16, kv.k_row(ts[j]), off, hd, krow);
      for (int d = 0; d < hd; ++d) kt[size_t(d) * kTile + j] = krow[d];
    } else {
      for (int d = 0; d < hd; ++d) kt[size_t(d) * kTile + j] = 0.f;
    }
  }
}


// ---- llama.cpp-compatible path (AttentionShape::llama_compat) ----
// Reproduces the arithmetic of llama.cpp's CPU flash attention for batches of fewer than 64 query rows (its
// per-row kernel), as built with -march=native for AVX-512 without AVX512-FP16 (Zen 4):
//  - q is rounded to f16 (round to nearest even) when the KV cache is f16, kept f32 when it is f32;
//  - a score is ggml's dot product: four 16-lane f32 FMA accumulators over 64-element steps, folded
//    (0+2, 1+3, then 0+1), summed across lanes (halves, quarters, pairs), widened to double with any tail
//    (n % 64) added in double (f16) or fused in float (f32), then rounded to float and multiplied by kq_scale;
//  - keys one by one in position order, masked ones skipped; on a new maximum the accumulator is scaled by
//    ms = expf(M_old - M) and the key added with weight 1, otherwise added with vs = expf(s - M);
//    S = fma(S, ms, vs) (llama.cpp's S*ms + vs, contracted by its compiler);
//  - with an f16 cache the accumulator is an f16 vector: every update is fma(v, w, acc) in f32 rounded back
//    to f16, every rescale acc*ms rounded to f16; with an f32 cache the same in f32;
//  - out = float(acc) * (1/S);
//  - a single-row batch with at least 512 cache cells (llama.cpp pads its cell count to 256) splits the cells
//    into pool.size() equal chunks, each reduced as above, then merged in chunk order:
//    acc = fma(acc, expf(M - M'), acc_c * expf(M_c - M')), same for S, M' = max(M, M_c).
namespace compat {

constexpr int kStep = 64;  // ggml's f16/f32 dot step on AVX-512 (4 registers of 16 lanes)

inline float to_f32(uint16_t h) { return kernels::fp16_to_fp32(h); }
inline float to_f32(float f) { return f; }

#if SLIM_AVX512
inline __m512 load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
#endif

template <class T>
float dot(const T* k, const T* q, int n) {
  const int np = n / kStep * kStep;
  float acc[4][16] = {};
#if SLIM_AVX512
  __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (int i = 0; i < np; i += kStep)
    for (int j = 0; j < 4; ++j) a[j] = _mm512_fmadd_ps(load16(k + i + 16 * j), load16(q + i + 16 * j), a[j]);
  a[0] = _mm512_add_ps(a[0], a[2]);
  a[1] = _mm512_add_ps(a[1], a[3]);
  a[0] = _mm512_add_ps(a[0], a[1]);
  double sum = _mm512_reduce_add_ps(a[0]);
  (void)acc;
#else
  for (int i = 0; i < np; i += kStep)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 16; ++l)
        acc[j][l] = std::fma(to_f32(k[i + 16 * j + l]), to_f32(q[i + 16 * j + l]), acc[j][l]);
  for (int l = 0; l < 16; ++l) {
    acc[0][l] += acc[2][l];
    acc[1][l] += acc[3][l];
    acc[0][l] += acc[1][l];
  }
  double sum = sum16(acc[0]);
#endif
  if constexpr (std::is_same_v<T, uint16_t>) {
    for (int i = np; i < n; ++i) sum += static_cast<double>(to_f32(k[i]) * to_f32(q[i]));
    return static_cast<float>(sum);
  } else {
    float f = static_cast<float>(sum);
    for (int i = np; i < n; ++i) f = std::fma(k[i], q[i], f);
    return f;
  }
}

// acc[d] = round(fma(v[d], w, acc[d])) — the rounding is to f16 for an f16 accumulator.
inline void mad(uint16_t* acc, const uint16_t* v, float w, int n) {
  int d = 0;
#if SLIM_AVX512
  const __m512 wv = _mm512_set1_ps(w);
  for (; d + 16 <= n; d += 16) {
    const __m512 x = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + d)));
    const __m512 y = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + d)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + d),
                        _mm512_cvtps_ph(_mm512_fmadd_ps(x, wv, y), _MM_FROUND_TO_NEAREST_INT));
  }
#endif
  for (; d < n; ++d) acc[d] = kernels::fp32_to_fp16(std::fma(to_f32(v[d]), w, to_f32(acc[d])));
}
inline void mad(float* acc, const float* v, float w, int n) {
  for (int d = 0; d < n; ++d) acc[d] = std::fma(v[d], w, acc[d]);
}
inline void scale(uint16_t* acc, float w, int n) {
  for (int d = 0; d < n; ++d) acc[d] = kernels::fp32_to_fp16(to_f32(acc[d]) * w);
}
inline void scale(float* acc, float w, int n) {
  for (int d = 0; d < n; ++d) acc[d] *= w;
}

// Running state of one (row, head) over a range of keys.
struct Partial {
  float M = -INFINITY, S = 0.f;
};

// Visits the visible keys with positions in [lo, hi) in order; acc (hd elements of T) must start at zero.
template <class T>
Partial run_keys(const T* qh, int32_t p, int64_t lo, int64_t hi, const std::vector<int>& slot_at, int32_t pbase,
                 const LayerKV& kv, int koff, const AttentionShape& s, T* acc) {
  const int hd = s.head_dim;
  Partial st;
  lo = std::max<int64_t>(lo, pbase);
  hi = std::min<int64_t>(hi, pbase + int64_t(slot_at.size()));
  for (int32_t kp = static_cast<int32_t>(lo); kp < hi; ++kp) {
    const int slot = slot_at[kp - pbase];
    if (slot < 0 || kp > p || (s.window > 0 && p - kp >= s.window)) continue;
    const T* k = static_cast<const T*>(kv.k_row(slot)) + koff;
    const T* v = static_cast<const T*>(kv.v_row(slot)) + koff;
    const float sc = dot(k, qh, hd) * s.kq_scale;
    float ms = 1.f, vs = 1.f;
    if (sc > st.M) {
      const float m_old = st.M;
      st.M = sc;
      ms = std::exp(m_old - st.M);
      scale(acc, ms, hd);
    } else {
      vs = std::exp(sc - st.M);
    }
    mad(acc, v, vs, hd);
    st.S = std::fma(st.S, ms, vs);
  }
  return st;
}

template <class T>
void run(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
         ThreadPool& pool) {
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const int n_slots = kv.size();
  const int32_t* kpos = kv.positions();
  int32_t pmin = INT32_MAX, pmax = -1;
  for (int j = 0; j < n_slots; ++j)
    if (kpos[j] >= 0) pmin = std::min(pmin, kpos[j]), pmax = std::max(pmax, kpos[j]);
  if (pmax < 0) pmin = 0;
  std::vector<int> slot_at(size_t(pmax - pmin + 1), -1);
  for (int j = 0; j < n_slots; ++j)
    if (kpos[j] >= 0 && (!s.key_mask || s.key_mask[kpos[j]])) slot_at[kpos[j] - pmin] = j;
  // llama.cpp's cell count for this step (cells hold positions 0, 1, 2, ... for one sequence): at least 256,
  // padded to 256; at 512 or more a one-row batch is split into one chunk of cells per thread.
  const int64_t n_cells = std::max<int64_t>(256, (int64_t(pmax) + 1 + 255) / 256 * 256);
  const int nth = std::max(1, pool.size());
  const bool split = s.one_row_batch && n == 1 && n_cells >= 512;
  const int64_t chunk = split ? (n_cells + nth - 1) / nth : n_cells;
  const int n_chunks = split ? nth : 1;
  const int64_t n_tasks = int64_t(n) * s.n_head;
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    thread_local std::vector<T> qh, acc;
    thread_local std::vector<float> fin, part;
    qh.resize(hd);
    acc.resize(hd);
    fin.resize(hd);
    part.resize(hd);
    for (;;) {
      const int64_t t = next.fetch_add(1);
      if (t >= n_tasks) break;
      const int r = static_cast<int>(t / s.n_head), head = static_cast<int>(t % s.n_head);
      const int g = head / group;
      const float* qr = q + (int64_t(r) * s.n_head + head) * hd;
      if constexpr (std::is_same_v<T, uint16_t>) kernels::fp32_to_fp16_row(qr, qh.data(), hd);
      else std::copy_n(qr, hd, qh.data());
      float* o = out + (int64_t(r) * s.n_head + head) * hd;
      if (!split) {
        std::fill(acc.begin(), acc.end(), T{});
        const Partial st = run_keys<T>(qh.data(), qpos[r], pmin, pmax + 1, slot_at, pmin, kv, g * hd, s, acc.data());
        const float inv = st.S == 0.f ? 0.f : 1.0f / st.S;
        for (int d = 0; d < hd; ++d) o[d] = to_f32(acc[d]) * inv;
        continue;
      }
      float M = -INFINITY, S = 0.f;
      std::fill(fin.begin(), fin.end(), 0.f);
      for (int c = 0; c < n_chunks; ++c) {
        const int64_t lo = c * chunk, hi = std::min(lo + chunk, n_cells);
        if (lo >= n_cells) continue;
        std::fill(acc.begin(), acc.end(), T{});
        const Partial st = run_keys<T>(qh.data(), qpos[r], lo, hi, slot_at, pmin, kv, g * hd, s, acc.data());
        if (st.S == 0.f) continue;
        const float m_new = std::max(M, st.M);
        const float w_old = std::exp(M - m_new), w_new = std::exp(st.M - m_new);
        for (int d = 0; d < hd; ++d) fin[d] = std::fma(fin[d], w_old, to_f32(acc[d]) * w_new);
        S = std::fma(S, w_old, st.S * w_new);
        M = m_new;
      }
      const float inv = S == 0.f ? 1.f : 1.0f / S;  // llama.cpp leaves an all-masked row at zero
      for (int d = 0; d < hd; ++d) o[d] = fin[d] * inv;
    }
  });
}

}  // namespace compat

// Windows of a streamed layer (kv/kv_tier.h): consecutive key tiles [first, last) whose blocks fit one
// window of the tier. Tiles after the last query position are left out (no query sees them).
struct StreamWindow {
  int first, last;
  std::vector<int> blocks;
};

std::vector<StreamWindow> plan_windows(const LayerKV& kv, const std::vector<int>& slot_at, int n_tiles, int32_t p0,
                                       int32_t qmax, int capacity) {
  std::vector<StreamWindow> wins;
  std::vector<int> stamp(size_t(kv.n_blocks()), -1), tile_blocks;
  StreamWindow cur{0, 0, {}};
  int t = 0;
  for (; t < n_tiles && p0 + t * kTile <= qmax; ++t) {
    tile_blocks.clear();  // every block the tile reads (a tile may straddle two)
    for (int j = 0; j < kTile; ++j) {
      const int slot = slot_at[size_t(t) * kTile + j];
      if (slot < 0) continue;
      const int b = kv.block_of(slot);
      if (std::find(tile_blocks.begin(), tile_blocks.end(), b) == tile_blocks.end()) tile_blocks.push_back(b);
    }
    size_t n_new = 0;
    for (int b : tile_blocks) n_new += stamp[b] != static_cast<int>(wins.size());
    if (!cur.blocks.empty() && cur.blocks.size() + n_new > size_t(capacity)) {
      cur.last = t;
      wins.push_back(std::move(cur));
      cur = StreamWindow{t, t, {}};
    }
    for (int b : tile_blocks)
      if (stamp[b] != static_cast<int>(wins.size())) {
        stamp[b] = static_cast<int>(wins.size());
        cur.blocks.push_back(b);
      }
  }
  cur.last = t;
  if (cur.last > cur.first) wins.push_back(std::move(cur));
  return wins;
}

}  // namespace

void attention(const float* q, const int32_t* qpos, int n, const LayerKV& kv, const AttentionShape& s, float* out,
               ThreadPool& pool) {
  KVTier* tier = kv.tier();
  const bool streamed = tier && tier->streaming(kv.layer_index());
  if (s.llama_compat) {
    if (streamed)
      throw Error("attention: --llama-compat needs each layer's KV resident as a whole; raise --kv-budget to at "
                  "least the largest layer");
    if (kv.type() == KVType::F16) compat::run<uint16_t>(q, qpos, n, kv, s, out, pool);
    else compat::run<float>(q, qpos, n, kv, s, out, pool);
    return;
  }
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
    if (kpos[j] >= 0 && (!s.key_mask || s.key_mask[kpos[j]])) slot_at[kpos[j] - p0] = j;
  // Tiles whose 64 positions are all stored and visible under key_mask: for a row that sees the whole tile,
  // the per-entry mask checks are skipped (decode visits almost only such tiles).
  std::vector<uint8_t> tile_full(size_t(n_tiles), 1);
  for (int t = 0; t < n_tiles; ++t)
    for (int j = 0; j < kTile && tile_full[t]; ++j) tile_full[t] = slot_at[size_t(t) * kTile + j] >= 0;
  // A task is a block of up to kRows rows × nh query heads of one kv group, sharing each converted K/V tile.
  // Every (row, head) keeps its own softmax state, so how heads are grouped into tasks does not change any
  // bit. Prefill: the tasks are taken dynamically, and with few row blocks a group's heads are split so that
  // every thread gets work. One row (decode): thread i takes the i-th equal share of the query heads, cut at
  // group boundaries (3 kv heads of 3 query heads on 2 threads: 5 + 4 heads, not 6 + 3).
  struct Task {
    int r0, g, h0, nh;
  };
  std::vector<Task> tasks;
  std::vector<int> first_task;  // decode: thread i runs tasks [first_task[i], first_task[i + 1])
  const int nth = std::max(1, pool.size());
  if (n == 1) {
    first_task.push_back(0);
    for (int i = 0; i < nth; ++i) {
      int64_t hb, he;
      ThreadPool::split(s.n_head, i, nth, hb, he);
      for (int h = static_cast<int>(hb); h < he;) {
        const int g = h / group, end = std::min<int>(static_cast<int>(he), (g + 1) * group);
        tasks.push_back({0, g, h, end - h});
        h = end;
      }
      first_task.push_back(static_cast<int>(tasks.size()));
    }
  } else {
    const int n_blocks = (n + kRows - 1) / kRows;
    int n_split = 1;
    while (int64_t(n_blocks) * s.n_head_kv * n_split < nth && n_split < group) {
      ++n_split;
      while (group % n_split != 0) ++n_split;
    }
    const int gh = group / n_split;
    for (int blk = 0; blk < n_blocks; ++blk)
      for (int g = 0; g < s.n_head_kv; ++g)
        for (int part = 0; part < n_split; ++part) tasks.push_back({blk * kRows, g, g * group + part * gh, gh});
  }
  const bool f16 = kv.type() == KVType::F16;
#if SLIM_AVX2 || SLIM_NEON
  const bool can_fuse = f16 && hd % 16 == 0;  // scores_rows_f16 / VTileF16 for tasks of at most 4 states
#else
  const bool can_fuse = false;
#endif
  const std::vector<uint16_t> zero_row(can_fuse ? size_t(hd) : 0, 0);
  // Running softmax state (max, sum, accumulator) of every (row, head), kept across the tile ranges of a
  // streamed layer; a resident layer runs all its tiles in one range.
  thread_local std::vector<float> acc_all, mx_all, sum_all;
  const size_t n_states = size_t(n) * s.n_head;
  acc_all.assign(n_states * hd, 0.f);
  mx_all.assign(n_states, -INFINITY);
  sum_all.assign(n_states, 0.f);
  // (A lambda names a thread_local directly, per executing thread: the workers get plain pointers.)
  float* const acc_base = acc_all.data();
  float* const mx_base = mx_all.data();
  float* const sum_base = sum_all.data();
  auto run_tiles = [&](int tile_first, int tile_last) {
    std::atomic<int64_t> next{0};
    pool.run([&](int tid, int) {
      // Per-thread scratch: one K tile (transposed) and V tile in f32, the block's scores, and pointers to
      // the block's states (query, accumulator, max, sum) and to those with a visible key in a tile.
      thread_local std::vector<float> kt, vt, sc, krow;
      thread_local std::vector<const float*> qs, ps;
      thread_local std::vector<float*> acc, mx, sum, as;
      thread_local std::vector<const uint16_t*> krows, vrows;
      const size_t states = size_t(kRows) * group;
      kt.resize(size_t(hd) * kTile);
      vt.resize(size_t(kTile) * hd);
      sc.resize(states * kTile);
      krow.resize(hd);
      krows.resize(kTile);
      vrows.resize(kTile);
      for (auto* v : {&qs, &ps}) v->resize(states);
      for (auto* v : {&acc, &mx, &sum, &as}) v->resize(states);
      int64_t t_end = static_cast<int64_t>(tasks.size());
      int64_t t_static = 0;
      if (!first_task.empty()) {
        if (tid >= nth) return;
        t_static = first_task[tid];
        t_end = first_task[tid + 1];
      }
      for (;;) {
        const int64_t t = first_task.empty() ? next.fetch_add(1) : t_static++;
        if (t >= t_end) break;
        const Task& task = tasks[size_t(t)];
        const int g = task.g, h0 = task.h0, gh = task.nh;
        const int r0 = task.r0, r1 = std::min(n, r0 + kRows);
        const int nr = r1 - r0, ns = nr * gh;
        const bool fused = can_fuse && ns <= 4;
        for (int st = 0; st < ns; ++st) {
          const size_t idx = size_t(r0 + st / gh) * s.n_head + h0 + st % gh;
          qs[st] = q + idx * hd;
          acc[st] = acc_base + idx * hd;
          mx[st] = mx_base + idx;
          sum[st] = sum_base + idx;
        }
        auto visible = [&](int32_t p, int32_t kp) {
          return kp >= 0 && kp <= p && !(s.window > 0 && p - kp >= s.window);
        };
        for (int tile = tile_first; tile < tile_last; ++tile) {
          const int* ts = slot_at.data() + size_t(tile) * kTile;
          const int32_t tp = p0 + tile * kTile;  // position of entry 0
          // Any stored key of this tile visible to a row of the block? (positions in [lo, hi] are visible)
          bool any = false;
          for (int r = r0; r < r1 && !any; ++r) {
            const int32_t p = qpos[r];
            int32_t lo = std::max(tp, 0), hi = std::min(p, tp + kTile - 1);
            if (s.window > 0) lo = std::max(lo, p - s.window + 1);
            if (tile_full[tile]) any = lo <= hi;
            else
              for (int32_t kp = lo; kp <= hi && !any; ++kp) any = ts[kp - tp] >= 0;
          }
          if (!any) continue;
          const VTileF32 vf32{vt.data(), hd};
          const VTileF16 vf16{vrows.data()};
          if (fused) {
            // Convert nothing up front: the score and accumulate kernels read the f16 rows directly.
            for (int j = 0; j < kTile; ++j) {
              const int slot = ts[j];
              krows[j] = slot < 0 ? zero_row.data() : static_cast<const uint16_t*>(kv.k_row(slot)) + g * hd;
              vrows[j] = slot < 0 ? zero_row.data() : static_cast<const uint16_t*>(kv.v_row(slot)) + g * hd;
            }
            // Each tile reads a head's slice of 64 K and V rows: strided streams that the hardware prefetcher
            // follows poorly. Ask for the next tile's slices while this one computes (SmolLM2 decode at 8k:
            // +26%). Written out here: the same loop as a helper function or lambda measured no gain (GCC 12).
            if (tile + 1 < tile_last) {
              const int* tn = ts + kTile;
              for (int j = 0; j < kTile; ++j) {
                if (tn[j] < 0) continue;
                const auto* kn = static_cast<const char*>(kv.k_row(tn[j])) + size_t(g) * hd * 2;
                const auto* vn = static_cast<const char*>(kv.v_row(tn[j])) + size_t(g) * hd * 2;
                for (int b = 0; b < hd * 2; b += 64) {
                  __builtin_prefetch(kn + b);
                  __builtin_prefetch(vn + b);
                }
              }
            }
#if SLIM_AVX2 || SLIM_NEON
            bool consecutive = ts[0] >= 0;
            for (int j = 1; j < kTile && consecutive; ++j) consecutive = ts[j] == ts[0] + j;
            if (consecutive)
              scores_rows_f16(ns, qs.data(), KRowsStrided{krows[0], kv.row_bytes() / sizeof(uint16_t)}, hd, sc.data());
            else
              scores_rows_f16(ns, qs.data(), KRowsTable{krows.data()}, hd, sc.data());
#endif
          } else {
            // Convert the tile once for the whole block; absent keys are zero (their weight is zero).
            load_tile(kv, f16, ts, g * hd, hd, kt.data(), vt.data(), krow.data());
            int st = 0;
            for (; st + 4 <= ns; st += 4) scores_tile<4>(qs.data() + st, kt.data(), hd, sc.data() + size_t(st) * kTile);
            for (; st < ns; ++st) scores_tile<1>(qs.data() + st, kt.data(), hd, sc.data() + size_t(st) * kTile);
          }
          int na = 0;  // states with a visible key in this tile
          for (int st = 0; st < ns; ++st) {
            const int32_t p = qpos[r0 + st / gh];
            float* si = sc.data() + size_t(st) * kTile;
            float tmax = -INFINITY;
            const bool whole = tile_full[tile] && tp + kTile - 1 <= p && (s.window <= 0 || p - tp < s.window);
#if SLIM_AVX512
            if (whole) {  // the same products and the same (exact) maximum, 16 lanes at a time
              const __m512 scale = _mm512_set1_ps(s.kq_scale);
              __m512 m = _mm512_set1_ps(-INFINITY);
              for (int j = 0; j < kTile; j += 16) {
                __m512 x = _mm512_loadu_ps(si + j);
                if (s.kq_scale != 1.f) _mm512_storeu_ps(si + j, x = _mm512_mul_ps(x, scale));
                m = _mm512_max_ps(m, x);
              }
              tmax = _mm512_reduce_max_ps(m);
            } else
#elif SLIM_AVX2
            if (whole) {
              const __m256 scale = _mm256_set1_ps(s.kq_scale);
              __m256 m = _mm256_set1_ps(-INFINITY);
              for (int j = 0; j < kTile; j += 8) {
                __m256 x = _mm256_loadu_ps(si + j);
                if (s.kq_scale != 1.f) _mm256_storeu_ps(si + j, x = _mm256_mul_ps(x, scale));
                m = _mm256_max_ps(m, x);
              }
              tmax = hmax8(m);
            } else
#elif SLIM_NEON
            if (whole) {
              const float32x4_t scale = vdupq_n_f32(s.kq_scale);
              float32x4_t m = vdupq_n_f32(-INFINITY);
              for (int j = 0; j < kTile; j += 4) {
                float32x4_t x = vld1q_f32(si + j);
                if (s.kq_scale != 1.f) vst1q_f32(si + j, x = vmulq_f32(x, scale));
                m = vmaxq_f32(m, x);
              }
              tmax = vmaxvq_f32(m);
            } else
#endif
            {
              if (s.kq_scale != 1.f)  // llama.cpp scales the score tile, not q, except for Gemma 3
                for (int j = 0; j < kTile; ++j) si[j] *= s.kq_scale;
              for (int j = 0; j < kTile; ++j) {
                if (!whole && (ts[j] < 0 || !visible(p, tp + j))) si[j] = -INFINITY;
                tmax = std::max(tmax, si[j]);
              }
            }
            if (tmax == -INFINITY) continue;  // nothing visible for this row in this tile
            float* a = acc[st];
            float& m = *mx[st];
            float& sm = *sum[st];
            const float m_new = std::max(m, tmax);
            if (m_new > m) {
              const float ms = std::exp(m - m_new);
              for (int d = 0; d < hd; ++d) a[d] *= ms;
              sm *= ms;
            }
            m = m_new;
            sm = static_cast<float>(static_cast<double>(sm) + exp_tile(si, m_new));
            as[na] = a;
            ps[na] = si;
            ++na;
          }
          auto accumulate = [&](const auto& v) {
            int i = 0;
            for (; i + 4 <= na; i += 4) accumulate_tile<4>(as.data() + i, ps.data() + i, v, hd);
            if (na - i == 3) {
              accumulate_tile<3>(as.data() + i, ps.data() + i, v, hd);
              i += 3;
            }
            for (; i + 2 <= na; i += 2) accumulate_tile<2>(as.data() + i, ps.data() + i, v, hd);
            for (; i < na; ++i) accumulate_tile<1>(as.data() + i, ps.data() + i, v, hd);
          };
          if (fused) accumulate(vf16);
          else accumulate(vf32);
        }
      }
    });
  };
  if (!streamed) {
    run_tiles(0, n_tiles);
  } else {
    // Walk the keys window by window; each range continues the same per-state softmax in the same tile
    // order, so the output is bit-identical to running all tiles at once.
    int32_t qmax = -1;
    for (int r = 0; r < n; ++r) qmax = std::max(qmax, qpos[r]);
    const std::vector<StreamWindow> wins = plan_windows(kv, slot_at, n_tiles, p0, qmax, tier->stream_capacity());
    for (size_t w = 0; w < wins.size(); ++w) {
      tier->stream_window(kv.layer_index(), wins[w].blocks, w + 1 < wins.size() ? wins[w + 1].blocks : std::vector<int>{});
      run_tiles(wins[w].first, wins[w].last);
    }
  }
  for (size_t i = 0; i < n_states; ++i) {
    const float inv = sum_all[i] == 0.f ? 0.f : 1.0f / sum_all[i];
    const float* a = acc_all.data() + i * hd;
    float* o = out + i * hd;
    for (int d = 0; d < hd; ++d) o[d] = a[d] * inv;
  }
}

}  // namespace slim::SLIM_NS

#endif  // SLIM_NS
