// Per-target vector helpers shared by the kernel modules: exp_approx on 16 / 8 / 4 lanes (bit-identical to the
// scalar ops::exp_approx), horizontal sums in the fixed order of sum16, 8×8 / 4×4 transposes. Included once per
// SIMD pass (simd/foreach_target.h) inside the module's per-target namespace; no include guard.
// Sum of 16 floats in the pairwise order of a 512-bit horizontal add (halves, quarters, pairs).
inline float sum16(const float* v) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = v[i + 8] + v[i];
  for (int i = 0; i < 4; ++i) u[i] = t[i + 4] + t[i];
  const float w0 = u[2] + u[0], w1 = u[3] + u[1];
  return w1 + w0;
}

#if SLIM_AVX512
// exp_approx on 16 lanes: the scalar polynomial, then p·2^n by vscalef (one correct rounding, as ldexp).
inline __m512 exp_approx16(__m512 x) {
  const __m512 shift = _mm512_set1_ps(0x1.8p23f);
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift), shift);
  const __m512 b =
      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 hi = _mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f));
  const __m512 mid = _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f));
  const __m512 lo = _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f));
  const __m512 r = _mm512_scalef_ps(_mm512_fmadd_ps(_mm512_fmadd_ps(hi, u, mid), u, lo), n);
  const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.f), _CMP_GT_OQ);
  if (!big) return r;
  // Out of range: 0 below, +inf above.
  const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  return _mm512_mask_blend_ps(big, r, _mm512_mask_blend_ps(neg, _mm512_set1_ps(INFINITY), _mm512_setzero_ps()));
}
#endif

#if SLIM_AVX2
// exp_approx on 8 lanes. AVX2 has no vscalef: p·2^n is p·2^(n>>1)·2^(n-(n>>1)); the first product is exact
// (both factors normal for |n| <= 192) and the second rounds once, so the result is ldexp's to the bit.
inline __m256 exp_approx8(__m256 x) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f);
  const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift), shift);
  const __m256 b =
      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 hi = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f));
  const __m256 mid = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f));
  const __m256 lo = _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f));
  const __m256 p = _mm256_fmadd_ps(_mm256_fmadd_ps(hi, u, mid), u, lo);
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  const __m256 r = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(192.f), _CMP_GT_OQ);
  if (_mm256_movemask_ps(big) == 0) return r;
  const __m256 neg = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ);
  const __m256 out = _mm256_blendv_ps(_mm256_set1_ps(INFINITY), _mm256_setzero_ps(), neg);
  return _mm256_blendv_ps(r, out, big);
}

// Sum of 16 lanes (lo: 0..7, hi: 8..15) in the order of sum16 / _mm512_reduce_add_ps.
inline float hsum16(__m256 lo, __m256 hi) {
  const __m256 t = _mm256_add_ps(hi, lo);
  const __m128 u = _mm_add_ps(_mm256_extractf128_ps(t, 1), _mm256_castps256_ps128(t));
  const __m128 w = _mm_add_ps(u, _mm_movehl_ps(u, u));  // u0 + u2, u1 + u3
  return _mm_cvtss_f32(_mm_add_ss(_mm_movehdup_ps(w), w));
}

inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// In-register transpose of an 8 × 8 float block: r[i] holds row i on entry, column i on exit.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
    r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
  }
}
#endif

#if SLIM_NEON
// exp_approx on 4 lanes, bit-identical to the scalar one: the same fused steps (vfmsq = x - n·c, fused),
// then p·2^n as p·2^(n>>1)·2^(n-(n>>1)) like exp_approx8 (NEON has no scalef either).
inline float32x4_t exp_approx4(float32x4_t x) {
  const float32x4_t shift = vdupq_n_f32(0x1.8p23f);
  const float32x4_t n = vsubq_f32(vfmaq_f32(shift, x, vdupq_n_f32(0x1.715476p+0f)), shift);
  const float32x4_t b =
      vfmsq_f32(vfmsq_f32(x, n, vdupq_n_f32(0x1.62e4p-1f)), n, vdupq_n_f32(0x1.7f7d1cp-20f));
  const float32x4_t u = vmulq_f32(b, b);
  const float32x4_t hi = vfmaq_f32(vdupq_n_f32(0x1.573e2ep-5f), vdupq_n_f32(0x1.0e4020p-7f), b);
  const float32x4_t mid = vfmaq_f32(vdupq_n_f32(0x1.fffdb6p-2f), vdupq_n_f32(0x1.555e66p-3f), b);
  const float32x4_t lo = vfmaq_f32(vdupq_n_f32(1.0f), vdupq_n_f32(0x1.ffffecp-1f), b);
  const float32x4_t p = vfmaq_f32(lo, vfmaq_f32(mid, hi, u), u);
  const int32x4_t ni = vcvtnq_s32_f32(n);
  const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  const float32x4_t r = vmulq_f32(vmulq_f32(p, s1), s2);
  const uint32x4_t big = vcagtq_f32(n, vdupq_n_f32(192.f));  // |n| > 192
  if (vmaxvq_u32(big) == 0) return r;
  const float32x4_t out = vbslq_f32(vclezq_f32(n), vdupq_n_f32(0.f), vdupq_n_f32(INFINITY));
  return vbslq_f32(big, out, r);
}

// Sum of 16 lanes (a: 0..3, b: 4..7, c: 8..11, d: 12..15) in the order of sum16 / _mm512_reduce_add_ps.
inline float hsum16(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
  const float32x4_t u = vaddq_f32(vaddq_f32(d, b), vaddq_f32(c, a));  // t[i + 4] + t[i], t = halves summed
  const float32x2_t w = vadd_f32(vget_high_f32(u), vget_low_f32(u));  // u2 + u0, u3 + u1
  return vget_lane_f32(w, 1) + vget_lane_f32(w, 0);
}

// In-register transpose of a 4 × 4 float block: r[i] holds row i on entry, column i on exit.
inline void transpose4(float32x4_t r[4]) {
  const float32x4x2_t a = vtrnq_f32(r[0], r[1]);  // (r0_0 r1_0 r0_2 r1_2), (r0_1 r1_1 r0_3 r1_3)
  const float32x4x2_t b = vtrnq_f32(r[2], r[3]);
  r[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
  r[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
  r[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
  r[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
}

inline float32x4_t load4_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
#endif
