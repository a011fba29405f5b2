// Run-time SIMD dispatch (src/simd/): every target this CPU has computes the same bits as the others where the
// arithmetic is defined to be identical (attention, exp, SwiGLU, fp16 rows, the integer matmul of the SIMD
// targets), and the scalar matmul agrees within the reference tolerance. Also SLIM_CPU parsing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kv/kv_cache.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"
#include "simd/cpu.h"
#include "slim/error.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace slim {
namespace {

namespace k = kernels;
using simd::Target;

// Restores the target chosen at start-up when a test that forces targets ends.
struct TargetGuard {
  Target saved = simd::active();
  ~TargetGuard() { simd::force(saved); }
};

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Dispatch, ParsesTargetsAndRefusesUnknownOnes) {
  EXPECT_EQ(simd::parse("scalar"), Target::kScalar);
  EXPECT_EQ(simd::parse("avx2"), Target::kAVX2);
  EXPECT_EQ(simd::parse("avx512"), Target::kAVX512);
  EXPECT_EQ(simd::parse("neon"), Target::kNEON);
  EXPECT_THROW(simd::parse("sse2"), Error);
  EXPECT_THROW(simd::parse(""), Error);
  const auto av = simd::available();
  ASSERT_FALSE(av.empty());
  EXPECT_EQ(av.front(), Target::kScalar);
  for (Target t : {Target::kScalar, Target::kAVX2, Target::kAVX512, Target::kNEON}) {
    const bool usable = simd::compiled(t) && simd::cpu_supports(t);
    if (!usable) {
      EXPECT_THROW(simd::force(t), Error) << simd::name(t);
    }
  }
  EXPECT_STREQ(k::kernel_isa(), simd::name(simd::active()));
}

TEST(Dispatch, ElementwiseKernelsAreBitIdenticalOnEveryTarget) {
  TargetGuard guard;
  const int n = 1000;  // not a multiple of 16: tails take the scalar code on every target
  std::vector<float> gate = randn(n, 1, 4.f), up = randn(n, 2);
  gate[3] = -200.f, gate[5] = 200.f, gate[7] = -0.f;  // exp underflow / overflow edges
  std::vector<uint16_t> h(n);
  std::vector<float> want_swiglu, want_gelu, want_f16;
  std::vector<uint16_t> want_h;
  for (Target t : simd::available()) {
    simd::force(t);
    std::vector<float> sw(n), ge(n), f(n);
    std::vector<uint16_t> hh(n);
    ops::swiglu(gate.data(), up.data(), sw.data(), n);
    ops::geglu_tanh(gate.data(), up.data(), ge.data(), n);
    k::fp32_to_fp16_row(gate.data(), hh.data(), n);
    k::fp16_to_fp32_row(hh.data(), f.data(), n);
    if (want_swiglu.empty()) {
      want_swiglu = sw, want_gelu = ge, want_f16 = f, want_h = hh;
      continue;
    }
    EXPECT_TRUE(same_bits(sw, want_swiglu)) << simd::name(t) << ": swiglu";
    EXPECT_TRUE(same_bits(ge, want_gelu)) << simd::name(t) << ": geglu_tanh";
    EXPECT_TRUE(same_bits(f, want_f16)) << simd::name(t) << ": fp16 -> fp32";
    EXPECT_EQ(hh, want_h) << simd::name(t) << ": fp32 -> fp16";
  }
}

TEST(Dispatch, DotIsBitIdenticalOnEveryTargetAndCloseToDouble) {
  TargetGuard guard;
  const std::vector<float> a = randn(300, 3), b = randn(300, 4);
  for (int n : {0, 5, 16, 64, 100, 256, 300}) {
    double ref = 0.0;
    for (int i = 0; i < n; ++i) ref += double(a[i]) * b[i];
    float want = 0.f;
    bool first = true;
    for (Target t : simd::available()) {
      simd::force(t);
      const float got = ops::dot(a.data(), b.data(), n);
      EXPECT_NEAR(got, ref, 1e-5 * (1 + std::sqrt(double(n)))) << simd::name(t) << " n=" << n;
      if (first) want = got, first = false;
      else EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << simd::name(t) << " n=" << n;
    }
  }
}

TEST(Dispatch, AttentionIsBitIdenticalOnEveryTarget) {
  TargetGuard guard;
  ThreadPool pool(2);
  for (KVType type : {KVType::F16, KVType::F32})
    for (int rows : {1, 3, 40}) {
      const int n_head = 4, n_head_kv = 2, hd = 64, total = 300;
      LayerKV kv;
      kv.init(n_head_kv * hd, total, false, type);
      const std::vector<float> kvals = randn(size_t(total) * n_head_kv * hd, 3), vvals = randn(kvals.size(), 4);
      for (int p = 0; p < total; ++p)
        if (p % 7 != 3) kv.append(p, &kvals[size_t(p) * n_head_kv * hd], &vvals[size_t(p) * n_head_kv * hd]);
      const std::vector<float> q = randn(size_t(rows) * n_head * hd, 5);
      std::vector<int32_t> pos(rows);
      for (int r = 0; r < rows; ++r) pos[r] = total - rows + r;
      AttentionShape s;
      s.n_head = n_head, s.n_head_kv = n_head_kv, s.head_dim = hd, s.kq_scale = 0.125f;
      std::vector<float> want;
      for (Target t : simd::available()) {
        simd::force(t);
        std::vector<float> out(q.size());
        attention(q.data(), pos.data(), rows, kv, s, out.data(), pool);
        if (want.empty()) want = out;
        else EXPECT_TRUE(same_bits(out, want)) << simd::name(t) << " rows=" << rows << " f16=" << (type == KVType::F16);
      }
    }
}

TEST(Dispatch, MatmulIsBitIdenticalAcrossSimdTargetsAndCloseOnScalar) {
  TargetGuard guard;
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 37;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::F16}) {
    const std::vector<float> wf = randn(size_t(rows * cols), 6);
    const size_t rs = row_bytes(t, cols);
    std::vector<uint8_t> wq(rs * rows);
    for (int64_t r = 0; r < rows; ++r) ASSERT_TRUE(k::quantize_row_ref(t, &wf[r * cols], &wq[r * rs], cols));
    const k::Weight w{t, cols, rows, wq.data(), rs};
    for (int64_t m : {1, 5, 24}) {
      const std::vector<float> x = randn(size_t(m * cols), 7);
      std::vector<float> simd_out, ref(size_t(m * rows));
      k::matmul_ref(w, x.data(), m, cols, ref.data(), rows);
      // Loose tolerance from the magnitude of the products (Q8_1's fp16 sum term moves Q4_1/Q5_1 by ~1e-4 of
      // it); test_kernels.cpp checks each path tightly against vec_dot_ref. Here the point is the bits.
      std::vector<double> mag(size_t(m * rows), 0.0);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t o = 0; o < rows; ++o)
          for (int64_t j = 0; j < cols; ++j) mag[i * rows + o] += std::fabs(double(x[i * cols + j]) * wf[o * cols + j]);
      for (Target tg : simd::available()) {
        simd::force(tg);
        std::vector<float> y(size_t(m * rows));
        k::matmul(w, x.data(), m, cols, y.data(), rows, pool);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], ref[i], 5e-4 * mag[i] + 1e-6) << simd::name(tg) << " " << dtype_name(static_cast<uint32_t>(t));
        // Float weights (F16/BF16/F32) use the register width's lane count: close, not bit-matched (kernels.md).
        // Q4_1 / Q5_0 sum in llama.cpp's vec_dot lane order on avx512, in the chain order on avx2
        // (kernels.md; test_kernels.cpp checks each order's bits).
        if (tg == Target::kScalar || t == DType::F16 || t == DType::Q4_1 || t == DType::Q5_0) continue;
        if (simd_out.empty()) simd_out = y;
        else EXPECT_TRUE(same_bits(y, simd_out)) << simd::name(tg) << " " << dtype_name(static_cast<uint32_t>(t)) << " m=" << m;
      }
    }
  }
}

// The neon target computes the reference's exact integer block sums and its float statements in order, so its
// matmul and vec_dot give vec_dot_ref's bits (the scalar target's), for every integer weight type.
TEST(Dispatch, NeonMatmulHasTheReferenceBits) {
  if (!simd::compiled(Target::kNEON) || !simd::cpu_supports(Target::kNEON)) GTEST_SKIP() << "no neon target here";
  TargetGuard guard;
  simd::force(Target::kNEON);
  ThreadPool pool(2);
  const int64_t cols = 512, rows = 9;
  std::mt19937 rng(11);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K}) {
    const size_t rs = row_bytes(t, cols);
    std::vector<uint8_t> wq(rs * rows);
    const std::vector<float> wf = randn(size_t(rows * cols), 12);
    bool kquant = false;
    for (int64_t r = 0; r < rows; ++r) kquant = !k::quantize_row_ref(t, &wf[r * cols], &wq[r * rs], cols);
    if (kquant) {  // no K-quant quantizer: random codes and scales, sane fp16 super-block scales
      for (auto& b : wq) b = static_cast<uint8_t>(rng());
      const size_t bs = t == DType::Q4_K ? 144 : t == DType::Q5_K ? 176 : 210;
      for (size_t off = 0; off < wq.size(); off += bs) {
        const uint16_t d = k::fp32_to_fp16(0.001f * (1 + rng() % 50)), dmin = k::fp32_to_fp16(0.0005f * (rng() % 40));
        if (t == DType::Q6_K) std::memcpy(&wq[off + 208], &d, 2);
        else std::memcpy(&wq[off], &d, 2), std::memcpy(&wq[off + 2], &dmin, 2);
      }
    }
    const k::Weight w{t, cols, rows, wq.data(), rs};
    for (int64_t m : {1, 3, 8, 17}) {
      const std::vector<float> x = randn(size_t(m * cols), 13);
      std::vector<float> y(size_t(m * rows));
      k::matmul(w, x.data(), m, cols, y.data(), rows, pool);
      std::vector<uint8_t> act(k::activation_row_bytes(t, cols));
      for (int64_t i = 0; i < m; ++i) {
        k::quantize_activation_row(t, &x[i * cols], act.data(), cols);
        for (int64_t o = 0; o < rows; ++o) {
          const float want = k::vec_dot_ref(t, cols, &wq[o * rs], act.data());
          const float dot = k::vec_dot(t, cols, &wq[o * rs], act.data());
          EXPECT_EQ(std::memcmp(&y[i * rows + o], &want, 4), 0)
              << dtype_name(static_cast<uint32_t>(t)) << " m=" << m << " (" << i << "," << o << "): " << y[i * rows + o]
              << " vs " << want;
          EXPECT_EQ(std::memcmp(&dot, &want, 4), 0) << dtype_name(static_cast<uint32_t>(t)) << " vec_dot";
        }
      }
    }
  }
}

}  // namespace
}  // namespace slim
