// Numeric kernels: dequantization, activation quantization and quantized matrix multiply.
// Every fast path has a scalar reference (suffix _ref) that the tests compare against on random data.
// Block layouts and numerics follow ggml (see docs/kernels.md and engine-reference.md §4-5).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "slim/types.h"

namespace slim {
class ThreadPool;
}

namespace slim::kernels {

// Dequantize n elements (a multiple of the type's block size) of one row.
// Bit-exact with ggml's dequantize_row_* and gguf-py's gguf.quants.dequantize.
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

// fp16 / bf16 conversion helpers (bit-exact IEEE round-to-nearest-even). The scalar ones are inline
// (defined at the end of this header) because attention and the KV cache call them per element.
inline float fp16_to_fp32(uint16_t h);
inline uint16_t fp32_to_fp16(float f);
inline float bf16_to_fp32(uint16_t h);
inline uint16_t fp32_to_bf16(float f);  // NaN -> quiet NaN, else round-to-nearest-even (as ggml / gguf-py)
void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n);
void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n);
void bf16_to_fp32_row(const uint16_t* src, float* dst, int64_t n);
void fp32_to_bf16_row(const float* src, uint16_t* dst, int64_t n);
// Portable bit-twiddling versions (used where F16C is absent; tests compare them with the hardware path).
float fp16_to_fp32_sw(uint16_t h);
uint16_t fp32_to_fp16_sw(float f);

// ---------------------------------------------------------------------------------------------------
// Activation formats and dot products (ggml layouts, byte-exact).

constexpr int kQK = 32;    // block size of Q4_0 .. Q8_1
constexpr int kQKK = 256;  // super-block size of the K-quants

struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[kQK];
};
struct BlockQ8_1 {
  uint16_t d;  // fp16 scale
  uint16_t s;  // fp16 of d * sum(qs): lets Q4_1/Q5_1 dots add the min term without touching qs
  int8_t qs[kQK];
};
struct BlockQ8_K {
  float d;  // fp32 scale (negative when the block's largest-magnitude value is positive, as in ggml)
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];  // sums of each 16 consecutive qs
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36 && sizeof(BlockQ8_K) == 292);

// The activation type a weight type's dot product consumes (ggml's vec_dot_type):
// Q4_0/Q5_0/Q8_0 -> Q8_0, Q4_1/Q5_1 -> Q8_1, Q4_K/Q5_K/Q6_K -> Q8_K, F16 -> F16, BF16 -> BF16, F32 -> F32.
DType vec_dot_type(DType weight_type);

// Activation quantizers with the semantics llama.cpp uses at run time on x86 (what its matmuls see):
// Q8_0/Q8_1: d = amax/127 (stored fp16), q = round-half-even(x * (127/amax)); Q8_1 adds s = fp16(d*sum q).
// Q8_K: ggml's quantize_row_q8_K_ref (the x86 build uses the reference). n must be a multiple of the block.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_0_ref(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q8_1_ref(const float* x, BlockQ8_1* y, int64_t n);
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n);
void quantize_row_q8_K_ref(const float* x, BlockQ8_K* y, int64_t n);

// Convert one activation row to vec_dot_type(weight_type); dst must hold activation_row_bytes(...).
size_t activation_row_bytes(DType weight_type, int64_t n);
void quantize_activation_row(DType weight_type, const float* x, void* dst, int64_t n);

// Dot product of one weight row (type t, n elements) with one activation row already converted to
// vec_dot_type(t). vec_dot uses the SIMD path of this build, which reproduces llama.cpp's x86 kernels
// bit for bit for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q5_K/Q6_K (Q4_K: its repacked gemm; Q4_1/Q5_0 on avx2: the
// chain order, see LlamaLanes and docs/kernels.md); matmul gives the same bits as vec_dot. vec_dot_ref is
// scalar, in ggml's reference order (integer sum per block, then scaled by d_w*d_a in float).
float vec_dot(DType t, int64_t n, const void* w, const void* a);
float vec_dot_ref(DType t, int64_t n, const void* w, const void* a);

// Weight quantizers for the simple types (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), bit-exact with
// ggml's quantize_row_*_ref / gguf-py's gguf.quants.quantize. Used to build test weights.
// Returns false for types without a quantizer (the K-quants need llama-quantize's search).
bool quantize_row_ref(DType t, const float* x, void* dst, int64_t n);

// Float summation order of the matmuls on the calling thread. By default each target sums in its fastest
// order that is still batch-invariant; on avx2 that differs from llama.cpp's AVX2 build for Q4_1/Q5_0 (exact
// block sums in one fma chain instead of 8 float lanes + hsum; docs/kernels.md). While a LlamaLanes scope
// with on = true is alive, matmuls planned on this thread use llama.cpp's lane order everywhere
// (--llama-compat). Results stay batch-invariant either way.
class LlamaLanes {
 public:
  explicit LlamaLanes(bool on);
  ~LlamaLanes();
  LlamaLanes(const LlamaLanes&) = delete;
  LlamaLanes& operator=(const LlamaLanes&) = delete;
  static bool active();

 private:
  bool prev_;
};

// The SIMD target the kernels run on (simd::name(simd::active())): "scalar", "avx2", "avx512" or "neon".
const char* kernel_isa();

// ---------------------------------------------------------------------------------------------------
// Inline scalar conversions.

inline float fp16_to_fp32(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#elif defined(__aarch64__)
  __fp16 v;  // FCVT: exact, NaNs quieted (as the portable version)
  std::memcpy(&v, &h, sizeof v);
  return static_cast<float>(v);
#else
  return fp16_to_fp32_sw(h);
#endif
}

inline uint16_t fp32_to_fp16(float f) {
#if defined(__F16C__)
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#elif defined(__aarch64__)
  const __fp16 v = static_cast<__fp16>(f);  // FCVT, round to nearest even
  uint16_t h;
  std::memcpy(&h, &v, sizeof h);
  return h;
#else
  return fp32_to_fp16_sw(f);
#endif
}

inline float bf16_to_fp32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t fp32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet the NaN
  return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

}  // namespace slim::kernels
