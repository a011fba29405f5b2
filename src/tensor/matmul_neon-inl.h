// NEON integer dot-product tiles (the t_neon / t_neon_dot passes of matmul_targets.cpp): one weight row
// against C activation rows in ggml's standard blocks (Q8_0 / Q8_1 / Q8_K), each weight block expanded to
// int8 once and reused for the C rows. Per block the integer sum is exact (SDOT on dotprod CPUs, SMULL +
// SADALP otherwise: any lane order gives the same int32) and the float statements are quant_ref.cpp's, in
// its order and, like that file, without FMA contraction, so NEON results are bit-identical to
// vec_dot_ref / matmul_ref. Per-target file: no include guard (see simd/foreach_target.h).
#if SLIM_NEON
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

namespace slim::kernels::SLIM_NS::detail {

using namespace ::slim::kernels::detail;  // the block structs (quant_blocks.h)

// fp16 -> f32 by FCVT, defined here so that it inlines under this region's options.
inline float neon_h2f(uint16_t h) {
  __fp16 v;
  std::memcpy(&v, &h, sizeof v);
  return static_cast<float>(v);
}

// acc + the 16 products a_i·b_i, summed in pairs of 4 lanes (exact).
inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if SLIM_DOTPROD
  return vdotq_s32(acc, a, b);
#else
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

inline int32_t dot32(int8x16_t lo, int8x16_t hi, const int8_t* a) {
  return vaddvq_s32(dot16(dot16(vdupq_n_s32(0), lo, vld1q_s8(a)), hi, vld1q_s8(a + 16)));
}

// 0x10 in byte j where bit j of the 16-bit mask is set (the 5th bit of Q5 codes).
inline uint8x16_t bit4_16(uint32_t bits) {
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t b = vcombine_u8(vdup_n_u8(static_cast<uint8_t>(bits)), vdup_n_u8(static_cast<uint8_t>(bits >> 8)));
  return vandq_u8(vtstq_u8(b, vld1q_u8(kBit)), vdupq_n_u8(0x10));
}

// 32-element blocks: Q4_0 / Q4_1 / Q5_0 / Q5_1 (codes minus kOffset; _1 types add m·s), Q8_0.
template <class B, class A, int kOffset, bool kMin, bool kFive>
struct NeonA {
  using Block = B;
  using Act = A;
  static constexpr int kElems = 32;
  struct Unpacked {
    int8x16_t lo, hi;  // elements 0..15, 16..31
  };
  static void unpack(const Block& x, Unpacked& u) {
    const uint8x16_t q = vld1q_u8(x.qs);
    uint8x16_t lo = vandq_u8(q, vdupq_n_u8(0x0F)), hi = vshrq_n_u8(q, 4);
    if constexpr (kFive) {
      const uint32_t qh = load_u32(x.qh);
      lo = vorrq_u8(lo, bit4_16(qh & 0xFFFF));
      hi = vorrq_u8(hi, bit4_16(qh >> 16));
    }
    u.lo = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(kOffset));
    u.hi = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(kOffset));
  }
  static void accumulate(const Block& x, const Unpacked& u, const Act& y, float& sumf) {
    const int sumi = dot32(u.lo, u.hi, y.qs);
    if constexpr (kMin)
      sumf += (neon_h2f(x.d) * neon_h2f(y.d)) * static_cast<float>(sumi) + neon_h2f(x.m) * neon_h2f(y.s);
    else
      sumf += (neon_h2f(x.d) * neon_h2f(y.d)) * static_cast<float>(sumi);
  }
};
using NeonQ4_0 = NeonA<BlockQ4_0, BlockQ8_0, 8, false, false>;
using NeonQ4_1 = NeonA<BlockQ4_1, BlockQ8_1, 0, true, false>;
using NeonQ5_0 = NeonA<BlockQ5_0, BlockQ8_0, 16, false, true>;
using NeonQ5_1 = NeonA<BlockQ5_1, BlockQ8_1, 0, true, true>;

struct NeonQ8_0 {
  using Block = BlockQ8_0W;
  using Act = BlockQ8_0;
  static constexpr int kElems = 32;
  struct Unpacked {
    int8x16_t lo, hi;
  };
  static void unpack(const Block& x, Unpacked& u) {
    u.lo = vld1q_s8(x.qs);
    u.hi = vld1q_s8(x.qs + 16);
  }
  static void accumulate(const Block& x, const Unpacked& u, const Act& y, float& sumf) {
    sumf += (neon_h2f(x.d) * neon_h2f(y.d)) * static_cast<float>(dot32(u.lo, u.hi, y.qs));
  }
};

// Q4_K / Q5_K: 8 sub-blocks of 32 codes with 6-bit scales and mins; the mins meet the activation's bsums.
template <bool kFive>
struct NeonQ45K {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  using Act = BlockQ8_K;
  static constexpr int kElems = 256;
  struct Unpacked {
    int8x16_t q[16];  // sub-block j: q[2j], q[2j + 1]
    uint8_t sc[8], mn[8];
  };
  static void unpack(const Block& x, Unpacked& u) {
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if constexpr (kFive) h0 = vld1q_u8(x.qh), h1 = vld1q_u8(x.qh + 16);
    for (int c = 0; c < 4; ++c) {  // 32 bytes: low nibbles are sub-block 2c, high nibbles 2c + 1
      const uint8x16_t q0 = vld1q_u8(x.qs + 32 * c), q1 = vld1q_u8(x.qs + 32 * c + 16);
      uint8x16_t v[4] = {vandq_u8(q0, vdupq_n_u8(0x0F)), vandq_u8(q1, vdupq_n_u8(0x0F)), vshrq_n_u8(q0, 4),
                         vshrq_n_u8(q1, 4)};
      if constexpr (kFive)
        for (int k = 0; k < 4; ++k) {
          const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * c + k / 2)));
          v[k] = vorrq_u8(v[k], vandq_u8(vtstq_u8(k % 2 ? h1 : h0, bit), vdupq_n_u8(0x10)));
        }
      for (int k = 0; k < 4; ++k) u.q[4 * c + k] = vreinterpretq_s8_u8(v[k]);
    }
    for (int j = 0; j < 8; ++j) scale_min_k4(j, x.scales, u.sc[j], u.mn[j]);
  }
  static void accumulate(const Block& x, const Unpacked& u, const Act& y, float& sumf) {
    int32_t sumi = 0, summ = 0;
    for (int j = 0; j < 8; ++j) {
      sumi += u.sc[j] * dot32(u.q[2 * j], u.q[2 * j + 1], y.qs + 32 * j);
      summ += u.mn[j] * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
    }
    const float d = neon_h2f(x.d) * y.d;
    const float dmin = neon_h2f(x.dmin) * y.d;
    sumf += d * static_cast<float>(sumi);
    sumf -= dmin * static_cast<float>(summ);
  }
};

// Q6_K: 16 groups of 16 six-bit codes (4 low bits in ql, 2 high in qh) minus 32, int8 group scales.
struct NeonQ6K {
  using Block = BlockQ6_K;
  using Act = BlockQ8_K;
  static constexpr int kElems = 256;
  struct Unpacked {
    int8x16_t q[16];
  };
  static void unpack(const Block& x, Unpacked& u) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(0x03);
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 2; ++k) {
        const uint8x16_t l0 = vld1q_u8(x.ql + 64 * h + 16 * k), l1 = vld1q_u8(x.ql + 64 * h + 32 + 16 * k);
        const uint8x16_t hb = vld1q_u8(x.qh + 32 * h + 16 * k);
        const uint8x16_t v[4] = {
            vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m2), 4)),
            vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m2), 4)),
            vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m2), 4)),
            vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4))};
        for (int s = 0; s < 4; ++s)
          u.q[8 * h + 2 * s + k] = vsubq_s8(vreinterpretq_s8_u8(v[s]), vdupq_n_s8(32));
      }
  }
  static void accumulate(const Block& x, const Unpacked& u, const Act& y, float& sumf) {
    int32_t sumi = 0;
    for (int s = 0; s < 16; ++s)
      sumi += x.scales[s] * vaddvq_s32(dot16(vdupq_n_s32(0), u.q[s], vld1q_s8(y.qs + 16 * s)));
    sumf += (neon_h2f(x.d) * y.d) * static_cast<float>(sumi);
  }
};

// out[c] = dot(weight row x, activation row c) for C rows `as` bytes apart, nb blocks.
template <class K, int C>
void neon_tile(const typename K::Block* x, const uint8_t* act, size_t as, int64_t nb, float* out) {
  float sumf[C] = {};
  const typename K::Act* a[C];
  for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const typename K::Act*>(act + c * as);
  for (int64_t b = 0; b < nb; ++b) {
    typename K::Unpacked u;
    K::unpack(x[b], u);
    for (int c = 0; c < C; ++c) K::accumulate(x[b], u, a[c][b], sumf[c]);
  }
  for (int c = 0; c < C; ++c) out[c] = sumf[c];
}

// Output rows [o0, o1) × all m activation rows: a weight row stays in L1 while the activations stream
// from L2 in groups of 4.
template <class K>
void run_neon(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy, int64_t o0,
              int64_t o1) {
  const int64_t nb = w.cols / K::kElems;
  for (int64_t o = o0; o < o1; ++o) {
    const auto* row = reinterpret_cast<const typename K::Block*>(w.data + o * w.row_stride);
    float out[4];
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
      neon_tile<K, 4>(row, act + i * as, as, nb, out);
      for (int c = 0; c < 4; ++c) y[(i + c) * ldy + o] = out[c];
    }
    for (; i < m; ++i) {
      neon_tile<K, 1>(row, act + i * as, as, nb, out);
      y[i * ldy + o] = out[0];
    }
  }
}

// vec_dot for the integer types (false: not one of them).
inline bool neon_vec_dot(DType t, int64_t n, const void* w, const void* a, float& y) {
  const auto* act = static_cast<const uint8_t*>(a);
  switch (t) {
    case DType::Q4_0: neon_tile<NeonQ4_0, 1>(static_cast<const BlockQ4_0*>(w), act, 0, n / 32, &y); return true;
    case DType::Q4_1: neon_tile<NeonQ4_1, 1>(static_cast<const BlockQ4_1*>(w), act, 0, n / 32, &y); return true;
    case DType::Q5_0: neon_tile<NeonQ5_0, 1>(static_cast<const BlockQ5_0*>(w), act, 0, n / 32, &y); return true;
    case DType::Q5_1: neon_tile<NeonQ5_1, 1>(static_cast<const BlockQ5_1*>(w), act, 0, n / 32, &y); return true;
    case DType::Q8_0: neon_tile<NeonQ8_0, 1>(static_cast<const BlockQ8_0W*>(w), act, 0, n / 32, &y); return true;
    case DType::Q4_K: neon_tile<NeonQ45K<false>, 1>(static_cast<const BlockQ4_K*>(w), act, 0, n / 256, &y); return true;
    case DType::Q5_K: neon_tile<NeonQ45K<true>, 1>(static_cast<const BlockQ5_K*>(w), act, 0, n / 256, &y); return true;
    case DType::Q6_K: neon_tile<NeonQ6K, 1>(static_cast<const BlockQ6_K*>(w), act, 0, n / 256, &y); return true;
    default: return false;
  }
}

}  // namespace slim::kernels::SLIM_NS::detail

#pragma GCC pop_options
#endif  // SLIM_NEON
