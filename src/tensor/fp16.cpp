// fp16 / bf16 conversions: portable bit-exact versions and SIMD row converters (compiled once per SIMD
// target: this file includes itself per pass, simd/foreach_target.h).
#ifndef SLIM_NS
// GCC 12's 512-bit intrinsics trip -W(maybe-)uninitialized on their internal _mm512_undefined_*().
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <cstring>

#include "simd/dispatch.h"
#include "tensor/kernels.h"

#define SLIM_TARGET_INCLUDE "tensor/fp16.cpp"
#include "simd/foreach_target.h"

namespace slim::kernels {

namespace {
inline uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float u2f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

float fp16_to_fp32_sw(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in fp32.
    const float v = static_cast<float>(mant) * u2f(0x33800000u);  // 2^-24
    return u2f(f2u(v) | sign);
  }
  if (exp == 31) {
    // Inf / NaN; NaNs come out quiet, as vcvtph2ps produces them.
    return u2f(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u));
  }
  return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t fp32_to_fp16_sw(float f) {
  const uint32_t u = f2u(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // quiet NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {
    // Result is subnormal (or zero): value = m * 2^(e-150), in units of 2^-24 that is m >> (126-e).
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const uint32_t s = 126 - e;  // >= 14
    if (s > 24) return sign;     // below half the smallest subnormal (ties at 2^-25 go to even = 0)
    uint32_t q = m >> s;
    const uint32_t rem = m & ((1u << s) - 1);
    const uint32_t half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = (a >> 13) - (112u << 10);
  const uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;  // carry into the exponent is correct
  return static_cast<uint16_t>(sign | h);
}

void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n) { SLIM_DISPATCH(fp16_to_fp32_row)(src, dst, n); }
void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n) { SLIM_DISPATCH(fp32_to_fp16_row)(src, dst, n); }

// The bf16 loops are plain integer code that the compiler vectorizes; no vcvtneps2bf16, which
// flushes subnormals and would not match ggml's rounding.
void bf16_to_fp32_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(src[i]);
}

void fp32_to_bf16_row(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_bf16(src[i]);
}

}  // namespace slim::kernels

#else  // one SIMD pass

namespace slim::kernels::SLIM_NS {

void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if SLIM_AVX512
  // The attention reads the fp16 KV cache through this: 512-bit converts run at full rate here.
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
#endif
#if SLIM_AVX2
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
#if SLIM_NEON
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
#endif
  for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
#if SLIM_AVX512
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
#if SLIM_AVX2
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
#if SLIM_NEON
  // FCVTN rounds to nearest even (the FPCR default) and quiets NaNs, as the portable version does.
  for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
#endif
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

}  // namespace slim::kernels::SLIM_NS

#endif  // SLIM_NS
