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
// Per-target file: included once per SIMD pass by tensor/matmul_targets.cpp (simd/foreach_target.h), which
// includes the system headers first and defines SLIM_NS / SLIM_SIMD / SLIM_VNNI for the pass.

namespace slim::kernels::SLIM_NS::detail {

using namespace ::slim::kernels::detail;  // the block structs (quant_blocks.h)


// ---------------------------------------------------------------------------------------------------
// Activation packs (the matmul's private format; values identical to the ggml activation blocks)

// 32-block activations (Q8_0 / Q8_1 semantics) of one row, split into parallel arrays.
struct ActA {
  const int8_t* qs;      // nb*32 quants
  const int32_t* corr;   // nb*8: -offset * (sum of qs[4k..4k+3]) for lane k; offset = the weight type's zero point
  const float* d;        // nb scales (the fp16-rounded d, widened)
  const float* s;        // nb: Q8_1's fp16(d*sum(qs)) widened (min term of Q4_1/Q5_1)
};
// The zero point is removed per 4-element group, so every int32 lane of a block's dot holds exactly
// sum((q - offset) * a) over its 4 elements: the lane values llama.cpp's kernels convert to float.

// Byte layout of one packed row: qs | corr | d | s, rounded up to 64 bytes.
inline size_t act_a_stride(int64_t nb) { return (static_cast<size_t>(nb) * 72 + 63) & ~size_t(63); }
inline ActA act_a_row(const uint8_t* base, int64_t nb) {
  return {reinterpret_cast<const int8_t*>(base), reinterpret_cast<const int32_t*>(base + nb * 32),
          reinterpret_cast<const float*>(base + nb * 64), reinterpret_cast<const float*>(base + nb * 68)};
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

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
  return _mm_cvtsi128_si32(s);
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

// Q4_0: llama.cpp repacks Q4_0 matrices (rows % 8 == 0, any AVX2 machine) and runs its q4_0_8x8 gemm /
// gemv for every batch size: per output ONE fma chain over the blocks, acc = fma(float(block sum),
// d_w*d_a, acc), instead of vec_dot's 8 lanes + hsum. kChain selects that order.
struct WQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kChain = true;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i code(const Block* b) { return nibbles_32(b->qs); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block*) { return nullptr; }
};
// Q4_1: like Q5_0, llama.cpp's vec_dot lanes on AVX-512, the chain order on AVX2 (mins in a second
// chain, added at the end), lanes again under LlamaLanes.
struct WQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kChain = !SLIM_VNNI;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i code(const Block* b) { return nibbles_32(b->qs); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block* b) { return &b->m; }
};
// Q5_0: llama.cpp's vec_dot lane order (8 float lanes + hsum) on AVX-512; on AVX2 the chain order of
// Q4_0 instead, which tile_oct computes at ~1.6x the speed (not bit-identical to llama.cpp's AVX2 build:
// the same exact block sums, summed in another float order; docs/kernels.md).
struct WQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kChain = !SLIM_VNNI;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i code(const Block* b) { return _mm256_or_si256(nibbles_32(b->qs), bit4_from_mask(load_u32(b->qh))); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block*) { return nullptr; }
};
// Q4_1 / Q5_0 in llama.cpp's vec_dot lane order on every target (LlamaLanes).
struct WQ4_1Lanes : WQ4_1 {
  static constexpr bool kChain = false;
};
struct WQ5_0Lanes : WQ5_0 {
  static constexpr bool kChain = false;
};
struct WQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kChain = false;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i code(const Block* b) { return _mm256_or_si256(nibbles_32(b->qs), bit4_from_mask(load_u32(b->qh))); }
  static const uint16_t* d(const Block* b) { return &b->d; }
  static const uint16_t* m(const Block* b) { return &b->m; }
};
struct WQ8_0 {
  using Block = BlockQ8_0W;
  static constexpr bool kChain = false;
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
  static constexpr bool kMin = W::kMin, kSigned = W::kSigned, kPrefetch = true, kChain = W::kChain;
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
  static constexpr bool kMin = W::kMin, kSigned = W::kSigned, kPrefetch = false, kChain = W::kChain;
  const uint8_t* w;
  size_t ws;
  int64_t nb;
  __m256i code(int r, int64_t b) const { return _mm256_load_si256(reinterpret_cast<const __m256i*>(w + r * ws + 32 * b)); }
  __m256 d(int r, int64_t b) const { return _mm256_broadcast_ss(reinterpret_cast<const float*>(w + r * ws + 32 * nb) + b); }
  float m(int r, int64_t b) const { return reinterpret_cast<const float*>(w + r * ws + 36 * nb)[b]; }
};

// The chain order's tile of 4 weight rows × 1 activation row (GEMV): the four rows' lanes are summed
// together (3 hadds instead of four hsums) and their four chains advance in one xmm fma, each lane
// exactly the scalar fma of tile_a's chain path. (A separate function: inside tile_a, GCC kept the xmm
// accumulator on the stack, a store-forwarding round trip per block.)
template <class P>
inline void tile_a_chain4(const P& p, const ActA& act, int64_t nb, float* y) {
  __m128 acc = _mm_setzero_ps(), accmin = _mm_setzero_ps();
  uintptr_t pf = 0;
  int64_t pf_lines = 0;
  if constexpr (P::kPrefetch) {
    pf = reinterpret_cast<uintptr_t>(p.w) + kPrefetchTiles * 4 * p.ws;
    pf_lines = static_cast<int64_t>(4 * p.ws + 63) / 64;
  }
  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (P::kPrefetch) prefetch_part(pf, pf_lines, b, nb);
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act.qs + 32 * b));
    const __m256i init = P::kMin ? _mm256_setzero_si256()  // the _1 types have no zero point
                                 : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act.corr + 8 * b));
    __m256i dp[4];
    float wd[4], wm[4] = {};
    for (int r = 0; r < 4; ++r) {
      dp[r] = dot_u8s8(init, p.code(r, b), a);
      wd[r] = _mm256_cvtss_f32(p.d(r, b));
      if constexpr (P::kMin) wm[r] = p.m(r, b);
    }
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(dp[0], dp[1]), _mm256_hadd_epi32(dp[2], dp[3]));
    const __m128i sums = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    const __m128 scale = _mm_mul_ps(_mm_setr_ps(wd[0], wd[1], wd[2], wd[3]), _mm_set1_ps(act.d[b]));
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), scale, acc);
    if constexpr (P::kMin)
      accmin = _mm_fmadd_ps(_mm_setr_ps(wm[0], wm[1], wm[2], wm[3]), _mm_set1_ps(act.s[b]), accmin);
  }
  _mm_storeu_ps(y, _mm_add_ps(acc, accmin));  // the 4 rows are adjacent in y
}

// R weight rows × C packed activation rows, nb blocks; y[c*ldy + r].
template <class P, int R, int C>
inline void tile_a(const P& p, const ActA* act, int64_t nb, float* y, int64_t ldy) {
  if constexpr (P::kChain && !P::kSigned && R == 4 && C == 1) {
    tile_a_chain4(p, act[0], nb, y);
    return;
  }
  __m256 acc[R][C];
  float accm[R][C];
  float accmin[R][C];  // chain order of the _1 types: their min terms' chain, added at the end
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm256_setzero_ps();
      accm[r][c] = accmin[r][c] = 0.0f;
    }
  uintptr_t pf = 0;
  int64_t pf_lines = 0;
  if constexpr (P::kPrefetch && C == 1) {
    pf = reinterpret_cast<uintptr_t>(p.w) + kPrefetchTiles * R * p.ws;
    pf_lines = static_cast<int64_t>(R * p.ws + 63) / 64;
  }

  for (int64_t b = 0; b < nb; ++b) {
    if constexpr (P::kPrefetch && C == 1) prefetch_part(pf, pf_lines, b, nb);
    __m256i wq[R];
    __m256 wd[R];
    float wm[R];
    for (int r = 0; r < R; ++r) {
      wq[r] = p.code(r, b);
      wd[r] = p.d(r, b);
      if constexpr (P::kMin) wm[r] = p.m(r, b);
    }
    for (int c = 0; c < C; ++c) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c].qs + 32 * b));
      const __m256 da = _mm256_broadcast_ss(act[c].d + b);
      __m256i init = _mm256_setzero_si256();
      if constexpr (!P::kMin && !P::kSigned)
        init = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c].corr + 8 * b));
      for (int r = 0; r < R; ++r) {
        __m256i dp;
        if constexpr (P::kSigned) {
          dp = dot_u8s8(init, _mm256_sign_epi8(wq[r], wq[r]), _mm256_sign_epi8(a, wq[r]));
        } else {
          dp = dot_u8s8(init, wq[r], a);
        }
        if constexpr (P::kChain) {
          // exact integer block sum, then one scalar fma per block (llama.cpp's repacked Q4_0 order)
          accm[r][c] = std::fma(static_cast<float>(hsum_i32(dp)), _mm256_cvtss_f32(wd[r]) * act[c].d[b], accm[r][c]);
          if constexpr (P::kMin) accmin[r][c] = std::fma(wm[r], act[c].s[b], accmin[r][c]);
          continue;
        }
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp), _mm256_mul_ps(wd[r], da), acc[r][c]);
        // _1 types: the min terms m_w*s_a form their own sequential chain, added at the end (as llama.cpp).
        if constexpr (P::kMin) accm[r][c] = std::fma(wm[r], act[c].s[b], accm[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      if constexpr (P::kChain) y[c * ldy + r] = accm[r][c] + accmin[r][c];
      else y[c * ldy + r] = hsum(acc[r][c]) + accm[r][c];
    }
}

#if SLIM_SIMD && !SLIM_VNNI
// ---------------------------------------------------------------------------------------------------
// AVX2 GEMM for the chain types (exact integer block sum, one fma chain per output): one output per
// lane. tile_a's chain spends a horizontal integer sum per block and output; here 8 activation rows
// are interleaved in 4-byte groups (lane j = row j), each 4-byte group of a weight row is broadcast,
// and one vpmaddubsw covers 8 outputs. Four such products add up in int16 without overflow (8
// products of u5 x s8 <= 8*31*127 < 2^15), so per block and 8 outputs it takes 8 vpmaddubsw, 6 vpaddw,
// 2 vpmaddwd, then one convert, multiply and fma: about 13 multiply-port uops instead of tile_a's 40.
// The integer block sums and the float chain are the same as tile_a's kChain path, bit for bit.

// Eight activation rows, per 32-block (352 bytes): qs[8][32] (group k: rows 0..7's bytes 4k..4k+3) |
// d[8] f32 (row j's fp16-rounded d) | corr[8] i32 (-offset * sum of row j's block) | s[8] f32 (ActA's s,
// the min term of the _1 types). Missing rows are 0.
constexpr size_t kOctA = 352;
constexpr int kOctRows = 8;

// R decoded weight rows (DecA layout, stride ds) × one unit of 8 activation rows, of which `valid` are
// real; y[j*ldy + r].
template <int R, bool kMin>
inline void tile_oct(const uint8_t* w, size_t ds, int64_t nb, const uint8_t* act, int valid, float* y, int64_t ldy) {
  __m256 acc[R], accmin[R];
  for (int r = 0; r < R; ++r) acc[r] = accmin[r] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = act + b * kOctA;
    const __m256 da = _mm256_load_ps(reinterpret_cast<const float*>(pb + 256));
    const __m256i corr = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + 288));
    for (int r = 0; r < R; ++r) {
      const uint8_t* wc = w + r * ds + 32 * b;
      __m256i s[2];
      for (int h = 0; h < 2; ++h) {
        __m256i t = _mm256_setzero_si256();
        for (int k = 4 * h; k < 4 * h + 4; ++k) {
          const __m256i wk = _mm256_set1_epi32(static_cast<int>(load_u32(wc + 4 * k)));
          t = _mm256_add_epi16(t, _mm256_maddubs_epi16(wk, _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + 32 * k))));
        }
        s[h] = t;
      }
      const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(s[0], ones), _mm256_madd_epi16(s[1], ones)), corr);
      const __m256 wd = _mm256_broadcast_ss(reinterpret_cast<const float*>(w + r * ds + 32 * nb) + b);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(wd, da), acc[r]);
      if constexpr (kMin) {
        const __m256 wm = _mm256_broadcast_ss(reinterpret_cast<const float*>(w + r * ds + 36 * nb) + b);
        accmin[r] = _mm256_fmadd_ps(wm, _mm256_load_ps(reinterpret_cast<const float*>(pb + 320)), accmin[r]);
      }
    }
  }
  alignas(32) float out[R][8];
  for (int r = 0; r < R; ++r) _mm256_store_ps(out[r], kMin ? _mm256_add_ps(acc[r], accmin[r]) : acc[r]);
  for (int j = 0; j < valid; ++j)
    for (int r = 0; r < R; ++r) y[j * ldy + r] = out[r][j];
}
// Quantizes `rows` (<= 8) rows of x (stride ldx) like pack_act_a into one 8-row unit.
void pack_oct_a(const float* x, int64_t ldx, int rows, int64_t nb, int offset, uint8_t* dst);
#endif

// ---------------------------------------------------------------------------------------------------
// K-quants × Q8_K
//
// Per super-block and 32-element chunk j: u8 codes (0..31 for Q4_K/Q5_K, 0..63 for Q6_K), an s16 scale
// vector (sub-block scale of each lane pair), and per super-block a "correction" s16 vector that is
// multiplied with the activation's bsums: the mins (Q4_K/Q5_K, subtracted with dmin) or the sub-block
// scales (Q6_K: codes carry +32, subtracted exactly in integer).

// How a super-block's integer sums become float, following the llama.cpp kernel each type runs on x86:
//  * Q6: per super-block the exact integer total t = sum sc*(q-32)*a, then one sequential chain over
//    super-blocks acc = fma(d*float(t), da, acc): llama.cpp's tiled matmul (batches >= 8, below), the
//    path every prefill takes; its vec_dot (8 float lanes + hsum) is only used for batches < 8 and
//    differs in the last bits. slim keeps the batched arithmetic for every m.
//  * MinsChain (Q5_K): lane-wise acc += float(sum) * (d*da); the mins as a scalar chain
//    summs = fma(-da*dmin, total mins, summs); result hsum(acc) + summs (ggml_vec_dot_q5_K_q8_K)
//  * Tiled (Q5_K): llama.cpp's ggml-cpu "tiled" K-quant matmul (tiled/tiled.cpp, taken by every
//    non-repacked Q5_K/Q6_K/Q4_K matrix for batches of >= 8 rows): per super-block the exact integer
//    totals s1 = sum sc*q*a and s2 = sum m*bsums, r = fma(-dmin, float(s2), d*float(s1)), then one
//    sequential chain over super-blocks acc += r*da. (Batches < 8 use vec_dot there; slim follows the
//    batched order for every m.)
//  * Chains64 (Q4_K): per output, two fma chains over the integer sums of each 64-element half-chunk
//    pair (sub-blocks 2i, 2i+1): r = fma(sum, d*da, r), mn = fma(mins sum, dmin*da, mn); result r - mn.
//    This is llama.cpp's repacked q4_K_8x8 gemm (AVX-512), used for Q4_K matrices whose row count is a
//    multiple of 8, for every group of 4 prompt rows. (Its gemv, used for single rows, accumulates per
//    256-super-block instead; slim keeps one arithmetic for all batch sizes and follows the gemm.)
#ifndef SLIM_TILED_FUSED
#define SLIM_TILED_FUSED 1
#endif
enum class KFin { Q6, MinsChain, Chains64, Tiled };


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
  static constexpr KFin kFin = kFive ? KFin::Tiled : KFin::Chains64;
  static constexpr bool kPrefetch = true;
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
  static constexpr KFin kFin = KFin::Q6;
  static constexpr bool kPrefetch = true;
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
template <KFin F>
struct DecK {
  static constexpr KFin kFin = F;
  static constexpr bool kPrefetch = false;
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
  float chain[R][C], chain2[R][C];  // MinsChain: summs; Totals: row chain and mins chain
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      accf[r][c] = _mm256_setzero_ps();
      chain[r][c] = chain2[r][c] = 0.0f;
    }
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
    __m256i acc64[R][C][P::kFin == KFin::Chains64 ? 4 : 1];  // Chains64: sums per 64-element pair
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
      if constexpr (P::kFin == KFin::Chains64) {
        if (j & 1)
          for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c) {
              acc64[r][c][j / 2] = acci[r][c];
              acci[r][c] = _mm256_setzero_si256();
            }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[c][b].bsums));
      const float da = act[c][b].d;
      for (int r = 0; r < R; ++r) {
        const __m256i corr = _mm256_madd_epi16(s[r].corr, bs);
        if constexpr (P::kFin == KFin::Q6) {
          // sum sc*q*a with q = code-32: subtract 32 * sum sc*bsum exactly in integer
          const __m256i tot = _mm256_sub_epi32(acci[r][c], _mm256_slli_epi32(corr, 5));
          chain[r][c] = std::fma(s[r].d * static_cast<float>(hsum_i32(tot)), da, chain[r][c]);
        } else if constexpr (P::kFin == KFin::Tiled) {
          const float t = s[r].d * static_cast<float>(hsum_i32(acci[r][c]));
          const float res = std::fma(-s[r].dmin, static_cast<float>(hsum_i32(corr)), t);
          chain[r][c] = SLIM_TILED_FUSED ? std::fma(res, da, chain[r][c]) : chain[r][c] + res * da;
        } else if constexpr (P::kFin == KFin::MinsChain) {
          accf[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acci[r][c]), _mm256_set1_ps(s[r].d * da), accf[r][c]);
          chain[r][c] = std::fma(-da * s[r].dmin, static_cast<float>(hsum_i32(corr)), chain[r][c]);
        } else {
          // The four 64-element sums and the four mins sums (lane k of corr: m_k * bsum pair k), as
          // exact integers, then two sequential fma chains.
          const __m256i h01 = _mm256_hadd_epi32(acc64[r][c][0], acc64[r][c][1]);
          const __m256i h23 = _mm256_hadd_epi32(acc64[r][c][2], acc64[r][c][3]);
          const __m256i h = _mm256_hadd_epi32(h01, h23);  // [s0 s1 s2 s3 | s0' s1' s2' s3'] partial
          const __m128i sums = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
          const __m128i mins = _mm_hadd_epi32(_mm256_castsi256_si128(corr), _mm256_extracti128_si256(corr, 1));
          alignas(16) float fs[4], fm[4];
          _mm_store_ps(fs, _mm_cvtepi32_ps(sums));
          _mm_store_ps(fm, _mm_cvtepi32_ps(mins));
          const float dd = s[r].d * da, dm = s[r].dmin * da;
          for (int i = 0; i < 4; ++i) {
            chain[r][c] = std::fma(fs[i], dd, chain[r][c]);
            chain2[r][c] = std::fma(fm[i], dm, chain2[r][c]);
          }
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      if constexpr (P::kFin == KFin::Q6) y[c * ldy + r] = chain[r][c];
      else if constexpr (P::kFin == KFin::MinsChain) y[c * ldy + r] = hsum(accf[r][c]) + chain[r][c];
      else if constexpr (P::kFin == KFin::Tiled) y[c * ldy + r] = chain[r][c];
      else y[c * ldy + r] = chain[r][c] - chain2[r][c];
    }
}

// Activation rows for the Q4_K lane tiles (tile_q4k8, tile_q4k16), per row and super-block (320 bytes):
//   qs[256] | bsum pairs[4] i32 (two s16: bsums 4i+4i+1, 4i+2+4i+3) | d f32 | pad.
constexpr size_t kRowQ4K = 320;
void pack_row_q4k(const float* x, int64_t nsb, uint8_t* dst);

// Q4_K weight rows decoded for the lane tiles: kRows rows (8 for ymm, 16 for zmm) side by side, so a
// register holds the same 4 codes of every row. Per super-block (312·kRows bytes):
//   codes[8 sub-blocks][8 groups][kRows][4] | sc[8][kRows] i32 | mins[4 pairs][kRows] i32 (two s16:
//   m_2i, m_2i+1) | d[kRows] f32 | dmin[kRows] f32.  Rows past the matrix are zero.
constexpr size_t dec_q4k_lanes_bytes(int rows) { return 312 * static_cast<size_t>(rows); }
template <int kRows>
inline void decode_q4k_lanes(const uint8_t* w, size_t ws, int rows, int64_t nb, uint8_t* dst) {
  constexpr size_t kBlock = dec_q4k_lanes_bytes(kRows);
  std::memset(dst, 0, static_cast<size_t>(nb) * kBlock);
  const RawQ45K<false> raw{w, ws};
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = dst + b * kBlock;
    auto* sc = reinterpret_cast<int32_t*>(o + 256 * kRows);
    auto* mp = reinterpret_cast<int32_t*>(o + 288 * kRows);
    auto* d = reinterpret_cast<float*>(o + 304 * kRows);
    auto* dmin = reinterpret_cast<float*>(o + 308 * kRows);
    for (int r = 0; r < rows; ++r) {
      RawQ45K<false>::Super sb;
      raw.load(r, b, sb);
      uint8_t scb[8], mnb[8];
      unpack_scales_k4(w + r * ws + b * sizeof(BlockQ4_K) + 4, scb, mnb);
      d[r] = sb.d;
      dmin[r] = sb.dmin;
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        alignas(32) uint32_t codes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(codes), RawQ45K<false>::code(sb, j));
        for (int g = 0; g < 8; ++g) std::memcpy(o + ((j * 8 + g) * kRows + r) * 4, &codes[g], 4);
        sc[j * kRows + r] = scb[j];
      }
      for (int i = 0; i < 4; ++i) mp[i * kRows + r] = mnb[2 * i] | (mnb[2 * i + 1] << 16);
    }
  }
}

#if !SLIM_VNNI
// ---------------------------------------------------------------------------------------------------
// AVX2 Q4_K GEMM, one output per lane: 8 decoded weight rows interleaved in 4-byte groups, each 4-byte
// group of an activation row broadcast. A sub-block's 8 vpmaddubsw add up in int16 (16 products of
// u4 x s8 per lane <= 16*15*127 < 2^15), one vpmaddwd applies its scale; per 64-element pair of
// sub-blocks the exact integer sums feed the two fma chains of llama.cpp's repacked q4_K gemm (the
// Chains64 order of tile_k, bit for bit), without tile_k's horizontal sums.

// 8 decoded rows (valid of them real) × C activation rows (kRowQ4K layout, stride as); y[c*ldy + r].
template <int C>
inline void tile_q4k8(const uint8_t* w, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                      int64_t ldy) {
  __m256 accr[C], accm[C];
  for (int c = 0; c < C; ++c) accr[c] = accm[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * dec_q4k_lanes_bytes(8);
    const uint8_t* ab[C];
    __m256 dda[C], dmda[C];
    const __m256 d8 = _mm256_load_ps(reinterpret_cast<const float*>(wb + 304 * 8));
    const __m256 dm8 = _mm256_load_ps(reinterpret_cast<const float*>(wb + 308 * 8));
    for (int c = 0; c < C; ++c) {
      ab[c] = act + c * as + b * kRowQ4K;
      const __m256 da = _mm256_broadcast_ss(reinterpret_cast<const float*>(ab[c] + 272));
      dda[c] = _mm256_mul_ps(d8, da);
      dmda[c] = _mm256_mul_ps(dm8, da);
    }
    for (int i = 0; i < 4; ++i) {  // pairs of sub-blocks
      __m256i isum[C];
      for (int h = 0; h < 2; ++h) {
        const int j = 2 * i + h;
        __m256i s16[C];
        for (int c = 0; c < C; ++c) s16[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
          const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + (j * 8 + g) * 32));
          for (int c = 0; c < C; ++c) {
            const __m256i a4 = _mm256_set1_epi32(static_cast<int>(load_u32(ab[c] + 32 * j + 4 * g)));
            s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(wv, a4));
          }
        }
        // the i32 scale in both s16 halves, for vpmaddwd
        const __m256i sc32 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + 256 * 8 + 32 * j));
        const __m256i scj = _mm256_or_si256(sc32, _mm256_slli_epi32(sc32, 16));
        for (int c = 0; c < C; ++c) {
          const __m256i t = _mm256_madd_epi16(s16[c], scj);
          isum[c] = h ? _mm256_add_epi32(isum[c], t) : t;
        }
      }
      const __m256i mp = _mm256_load_si256(reinterpret_cast<const __m256i*>(wb + 288 * 8 + 32 * i));
      for (int c = 0; c < C; ++c) {
        const __m256i bp = _mm256_set1_epi32(static_cast<int>(load_u32(ab[c] + 256 + 4 * i)));
        const __m256i imin = _mm256_madd_epi16(mp, bp);
        accr[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), dda[c], accr[c]);
        accm[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin), dmda[c], accm[c]);
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    alignas(32) float out[8];
    _mm256_store_ps(out, _mm256_sub_ps(accr[c], accm[c]));
    for (int r = 0; r < valid; ++r) y[c * ldy + r] = out[r];
  }
}
#endif

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
//   init[16] i32 (ActA's per-lane corrections of row 2p, then of row 2p+1) | s[16] f32 (lanes 0 / 8, else 0)
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
  __m512 acc[R][RP], accm[R][RP];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) {
      acc[r][q] = _mm512_setzero_ps();
      if constexpr (kMin) accm[r][q] = _mm512_setzero_ps();
    }
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
      // Load once per pair into registers: folded as memory operands they were re-read for every row.
      asm("" : "+v"(a), "+v"(da), "+v"(init));
      for (int r = 0; r < R; ++r) {
        const __m512i dp = _mm512_dpbusd_epi32(init, wq[r], a);
        acc[r][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dp), _mm512_mul_ps(wd[r], da), acc[r][q]);
        // _1 types: min-term chains in lanes 0 and 8 (s is zero elsewhere), as the GEMV's scalar chain.
        if constexpr (kMin)
          accm[r][q] = _mm512_fmadd_ps(wm[r], _mm512_load_ps(reinterpret_cast<const float*>(pb + 192)), accm[r][q]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) {
      float m0 = 0.0f, m1 = 0.0f;
      if constexpr (kMin) {
        alignas(64) float t[16];
        _mm512_store_ps(t, accm[r][q]);
        m0 = t[0];
        m1 = t[8];
      }
      y[(2 * q) * ldy + r] = hsum_lo(acc[r][q]) + m0;
      if (q < RP - 1 || valid == 2) y[(2 * q + 1) * ldy + r] = hsum_hi(acc[r][q]) + m1;
    }
}

// Integer sums of the two 256-bit halves of v (one per activation row of a pair).
inline void hsum_halves_i32(__m512i v, int32_t& lo, int32_t& hi) {
  __m256i a = _mm256_hadd_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  a = _mm256_hadd_epi32(a, a);
  const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  lo = _mm_cvtsi128_si32(t);
  hi = _mm_extract_epi32(t, 1);
}

// R decoded K rows (DecK layout) × RP paired Q8_K activation row pairs.
template <KFin kFin, int R, int RP>
inline void tile_k2(const uint8_t* w, size_t ds, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                    int64_t ldy) {
  __m512 accf[R][RP];
  float chain[R][RP][2], chain2[R][RP][2];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) {
      accf[r][q] = _mm512_setzero_ps();
      chain[r][q][0] = chain[r][q][1] = chain2[r][q][0] = chain2[r][q][1] = 0.0f;
    }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wp[R];
    for (int r = 0; r < R; ++r) wp[r] = w + r * ds + b * kDecK;
    __m512i acci[R][RP];
    __m512i acc64[R][RP][kFin == KFin::Chains64 ? 4 : 1];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < RP; ++q) acci[r][q] = _mm512_setzero_si512();
#pragma GCC unroll 8
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
      if constexpr (kFin == KFin::Chains64) {
        if (j & 1)
          for (int r = 0; r < R; ++r)
            for (int q = 0; q < RP; ++q) {
              acc64[r][q][j / 2] = acci[r][q];
              acci[r][q] = _mm512_setzero_si512();
            }
      }
    }
    for (int q = 0; q < RP; ++q) {
      const uint8_t* pb = act + q * as + b * kPairK;
      const __m512i bs = _mm512_load_si512(pb + 512);
      const __m512 da = _mm512_load_ps(reinterpret_cast<const float*>(pb + 576));
      const float* da2 = reinterpret_cast<const float*>(pb + 576);  // da2[0]: row 2p, da2[8]: row 2p+1
      for (int r = 0; r < R; ++r) {
        const __m512i corr16 = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(wp[r] + 512)));
        float d, dmin;
        std::memcpy(&d, wp[r] + 544, 4);
        std::memcpy(&dmin, wp[r] + 548, 4);
        const __m512i corr = _mm512_madd_epi16(corr16, bs);
        if constexpr (kFin == KFin::Q6) {
          // as tile_k: exact integer total per super-block and row, then the sequential chain
          int32_t t0, t1;
          hsum_halves_i32(_mm512_sub_epi32(acci[r][q], _mm512_slli_epi32(corr, 5)), t0, t1);
          chain[r][q][0] = std::fma(d * static_cast<float>(t0), da2[0], chain[r][q][0]);
          chain[r][q][1] = std::fma(d * static_cast<float>(t1), da2[8], chain[r][q][1]);
        } else if constexpr (kFin == KFin::MinsChain) {
          accf[r][q] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acci[r][q]), _mm512_mul_ps(_mm512_set1_ps(d), da), accf[r][q]);
          int32_t m0, m1;
          hsum_halves_i32(corr, m0, m1);
          chain[r][q][0] = std::fma(-da2[0] * dmin, static_cast<float>(m0), chain[r][q][0]);
          chain[r][q][1] = std::fma(-da2[8] * dmin, static_cast<float>(m1), chain[r][q][1]);
        } else {
          alignas(64) int32_t mn[16];
          _mm512_store_si512(mn, corr);
          for (int i = 0; i < 4; ++i) {
            int32_t t0, t1;
            hsum_halves_i32(acc64[r][q][i], t0, t1);
            chain[r][q][0] = std::fma(static_cast<float>(t0), d * da2[0], chain[r][q][0]);
            chain[r][q][1] = std::fma(static_cast<float>(t1), d * da2[8], chain[r][q][1]);
            chain2[r][q][0] = std::fma(static_cast<float>(mn[2 * i] + mn[2 * i + 1]), dmin * da2[0], chain2[r][q][0]);
            chain2[r][q][1] = std::fma(static_cast<float>(mn[8 + 2 * i] + mn[8 + 2 * i + 1]), dmin * da2[8],
                                       chain2[r][q][1]);
          }
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < RP; ++q) {
      float v0, v1;
      if constexpr (kFin == KFin::Q6) {
        v0 = chain[r][q][0];
        v1 = chain[r][q][1];
      } else if constexpr (kFin == KFin::MinsChain) {
        v0 = hsum_lo(accf[r][q]) + chain[r][q][0];
        v1 = hsum_hi(accf[r][q]) + chain[r][q][1];
      } else {
        v0 = chain[r][q][0] - chain2[r][q][0];
        v1 = chain[r][q][1] - chain2[r][q][1];
      }
      y[(2 * q) * ldy + r] = v0;
      if (q < RP - 1 || valid == 2) y[(2 * q + 1) * ldy + r] = v1;
    }
}

// ---------------------------------------------------------------------------------------------------
// Q4_K GEMM with output rows in lanes: 16 weight rows are decoded into a layout where each 512-bit
// register holds the same 4 codes of all 16 rows, so `vpdpbusd` against 4 activation bytes broadcast to
// every lane leaves one output per lane. The sums of each 64-element pair of sub-blocks then become
// float directly, 16 outputs at a time (KFin::Chains64) with no horizontal reductions.

// 16 rows decoded by decode_q4k_lanes<16> (valid of them real) × C activation rows (kRowQ4K layout);
// y[c*ldy + r].
template <int C>
inline void tile_q4k16(const uint8_t* w, int64_t nb, const uint8_t* act, size_t as, int valid, float* y,
                       int64_t ldy) {
  __m512 accr[C], accm[C];
  for (int c = 0; c < C; ++c) accr[c] = accm[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * dec_q4k_lanes_bytes(16);
    const uint8_t* ab[C];
    __m512 dda[C], dmda[C];
    const __m512 d16 = _mm512_load_ps(reinterpret_cast<const float*>(wb + 304 * 16));
    const __m512 dm16 = _mm512_load_ps(reinterpret_cast<const float*>(wb + 308 * 16));
    for (int c = 0; c < C; ++c) {
      ab[c] = act + c * as + b * kRowQ4K;
      const __m512 da = _mm512_set1_ps(*reinterpret_cast<const float*>(ab[c] + 272));
      dda[c] = _mm512_mul_ps(d16, da);
      dmda[c] = _mm512_mul_ps(dm16, da);
    }
    for (int i = 0; i < 4; ++i) {  // pairs of sub-blocks
      __m512i isum[C];
      for (int h = 0; h < 2; ++h) {
        const int j = 2 * i + h;
        __m512i ia[C];
        for (int c = 0; c < C; ++c) ia[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
          const __m512i wv = _mm512_load_si512(wb + (j * 8 + g) * 64);
          for (int c = 0; c < C; ++c) {
            int32_t a4;
            std::memcpy(&a4, ab[c] + 32 * j + 4 * g, 4);
            ia[c] = _mm512_dpbusd_epi32(ia[c], wv, _mm512_set1_epi32(a4));
          }
        }
        const __m512i scj = _mm512_load_si512(wb + 256 * 16 + 64 * j);
        for (int c = 0; c < C; ++c) {
          const __m512i t = _mm512_mullo_epi32(ia[c], scj);
          isum[c] = h ? _mm512_add_epi32(isum[c], t) : t;
        }
      }
      const __m512i mp = _mm512_load_si512(wb + 288 * 16 + 64 * i);
      for (int c = 0; c < C; ++c) {
        int32_t bp;
        std::memcpy(&bp, ab[c] + 256 + 4 * i, 4);
        const __m512i imin = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mp, _mm512_set1_epi32(bp));
        accr[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), dda[c], accr[c]);
        accm[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin), dmda[c], accm[c]);
      }
    }
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1);
  for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(y + c * ldy, mask, _mm512_sub_ps(accr[c], accm[c]));
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

}  // namespace slim::kernels::SLIM_NS::detail
