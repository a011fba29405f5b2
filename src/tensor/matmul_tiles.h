// Register-tiled dot-product kernels: an R×C tile computes R weight rows against C activation rows,
// decoding each weight block once for all C activations and loading each activation block once for
// all R rows. vec_dot is the 1×1 tile. Internal to src/tensor/.
//
// Per output element the arithmetic is the same whatever the tile shape (same block order, same lane
// layout, same final horizontal sum), so results do not depend on R, C, m or the thread split.
//
// Integer tricks (engine-reference.md §5.1):
//  * 32-blocks (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 × Q8_0/Q8_1): weights are made unsigned (nibbles are already;
//    Q8_0 gets +128 by flipping the sign bit) so one u8×s8 dot (vpdpbusd) does the block; the offset
//    is removed exactly by starting the integer accumulator at -offset·sum(a), precomputed per
//    activation block. Then acc += float(dot) * (d_w*d_a).
//  * K-quants (× Q8_K): u8×s8 pairs (vpmaddubsw, no saturation: q <= 63, |a| <= 127) then s16×s16 with the
//    sub-block scale accumulated in int32 (vpdpwssd) over the whole 256-super-block; one float scaling
//    per super-block. Mins (Q4_K/Q5_K) and the -32 offset (Q6_K) use the activation's bsums.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__) && defined(__FMA__) && \
    defined(__F16C__)
#define SLIM_SIMD 1
#define SLIM_VNNI 1
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define SLIM_SIMD 1
#define SLIM_VNNI 0
#else
#define SLIM_SIMD 0
#define SLIM_VNNI 0
#endif

namespace slim::kernels::detail {

// ---------------------------------------------------------------------------------------------------
// Activation packs (the matmul's private format; values identical to the ggml activation blocks)

// 32-block activations (Q8_0 / Q8_1 semantics) of one row, split into parallel arrays.
struct ActA {
  const int8_t* qs;      // nb*32 quants
  const float* d;        // nb scales (the fp16-rounded d, widened)
  const int32_t* corr;   // nb: -offset * sum(qs), offset = the weight type's zero point (0 for _1 types)
  const float* s;        // nb: Q8_1's fp16(d*sum(qs)) widened (min term of Q4_1/Q5_1)
};

// Byte layout of one packed row: qs | d | corr | s, rounded up to 64 bytes.
inline size_t act_a_stride(int64_t nb) { return (static_cast<size_t>(nb) * 44 + 63) & ~size_t(63); }
inline ActA act_a_row(const uint8_t* base, int64_t nb) {
  return {reinterpret_cast<const int8_t*>(base), reinterpret_cast<const float*>(base + nb * 32),
          reinterpret_cast<const int32_t*>(base + nb * 36), reinterpret_cast<const float*>(base + nb * 40)};
}
// Zero point subtracted from the unsigned weight codes of each 32-block type.
inline int weight_offset(DType t) {
  switch (t) {
    case DType::Q4_0: return 8;
    case DType::Q5_0: return 16;
    case DType::Q8_0: return SLIM_VNNI ? 128 : 0;  // AVX2 keeps Q8_0 signed (sign trick, no saturation)
    default: return 0;
  }
}
// Quantizes one row like quantize_row_q8_0/q8_1 into the pack; fast and scalar versions.
void pack_act_a(const float* x, int64_t nb, int offset, uint8_t* dst);

#if SLIM_SIMD

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// acc + sum over 4-byte groups of u8(u) * s8(s), per int32 lane.
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if SLIM_VNNI
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// acc + s16 pair products.
inline __m256i dot_s16(__m256i acc, __m256i a, __m256i b) {
#if SLIM_VNNI
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

inline __m256 bcast_fp16(const uint16_t* h) {
  return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(*h)));
}

inline __m256i nibbles_32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of the 32-bit mask is set.
inline __m256i bit4_from_mask(uint32_t bits) {
#if SLIM_VNNI
  return _mm256_maskz_mov_epi8(bits, _mm256_set1_epi8(0x10));
#else
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i sel = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  b = _mm256_cmpeq_epi8(_mm256_and_si256(b, sel), sel);
  return _mm256_and_si256(b, _mm256_set1_epi8(0x10));
#endif
}

// ---------------------------------------------------------------------------------------------------
// 32-block weight decoders: code(b) = 32 unsigned codes in element order, scale(b), min(b).

struct WQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i code(const Block* b) { return nibbles_32(b->qs); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block*) { return nullptr; }
};
struct WQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i code(const Block* b) { return nibbles_32(b->qs); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block* b) { return &b->m; }
};
struct WQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i code(const Block* b) { return _mm256_or_si256(nibbles_32(b->qs), bit4_from_mask(load_u32(b->qh))); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block*) { return nullptr; }
};
struct WQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i code(const Block* b) { return _mm256_or_si256(nibbles_32(b->qs), bit4_from_mask(load_u32(b->qh))); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block* b) { return &b->m; }
};
struct WQ8_0 {
  using Block = BlockQ8_0W;
  static constexpr bool kMin = false, kSigned = !SLIM_VNNI;
  static __m256i code(const Block* b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs));
#if SLIM_VNNI
    return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));  // q + 128 as u8
#else
    return q;
#endif
  }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block*) { return nullptr; }
};

// GEMV (C == 1) streams the weights from DRAM once; the hardware prefetcher alone leaves the loop
// latency-bound (measured 3-4x slower on the 170 MiB LM head), so each tile prefetches the rows of the
// tile kPrefetchTiles ahead, a slice of cache lines per block. Prefetching past the matrix is harmless.
constexpr int kPrefetchTiles = 8;
inline void prefetch_part(uintptr_t base, int64_t lines, int64_t b, int64_t nb) {
  for (int64_t l = b * lines / nb; l < (b + 1) * lines / nb; ++l)
    _mm_prefetch(reinterpret_cast<const char*>(base + 64 * static_cast<uintptr_t>(l)), _MM_HINT_T0);
}

// R weight rows (stride ws bytes) × C packed activation rows, nb blocks; y[c*ldy + r].
template <class W, int R, int C>
inline void tile_a(const uint8_t* w, size_t ws, const ActA* act, int64_t nb, float* y, int64_t ldy) {
  using Block = typename W::Block;
  __m256 acc[R][C];
  float accm[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm256_setzero_ps();
      accm[r][c] = 0.0f;
    }
  const Block* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = reinterpret_cast<const Block*>(w + r * ws);
  const uintptr_t pf = reinterpret_cast<uintptr_t>(w) + kPrefetchTiles * R * ws;
  const int64_t pf_lines = static_cast<int64_t>(R * ws + 63) / 64;

  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) prefetch_part(pf, pf_lines, b, nb);
    __m256i wq[R];
    __m256 wd[R];
    float wm[R];
    for (int r = 0; r < R; ++r) {
      wq[r] = W::code(rows[r] + b);
      wd[r] = bcast_fp16(W::d(rows[r] + b));
      if constexpr (W::kMin) wm[r] = fp16_to_fp32(*W::m(rows[r] + b));
    }
    for (int c = 0; c < C; ++c) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c].qs + 32 * b));
      const __m256 da = _mm256_broadcast_ss(act[c].d + b);
      __m256i init = _mm256_setzero_si256();
      if constexpr (!W::kMin && !W::kSigned) init = _mm256_zextsi128_si256(_mm_cvtsi32_si128(act[c].corr[b]));
      for (int r = 0; r < R; ++r) {
        __m256i dp;
        if constexpr (W::kSigned) {
          dp = dot_u8s8(init, _mm256_sign_epi8(wq[r], wq[r]), _mm256_sign_epi8(a, wq[r]));
        } else {
          dp = dot_u8s8(init, wq[r], a);
        }
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_mul_ps(wd[r], da), acc[r][c]);
        if constexpr (W::kMin) accm[r][c] += wm[r] * act[c].s[b];
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[c * ldy + r] = hsum(acc[r][c]) + accm[r][c];
}

// ---------------------------------------------------------------------------------------------------
// K-quants × Q8_K

// The 8 six-bit scales and mins of a Q4_K/Q5_K super-block, unpacked to bytes.
inline void unpack_scales_k4(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  const uint32_t lo = load_u32(s), mid = load_u32(s + 4), hi = load_u32(s + 8);
  const uint32_t sc_lo = lo & 0x3f3f3f3fu, mn_lo = mid & 0x3f3f3f3fu;
  const uint32_t sc_hi = (hi & 0x0f0f0f0fu) | ((lo >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((hi >> 4) & 0x0f0f0f0fu) | ((mid >> 2) & 0x30303030u);
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(mn, &mn_lo, 4);
  std::memcpy(mn + 4, &mn_hi, 4);
}

// Q4_K / Q5_K tile. kFive selects Q5_K (5th bit from qh).
template <bool kFive, int R, int C>
inline void tile_q45k(const uint8_t* w, size_t ws, const BlockQ8_K* const* act, int64_t nb, float* y,
                      int64_t ldy) {
  __m256 accf[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) accf[r][c] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const uintptr_t pf = reinterpret_cast<uintptr_t>(w) + kPrefetchTiles * R * ws;
  const int64_t pf_lines = static_cast<int64_t>(R * ws + 63) / 64;

  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) prefetch_part(pf, pf_lines, b, nb);
    const uint8_t* qs[R];
    const uint8_t* qh[R];
    int32_t scw[R][8];
    __m256i mins16[R];
    float d[R], dmin[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * ws + b * (kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K));
      uint16_t hd, hm;
      std::memcpy(&hd, blk, 2);
      std::memcpy(&hm, blk + 2, 2);
      d[r] = fp16_to_fp32(hd);
      dmin[r] = fp16_to_fp32(hm);
      uint8_t sc[8], mn[8];
      unpack_scales_k4(blk + 4, sc, mn);
      for (int j = 0; j < 8; ++j) scw[r][j] = sc[j] * 0x10001;
      __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
      mins16[r] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j in lanes 2j and 2j+1
      qh[r] = blk + 16;
      qs[r] = blk + (kFive ? 48 : 16);
    }
    __m256i acci[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acci[r][c] = _mm256_setzero_si256();
    for (int ch = 0; ch < 4; ++ch) {  // 64-element chunks: low nibbles, then high nibbles
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * ch + half;
        __m256i wq[R];
        for (int r = 0; r < R; ++r) {
          const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs[r] + 32 * ch));
          wq[r] = half ? _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4) : _mm256_and_si256(raw, low4);
          if constexpr (kFive) {
            // bit j of each qh byte moved to bit 4 (16-bit shifts keep bits inside their byte here)
            const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh[r]));
            const __m256i moved = j <= 4 ? _mm256_slli_epi16(hb, 4 - j) : _mm256_srli_epi16(hb, j - 4);
            wq[r] = _mm256_or_si256(wq[r], _mm256_and_si256(moved, _mm256_set1_epi8(0x10)));
          }
        }
        for (int c = 0; c < C; ++c) {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].qs + 32 * j));
          for (int r = 0; r < R; ++r)
            acci[r][c] = dot_s16(acci[r][c], _mm256_maddubs_epi16(wq[r], a), _mm256_set1_epi32(scw[r][j]));
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].bsums));
      const float da = act[c][b].d;
      for (int r = 0; r < R; ++r) {
        const __m256i mi = _mm256_madd_epi16(mins16[r], bs);
        accf[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acci[r][c]), _mm256_set1_ps(d[r] * da), accf[r][c]);
        accf[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mi), _mm256_set1_ps(dmin[r] * da), accf[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[c * ldy + r] = hsum(accf[r][c]);
}

template <int R, int C>
inline void tile_q6k(const uint8_t* w, size_t ws, const BlockQ8_K* const* act, int64_t nb, float* y, int64_t ldy) {
  __m256 accf[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) accf[r][c] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i two = _mm256_set1_epi8(0x03);
  const uintptr_t pf = reinterpret_cast<uintptr_t>(w) + kPrefetchTiles * R * ws;
  const int64_t pf_lines = static_cast<int64_t>(R * ws + 63) / 64;

  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) prefetch_part(pf, pf_lines, b, nb);
    const BlockQ6_K* blk[R];
    __m256i sc16[R];  // the 16 sub-block scales as s16
    float d[R];
    for (int r = 0; r < R; ++r) {
      blk[r] = reinterpret_cast<const BlockQ6_K*>(w + r * ws) + b;
      sc16[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[r]->scales)));
      d[r] = fp16_to_fp32(blk[r]->d);
    }
    __m256i acci[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acci[r][c] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int q = 0; q < 4; ++q) {
        const int j = 4 * h + q;  // 32-element chunk; sub-blocks 2j and 2j+1
        __m256i wq[R], scj[R];
        for (int r = 0; r < R; ++r) {
          const __m256i ql =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]->ql + 64 * h + 32 * (q & 1)));
          const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[r]->qh + 32 * h));
          const __m256i lo = (q < 2) ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
          const __m256i hi2 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * q), two);
          wq[r] = _mm256_or_si256(lo, _mm256_slli_epi16(hi2, 4));
          // scales of sub-blocks 2j (lanes 0-7) and 2j+1 (lanes 8-15)
#if SLIM_VNNI
          const __m256i idx = _mm256_setr_epi16(2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1,
                                                2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1,
                                                2 * j + 1);
          scj[r] = _mm256_permutexvar_epi16(idx, sc16[r]);
#else
          scj[r] = _mm256_set_m128i(_mm_set1_epi16(blk[r]->scales[2 * j + 1]), _mm_set1_epi16(blk[r]->scales[2 * j]));
#endif
        }
        for (int c = 0; c < C; ++c) {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].qs + 32 * j));
          for (int r = 0; r < R; ++r) acci[r][c] = dot_s16(acci[r][c], _mm256_maddubs_epi16(wq[r], a), scj[r]);
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].bsums));
      const float da = act[c][b].d;
      for (int r = 0; r < R; ++r) {
        // sum sc*q*a with q in 0..63 minus 32*sum sc*bsum gives sum sc*(q-32)*a exactly.
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16[r], bs), 5);
        const __m256i tot = _mm256_sub_epi32(acci[r][c], corr);
        accf[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_set1_ps(d[r] * da), accf[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[c * ldy + r] = hsum(accf[r][c]);
}

// ---------------------------------------------------------------------------------------------------
// Float weights (F32, F16, BF16) × F32 activations (already rounded to the weight's type for F16/BF16)

struct WF32 {
  static __m256 load8(const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static float load1(const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; }
};
struct WF16 {
  static __m256 load8(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i)));
  }
  static float load1(const uint8_t* row, int64_t i) { return fp16_to_fp32(reinterpret_cast<const uint16_t*>(row)[i]); }
};
struct WBF16 {
  static __m256 load8(const uint8_t* row, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const uint8_t* row, int64_t i) { return bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[i]); }
};

template <class W, int R, int C>
inline void tile_f(const uint8_t* w, size_t ws, const float* const* act, int64_t n, float* y, int64_t ldy) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const uintptr_t pf = reinterpret_cast<uintptr_t>(w) + kPrefetchTiles * R * ws;
  const int64_t pf_lines = static_cast<int64_t>(R * ws + 63) / 64, steps = n / 8;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if constexpr (C == 1) prefetch_part(pf, pf_lines, i / 8, steps);
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::load8(w + r * ws, i);
    for (int c = 0; c < C; ++c) {
      const __m256 a = _mm256_loadu_ps(act[c] + i);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], a, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = hsum(acc[r][c]);
      for (int64_t t = i; t < n; ++t) s += W::load1(w + r * ws, t) * act[c][t];
      y[c * ldy + r] = s;
    }
}

#endif  // SLIM_SIMD

}  // namespace slim::kernels::detail
