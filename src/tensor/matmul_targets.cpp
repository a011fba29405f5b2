// The quantized matmul, activation quantizers and vec_dot, compiled once per SIMD target (scalar, AVX2,
// AVX-512 VNNI; simd/foreach_target.h) from matmul_tiles-inl.h, quant_fast-inl.h and matmul-inl.h, and the
// public entry points of kernels.h that dispatch to the variant of simd::active().
// GCC 12's 512-bit intrinsics trip -W(maybe-)uninitialized on their internal _mm512_undefined_*().
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "runtime/thread_pool.h"
#include "simd/dispatch.h"
#include "simd/relax.h"
#include "slim/error.h"
#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

#define SLIM_TARGET_INCLUDE "tensor/matmul_targets-inl.h"
#include "simd/foreach_target.h"

namespace slim::kernels {

void matmul(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, ThreadPool& pool) {
  SLIM_DISPATCH(matmul)(w, x, m, ldx, y, ldy, pool);
}

void matmul_rows(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, int64_t o0,
                 int64_t o1) {
  SLIM_DISPATCH(matmul_rows)(w, x, m, ldx, y, ldy, o0, o1);
}

float vec_dot(DType t, int64_t n, const void* w, const void* a) { return SLIM_DISPATCH(vec_dot)(t, n, w, a); }

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) { SLIM_DISPATCH(quantize_row_q8_0)(x, y, n); }
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n) { SLIM_DISPATCH(quantize_row_q8_1)(x, y, n); }
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n) { SLIM_DISPATCH(quantize_row_q8_K)(x, y, n); }

void dequantize_row(DType t, const void* src, float* dst, int64_t n) { dequantize_row_ref(t, src, dst, n); }

namespace {
thread_local bool t_llama_lanes = false;
}
LlamaLanes::LlamaLanes(bool on) : prev_(t_llama_lanes) { t_llama_lanes = on; }
LlamaLanes::~LlamaLanes() { t_llama_lanes = prev_; }
bool LlamaLanes::active() { return t_llama_lanes; }

const char* kernel_isa() { return simd::name(simd::active()); }

}  // namespace slim::kernels
