// Row ops; swiglu, geglu_tanh and dot are compiled once per SIMD target (simd/foreach_target.h: this file includes itself per pass).
#ifndef SLIM_NS
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "tensor/ops.h"

#include <cmath>
#include <vector>

#include "tensor/kernels.h"
#include "simd/dispatch.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace slim::ops {
void geglu_tanh_tail(const uint16_t* t, const float* gate, const float* up, float* out, int i, int n);
}

#define SLIM_TARGET_INCLUDE "tensor/ops.cpp"
#include "simd/foreach_target.h"

namespace slim::ops {

void rmsnorm(const float* x, const float* w, float* y, int n, float eps) {
  // Square in float, accumulate in double (ggml's order, so the scale matches llama.cpp's bit for bit).
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const float sq = x[i] * x[i];
    sum += static_cast<double>(sq);
  }
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w) {
    for (int i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void rope_table(float* cs, int n_rot, int32_t pos, float base, float freq_scale, const float* freq_factors) {
  const int half = n_rot / 2;
  const float theta_scale = std::pow(base, -2.0f / n_rot);
  float theta = static_cast<float>(pos);  // advanced by multiplication, like ggml's angle cache
  for (int i = 0; i < half; ++i) {
    const float ff = freq_factors ? freq_factors[i] : 1.0f;
    const float t = freq_scale * (theta / ff);
    cs[2 * i] = std::cos(t);
    cs[2 * i + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

void rope_apply(float* x, const float* cs, int n_rot, bool neox) {
  const int half = n_rot / 2;
  if (neox) {
    for (int i = 0; i < half; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float a = x[i], b = x[i + half];
      x[i] = a * c - b * s;
      x[i + half] = a * s + b * c;
    }
  } else {
    for (int i = 0; i < half; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const float a = x[2 * i], b = x[2 * i + 1];
      x[2 * i] = a * c - b * s;
      x[2 * i + 1] = a * s + b * c;
    }
  }
}

void rope(float* x, int n_rot, int32_t pos, float base, float freq_scale, const float* freq_factors, bool neox) {
  std::vector<float> cs(n_rot);
  rope_table(cs.data(), n_rot, pos, base, freq_scale, freq_factors);
  rope_apply(x, cs.data(), n_rot, neox);
}

float gelu_tanh_exact(float x) {
  const float k = 0.79788456080286535587989211986876f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(k * x * (1.0f + 0.044715f * x * x)));
}

namespace {
// GELU over every fp16 value, stored as fp16: ggml evaluates GELU this way on the CPU, so using the same
// table keeps our activations bit-compatible with llama.cpp's.
struct GeluTable {
  std::vector<uint16_t> t;
  GeluTable() : t(65536 + 1) {  // + 1: the SIMD lookup reads 32 bits at the last entry
    for (uint32_t h = 0; h < 65536; ++h) {
      const float x = kernels::fp16_to_fp32(static_cast<uint16_t>(h));
      t[h] = kernels::fp32_to_fp16(gelu_tanh_exact(x));
    }
  }
};
const GeluTable& gelu_table() {
  static const GeluTable g;
  return g;
}
}  // namespace

void geglu_tanh(const float* gate, const float* up, float* out, int n) {
  SLIM_DISPATCH(geglu_tanh)(gelu_table().t.data(), gate, up, out, n);
}

// The element rule (shared by the per-target passes' tails and the scalar target).
void geglu_tanh_tail(const uint16_t* t, const float* gate, const float* up, float* out, int i, int n) {
  for (; i < n; ++i) {
    const float x = gate[i];
    float g;
    // Below -10 the output is a plain +0 (not 0 * up, which is -0 for a negative up), as in ggml.
    if (x <= -10.0f) {
      out[i] = 0.0f;
      continue;
    }
    if (x >= 10.0f) g = x;
    else g = kernels::fp16_to_fp32(t[kernels::fp32_to_fp16(x)]);
    out[i] = g * up[i];
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

float exp_approx(float x) {
  const float shift = 0x1.8p23f;
  const float n = std::fma(x, 0x1.715476p+0f, shift) - shift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::fabs(n) > 192.f) return n <= 0.f ? 0.f : INFINITY;
  const float u = b * b;
  const float hi = std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), mid = std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f);
  const float lo = std::fma(0x1.ffffecp-1f, b, 1.0f);
  return std::ldexp(std::fma(std::fma(hi, u, mid), u, lo), static_cast<int>(n));
}

void add_inplace(float* y, const float* x, int n) {
  for (int i = 0; i < n; ++i) y[i] += x[i];
}

void scale_inplace(float* y, float s, int n) {
  for (int i = 0; i < n; ++i) y[i] *= s;
}

}  // namespace slim::ops

namespace slim::ops {
void swiglu(const float* gate, const float* up, float* out, int n) { SLIM_DISPATCH(swiglu)(gate, up, out, n); }
float dot(const float* a, const float* b, int n) { return SLIM_DISPATCH(dot)(a, b, n); }
}  // namespace slim::ops

#else  // one SIMD pass

namespace slim::ops::SLIM_NS {

#include "tensor/vec-inl.h"

// ggml's SwiGLU: blocks of 16 use x / (1 + exp_approx(-x)), the tail uses libm's expf. We do the same so the
// FFN input of the down projection is bit-identical.
void swiglu(const float* gate, const float* up, float* out, int n) {
  int i = 0;
#if SLIM_AVX512
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(gate + i);
    const __m512 e = exp_approx16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
  }
#elif SLIM_AVX2
  for (; i + 16 <= n; i += 16)  // whole blocks of 16, as above (the tail keeps libm's expf)
    for (int h = i; h < i + 16; h += 8) {
      const __m256 x = _mm256_loadu_ps(gate + h);
      const __m256 e = exp_approx8(_mm256_sub_ps(_mm256_setzero_ps(), x));
      const __m256 s = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
      _mm256_storeu_ps(out + h, _mm256_mul_ps(s, _mm256_loadu_ps(up + h)));
    }
#elif SLIM_NEON
  for (; i + 16 <= n; i += 16)
    for (int h = i; h < i + 16; h += 4) {
      const float32x4_t x = vld1q_f32(gate + h);
      const float32x4_t s = vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), exp_approx4(vnegq_f32(x))));
      vst1q_f32(out + h, vmulq_f32(s, vld1q_f32(up + h)));
    }
#else
  for (; i + 16 <= n; i += 16)
    for (int j = i; j < i + 16; ++j) out[j] = gate[j] / (1.0f + exp_approx(-gate[j])) * up[j];
#endif
  for (; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

// GELU through ggml's fp16 table (t: 65536 entries): x -> fp16 -> t[] -> f32, times up; +0 below -10, x above
// +10. The SIMD passes convert and look up 8 / 16 lanes at once (gather); same table, same bits.
void geglu_tanh(const uint16_t* t, const float* gate, const float* up, float* out, int n) {
  int i = 0;
#if SLIM_AVX2
  const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(gate + i);
    const __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    // 32-bit gathers at 2-byte steps: the low half of each is the entry (the table has a spare entry at
    // the end, so the read past the last one stays inside the allocation).
    const __m256i e = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(t), h, 2),
                                       _mm256_set1_epi32(0xFFFF));
    __m256 g = _mm256_cvtph_ps(_mm_packus_epi32(_mm256_castsi256_si128(e), _mm256_extracti128_si256(e, 1)));
    g = _mm256_blendv_ps(g, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
    __m256 r = _mm256_mul_ps(g, _mm256_loadu_ps(up + i));
    r = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LE_OQ), r);  // +0, not 0 * up
    _mm256_storeu_ps(out + i, r);
  }
#endif
  geglu_tanh_tail(t, gate, up, out, i, n);
}

float dot(const float* a, const float* b, int n) {
  alignas(64) float acc[16];
  int d = 0;
#if SLIM_AVX512
  __m512 v = _mm512_setzero_ps();
  for (; d + 16 <= n; d += 16) v = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), v);
  _mm512_store_ps(acc, v);
#elif SLIM_AVX2
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  for (; d + 16 <= n; d += 16) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), hi);
  }
  _mm256_store_ps(acc, lo);
  _mm256_store_ps(acc + 8, hi);
#elif SLIM_NEON
  float32x4_t v[4] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
  for (; d + 16 <= n; d += 16)
    for (int k = 0; k < 4; ++k) v[k] = vfmaq_f32(v[k], vld1q_f32(a + d + 4 * k), vld1q_f32(b + d + 4 * k));
  for (int k = 0; k < 4; ++k) vst1q_f32(acc + 4 * k, v[k]);
#else
  for (int t = 0; t < 16; ++t) acc[t] = 0.f;
  for (; d + 16 <= n; d += 16)
    for (int t = 0; t < 16; ++t) acc[t] = std::fma(a[d + t], b[d + t], acc[t]);
#endif
  for (int t = 0; d < n; ++d, ++t) acc[t] = std::fma(a[d], b[d], acc[t]);
  return sum16(acc);
}

}  // namespace slim::ops::SLIM_NS

#endif  // SLIM_NS
