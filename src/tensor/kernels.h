// Numeric kernels: dequantization, activation quantization and quantized matrix multiply.
// Every fast path has a scalar reference (suffix _ref) that the tests compare against on random data.
#pragma once
#include <cstddef>
#include <cstdint>

#include "slim/types.h"

namespace slim {
class ThreadPool;
}

namespace slim::kernels {

// Dequantize n elements (a multiple of the type's block size) of one row.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void dequantize_row_ref(DType t, const void* src, float* dst, int64_t n);

// A weight matrix as stored in GGUF: `rows` rows of `cols` elements, row-major, each row `row_stride` bytes.
struct Weight {
  DType type = DType::F32;
  int64_t cols = 0;  // ne[0]: input features
  int64_t rows = 0;  // ne[1]: output features
  const uint8_t* data = nullptr;
  size_t row_stride = 0;
};

// Y[i][o] = sum_k X[i][k] * W[o][k] for i < m, o < w.rows. X is m×cols (leading dim ldx floats),
// Y is m×rows (leading dim ldy). Activations are quantized internally to the type the weight's dot
// product wants (Q8_0 / Q8_1 / Q8_K, as llama.cpp does), so results match llama.cpp's numerics.
// Work is split over the pool's threads; no allocation after the first call with a given size.
void matmul(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, ThreadPool& pool);
// Same, restricted to output rows [o0, o1) (used to compute the LM head for selected rows only, or
// to split work by the caller). Single-threaded.
void matmul_rows(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, int64_t o0,
                 int64_t o1);
// Scalar reference of matmul: dequantize W to float, quantize+dequantize X the same way, dot in double.
void matmul_ref(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy);

// fp16 / bf16 conversion helpers (bit-exact IEEE round-to-nearest-even).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);
void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n);
void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n);

}  // namespace slim::kernels
