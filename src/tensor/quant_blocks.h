// Byte-exact ggml weight block layouts (engine-reference.md §4) shared by the kernel sources.
// Internal to src/tensor/; the activation blocks (Q8_0/Q8_1/Q8_K) live in kernels.h.
#pragma once
#include <cstdint>

#include "tensor/kernels.h"

namespace slim::kernels::detail {

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];  // element j = low nibble of qs[j], element j+16 = high nibble
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // 5th bit of element j is bit j of this little-endian u32
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0W {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];  // 8 six-bit scales + 8 six-bit mins, packed (get_scale_min_k4)
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0W) == 34);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

// Unpack the 6-bit (scale, min) pair of sub-block j (0..7) of a Q4_K / Q5_K super-block.
inline void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Fast-path entry points implemented in quant_fast.cpp (same contracts as the public functions).
void dequantize_row_fast(DType t, const void* src, float* dst, int64_t n);
float vec_dot_fast(DType t, int64_t n, const void* w, const void* a);
void quantize_q8_0_fast(const float* x, BlockQ8_0* y, int64_t n);
void quantize_q8_1_fast(const float* x, BlockQ8_1* y, int64_t n);
void quantize_q8_K_fast(const float* x, BlockQ8_K* y, int64_t n);

}  // namespace slim::kernels::detail
