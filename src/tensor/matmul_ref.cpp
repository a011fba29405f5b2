// matmul_ref: the scalar reference of matmul (dequantize W, quantize + dequantize X the same way, dot in double).
#include <cstring>
#include <vector>

#include "tensor/kernels.h"

namespace slim::kernels {

void matmul_ref(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
  const int64_t n = w.cols;
  const DType at = vec_dot_type(w.type);
  std::vector<uint8_t> q(activation_row_bytes(w.type, n));
  std::vector<float> wd(n);
  std::vector<std::vector<float>> xs(m, std::vector<float>(n));
  for (int64_t i = 0; i < m; ++i) {
    // Quantize then dequantize X with the activation type the fast path uses.
    quantize_activation_row(w.type, x + i * ldx, q.data(), n);
    if (at == DType::Q8_0 || at == DType::Q8_1) {
      const size_t bs = at == DType::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ8_1);
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = q.data() + b * bs;
        uint16_t d;
        std::memcpy(&d, blk, 2);
        const auto* qs = reinterpret_cast<const int8_t*>(blk + bs - 32);
        for (int j = 0; j < 32; ++j) xs[i][b * 32 + j] = fp16_to_fp32(d) * static_cast<float>(qs[j]);
      }
    } else {
      dequantize_row_ref(at, q.data(), xs[i].data(), n);
    }
  }
  for (int64_t o = 0; o < w.rows; ++o) {
    dequantize_row_ref(w.type, w.data + o * w.row_stride, wd.data(), n);
    for (int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < n; ++j) s += static_cast<double>(wd[j]) * xs[i][j];
      y[i * ldy + o] = static_cast<float>(s);
    }
  }
}

}  // namespace slim::kernels
