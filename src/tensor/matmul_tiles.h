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
// GCC 12's 512-bit intrinsics trip -W(maybe-)uninitialized on their internal _mm512_undefined_*().
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
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

// Weight access for tile_a. RawA reads the GGUF blocks directly (GEMV, vec_dot); DecA reads a copy
// decoded once per weight row (GEMM: the decode is then shared by all activation rows instead of
// being redone for every tile of 4). Both give identical values, so results do not depend on the path.
template <class W>
struct RawA {
  using Block = typename W::Block;
  static constexpr bool kMin = W::kMin, kSigned = W::kSigned, kPrefetch = true;
  const uint8_t* w;
  size_t ws;
  const Block* blk(int r, int64_t b) const { return reinterpret_cast<const Block*>(w + r * ws) + b; }
  __m256i code(int r, int64_t b) const { return W::code(blk(r, b)); }
  __m256 d(int r, int64_t b) const { return bcast_fp16(W::d(blk(r, b))); }
  float m(int r, int64_t b) const { return fp16_to_fp32(*W::m(blk(r, b))); }
};

// Decoded 32-block row: codes[nb*32] (u8, as W::code returns them) | d[nb] f32 | m[nb] f32.
inline size_t dec_a_stride(int64_t nb) { return (static_cast<size_t>(nb) * 40 + 63) & ~size_t(63); }
template <class W>
inline void decode_rows_a(const uint8_t* w, size_t ws, int rows, int64_t nb, uint8_t* dst, size_t ds) {
  for (int r = 0; r < rows; ++r) {
    const auto* blk = reinterpret_cast<const typename W::Block*>(w + r * ws);
    uint8_t* o = dst + r * ds;
    auto* d = reinterpret_cast<float*>(o + nb * 32);
    auto* m = reinterpret_cast<float*>(o + nb * 36);
    for (int64_t b = 0; b < nb; ++b) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32 * b), W::code(blk + b));
      d[b] = fp16_to_fp32(*W::d(blk + b));
      if constexpr (W::kMin) m[b] = fp16_to_fp32(*W::m(blk + b));
    }
  }
}
template <class W>
struct DecA {
  static constexpr bool kMin = W::kMin, kSigned = W::kSigned, kPrefetch = false;
  const uint8_t* w;
  size_t ws;
  int64_t nb;
  __m256i code(int r, int64_t b) const { return _mm256_load_si256(reinterpret_cast<const __m256i*>(w + r * ws + 32 * b)); }
  __m256 d(int r, int64_t b) const { return _mm256_broadcast_ss(reinterpret_cast<const float*>(w + r * ws + 32 * nb) + b); }
  float m(int r, int64_t b) const { return reinterpret_cast<const float*>(w + r * ws + 36 * nb)[b]; }
};

// R weight rows × C packed activation rows, nb blocks; y[c*ldy + r].
template <class P, int R, int C>
inline void tile_a(const P& p, const ActA* act, int64_t nb, float* y, int64_t ldy) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  uintptr_t pf = 0;
  int64_t pf_lines = 0;
  if constexpr (P::kPrefetch && C == 1) {
    pf = reinterpret_cast<uintptr_t>(p.w) + kPrefetchTiles * R * p.ws;
    pf_lines = static_cast<int64_t>(R * p.ws + 63) / 64;
  }

  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (P::kPrefetch && C == 1) prefetch_part(pf, pf_lines, b, nb);
    __m256i wq[R];
    __m256 wd[R], wm[R];
    for (int r = 0; r < R; ++r) {
      wq[r] = p.code(r, b);
      wd[r] = p.d(r, b);
      if constexpr (P::kMin) wm[r] = _mm256_set1_ps(p.m(r, b));
    }
    for (int c = 0; c < C; ++c) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c].qs + 32 * b));
      const __m256 da = _mm256_broadcast_ss(act[c].d + b);
      __m256i init = _mm256_setzero_si256();
      if constexpr (!P::kMin && !P::kSigned) init = _mm256_zextsi128_si256(_mm_cvtsi32_si128(act[c].corr[b]));
      // _1 types: the block's min term m_w*s_a goes into lane 0 of the same accumulator.
      __m256 sa;
      if constexpr (P::kMin) sa = _mm256_zextps128_ps256(_mm_load_ss(act[c].s + b));
      for (int r = 0; r < R; ++r) {
        __m256i dp;
        if constexpr (P::kSigned) {
          dp = dot_u8s8(init, _mm256_sign_epi8(wq[r], wq[r]), _mm256_sign_epi8(a, wq[r]));
        } else {
          dp = dot_u8s8(init, wq[r], a);
        }
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_mul_ps(wd[r], da), acc[r][c]);
        if constexpr (P::kMin) acc[r][c] = _mm256_fmadd_ps(wm[r], sa, acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[c * ldy + r] = hsum(acc[r][c]);
}

// ---------------------------------------------------------------------------------------------------
// K-quants × Q8_K
//
// Per super-block and 32-element chunk j: u8 codes (0..31 for Q4_K/Q5_K, 0..63 for Q6_K), an s16 scale
// vector (sub-block scale of each lane pair), and per super-block a "correction" s16 vector that is
// multiplied with the activation's bsums: the mins (Q4_K/Q5_K, subtracted with dmin) or the sub-block
// scales (Q6_K: codes carry +32, subtracted exactly in integer).

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

// Raw Q4_K / Q5_K super-block access.
template <bool kFive>
struct RawQ45K {
  static constexpr bool kQ6 = false, kPrefetch = true;
  static constexpr size_t kBlock = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  struct Super {
    const uint8_t* qs;
    const uint8_t* qh;
    int32_t scw[8];
    __m256i corr;
    float d, dmin;
  };
  const uint8_t* w;
  size_t ws;
  void load(int r, int64_t b, Super& s) const {
    const uint8_t* blk = w + r * ws + b * kBlock;
    uint16_t hd, hm;
    std::memcpy(&hd, blk, 2);
    std::memcpy(&hm, blk + 2, 2);
    s.d = fp16_to_fp32(hd);
    s.dmin = fp16_to_fp32(hm);
    uint8_t sc[8], mn[8];
    unpack_scales_k4(blk + 4, sc, mn);
    for (int j = 0; j < 8; ++j) s.scw[j] = sc[j] * 0x10001;
    const __m128i m8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
    s.corr = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j in lanes 2j and 2j+1
    s.qh = blk + 16;
    s.qs = blk + (kFive ? 48 : 16);
  }
  static __m256i code(const Super& s, int j) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.qs + 32 * (j / 2)));
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i q = (j & 1) ? _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4) : _mm256_and_si256(raw, low4);
    if constexpr (kFive) {
      // bit j of each qh byte moved to bit 4 (16-bit shifts keep it inside its byte here)
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.qh));
      const __m256i moved = j <= 4 ? _mm256_slli_epi16(hb, 4 - j) : _mm256_srli_epi16(hb, j - 4);
      q = _mm256_or_si256(q, _mm256_and_si256(moved, _mm256_set1_epi8(0x10)));
    }
    return q;
  }
  static __m256i scale(const Super& s, int j) { return _mm256_set1_epi32(s.scw[j]); }
};

// Raw Q6_K super-block access.
struct RawQ6K {
  static constexpr bool kQ6 = true, kPrefetch = true;
  struct Super {
    const BlockQ6_K* blk;
    __m256i corr;  // the 16 sub-block scales as s16
    float d, dmin;
  };
  const uint8_t* w;
  size_t ws;
  void load(int r, int64_t b, Super& s) const {
    s.blk = reinterpret_cast<const BlockQ6_K*>(w + r * ws) + b;
    s.corr = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s.blk->scales)));
    s.d = fp16_to_fp32(s.blk->d);
    s.dmin = 0.0f;
  }
  static __m256i code(const Super& s, int j) {
    const int h = j / 4, q = j % 4;  // half of the super-block, chunk inside it
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.blk->ql + 64 * h + 32 * (q & 1)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.blk->qh + 32 * h));
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i lo = q < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
    const __m256i hi2 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * q), _mm256_set1_epi8(0x03));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi2, 4));
  }
  // scales of sub-blocks 2j (lanes 0-7) and 2j+1 (lanes 8-15)
  static __m256i scale(const Super& s, int j) {
#if SLIM_VNNI
    const __m256i idx = _mm256_setr_epi16(2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1,
                                          2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1);
    return _mm256_permutexvar_epi16(idx, s.corr);
#else
    return _mm256_set_m128i(_mm_set1_epi16(s.blk->scales[2 * j + 1]), _mm_set1_epi16(s.blk->scales[2 * j]));
#endif
  }
};

// Decoded K super-block: codes[256] | scale vectors[8][16] s16 | corr[16] s16 | d, dmin (f32) | pad.
constexpr size_t kDecK = 256 + 256 + 32 + 32;
template <class Raw>
inline void decode_rows_k(const uint8_t* w, size_t ws, int rows, int64_t nb, uint8_t* dst, size_t ds) {
  const Raw raw{w, ws};
  for (int r = 0; r < rows; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      typename Raw::Super s;
      raw.load(r, b, s);
      uint8_t* o = dst + r * ds + b * kDecK;
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(o + 32 * j), Raw::code(s, j));
        _mm256_store_si256(reinterpret_cast<__m256i*>(o + 256 + 32 * j), Raw::scale(s, j));
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(o + 512), s.corr);
      std::memcpy(o + 544, &s.d, 4);
      std::memcpy(o + 548, &s.dmin, 4);
    }
}
template <bool Q6>
struct DecK {
  static constexpr bool kQ6 = Q6, kPrefetch = false;
  struct Super {
    const uint8_t* p;
    __m256i corr;
    float d, dmin;
  };
  const uint8_t* w;
  size_t ws;
  void load(int r, int64_t b, Super& s) const {
    s.p = w + r * ws + b * kDecK;
    s.corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(s.p + 512));
    std::memcpy(&s.d, s.p + 544, 4);
    std::memcpy(&s.dmin, s.p + 548, 4);
  }
  static __m256i code(const Super& s, int j) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(s.p + 32 * j)); }
  static __m256i scale(const Super& s, int j) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(s.p + 256 + 32 * j));
  }
};

template <class P, int R, int C>
inline void tile_k(const P& p, const BlockQ8_K* const* act, int64_t nb, float* y, int64_t ldy) {
  __m256 accf[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) accf[r][c] = _mm256_setzero_ps();
  uintptr_t pf = 0;
  int64_t pf_lines = 0;
  if constexpr (P::kPrefetch && C == 1) {
    pf = reinterpret_cast<uintptr_t>(p.w) + kPrefetchTiles * R * p.ws;
    pf_lines = static_cast<int64_t>(R * p.ws + 63) / 64;
  }

  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (P::kPrefetch && C == 1) prefetch_part(pf, pf_lines, b, nb);
    typename P::Super s[R];
    for (int r = 0; r < R; ++r) p.load(r, b, s[r]);
    __m256i acci[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) acci[r][c] = _mm256_setzero_si256();
    // Fully unrolled: the decoders' shifts, masks and permutes depend on j.
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      __m256i wq[R], sc[R];
      for (int r = 0; r < R; ++r) {
        wq[r] = P::code(s[r], j);
        sc[r] = P::scale(s[r], j);
      }
      for (int c = 0; c < C; ++c) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].qs + 32 * j));
        // u8 × s8 pairs cannot saturate: codes <= 63, |a| <= 127.
        for (int r = 0; r < R; ++r) acci[r][c] = dot_s16(acci[r][c], _mm256_maddubs_epi16(wq[r], a), sc[r]);
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].bsums));
      const float da = act[c][b].d;
      for (int r = 0; r < R; ++r) {
        const __m256i corr = _mm256_madd_epi16(s[r].corr, bs);
        if constexpr (P::kQ6) {
          // sum sc*q*a with q = code-32: subtract 32 * sum sc*bsum exactly in integer
          const __m256i tot = _mm256_sub_epi32(acci[r][c], _mm256_slli_epi32(corr, 5));
          accf[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(tot), _mm256_set1_ps(s[r].d * da), accf[r][c]);
        } else {
          accf[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acci[r][c]), _mm256_set1_ps(s[r].d * da), accf[r][c]);
          accf[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(s[r].dmin * da), accf[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[c * ldy + r] = hsum(accf[r][c]);
}

#if SLIM_VNNI
// ---------------------------------------------------------------------------------------------------
// GEMM with 512-bit registers on activation row pairs.
//
// A zmm holds the same 32-element chunk of two activation rows (row 2p in lanes 0-7, 2p+1 in lanes
// 8-15 after the dot), and the weight chunk broadcast to both halves, so one vpdpbusd / vpmaddubsw
// covers two (weight row, activation row) pairs. Each 256-bit half computes exactly what the ymm tiles
// compute for one pair, lane for lane, and the halves are reduced with the same hsum: GEMM and GEMV
// results are bit-identical. On cores with full-width AVX-512 (the project machine runs zmm VNNI at
// the ymm instruction rate) this doubles the multiply throughput; elsewhere it costs nothing.

// Paired 32-block activations, per row pair and block (256 bytes):
//   qs[64] (row 2p, then row 2p+1) | da[16] f32 (each row's d, 8 times) |
//   init[16] i32 (lane 0 / lane 8: -offset*sum(qs) of each row, other lanes 0) | s[16] f32 (lanes 0 / 8)
constexpr size_t kPairA = 256;
// Paired Q8_K activations, per row pair and super-block (640 bytes):
//   qs[8][64] (chunk j of row 2p, then of row 2p+1) | bsums[2][16] s16 | d[16] f32 (each row's d, 8 times)
constexpr size_t kPairK = 640;

inline float hsum_lo(__m512 v) { return hsum(_mm512_castps512_ps256(v)); }
inline float hsum_hi(__m512 v) { return hsum(_mm512_extractf32x8_ps(v, 1)); }

// R decoded weight rows (DecA layout, stride ds) × RP activation row pairs (stride as); `valid` = number
// of real activation rows in the last pair (1 or 2). y[row*ldy + r].
template <bool kMin, int R, int RP>
inline void tile_a2(const uint8_t* w, size_t ds, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                    int64_t ldy) {
  __m512 acc[R][RP];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) acc[r][q] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i wq[R];
    __m512 wd[R], wm[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* row = w + r * ds;
      wq[r] = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(row + 32 * b)));
      wd[r] = _mm512_set1_ps(reinterpret_cast<const float*>(row + 32 * nb)[b]);
      if constexpr (kMin) wm[r] = _mm512_set1_ps(reinterpret_cast<const float*>(row + 36 * nb)[b]);
    }
    for (int q = 0; q < RP; ++q) {
      const uint8_t* pb = act + q * as + b * kPairA;
      __m512i a = _mm512_load_si512(pb);
      __m512 da = _mm512_load_ps(reinterpret_cast<const float*>(pb + 64));
      __m512i init = kMin ? _mm512_setzero_si512() : _mm512_load_si512(pb + 128);
      __m512 sa = kMin ? _mm512_load_ps(reinterpret_cast<const float*>(pb + 192)) : _mm512_setzero_ps();
      // Load once per pair into registers: folded as memory operands they were re-read for every row.
      asm("" : "+v"(a), "+v"(da), "+v"(init), "+v"(sa));
      for (int r = 0; r < R; ++r) {
        const __m512i dp = _mm512_dpbusd_epi32(init, wq[r], a);
        acc[r][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(wd[r], da), acc[r][q]);
        if constexpr (kMin) acc[r][q] = _mm512_fmadd_ps(wm[r], sa, acc[r][q]);  // lanes 0 and 8: m_w*s_a
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) {
      y[(2 * q) * ldy + r] = hsum_lo(acc[r][q]);
      if (q < RP - 1 || valid == 2) y[(2 * q + 1) * ldy + r] = hsum_hi(acc[r][q]);
    }
}

// R decoded K rows (DecK layout) × RP paired Q8_K activation row pairs.
template <bool kQ6, int R, int RP>
inline void tile_k2(const uint8_t* w, size_t ds, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                    int64_t ldy) {
  __m512 accf[R][RP];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) accf[r][q] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wp[R];
    for (int r = 0; r < R; ++r) wp[r] = w + r * ds + b * kDecK;
    __m512i acci[R][RP];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < RP; ++q) acci[r][q] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i wq[R], sc[R];
      for (int r = 0; r < R; ++r) {
        wq[r] = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(wp[r] + 32 * j)));
        sc[r] = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(wp[r] + 256 + 32 * j)));
      }
      for (int q = 0; q < RP; ++q) {
        const __m512i a = _mm512_load_si512(act + q * as + b * kPairK + 64 * j);
        for (int r = 0; r < R; ++r)
          acci[r][q] = _mm512_dpwssd_epi32(acci[r][q], _mm512_maddubs_epi16(wq[r], a), sc[r]);
      }
    }
    for (int q = 0; q < RP; ++q) {
      const uint8_t* pb = act + q * as + b * kPairK;
      const __m512i bs = _mm512_load_si512(pb + 512);
      const __m512 da = _mm512_load_ps(reinterpret_cast<const float*>(pb + 576));
      for (int r = 0; r < R; ++r) {
        const __m512i corr16 = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(wp[r] + 512)));
        float d, dmin;
        std::memcpy(&d, wp[r] + 544, 4);
        std::memcpy(&dmin, wp[r] + 548, 4);
        const __m512i corr = _mm512_madd_epi16(corr16, bs);
        if constexpr (kQ6) {
          const __m512i tot = _mm512_sub_epi32(acci[r][q], _mm512_slli_epi32(corr, 5));
          accf[r][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tot), _mm512_mul_ps(_mm512_set1_ps(d), da), accf[r][q]);
        } else {
          accf[r][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acci[r][q]), _mm512_mul_ps(_mm512_set1_ps(d), da), accf[r][q]);
          accf[r][q] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(corr), _mm512_mul_ps(_mm512_set1_ps(dmin), da), accf[r][q]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) {
      y[(2 * q) * ldy + r] = hsum_lo(accf[r][q]);
      if (q < RP - 1 || valid == 2) y[(2 * q + 1) * ldy + r] = hsum_hi(accf[r][q]);
    }
}

// Pair packers (quant_fast.cpp): rows x0 and x1 (x1 may be null: a zero row) of n elements.
void pack_pair_a(const float* x0, const float* x1, int64_t nb, int offset, uint8_t* dst);
void pack_pair_k(const float* x0, const float* x1, int64_t nsb, uint8_t* dst);
#endif  // SLIM_VNNI

// ---------------------------------------------------------------------------------------------------
// Float weights (F32, F16, BF16) × F32 activations (already rounded to the weight's type for F16/BF16)

// Float rows are converted 16 (AVX-512) or 8 (AVX2) elements at a time.
#if SLIM_VNNI
using VecF = __m512;
constexpr int kLanesF = 16;
inline VecF vf_zero() { return _mm512_setzero_ps(); }
inline VecF vf_load(const float* p) { return _mm512_loadu_ps(p); }
inline VecF vf_fma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline float vf_hsum(VecF v) { return hsum(_mm512_castps512_ps256(v)) + hsum(_mm512_extractf32x8_ps(v, 1)); }
#else
using VecF = __m256;
constexpr int kLanesF = 8;
inline VecF vf_zero() { return _mm256_setzero_ps(); }
inline VecF vf_load(const float* p) { return _mm256_loadu_ps(p); }
inline VecF vf_fma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline float vf_hsum(VecF v) { return hsum(v); }
#endif

struct WF32 {
  static VecF load(const uint8_t* row, int64_t i) { return vf_load(reinterpret_cast<const float*>(row) + i); }
  static float load1(const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; }
};
struct WF16 {
  static VecF load(const uint8_t* row, int64_t i) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + i;
#if SLIM_VNNI
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#else
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#endif
  }
  static float load1(const uint8_t* row, int64_t i) { return fp16_to_fp32(reinterpret_cast<const uint16_t*>(row)[i]); }
};
struct WBF16 {
  static VecF load(const uint8_t* row, int64_t i) {
    const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + i;
#if SLIM_VNNI
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
#else
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
#endif
  }
  static float load1(const uint8_t* row, int64_t i) { return bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[i]); }
};

template <class W, int R, int C>
inline void tile_f(const uint8_t* w, size_t ws, const float* const* act, int64_t n, float* y, int64_t ldy) {
  VecF acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = vf_zero();
  const uintptr_t pf = reinterpret_cast<uintptr_t>(w) + kPrefetchTiles * R * ws;
  const int64_t pf_lines = static_cast<int64_t>(R * ws + 63) / 64, steps = n / kLanesF;
  int64_t i = 0;
  for (; i + kLanesF <= n; i += kLanesF) {
    if constexpr (C == 1) prefetch_part(pf, pf_lines, i / kLanesF, steps);
    VecF wv[R];
    for (int r = 0; r < R; ++r) wv[r] = W::load(w + r * ws, i);
    for (int c = 0; c < C; ++c) {
      const VecF a = vf_load(act[c] + i);
      for (int r = 0; r < R; ++r) acc[r][c] = vf_fma(wv[r], a, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = vf_hsum(acc[r][c]);
      for (int64_t t = i; t < n; ++t) s = std::fma(W::load1(w + r * ws, t), act[c][t], s);
      y[c * ldy + r] = s;
    }
}

#endif  // SLIM_SIMD

}  // namespace slim::kernels::detail
