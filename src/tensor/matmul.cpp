// matmul: Y = X·Wᵀ. X is quantized once per call into a reusable per-thread scratch pack (in the
// format the weight's dot product wants), then output rows are split over the pool and computed in
// register tiles of R weight rows × C activation rows (matmul_tiles.h).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/thread_pool.h"
#include "tensor/kernels.h"
#include "tensor/matmul_tiles.h"
#include "tensor/quant_blocks.h"

namespace slim::kernels {

using namespace detail;

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

#if SLIM_SIMD

// Tile shape: 4×4 fills AVX-512's 32 registers; AVX2 has 16, so smaller tiles.
#if SLIM_VNNI
constexpr int kR = 4, kC = 4;
#else
constexpr int kR = 2, kC = 2;
#endif

// Each family knows its packed activation row size, how to pack a row, and its tiles.
struct FamA {
  template <class W, int R, int C>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    const int64_t nb = cols / 32;
    ActA a[C];
    for (int c = 0; c < C; ++c) a[c] = act_a_row(act + c * as, nb);
    tile_a<W, R, C>(w, ws, a, nb, y, ldy);
  }
};

struct FamK {
  template <class W, int R, int C>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    const BlockQ8_K* a[C];
    for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const BlockQ8_K*>(act + c * as);
    W::template run<R, C>(w, ws, a, cols / 256, y, ldy);
  }
};
struct WQ4K {
  template <int R, int C>
  static void run(const uint8_t* w, size_t ws, const BlockQ8_K* const* a, int64_t nb, float* y, int64_t ldy) {
    tile_q45k<false, R, C>(w, ws, a, nb, y, ldy);
  }
};
struct WQ5K {
  template <int R, int C>
  static void run(const uint8_t* w, size_t ws, const BlockQ8_K* const* a, int64_t nb, float* y, int64_t ldy) {
    tile_q45k<true, R, C>(w, ws, a, nb, y, ldy);
  }
};
struct WQ6K {
  template <int R, int C>
  static void run(const uint8_t* w, size_t ws, const BlockQ8_K* const* a, int64_t nb, float* y, int64_t ldy) {
    tile_q6k<R, C>(w, ws, a, nb, y, ldy);
  }
};

struct FamF {
  template <class W, int R, int C>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* act, size_t as, int64_t cols, float* y, int64_t ldy) {
    const float* a[C];
    for (int c = 0; c < C; ++c) a[c] = reinterpret_cast<const float*>(act + c * as);
    tile_f<W, R, C>(w, ws, a, cols, y, ldy);
  }
};

// Output rows [o0, o1) for activation rows [0, m): full R×C tiles, then the edges with 1-wide tiles.
template <class Fam, class W>
void run_rows(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy, int64_t o0,
              int64_t o1) {
  const size_t ws = w.row_stride;
  int64_t o = o0;
  for (; o + kR <= o1; o += kR) {
    const uint8_t* wr = w.data + o * ws;
    int64_t i = 0;
    for (; i + kC <= m; i += kC) Fam::template tile<W, kR, kC>(wr, ws, act + i * as, as, w.cols, y + i * ldy + o, ldy);
    for (; i < m; ++i) Fam::template tile<W, kR, 1>(wr, ws, act + i * as, as, w.cols, y + i * ldy + o, ldy);
  }
  for (; o < o1; ++o) {
    const uint8_t* wr = w.data + o * ws;
    int64_t i = 0;
    for (; i + kC <= m; i += kC) Fam::template tile<W, 1, kC>(wr, ws, act + i * as, as, w.cols, y + i * ldy + o, ldy);
    for (; i < m; ++i) Fam::template tile<W, 1, 1>(wr, ws, act + i * as, as, w.cols, y + i * ldy + o, ldy);
  }
}

#endif  // SLIM_SIMD

// How one weight type is computed: packed activation row size, packer and row runner.
struct Plan {
  size_t act_stride = 0;
  void (*pack)(const Plan&, const float* x, int64_t cols, uint8_t* dst) = nullptr;
  void (*run)(const Weight&, const uint8_t*, size_t, int64_t, float*, int64_t, int64_t, int64_t) = nullptr;
  int offset = 0;  // zero point of 32-block weights
  DType type = DType::F32;
};

[[maybe_unused]] void pack_a(const Plan& p, const float* x, int64_t cols, uint8_t* dst) { pack_act_a(x, cols / 32, p.offset, dst); }
[[maybe_unused]] void pack_k(const Plan&, const float* x, int64_t cols, uint8_t* dst) {
  quantize_row_q8_K(x, reinterpret_cast<BlockQ8_K*>(dst), cols);
}
// F16/BF16 weights: activations are rounded to the weight type (as ggml converts them) and kept as f32.
[[maybe_unused]] void pack_f(const Plan& p, const float* x, int64_t cols, uint8_t* dst) {
  auto* out = reinterpret_cast<float*>(dst);
  if (p.type == DType::F16)
    for (int64_t i = 0; i < cols; ++i) out[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
  else if (p.type == DType::BF16)
    for (int64_t i = 0; i < cols; ++i) out[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
  else
    std::memcpy(out, x, static_cast<size_t>(cols) * 4);
}

// Fallback without SIMD: activations in ggml's standard blocks, one vec_dot_ref per element.
[[maybe_unused]] void pack_std(const Plan& p, const float* x, int64_t cols, uint8_t* dst) {
  quantize_activation_row(p.type, x, dst, cols);
}
[[maybe_unused]] void run_std(const Weight& w, const uint8_t* act, size_t as, int64_t m, float* y, int64_t ldy,
                              int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t i = 0; i < m; ++i) y[i * ldy + o] = vec_dot_ref(w.type, w.cols, w.data + o * w.row_stride, act + i * as);
}

Plan make_plan(const Weight& w) {
  Plan p;
  p.type = w.type;
  const int64_t n = w.cols;
  auto round64 = [](size_t b) { return (b + 63) & ~size_t(63); };
#if SLIM_SIMD
  switch (w.type) {
    case DType::Q4_0: p.run = run_rows<FamA, WQ4_0>; break;
    case DType::Q4_1: p.run = run_rows<FamA, WQ4_1>; break;
    case DType::Q5_0: p.run = run_rows<FamA, WQ5_0>; break;
    case DType::Q5_1: p.run = run_rows<FamA, WQ5_1>; break;
    case DType::Q8_0: p.run = run_rows<FamA, WQ8_0>; break;
    case DType::Q4_K: p.run = run_rows<FamK, WQ4K>; break;
    case DType::Q5_K: p.run = run_rows<FamK, WQ5K>; break;
    case DType::Q6_K: p.run = run_rows<FamK, WQ6K>; break;
    case DType::F32: p.run = run_rows<FamF, WF32>; break;
    case DType::F16: p.run = run_rows<FamF, WF16>; break;
    case DType::BF16: p.run = run_rows<FamF, WBF16>; break;
    default: break;
  }
  switch (w.type) {
    case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0:
      p.pack = pack_a;
      p.act_stride = act_a_stride(n / 32);
      p.offset = weight_offset(w.type);
      break;
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      p.pack = pack_k;
      p.act_stride = round64(static_cast<size_t>(n / 256) * sizeof(BlockQ8_K));
      break;
    default:
      p.pack = pack_f;
      p.act_stride = round64(static_cast<size_t>(n) * 4);
      break;
  }
#else
  p.run = run_std;
  p.pack = pack_std;
  p.act_stride = round64(activation_row_bytes(w.type, n));
#endif
  return p;
}

// Spin barrier for the threads of one pool.run region (all of them are running it).
struct SpinBarrier {
  std::atomic<int> arrived{0};
  void wait(int n) {
    arrived.fetch_add(1, std::memory_order_acq_rel);
    for (int spins = 0; arrived.load(std::memory_order_acquire) < n; ++spins) {
      if (spins < 4096) _mm_pause();
      else std::this_thread::yield();
    }
  }
};

// Splits output rows so every thread's range starts on a multiple of the tile height.
void split_rows(int64_t rows, int tid, int n, int64_t& o0, int64_t& o1) {
#if SLIM_SIMD
  const int64_t unit = kR;
#else
  const int64_t unit = 1;
#endif
  const int64_t units = (rows + unit - 1) / unit;
  int64_t u0, u1;
  ThreadPool::split(units, tid, n, u0, u1);
  o0 = std::min(rows, u0 * unit);
  o1 = std::min(rows, u1 * unit);
}

}  // namespace

void matmul(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, ThreadPool& pool) {
  if (m <= 0 || w.rows <= 0) return;
  const Plan p = make_plan(w);
  uint8_t* act = scratch().get(p.act_stride * static_cast<size_t>(m));
  const int nt = pool.size();
  if (nt == 1) {
    for (int64_t i = 0; i < m; ++i) p.pack(p, x + i * ldx, w.cols, act + i * p.act_stride);
    p.run(w, act, p.act_stride, m, y, ldy, 0, w.rows);
    return;
  }
  // Few rows: quantize on the caller, then one parallel region. Many rows: quantize in parallel too,
  // with a barrier inside the same region (one wake-up instead of two).
  const bool par_pack = m >= 2 * nt;
  if (!par_pack)
    for (int64_t i = 0; i < m; ++i) p.pack(p, x + i * ldx, w.cols, act + i * p.act_stride);
  SpinBarrier barrier;
  pool.run([&](int tid, int n) {
    if (par_pack) {
      int64_t r0, r1;
      ThreadPool::split(m, tid, n, r0, r1);
      for (int64_t i = r0; i < r1; ++i) p.pack(p, x + i * ldx, w.cols, act + i * p.act_stride);
      barrier.wait(n);
    }
    int64_t o0, o1;
    split_rows(w.rows, tid, n, o0, o1);
    if (o1 > o0) p.run(w, act, p.act_stride, m, y, ldy, o0, o1);
  });
}

void matmul_rows(const Weight& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy, int64_t o0,
                 int64_t o1) {
  if (m <= 0 || o1 <= o0) return;
  const Plan p = make_plan(w);
  uint8_t* act = scratch().get(p.act_stride * static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) p.pack(p, x + i * ldx, w.cols, act + i * p.act_stride);
  p.run(w, act, p.act_stride, m, y, ldy, o0, o1);
}

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
