// Small element-wise and row ops used by the layer code (norms, RoPE, activations, softmax).
// Numerics follow llama.cpp/ggml's CPU backend bit for bit where we could verify it (docs/correctness.md):
// RMSNorm squares in float and sums in double, RoPE advances the angle by repeated multiplication in float,
// GELU goes through an fp16 table, SiLU and softmax use the polynomial exp below.
#pragma once
#include <cmath>
#include <cstdint>
#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#endif

namespace slim::ops {

// y = x / sqrt(mean(x²) + eps) * w   (w may be nullptr: no weight). x and y may alias.
void rmsnorm(const float* x, const float* w, float* y, int n, float eps);

// Rotary embedding of one head vector in place, at position pos.
// neox: pair (i, i + n_rot/2); otherwise adjacent pairs (2i, 2i+1). freq_factors (n_rot/2, may be nullptr)
// divide the angle (Llama 3 scaling); freq_scale multiplies it (linear scaling).
void rope(float* x, int n_rot, int32_t pos, float base, float freq_scale, const float* freq_factors, bool neox);

// Precomputed cos/sin for one position and one (base, scale, factors) setting: 2 × n_rot/2 floats.
void rope_table(float* cs, int n_rot, int32_t pos, float base, float freq_scale, const float* freq_factors);
void rope_apply(float* x, const float* cs, int n_rot, bool neox);

// out[i] = act(gate[i]) * up[i]
void geglu_tanh(const float* gate, const float* up, float* out, int n);  // fp16-table GELU (as ggml)
void swiglu(const float* gate, const float* up, float* out, int n);

float gelu_tanh_exact(float x);

// exp(x) by range reduction x = n·ln2 + b and a degree-5 polynomial in b with FMAs in a fixed order (max error
// about 1.5 ulp). It is the approximation ggml's vectorised softmax/SiLU use on AVX-512, so using it keeps our
// attention weights and SiLU outputs identical to llama.cpp's. The scalar and 16-lane versions agree bit for bit.
float exp_approx(float x);
#if defined(__AVX512F__) && defined(__AVX512DQ__)
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
float silu(float x);

void add_inplace(float* y, const float* x, int n);
void scale_inplace(float* y, float s, int n);

}  // namespace slim::ops
