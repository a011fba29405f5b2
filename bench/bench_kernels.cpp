// Kernel micro-benchmarks (Google Benchmark): vec_dot per type, matmul GEMV (m=1) and GEMM (m=512)
// at Gemma-3-270M and SmolLM2-135M shapes. Counters: GFLOP/s (2·m·rows·cols per call) and GB/s
// (weight bytes streamed per call). Run briefly, e.g.
//   slim_microbench --benchmark_min_time=0.1 --benchmark_filter=Matmul
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "runtime/thread_pool.h"
#include "slim/types.h"
#include "tensor/kernels.h"

namespace {

using slim::DType;
namespace k = slim::kernels;

// Random weights: random bytes, with the fp16 scale fields set to sane values.
std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t bytes = slim::row_bytes(t, cols) * rows;
  std::vector<uint8_t> w(bytes);
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
    std::vector<float> f(rows * cols);
    for (float& v : f) v = nd(rng) * 0.1f;
    k::quantize_row_ref(t, f.data(), w.data(), rows * cols);
    return w;
  }
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  size_t bs = slim::dtype_info(t).block_bytes;
  std::vector<size_t> offs;
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: offs = {0, 2}; break;
    case DType::Q6_K: offs = {208}; break;
    default: offs = {0}; break;
  }
  for (size_t b = 0; b < bytes / bs; ++b)
    for (size_t o : offs) {
      const uint16_t h = k::fp32_to_fp16(nd(rng) * 0.02f);
      std::memcpy(&w[b * bs + o], &h, 2);
    }
  return w;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// ---------------------------------------------------------------------------------------------
// vec_dot: one weight row against one quantized activation row, n = 4096.

void BM_VecDot(benchmark::State& st, DType t) {
  const int64_t n = 4096;
  const auto w = random_weights(t, 1, n, 1);
  const auto x = random_floats(n, 2);
  std::vector<uint8_t> a(k::activation_row_bytes(t, n));
  k::quantize_activation_row(t, x.data(), a.data(), n);
  for (auto _ : st) benchmark::DoNotOptimize(k::vec_dot(t, n, w.data(), a.data()));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_VecDotRef(benchmark::State& st, DType t) {
  const int64_t n = 4096;
  const auto w = random_weights(t, 1, n, 1);
  const auto x = random_floats(n, 2);
  std::vector<uint8_t> a(k::activation_row_bytes(t, n));
  k::quantize_activation_row(t, x.data(), a.data(), n);
  for (auto _ : st) benchmark::DoNotOptimize(k::vec_dot_ref(t, n, w.data(), a.data()));
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------------------------
// matmul: args = {m, threads}. Y[m×rows] = X[m×cols] · W[rows×cols]ᵀ.

void BM_Matmul(benchmark::State& st, DType t, int64_t cols, int64_t rows) {
  const int64_t m = st.range(0);
  const int threads = static_cast<int>(st.range(1));
  const auto w = random_weights(t, rows, cols, 3);
  const k::Weight W{t, cols, rows, w.data(), slim::row_bytes(t, cols)};
  const auto x = random_floats(m * cols, 4);
  std::vector<float> y(m * rows);
  slim::ThreadPool pool(threads);
  k::matmul(W, x.data(), m, cols, y.data(), rows, pool);  // warm-up: scratch allocation
  for (auto _ : st) {
    k::matmul(W, x.data(), m, cols, y.data(), rows, pool);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * rows * cols, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_QuantizeQ8K(benchmark::State& st) {
  const int64_t n = 2048;
  const auto x = random_floats(n, 5);
  std::vector<k::BlockQ8_K> y(n / 256);
  for (auto _ : st) {
    k::quantize_row_q8_K(x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void BM_QuantizeQ8_0(benchmark::State& st) {
  const int64_t n = 2048;
  const auto x = random_floats(n, 5);
  std::vector<k::BlockQ8_0> y(n / 32);
  for (auto _ : st) {
    k::quantize_row_q8_0(x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * n);
}

// One thread: rates from the thread's CPU time, which other jobs on a shared machine do not inflate.
// Two threads: wall time (CPU time of the main thread alone would say nothing), so those figures
// need an otherwise idle machine.
void gemm_args_1t(benchmark::internal::Benchmark* b) {
  for (int m : {1, 512}) b->Args({m, 1});
  b->Unit(benchmark::kMicrosecond);
}
void gemm_args_2t(benchmark::internal::Benchmark* b) {
  for (int m : {1, 512}) b->Args({m, 2});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
void gemv_args_1t(benchmark::internal::Benchmark* b) {
  b->Args({1, 1})->Unit(benchmark::kMicrosecond);
}
void gemv_args_2t(benchmark::internal::Benchmark* b) {
  b->Args({1, 2})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(BM_VecDot, Q4_0, DType::Q4_0);
BENCHMARK_CAPTURE(BM_VecDot, Q4_1, DType::Q4_1);
BENCHMARK_CAPTURE(BM_VecDot, Q5_0, DType::Q5_0);
BENCHMARK_CAPTURE(BM_VecDot, Q5_1, DType::Q5_1);
BENCHMARK_CAPTURE(BM_VecDot, Q8_0, DType::Q8_0);
BENCHMARK_CAPTURE(BM_VecDot, Q4_K, DType::Q4_K);
BENCHMARK_CAPTURE(BM_VecDot, Q5_K, DType::Q5_K);
BENCHMARK_CAPTURE(BM_VecDot, Q6_K, DType::Q6_K);
BENCHMARK_CAPTURE(BM_VecDot, F16, DType::F16);
BENCHMARK_CAPTURE(BM_VecDot, BF16, DType::BF16);
BENCHMARK_CAPTURE(BM_VecDot, F32, DType::F32);
BENCHMARK_CAPTURE(BM_VecDotRef, Q8_0, DType::Q8_0);
BENCHMARK_CAPTURE(BM_VecDotRef, Q4_K, DType::Q4_K);
BENCHMARK(BM_QuantizeQ8_0);
BENCHMARK(BM_QuantizeQ8K);

// Gemma-3-270M Q4_K_M shapes (cols = ne[0] input features, rows = ne[1] outputs).
BENCHMARK_CAPTURE(BM_Matmul, Gemma_q_640x1024_Q5_0, DType::Q5_0, 640, 1024)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_q_640x1024_Q5_0, DType::Q5_0, 640, 1024)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_gate_640x2048_Q5_0, DType::Q5_0, 640, 2048)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_gate_640x2048_Q5_0, DType::Q5_0, 640, 2048)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_down_2048x640_Q6_K, DType::Q6_K, 2048, 640)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_down_2048x640_Q6_K, DType::Q6_K, 2048, 640)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_down_2048x640_Q4_K, DType::Q4_K, 2048, 640)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_down_2048x640_Q4_K, DType::Q4_K, 2048, 640)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_o_1024x640_Q4_K, DType::Q4_K, 1024, 640)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_o_1024x640_Q4_K, DType::Q4_K, 1024, 640)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_v_640x256_Q8_0, DType::Q8_0, 640, 256)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_v_640x256_Q8_0, DType::Q8_0, 640, 256)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_lmhead_640x262144_Q8_0, DType::Q8_0, 640, 262144)->Apply(gemv_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Gemma_lmhead_640x262144_Q8_0, DType::Q8_0, 640, 262144)->Apply(gemv_args_2t);
// SmolLM2-135M Q4_1 shapes.
BENCHMARK_CAPTURE(BM_Matmul, Smol_up_576x1536_Q4_1, DType::Q4_1, 576, 1536)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Smol_up_576x1536_Q4_1, DType::Q4_1, 576, 1536)->Apply(gemm_args_2t);
BENCHMARK_CAPTURE(BM_Matmul, Smol_down_1536x576_Q4_1, DType::Q4_1, 1536, 576)->Apply(gemm_args_1t);
BENCHMARK_CAPTURE(BM_Matmul, Smol_down_1536x576_Q4_1, DType::Q4_1, 1536, 576)->Apply(gemm_args_2t);
