// SIMD kernels (AVX-512 VNNI, AVX2 or scalar: one pass each) behind the public dispatchers:
// activation quantizers, vec_dot (the 1×1 matmul tile) and the activation packer used by matmul.
// Per-target file (see matmul_tiles-inl.h).

namespace slim::kernels::SLIM_NS {

void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n);

using namespace detail;

namespace {

// One 32-block with llama.cpp's x86 run-time Q8_0/Q8_1 semantics: d = amax/127 (returned unrounded,
// as Q8_1's s uses it), q = round-half-even(x * 127/amax). Returns sum(q).
inline int quant_block32(const float* x, int8_t* qs, float& d) {
#if SLIM_VNNI
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  d = amax / 127.0f;
  const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));  // MXCSR default: nearest-even
  const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q1));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
#elif SLIM_SIMD
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 mx = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[k]));
  }
  __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(mx, 1), _mm256_castps256_ps128(mx));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  d = amax / 127.0f;
  const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
  const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
  const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), p);
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
  return _mm_cvtsi128_si32(s4);
#else
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    sum += qs[j];
  }
  return sum;
#endif
}

// Thread-local staging for vec_dot's conversions (vec_dot is not on the matmul hot path).
[[maybe_unused]] std::vector<uint8_t>& staging() {
  static thread_local std::vector<uint8_t> buf;
  return buf;
}

}  // namespace

namespace detail {

// Per-lane zero-point corrections of one 32-block: out[k] = -offset * sum(qs[4k..4k+3]).
void block_corr(const int8_t* qs, int offset, int32_t* out) {
#if SLIM_SIMD
  const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
  const __m256i sums = dot_u8s8(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_mullo_epi32(sums, _mm256_set1_epi32(-offset)));
#else
  for (int k = 0; k < 8; ++k) out[k] = -offset * (qs[4 * k] + qs[4 * k + 1] + qs[4 * k + 2] + qs[4 * k + 3]);
#endif
}

void pack_act_a(const float* x, int64_t nb, int offset, uint8_t* dst) {
  auto* qs = reinterpret_cast<int8_t*>(dst);
  auto* corr = reinterpret_cast<int32_t*>(dst + nb * 32);
  auto* d = reinterpret_cast<float*>(dst + nb * 64);
  auto* s = reinterpret_cast<float*>(dst + nb * 68);
  for (int64_t b = 0; b < nb; ++b) {
    float dd;
    const int sum = quant_block32(x + 32 * b, qs + 32 * b, dd);
    d[b] = fp16_to_fp32(fp32_to_fp16(dd));
    block_corr(qs + 32 * b, offset, corr + 8 * b);
    s[b] = fp16_to_fp32(fp32_to_fp16(dd * static_cast<float>(sum)));
  }
}

#if SLIM_SIMD
void pack_row_q4k(const float* x, int64_t nsb, uint8_t* dst) {
  BlockQ8_K t;
  for (int64_t b = 0; b < nsb; ++b) {
    uint8_t* pb = dst + b * kRowQ4K;
    SLIM_NS::quantize_row_q8_K(x + 256 * b, &t, 256);
    std::memcpy(pb, t.qs, 256);
    auto* bp = reinterpret_cast<int32_t*>(pb + 256);
    for (int i = 0; i < 4; ++i) {
      const int lo = t.bsums[4 * i] + t.bsums[4 * i + 1], hi = t.bsums[4 * i + 2] + t.bsums[4 * i + 3];
      bp[i] = (lo & 0xffff) | (hi << 16);
    }
    std::memcpy(pb + 272, &t.d, 4);
  }
}
#endif

#if SLIM_SIMD && !SLIM_VNNI
void pack_oct_a(const float* x, int64_t ldx, int rows, int64_t nb, int offset, uint8_t* dst) {
  int8_t q[32];
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* pb = dst + b * kOctA;
    auto* d = reinterpret_cast<float*>(pb + 256);
    auto* corr = reinterpret_cast<int32_t*>(pb + 288);
    auto* sa = reinterpret_cast<float*>(pb + 320);
    for (int j = 0; j < kOctRows; ++j) {
      float dd = 0.0f;
      int sum = 0;
      if (j < rows) sum = quant_block32(x + j * ldx + 32 * b, q, dd);
      else std::memset(q, 0, sizeof q);
      for (int k = 0; k < 8; ++k) std::memcpy(pb + 32 * k + 4 * j, q + 4 * k, 4);
      d[j] = fp16_to_fp32(fp32_to_fp16(dd));
      corr[j] = -offset * sum;
      sa[j] = fp16_to_fp32(fp32_to_fp16(dd * static_cast<float>(sum)));
    }
  }
}
#endif

#if SLIM_VNNI
void pack_pair_a(const float* x0, const float* x1, int64_t nb, int offset, uint8_t* dst) {
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* pb = dst + b * kPairA;
    auto* qs = reinterpret_cast<int8_t*>(pb);
    auto* da = reinterpret_cast<float*>(pb + 64);
    auto* init = reinterpret_cast<int32_t*>(pb + 128);
    auto* s = reinterpret_cast<float*>(pb + 192);
    std::memset(pb + 128, 0, 128);
    for (int h = 0; h < 2; ++h) {
      const float* x = h ? x1 : x0;
      float d = 0.0f;
      int sum = 0;
      if (x) {
        sum = quant_block32(x + 32 * b, qs + 32 * h, d);
      } else {
        std::memset(qs + 32 * h, 0, 32);
      }
      const float dr = fp16_to_fp32(fp32_to_fp16(d));
      for (int l = 0; l < 8; ++l) da[8 * h + l] = dr;
      block_corr(qs + 32 * h, offset, init + 8 * h);
      s[8 * h] = fp16_to_fp32(fp32_to_fp16(d * static_cast<float>(sum)));
    }
  }
}

void pack_pair_k(const float* x0, const float* x1, int64_t nsb, uint8_t* dst) {
  BlockQ8_K t[2];
  for (int64_t b = 0; b < nsb; ++b) {
    uint8_t* pb = dst + b * kPairK;
    for (int h = 0; h < 2; ++h) {
      const float* x = h ? x1 : x0;
      if (x) SLIM_NS::quantize_row_q8_K(x + 256 * b, &t[h], 256);
      else std::memset(&t[h], 0, sizeof t[h]);
    }
    for (int j = 0; j < 8; ++j) {
      std::memcpy(pb + 64 * j, t[0].qs + 32 * j, 32);
      std::memcpy(pb + 64 * j + 32, t[1].qs + 32 * j, 32);
    }
    std::memcpy(pb + 512, t[0].bsums, 32);
    std::memcpy(pb + 544, t[1].bsums, 32);
    auto* da = reinterpret_cast<float*>(pb + 576);
    for (int l = 0; l < 8; ++l) {
      da[l] = t[0].d;
      da[8 + l] = t[1].d;
    }
  }
}
#endif

}  // namespace detail

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float d;
    quant_block32(x + 32 * b, y[b].qs, d);
    y[b].d = fp32_to_fp16(d);
  }
}

void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float d;
    const int sum = quant_block32(x + 32 * b, y[b].qs, d);
    y[b].d = fp32_to_fp16(d);
    y[b].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n) {
#if SLIM_VNNI
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    __m512 v[16];
    __m512 mx = _mm512_setzero_ps();
    for (int k = 0; k < 16; ++k) {
      v[k] = _mm512_loadu_ps(x + 16 * k);
      mx = _mm512_max_ps(mx, _mm512_abs_ps(v[k]));
    }
    const float amax = _mm512_reduce_max_ps(mx);
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    // ggml keeps the sign of the first element whose magnitude is the maximum.
    float max = 0.0f;
    const __m512 am = _mm512_set1_ps(amax);
    for (int k = 0; k < 16; ++k) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(v[k]), am, _CMP_EQ_OQ);
      if (hit) {
        max = x[16 * k + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 is = _mm512_set1_ps(iscale);
    const __m512i lim = _mm512_set1_epi32(127);
    for (int k = 0; k < 16; ++k) {
      const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v[k], is)), lim);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16 * k), _mm512_cvtepi32_epi8(q));
      y[b].bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    y[b].d = 1.0f / iscale;
  }
#else
  quantize_row_q8_K_ref(x, y, n);
#endif
}

float vec_dot(DType t, int64_t n, const void* w, const void* a) {
#if SLIM_SIMD
  const auto* wb = static_cast<const uint8_t*>(w);
  float y = 0.0f;
  switch (t) {
    case DType::Q4_0: case DType::Q5_0: case DType::Q8_0: case DType::Q4_1: case DType::Q5_1: {
      // Re-lay the standard Q8_0 / Q8_1 blocks into the matmul's pack (same values).
      const int64_t nb = n / 32;
      auto& buf = staging();
      buf.resize(act_a_stride(nb));
      auto* qs = reinterpret_cast<int8_t*>(buf.data());
      auto* corr = reinterpret_cast<int32_t*>(buf.data() + nb * 32);
      auto* d = reinterpret_cast<float*>(buf.data() + nb * 64);
      auto* s = reinterpret_cast<float*>(buf.data() + nb * 68);
      const bool one = vec_dot_type(t) == DType::Q8_1;
      const int off = weight_offset(t);
      for (int64_t b = 0; b < nb; ++b) {
        const int8_t* src;
        if (one) {
          const auto& blk = static_cast<const BlockQ8_1*>(a)[b];
          d[b] = fp16_to_fp32(blk.d);
          s[b] = fp16_to_fp32(blk.s);
          src = blk.qs;
        } else {
          const auto& blk = static_cast<const BlockQ8_0*>(a)[b];
          d[b] = fp16_to_fp32(blk.d);
          s[b] = 0.0f;
          src = blk.qs;
        }
        std::memcpy(qs + 32 * b, src, 32);
        block_corr(qs + 32 * b, off, corr + 8 * b);
      }
      const ActA act = act_a_row(buf.data(), nb);
      switch (t) {
        case DType::Q4_0: tile_a<RawA<WQ4_0>, 1, 1>({wb, 0}, &act, nb, &y, 1); break;
        case DType::Q4_1: tile_a<RawA<WQ4_1>, 1, 1>({wb, 0}, &act, nb, &y, 1); break;
        case DType::Q5_0: tile_a<RawA<WQ5_0>, 1, 1>({wb, 0}, &act, nb, &y, 1); break;
        case DType::Q5_1: tile_a<RawA<WQ5_1>, 1, 1>({wb, 0}, &act, nb, &y, 1); break;
        default: tile_a<RawA<WQ8_0>, 1, 1>({wb, 0}, &act, nb, &y, 1); break;
      }
      return y;
    }
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: {
      const BlockQ8_K* act = static_cast<const BlockQ8_K*>(a);
      if (t == DType::Q4_K) tile_k<RawQ45K<false>, 1, 1>({wb, 0}, &act, n / 256, &y, 1);
      else if (t == DType::Q5_K) tile_k<RawQ45K<true>, 1, 1>({wb, 0}, &act, n / 256, &y, 1);
      else tile_k<RawQ6K, 1, 1>({wb, 0}, &act, n / 256, &y, 1);
      return y;
    }
    case DType::F32: {
      const float* act = static_cast<const float*>(a);
      tile_f<WF32, 1, 1>(wb, 0, &act, n, &y, 1);
      return y;
    }
    case DType::F16: case DType::BF16: {
      auto& buf = staging();
      buf.resize(static_cast<size_t>(n) * 4);
      auto* f = reinterpret_cast<float*>(buf.data());
      if (t == DType::F16) fp16_to_fp32_row(static_cast<const uint16_t*>(a), f, n);
      else bf16_to_fp32_row(static_cast<const uint16_t*>(a), f, n);
      const float* act = f;
      if (t == DType::F16) tile_f<WF16, 1, 1>(wb, 0, &act, n, &y, 1);
      else tile_f<WBF16, 1, 1>(wb, 0, &act, n, &y, 1);
      return y;
    }
    default:
      return 0.0f;
  }
#else
#if SLIM_NEON
  if (float y; neon_vec_dot(t, n, w, a, y)) return y;
#endif
  return vec_dot_ref(t, n, w, a);
#endif
}

}  // namespace slim::kernels::SLIM_NS
