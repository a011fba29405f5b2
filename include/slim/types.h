// Tensor element types as numbered in GGUF (ggml_type ids) and their block geometry.
#pragma once
#include <cstddef>
#include <cstdint>

namespace slim {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30,
};

struct DTypeInfo {
  const char* name;     // "Q4_K"
  int block_elems;      // elements per block (1 for float types)
  size_t block_bytes;   // bytes per block
  bool supported;       // slim has dequantize + dot kernels for it
};

// Info for a raw ggml type id; returns nullptr for ids slim does not know at all.
const DTypeInfo* dtype_info(uint32_t id);
inline const DTypeInfo& dtype_info(DType t) { return *dtype_info(static_cast<uint32_t>(t)); }
const char* dtype_name(uint32_t id);  // "unknown(99)"-style text never returns nullptr

// Bytes of one row of n elements (n must be a multiple of block_elems).
inline size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& i = dtype_info(t);
  return static_cast<size_t>(n / i.block_elems) * i.block_bytes;
}

}  // namespace slim
