// matmul: Y = X·Wᵀ with activations quantized once to the weight's vec_dot_type, then dotted per
// output element, work split over the thread pool.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "runtime/thread_pool.h"
#include "tensor/kernels.h"
#include "tensor/quant_blocks.h"

namespace slim::kernels {

namespace {

// Scratch for quantized activations: per calling thread, grows and never shrinks, so steady-state
// calls allocate nothing.
struct Scratch {
  std::unique_ptr<uint8_t[]> mem;
  size_t cap = 0;
  uint8_t* get(size_t bytes) {
    if (bytes > cap) {
      cap = std::max(bytes, cap + cap / 2);
      mem.reset(new (std::align_val_t(64)) uint8_t[cap]);
    }
    return mem.get();
  }
};

Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

void quantize_rows(const Weight& w, const float* x, int64_t ldx, uint8_t* q, size_t arb, int64_t r0, int64_t r1) {
  for (int64_t i = r0; i < r1; ++i) quantize_activation_row(w.type, x + i * ldx, q + i * arb, w.cols);
}

void dot_rows(const Weight& w, const uint8_t* q, size_t arb, int64_t m, float* y, int64_t ldy, int64_t o0,
              int64_t o1) {
  for (int64_t o = o0; o < o1; ++o) {
    const uint8_t* wr = w.data + o * w.row_stride;
    for (int64_t i = 0; i < m; ++i) y[i * ldy + o] = vec_dot(w.type, w.cols, wr, q + i * arb);
  }
}

}  // namespace

void matmul(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, ThreadPool& pool) {
  if (m <= 0 || w.rows <= 0) return;
  const size_t arb = activation_row_bytes(w.type, w.cols);
  uint8_t* q = scratch().get(arb * static_cast<size_t>(m));
  const int nt = pool.size();
  if (m < 4 * nt) {
    quantize_rows(w, x, ldx, q, arb, 0, m);
  } else {
    pool.run([&](int tid, int n) {
      int64_t r0, r1;
      ThreadPool::split(m, tid, n, r0, r1);
      quantize_rows(w, x, ldx, q, arb, r0, r1);
    });
  }
  pool.run([&](int tid, int n) {
    int64_t o0, o1;
    ThreadPool::split(w.rows, tid, n, o0, o1);
    dot_rows(w, q, arb, m, y, ldy, o0, o1);
  });
}

void matmul_rows(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, int64_t o0,
                 int64_t o1) {
  if (m <= 0 || o1 <= o0) return;
  const size_t arb = activation_row_bytes(w.type, w.cols);
  uint8_t* q = scratch().get(arb * static_cast<size_t>(m));
  quantize_rows(w, x, ldx, q, arb, 0, m);
  dot_rows(w, q, arb, m, y, ldy, o0, o1);
}

void matmul_ref(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
  const int64_t n = w.cols;
  const DType at = vec_dot_type(w.type);
  std::vector<uint8_t> q(activation_row_bytes(w.type, n));
  std::vector<float> xd(n), wd(n);
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
