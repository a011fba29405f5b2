// Kernel tests. Oracles: gguf-py (dequantize / quantize) and llama.cpp's own CPU library (run-time
// activation quantizers and dot products), captured as fixtures by tools/make_quant_fixtures.py; the
// real Gemma file (rows checked against gguf-py); and the scalar references for every fast path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "runtime/thread_pool.h"
#include "slim/error.h"
#include "slim/types.h"
#include "tensor/kernels.h"

namespace {

using slim::DType;
namespace k = slim::kernels;

const std::string kFixDir = std::string(SLIM_SOURCE_DIR) + "/tests/fixtures/quant/";
const std::string kGemma = std::string(SLIM_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf";

uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// ---------------------------------------------------------------------------------------------
// Fixture reader (format documented in tools/make_quant_fixtures.py)

struct Fixture {
  uint32_t kind = 0, type = 0, n = 0, nraw = 0;
  uint64_t offset = 0;
  std::string name;
  std::vector<uint8_t> payload;
  size_t pos = 0;

  const uint8_t* take(size_t bytes) {
    if (pos + bytes > payload.size()) throw std::runtime_error("fixture truncated");
    const uint8_t* p = payload.data() + pos;
    pos += bytes;
    return p;
  }
  std::vector<float> floats(size_t count) {
    std::vector<float> v(count);
    std::memcpy(v.data(), take(count * 4), count * 4);
    return v;
  }
  std::vector<uint8_t> bytes(size_t count) {
    const uint8_t* p = take(count);
    return std::vector<uint8_t>(p, p + count);
  }
};

Fixture load_fixture(const std::string& file) {
  std::ifstream in(kFixDir + file, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + file + " (run tools/make_quant_fixtures.py)");
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() < 96 || std::memcmp(all.data(), "SLQF", 4) != 0) throw std::runtime_error("bad fixture " + file);
  Fixture f;
  uint32_t version;
  std::memcpy(&version, &all[4], 4);
  std::memcpy(&f.kind, &all[8], 4);
  std::memcpy(&f.type, &all[12], 4);
  std::memcpy(&f.n, &all[16], 4);
  std::memcpy(&f.nraw, &all[20], 4);
  std::memcpy(&f.offset, &all[24], 8);
  f.name = std::string(reinterpret_cast<const char*>(&all[32]));
  f.payload.assign(all.begin() + 96, all.end());
  return f;
}

void expect_bits_equal(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (f2u(got[i]) != f2u(want[i])) {
      if (++bad <= 5) ADD_FAILURE() << what << " element " << i << ": got " << got[i] << " want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

const DType kAllSupported[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                               DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};
const DType kQuantized[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                            DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K};

// ---------------------------------------------------------------------------------------------
// Type table

TEST(Types, GeometryAndNames) {
  EXPECT_STREQ(slim::dtype_name(12), "Q4_K");
  EXPECT_STREQ(slim::dtype_name(99), "unknown(99)");
  EXPECT_EQ(slim::dtype_info(99), nullptr);
  EXPECT_EQ(slim::dtype_info(4), nullptr);  // removed Q4_2
  for (DType t : kAllSupported) EXPECT_TRUE(slim::dtype_info(t).supported) << slim::dtype_info(t).name;
  for (uint32_t id : {9u, 10u, 11u, 15u, 20u, 23u, 28u}) {
    ASSERT_NE(slim::dtype_info(id), nullptr) << id;
    EXPECT_FALSE(slim::dtype_info(id)->supported) << id;
  }
  EXPECT_EQ(slim::row_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(slim::row_bytes(DType::Q5_0, 640), 440u);
  EXPECT_EQ(slim::row_bytes(DType::Q6_K, 2048), 1680u);
  EXPECT_EQ(slim::row_bytes(DType::Q8_0, 640), 680u);
  EXPECT_EQ(slim::row_bytes(DType::BF16, 3), 6u);
  EXPECT_EQ(slim::dtype_info(DType::Q8_K).block_bytes, 292u);
}

// ---------------------------------------------------------------------------------------------
// fp16 / bf16

TEST(Fp16, AllHalvesConvertLikeHardware) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float sw = k::fp16_to_fp32_sw(static_cast<uint16_t>(h));
    const float hw = k::fp16_to_fp32(static_cast<uint16_t>(h));
    ASSERT_EQ(f2u(sw), f2u(hw)) << std::hex << h;
  }
  EXPECT_EQ(k::fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(k::fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(k::fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
}

TEST(Fp16, FloatToHalfRoundsToNearestEven) {
  std::mt19937 rng(1);
  std::vector<float> xs = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, -1e9f, INFINITY, -INFINITY,
                           std::ldexp(1.0f, -24), std::ldexp(1.0f, -25), std::ldexp(1.5f, -25),
                           std::ldexp(1.0f, -14), std::ldexp(1023.5f, -24), 1.0f + std::ldexp(1.0f, -11),
                           1.0f + std::ldexp(3.0f, -11), 1e-30f, -1e-30f};
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = rng();
    if ((u & 0x7f800000u) == 0x7f800000u) continue;  // NaN payload handling is not part of the contract
    float f;
    std::memcpy(&f, &u, 4);
    xs.push_back(f);
    xs.push_back(std::ldexp(static_cast<float>(rng() % 4096), -static_cast<int>(rng() % 40)));
  }
  for (float x : xs) ASSERT_EQ(k::fp32_to_fp16_sw(x), k::fp32_to_fp16(x)) << x;
  EXPECT_EQ(k::fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(k::fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(k::fp32_to_fp16(65520.0f), 0x7C00);
  EXPECT_TRUE(std::isnan(k::fp16_to_fp32(k::fp32_to_fp16(NAN))));

  std::vector<float> row(xs.begin(), xs.begin() + 1000), back(1000);
  std::vector<uint16_t> h(1000);
  k::fp32_to_fp16_row(row.data(), h.data(), 1000);
  k::fp16_to_fp32_row(h.data(), back.data(), 1000);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(h[i], k::fp32_to_fp16(row[i])) << i;
    ASSERT_EQ(f2u(back[i]), f2u(k::fp16_to_fp32(h[i]))) << i;
  }
}

TEST(Bf16, ConversionRules) {
  EXPECT_EQ(k::fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(k::bf16_to_fp32(0x3F80), 1.0f);
  uint32_t u = 0x3F808000u;  // exactly half-way, lower bit even -> stays
  float f;
  std::memcpy(&f, &u, 4);
  EXPECT_EQ(k::fp32_to_bf16(f), 0x3F80);
  u = 0x3F818000u;  // half-way, odd -> rounds up
  std::memcpy(&f, &u, 4);
  EXPECT_EQ(k::fp32_to_bf16(f), 0x3F82);
  u = 0x7F800001u;  // signalling NaN -> quiet NaN
  std::memcpy(&f, &u, 4);
  EXPECT_EQ(k::fp32_to_bf16(f), 0x7FC0);
}

// ---------------------------------------------------------------------------------------------
// gguf-py oracle: dequantization and weight quantization

TEST(Dequant, MatchesGgufPyBitExact) {
  for (DType t : kAllSupported) {
    const std::string name = slim::dtype_info(t).name;
    Fixture f = load_fixture("deq_" + name + ".bin");
    ASSERT_EQ(f.kind, 0u);
    ASSERT_EQ(f.type, static_cast<uint32_t>(t));
    ASSERT_EQ(slim::row_bytes(t, f.n), f.nraw) << name;
    const std::vector<uint8_t> raw = f.bytes(f.nraw);
    const std::vector<float> want = f.floats(f.n);
    std::vector<float> got(f.n, -12345.0f);
    k::dequantize_row_ref(t, raw.data(), got.data(), f.n);
    expect_bits_equal(got, want, "dequantize_row_ref " + name);
    std::fill(got.begin(), got.end(), -12345.0f);
    k::dequantize_row(t, raw.data(), got.data(), f.n);
    expect_bits_equal(got, want, "dequantize_row " + name);
  }
}

TEST(Quantize, WeightQuantizersMatchGgufPy) {
  for (DType t : {DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    const std::string name = slim::dtype_info(t).name;
    Fixture f = load_fixture("quant_" + name + ".bin");
    ASSERT_EQ(f.kind, 1u);
    const std::vector<float> x = f.floats(f.n);
    const std::vector<uint8_t> want = f.bytes(f.nraw);
    ASSERT_EQ(slim::row_bytes(t, f.n), want.size()) << name;
    std::vector<uint8_t> got(want.size(), 0xAB);
    ASSERT_TRUE(k::quantize_row_ref(t, x.data(), got.data(), f.n));
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << name << " byte " << i;
  }
  std::vector<uint8_t> buf(1024);
  std::vector<float> x(256, 1.0f);
  EXPECT_FALSE(k::quantize_row_ref(DType::Q4_K, x.data(), buf.data(), 256));
}

TEST(Dequant, RealGemmaRowsMatchGgufPy) {
  if (!std::filesystem::exists(kGemma)) GTEST_SKIP() << "model not found: " << kGemma;
  std::ifstream model(kGemma, std::ios::binary);
  int checked = 0;
  std::vector<uint32_t> types_seen;
  for (int i = 0;; ++i) {
    const std::string file = "model_" + std::to_string(i) + ".bin";
    if (!std::filesystem::exists(kFixDir + file)) break;
    Fixture f = load_fixture(file);
    ASSERT_EQ(f.kind, 2u);
    std::vector<uint8_t> raw(f.nraw);
    model.seekg(static_cast<std::streamoff>(f.offset));
    model.read(reinterpret_cast<char*>(raw.data()), f.nraw);
    ASSERT_TRUE(model.good()) << f.name;
    const DType t = static_cast<DType>(f.type);
    ASSERT_EQ(slim::row_bytes(t, f.n), f.nraw) << f.name;
    const std::vector<float> want = f.floats(f.n);
    std::vector<float> got(f.n);
    k::dequantize_row(t, raw.data(), got.data(), f.n);
    expect_bits_equal(got, want, f.name);
    k::dequantize_row_ref(t, raw.data(), got.data(), f.n);
    expect_bits_equal(got, want, f.name + " (ref)");
    types_seen.push_back(f.type);
    ++checked;
  }
  EXPECT_GE(checked, 4);
  for (DType t : {DType::Q8_0, DType::Q5_0, DType::Q4_K, DType::Q6_K})
    EXPECT_NE(std::find(types_seen.begin(), types_seen.end(), static_cast<uint32_t>(t)), types_seen.end())
        << slim::dtype_info(t).name;
}

// ---------------------------------------------------------------------------------------------
// llama.cpp oracle: run-time activation quantizers and dot products

TEST(ActQuant, MatchesLlamaCppBitExact) {
  for (DType t : {DType::Q8_0, DType::Q8_1, DType::Q8_K}) {
    const std::string name = slim::dtype_info(t).name;
    Fixture f = load_fixture("act_" + name + ".bin");
    ASSERT_EQ(f.kind, 3u);
    const std::vector<float> x = f.floats(f.n);
    const std::vector<uint8_t> want = f.bytes(f.nraw);
    std::vector<uint8_t> got(want.size(), 0xAB), got_ref(want.size(), 0xCD);
    if (t == DType::Q8_0) {
      k::quantize_row_q8_0(x.data(), reinterpret_cast<k::BlockQ8_0*>(got.data()), f.n);
      k::quantize_row_q8_0_ref(x.data(), reinterpret_cast<k::BlockQ8_0*>(got_ref.data()), f.n);
    } else if (t == DType::Q8_1) {
      k::quantize_row_q8_1(x.data(), reinterpret_cast<k::BlockQ8_1*>(got.data()), f.n);
      k::quantize_row_q8_1_ref(x.data(), reinterpret_cast<k::BlockQ8_1*>(got_ref.data()), f.n);
    } else {
      k::quantize_row_q8_K(x.data(), reinterpret_cast<k::BlockQ8_K*>(got.data()), f.n);
      k::quantize_row_q8_K_ref(x.data(), reinterpret_cast<k::BlockQ8_K*>(got_ref.data()), f.n);
    }
    const size_t bs = slim::dtype_info(t).block_bytes;
    for (size_t i = 0; i < want.size(); ++i) {
      // ggml leaves bsums of an all-zero Q8_K block unwritten (0 in the fixture's zeroed buffer).
      ASSERT_EQ(got[i], want[i]) << name << " byte " << i << " (block " << i / bs << ")";
      ASSERT_EQ(got_ref[i], want[i]) << name << " ref byte " << i;
    }
  }
}

// |sum| of the per-element products, the natural scale for a dot product's rounding error.
double abs_dot(DType t, int64_t n, const void* w, const void* a) {
  std::vector<float> wf(n), af(n);
  k::dequantize_row_ref(t, w, wf.data(), n);
  const DType at = k::vec_dot_type(t);
  if (at == DType::Q8_0 || at == DType::Q8_1) {
    const size_t bs = at == DType::Q8_0 ? sizeof(k::BlockQ8_0) : sizeof(k::BlockQ8_1);
    for (int64_t b = 0; b < n / 32; ++b) {
      const uint8_t* blk = static_cast<const uint8_t*>(a) + b * bs;
      uint16_t d;
      std::memcpy(&d, blk, 2);
      const int8_t* qs = reinterpret_cast<const int8_t*>(blk + bs - 32);
      for (int j = 0; j < 32; ++j) af[b * 32 + j] = k::fp16_to_fp32(d) * qs[j];
    }
  } else {
    k::dequantize_row_ref(at, a, af.data(), n);
  }
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(wf[i]) * af[i]);
  return s;
}

// The types whose llama.cpp x86 kernel slim reproduces operation for operation: bit-identical results.
// The llama.cpp fixtures were made on x86: its AVX2 / AVX-512 lane order, which only our x86 SIMD targets
// reproduce (scalar sums in the reference order, NEON in the reference order too).
bool x86_simd_target() {
  const std::string isa = k::kernel_isa();
  return isa == "avx2" || isa == "avx512";
}

TEST(VecDot, BitIdenticalToLlamaCpp) {
  if (!x86_simd_target()) GTEST_SKIP() << k::kernel_isa() << " target: the fixtures hold llama.cpp's x86 lane order";
  // Q4_0, Q5_K and Q6_K are absent: slim follows llama.cpp's batched kernels for them (repacked
  // q4_0_8x8 gemm, ggml-cpu's tiled K-quant matmul: Matmul.KQuantBitIdenticalToLlamaCppMulMatOp), not
  // ggml_vec_dot.
  // On avx2, Q4_1 and Q5_0 sum in the chain order by default (Matmul.ChainOrderTypesHaveTheChainBits, docs/kernels.md);
  // its matmul has llama.cpp's bits there under LlamaLanes (--llama-compat), its vec_dot does not.
  const bool avx2 = std::string(k::kernel_isa()) == "avx2";
  for (DType t : {DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0}) {
    const std::string name = slim::dtype_info(t).name;
    const bool chain = avx2 && (t == DType::Q4_1 || t == DType::Q5_0);
    const k::LlamaLanes lanes(chain);
    Fixture f = load_fixture("dot_" + name + ".bin");
    const int64_t rows = static_cast<int64_t>(f.offset), n = f.n;
    const std::vector<uint8_t> w = f.bytes(f.nraw);
    const std::vector<float> x = f.floats(n);
    const std::vector<float> want = f.floats(rows);
    const size_t rb = slim::row_bytes(t, n);
    std::vector<uint8_t> a(k::activation_row_bytes(t, n));
    k::quantize_activation_row(t, x.data(), a.data(), n);
    // matmul on all rows at once and with a batch of copies of x (GEMV and GEMM paths)
    const k::Weight wt{t, n, rows, w.data(), rb};
    constexpr int kCopies = 12;
    std::vector<float> xs(kCopies * n), y1(rows), yb(kCopies * rows);
    for (int i = 0; i < kCopies; ++i) std::copy(x.begin(), x.end(), xs.begin() + i * n);
    slim::ThreadPool pool(2);
    k::matmul(wt, x.data(), 1, n, y1.data(), rows, pool);
    k::matmul(wt, xs.data(), kCopies, n, yb.data(), rows, pool);
    for (int64_t r = 0; r < rows; ++r) {
      if (!chain) {
        EXPECT_EQ(f2u(k::vec_dot(t, n, w.data() + r * rb, a.data())), f2u(want[r])) << name << " row " << r;
      }
      EXPECT_EQ(f2u(y1[r]), f2u(want[r])) << name << " matmul m=1 row " << r;
      for (int i = 0; i < kCopies; ++i)
        EXPECT_EQ(f2u(yb[i * rows + r]), f2u(want[r])) << name << " matmul m=" << kCopies << " row " << r;
    }
  }
}

// Q5_K / Q6_K: llama.cpp's whole mul_mat op on 24 activation rows (its tiled K-quant matmul, taken for
// batches >= 8, i.e. every prefill). slim gives the same bits for every batch size and row alone.
TEST(Matmul, KQuantBitIdenticalToLlamaCppMulMatOp) {
  if (!x86_simd_target()) GTEST_SKIP() << k::kernel_isa() << " target: the fixtures hold llama.cpp's x86 lane order";
  for (DType t : {DType::Q5_K, DType::Q6_K}) {
    const std::string name = slim::dtype_info(t).name;
    Fixture f = load_fixture("mm_" + name + ".bin");
    ASSERT_EQ(f.kind, 6u);
    const int64_t rows = static_cast<int64_t>(f.offset), n = f.n;
    uint32_t m32;
    std::memcpy(&m32, f.take(4), 4);
    const int m = static_cast<int>(m32);
    const std::vector<uint8_t> w = f.bytes(f.nraw);
    const std::vector<float> x = f.floats(static_cast<size_t>(m) * n);
    const std::vector<float> want = f.floats(static_cast<size_t>(m) * rows);
    const k::Weight wt{t, n, rows, w.data(), slim::row_bytes(t, n)};
    slim::ThreadPool pool(2);
    std::vector<float> y(static_cast<size_t>(m) * rows);
    for (int mm : {m, 5, 1}) {  // GEMM, odd pair count, GEMV
      for (int i0 = 0; i0 + mm <= m; i0 += mm) {
        k::matmul(wt, x.data() + i0 * n, mm, n, y.data() + i0 * rows, rows, pool);
        if (mm == 1 && i0 >= 4) break;  // a few single rows suffice
      }
      const int checked = mm == m ? m : mm == 1 ? 5 : (m / mm) * mm;
      for (int64_t i = 0; i < checked * rows; ++i)
        EXPECT_EQ(f2u(y[i]), f2u(want[i])) << name << " m=" << mm << " output " << i;
    }
  }
}

// Q4_K: llama.cpp repacks matrices with a multiple of 8 rows and runs its q4_K_8x8 gemm on groups of
// 4 prompt rows; slim follows that arithmetic for every batch size.
TEST(Matmul, Q4KBitIdenticalToLlamaCppRepackedGemm) {
  if (!x86_simd_target()) GTEST_SKIP() << k::kernel_isa() << " target: the fixtures hold llama.cpp's x86 lane order";
  Fixture f = load_fixture("repack_Q4_K.bin");
  ASSERT_EQ(f.kind, 5u);
  const int64_t rows = static_cast<int64_t>(f.offset), n = f.n;
  const std::vector<uint8_t> w = f.bytes(f.nraw);
  const std::vector<float> x = f.floats(4 * n);
  const std::vector<float> gemv = f.floats(rows);
  const std::vector<float> gemm = f.floats(4 * rows);
  const k::Weight wt{DType::Q4_K, n, rows, w.data(), slim::row_bytes(DType::Q4_K, n)};
  slim::ThreadPool pool(2);
  std::vector<float> y4(4 * rows), y1(rows);
  k::matmul(wt, x.data(), 4, n, y4.data(), rows, pool);
  for (int64_t i = 0; i < 4 * rows; ++i) EXPECT_EQ(f2u(y4[i]), f2u(gemm[i])) << "gemm output " << i;
  for (int i = 0; i < 4; ++i) {
    k::matmul(wt, x.data() + i * n, 1, n, y1.data(), rows, pool);
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(f2u(y1[r]), f2u(gemm[i * rows + r])) << "row " << i << "," << r;
  }
  // llama.cpp's single-row gemv accumulates per super-block instead: same value to float rounding.
  for (int64_t r = 0; r < rows; ++r) EXPECT_NEAR(y4[r], gemv[r], 1e-5 * std::fabs(gemv[r]) + 1e-6);
}

TEST(VecDot, MatchesLlamaCpp) {
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K, DType::F16, DType::BF16}) {
    const std::string name = slim::dtype_info(t).name;
    Fixture f = load_fixture("dot_" + name + ".bin");
    ASSERT_EQ(f.kind, 4u);
    const int64_t rows = static_cast<int64_t>(f.offset), n = f.n;
    const std::vector<uint8_t> w = f.bytes(f.nraw);
    const std::vector<float> x = f.floats(n);
    const std::vector<float> want = f.floats(rows);
    const size_t rb = slim::row_bytes(t, n);
    ASSERT_EQ(rb * rows, w.size());
    std::vector<uint8_t> a(k::activation_row_bytes(t, n));
    k::quantize_activation_row(t, x.data(), a.data(), n);
    for (int64_t r = 0; r < rows; ++r) {
      const void* wr = w.data() + r * rb;
      const double tol = 1e-5 * abs_dot(t, n, wr, a.data()) + 1e-30;
      EXPECT_NEAR(k::vec_dot(t, n, wr, a.data()), want[r], tol) << name << " row " << r;
      EXPECT_NEAR(k::vec_dot_ref(t, n, wr, a.data()), want[r], tol) << name << " ref row " << r;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Random weights: random bytes with the fp16 scale fields replaced by sane values (as the fixtures do)

struct ScaleFields {
  size_t block_bytes;
  std::vector<size_t> offsets;
};

ScaleFields scale_fields(DType t) {
  switch (t) {
    case DType::Q4_0: return {18, {0}};
    case DType::Q4_1: return {20, {0, 2}};
    case DType::Q5_0: return {22, {0}};
    case DType::Q5_1: return {24, {0, 2}};
    case DType::Q8_0: return {34, {0}};
    case DType::Q4_K: return {144, {0, 2}};
    case DType::Q5_K: return {176, {0, 2}};
    case DType::Q6_K: return {210, {208}};
    default: return {0, {}};
  }
}

std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t bytes = slim::row_bytes(t, cols) * rows;
  std::vector<uint8_t> w(bytes);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) {
    std::vector<float> f(rows * cols);
    for (float& v : f) v = nd(rng) * 0.1f;
    k::quantize_row_ref(t, f.data(), w.data(), rows * cols);
    return w;
  }
  for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
  const ScaleFields sf = scale_fields(t);
  for (size_t blk = 0; blk < bytes / sf.block_bytes; ++blk)
    for (size_t off : sf.offsets) {
      const uint16_t h = k::fp32_to_fp16(nd(rng) * 0.02f);
      std::memcpy(&w[blk * sf.block_bytes + off], &h, 2);
    }
  return w;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

int64_t test_cols(DType t) { return slim::dtype_info(t).block_elems == 256 ? 512 : 640; }

// ---------------------------------------------------------------------------------------------
// Fast paths vs scalar references on random data

TEST(VecDot, FastMatchesReference) {
  std::mt19937 rng(7);
  for (DType t : kAllSupported) {
    const std::string name = slim::dtype_info(t).name;
    for (int64_t cols : {test_cols(t), test_cols(t) * 3}) {
      const auto w = random_weights(t, 8, cols, rng);
      const size_t rb = slim::row_bytes(t, cols);
      for (int trial = 0; trial < 4; ++trial) {
        // Mixed magnitudes per row so block scales differ widely.
        auto x = random_floats(cols, rng, trial == 3 ? 1e-3f : 1.0f);
        if (trial == 2) std::fill(x.begin(), x.begin() + 256, 0.0f);
        std::vector<uint8_t> a(k::activation_row_bytes(t, cols));
        k::quantize_activation_row(t, x.data(), a.data(), cols);
        for (int r = 0; r < 8; ++r) {
          const void* wr = w.data() + r * rb;
          const float ref = k::vec_dot_ref(t, cols, wr, a.data());
          const float fast = k::vec_dot(t, cols, wr, a.data());
          const double tol = 1e-5 * abs_dot(t, cols, wr, a.data()) + 1e-30;
          ASSERT_NEAR(fast, ref, tol) << name << " cols " << cols << " trial " << trial << " row " << r;
        }
      }
    }
  }
}

TEST(ActQuant, FastMatchesReference) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    auto x = random_floats(2048, rng, trial % 2 ? 100.0f : 0.01f);
    if (trial == 4) std::fill(x.begin(), x.end(), 0.0f);
    if (trial == 6) x[5] = 1e30f;
    std::vector<k::BlockQ8_0> a0(64), b0(64);
    std::vector<k::BlockQ8_1> a1(64), b1(64);
    std::vector<k::BlockQ8_K> ak(8), bk(8);
    k::quantize_row_q8_0(x.data(), a0.data(), 2048);
    k::quantize_row_q8_0_ref(x.data(), b0.data(), 2048);
    k::quantize_row_q8_1(x.data(), a1.data(), 2048);
    k::quantize_row_q8_1_ref(x.data(), b1.data(), 2048);
    k::quantize_row_q8_K(x.data(), ak.data(), 2048);
    k::quantize_row_q8_K_ref(x.data(), bk.data(), 2048);
    ASSERT_EQ(std::memcmp(a0.data(), b0.data(), sizeof(k::BlockQ8_0) * 64), 0) << trial;
    ASSERT_EQ(std::memcmp(a1.data(), b1.data(), sizeof(k::BlockQ8_1) * 64), 0) << trial;
    ASSERT_EQ(std::memcmp(ak.data(), bk.data(), sizeof(k::BlockQ8_K) * 8), 0) << trial;
  }
}

TEST(Dequant, FastMatchesReferenceOnRandomBlocks) {
  std::mt19937 rng(5);
  for (DType t : kAllSupported) {
    const int64_t n = test_cols(t) * 2;
    const auto w = random_weights(t, 1, n, rng);
    std::vector<float> a(n), b(n);
    k::dequantize_row_ref(t, w.data(), a.data(), n);
    k::dequantize_row(t, w.data(), b.data(), n);
    expect_bits_equal(b, a, std::string("random ") + slim::dtype_info(t).name);
  }
}

// ---------------------------------------------------------------------------------------------
// matmul

// Checks matmul against (a) vec_dot_ref per element, tightly, and (b) matmul_ref (dequantize + double).
void check_matmul(DType t, int64_t m, int64_t rows, int threads, std::mt19937& rng, int64_t cols = 0) {
  if (cols == 0) cols = test_cols(t);
  const std::string what = std::string(slim::dtype_info(t).name) + " m=" + std::to_string(m) +
                           " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
                           " threads=" + std::to_string(threads);
  const int64_t ldx = cols + 3, ldy = rows + 5;  // leading dimensions larger than the rows
  const auto wbytes = random_weights(t, rows, cols, rng);
  const k::Weight w{t, cols, rows, wbytes.data(), slim::row_bytes(t, cols)};
  const auto x = random_floats(m * ldx, rng);
  std::vector<float> y(m * ldy, NAN), yref(m * ldy, NAN);
  slim::ThreadPool pool(threads);
  k::matmul(w, x.data(), m, ldx, y.data(), ldy, pool);
  k::matmul_ref(w, x.data(), m, ldx, yref.data(), ldy);
  const bool min_term = t == DType::Q4_1 || t == DType::Q5_1;
  std::vector<uint8_t> a(k::activation_row_bytes(t, cols));
  std::vector<float> wd(cols), xd(cols);
  for (int64_t i = 0; i < m; ++i) {
    k::quantize_activation_row(t, x.data() + i * ldx, a.data(), cols);
    for (int64_t o = 0; o < rows; ++o) {
      const uint8_t* wr = wbytes.data() + o * w.row_stride;
      const double mag = abs_dot(t, cols, wr, a.data());
      const float got = y[i * ldy + o];
      ASSERT_NEAR(got, k::vec_dot_ref(t, cols, wr, a.data()), 1e-5 * mag + 1e-30) << what << " i=" << i
                                                                                  << " o=" << o;
      // matmul_ref skips ggml's fp16 rounding of Q8_1's d*sum, hence the looser bound for Q4_1/Q5_1.
      ASSERT_NEAR(got, yref[i * ldy + o], (min_term ? 2e-3 : 1e-5) * mag + 1e-30) << what << " (ref)";
    }
    for (int64_t o = rows; o < ldy; ++o) ASSERT_TRUE(std::isnan(y[i * ldy + o])) << what << " wrote padding";
  }
}

TEST(Matmul, MatchesReferenceAllTypes) {
  std::mt19937 rng(3);
  for (DType t : kAllSupported)
    for (int64_t m : {1, 3, 17, 64})
      for (int threads : {1, 2}) check_matmul(t, m, m == 17 ? 67 : 37, threads, rng);
}

TEST(Matmul, GemmaShapesAndEdgeRows) {
  std::mt19937 rng(9);
  check_matmul(DType::Q5_0, 5, 256, 2, rng);
  check_matmul(DType::Q8_0, 1, 1, 2, rng);   // fewer rows than threads
  check_matmul(DType::Q6_K, 2, 3, 2, rng);
  check_matmul(DType::Q4_K, 33, 129, 2, rng);
  // Float weights take any row length: vector body plus scalar tail.
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    check_matmul(t, 1, 9, 2, rng, 100);
    check_matmul(t, 7, 9, 1, rng, 23);
  }
  // Long rows (more blocks than any tile unrolls) for the quantized families.
  check_matmul(DType::Q5_0, 9, 5, 2, rng, 4096);
  check_matmul(DType::Q6_K, 9, 5, 2, rng, 4096);
}

// GEMV (m = 1, raw weight rows) and the batched paths (decoded rows, row pairs on AVX-512) must give
// bit-identical rows: a token's logits must not depend on the batch it was computed in.
TEST(Matmul, BatchSizeDoesNotChangeResults) {
  std::mt19937 rng(17);
  for (DType t : kAllSupported) {
    const int64_t cols = test_cols(t), rows = 45, m = 13;
    const auto wbytes = random_weights(t, rows, cols, rng);
    const k::Weight w{t, cols, rows, wbytes.data(), slim::row_bytes(t, cols)};
    const auto x = random_floats(m * cols, rng);
    slim::ThreadPool pool(2);
    std::vector<float> batch(m * rows), single(rows);
    k::matmul(w, x.data(), m, cols, batch.data(), rows, pool);
    for (int64_t i = 0; i < m; ++i) {
      k::matmul(w, x.data() + i * cols, 1, cols, single.data(), rows, pool);
      for (int64_t o = 0; o < rows; ++o)
        ASSERT_EQ(f2u(single[o]), f2u(batch[i * rows + o])) << slim::dtype_info(t).name << " i=" << i << " o=" << o;
    }
    for (int64_t mm : {2, 3, 4, 5, 8, 9, 12}) {  // around the switch-over sizes
      std::vector<float> part(mm * rows);
      k::matmul(w, x.data(), mm, cols, part.data(), rows, pool);
      for (int64_t i = 0; i < mm * rows; ++i)
        ASSERT_EQ(f2u(part[i]), f2u(batch[i])) << slim::dtype_info(t).name << " m=" << mm << " at " << i;
    }
  }
}

// Q4_0 on every x86 SIMD target and Q4_1 / Q5_0 on avx2 sum in the chain order: per 32-block the exact
// integer sum of q*a, then one fma chain per output, acc = fma(float(sum), d_w*d_a, acc) (llama.cpp's
// repacked q4_0 gemm); Q4_1's min terms m_w*s_a form a second chain, added at the end. Written out here from the standard blocks, the result must have the same bits for every
// batch size: the GEMV tiles, and from 8 rows on the 8-row interleaved GEMM tile (tile_oct, with
// partial units and odd row tails).
float chain_dot(DType t, int64_t n, const uint8_t* w, const uint8_t* act) {
  float acc = 0.0f, acc_min = 0.0f;
  const size_t bw = slim::row_bytes(t, 32);
  for (int64_t b = 0; b < n / 32; ++b) {
    int32_t sum = 0;
    uint16_t dw, da;
    const int8_t* aq;
    if (t == DType::Q4_1) {
      const auto* a = reinterpret_cast<const k::BlockQ8_1*>(act) + b;
      aq = a->qs;
      da = a->d;
      uint16_t mw;
      std::memcpy(&mw, w + bw * b + 2, 2);
      acc_min = std::fma(k::fp16_to_fp32(mw), k::fp16_to_fp32(a->s), acc_min);
    } else {
      const auto* a = reinterpret_cast<const k::BlockQ8_0*>(act) + b;
      aq = a->qs;
      da = a->d;
    }
    for (int j = 0; j < 32; ++j) {
      int q;
      if (t == DType::Q4_0 || t == DType::Q4_1) {
        const uint8_t* blk = w + bw * b + (t == DType::Q4_1 ? 4 : 2);
        q = ((j < 16 ? blk[j] : blk[j - 16] >> 4) & 15) - (t == DType::Q4_0 ? 8 : 0);
      } else {
        const uint8_t* blk = w + 22 * b;
        uint32_t qh;
        std::memcpy(&qh, blk + 2, 4);
        q = (((j < 16 ? blk[6 + j] : blk[6 + j - 16] >> 4) & 15) | (((qh >> j) & 1) << 4)) - 16;
      }
      sum += q * aq[j];
    }
    std::memcpy(&dw, w + bw * b, 2);
    acc = std::fma(static_cast<float>(sum), k::fp16_to_fp32(dw) * k::fp16_to_fp32(da), acc);
  }
  return acc + acc_min;
}

TEST(Matmul, ChainOrderTypesHaveTheChainBits) {
  if (!x86_simd_target()) GTEST_SKIP() << k::kernel_isa() << " target sums in the reference order";
  std::mt19937 rng(23);
  std::vector<DType> types = {DType::Q4_0};
  if (std::string(k::kernel_isa()) == "avx2") types.insert(types.end(), {DType::Q4_1, DType::Q5_0});
  slim::ThreadPool pool(2);
  for (DType t : types) {
    const int64_t cols = 640, rows = 38;  // 38: tile_oct's 4-row blocks leave a 2-row tail
    const auto wbytes = random_weights(t, rows, cols, rng);
    const size_t rb = slim::row_bytes(t, cols);
    const k::Weight w{t, cols, rows, wbytes.data(), rb};
    for (int64_t m : {1, 3, 7, 8, 9, 16, 21}) {
      const auto x = random_floats(size_t(m * cols), rng);
      std::vector<float> y(size_t(m * rows));
      k::matmul(w, x.data(), m, cols, y.data(), rows, pool);
      std::vector<uint8_t> a(k::activation_row_bytes(t, cols));
      for (int64_t i = 0; i < m; ++i) {
        k::quantize_activation_row(t, x.data() + i * cols, a.data(), cols);
        for (int64_t o = 0; o < rows; ++o)
          ASSERT_EQ(f2u(y[i * rows + o]), f2u(chain_dot(t, cols, wbytes.data() + o * rb, a.data())))
              << slim::dtype_info(t).name << " m=" << m << " row " << i << " output " << o;
      }
    }
  }
}

TEST(Matmul, RejectsBadShapesAndTypes) {
  std::vector<uint8_t> buf(4096);
  std::vector<float> x(512), y(8);
  slim::ThreadPool pool(1);
  const k::Weight bad_cols{DType::Q4_K, 320, 2, buf.data(), 180};  // not a multiple of 256
  EXPECT_THROW(k::matmul(bad_cols, x.data(), 1, 320, y.data(), 2, pool), slim::Error);
  const k::Weight bad_stride{DType::Q8_0, 64, 2, buf.data(), 34};  // a row needs 68 bytes
  EXPECT_THROW(k::matmul(bad_stride, x.data(), 1, 64, y.data(), 2, pool), slim::Error);
  const k::Weight bad_type{DType::Q2_K, 256, 2, buf.data(), 84};
  EXPECT_THROW(k::matmul_rows(bad_type, x.data(), 1, 256, y.data(), 2, 0, 2), slim::Error);
}

TEST(Matmul, RowsSubsetAndRepeatedCalls) {
  std::mt19937 rng(21);
  for (DType t : {DType::Q8_0, DType::Q4_K, DType::Q4_1, DType::F32}) {
    const int64_t cols = test_cols(t), rows = 50, m = 6;
    const auto wbytes = random_weights(t, rows, cols, rng);
    const k::Weight w{t, cols, rows, wbytes.data(), slim::row_bytes(t, cols)};
    slim::ThreadPool pool(2);
    std::vector<float> full(m * rows), part(m * rows, NAN);
    for (int rep = 0; rep < 3; ++rep) {  // the scratch buffer is reused across calls and sizes
      const auto x = random_floats(m * cols, rng);
      k::matmul(w, x.data(), m, cols, full.data(), rows, pool);
      k::matmul_rows(w, x.data(), m, cols, part.data(), rows, 7, 31);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t o = 0; o < rows; ++o) {
          if (o >= 7 && o < 31)
            ASSERT_EQ(f2u(part[i * rows + o]), f2u(full[i * rows + o])) << slim::dtype_info(t).name;
          else
            ASSERT_TRUE(std::isnan(part[i * rows + o]));
        }
      k::matmul(w, x.data(), 1, cols, full.data(), rows, pool);  // smaller call in between
    }
  }
}

}  // namespace
