// Attention kernel against a scalar double-precision reference on random data, and the invariant the
// pruned forward passes rely on: a row's result does not depend on which other rows share the call (a
// decode step gives the same bits as the same row inside a prefill batch), nor on the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kv/kv_cache.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"
#include "tensor/kernels.h"

namespace slim {
namespace {

struct Case {
  int n_head, n_head_kv, hd, window;
  KVType type;
  bool holes;     // some positions are never stored (pruned tokens)
  bool key_mask;  // a key subset hides some stored positions (LazyLLM)
  float kq_scale;
};

struct Fixture {
  LayerKV kv;
  std::vector<float> k, v;  // every position's K and V as stored (rounded to f16 for an f16 cache)
  std::vector<uint8_t> stored, mask;
};

float stored_value(KVType type, float x) {
  return type == KVType::F16 ? kernels::fp16_to_fp32(kernels::fp32_to_fp16(x)) : x;
}

void fill(Fixture& f, const Case& c, int total, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::bernoulli_distribution hole(0.2), hide(0.3);
  const int dim = c.n_head_kv * c.hd;
  f.kv.init(dim, total, false, c.type);
  f.k.assign(size_t(total) * dim, 0.f);
  f.v.assign(size_t(total) * dim, 0.f);
  f.stored.assign(size_t(total), 0);
  f.mask.assign(size_t(total), 1);
  std::vector<float> k(dim), v(dim);
  for (int p = 0; p < total; ++p) {
    for (int i = 0; i < dim; ++i) k[i] = nd(rng), v[i] = nd(rng);
    if (c.key_mask) f.mask[p] = !hide(rng);
    if (c.holes && p > 0 && hole(rng)) continue;
    f.kv.append(p, k.data(), v.data());
    f.stored[p] = 1;
    for (int i = 0; i < dim; ++i) {
      f.k[size_t(p) * dim + i] = stored_value(c.type, k[i]);
      f.v[size_t(p) * dim + i] = stored_value(c.type, v[i]);
    }
  }
}

// Softmax attention in double over the visible stored keys of each row.
std::vector<double> reference(const Fixture& f, const Case& c, const std::vector<float>& q,
                              const std::vector<int32_t>& pos) {
  const int n = static_cast<int>(pos.size()), group = c.n_head / c.n_head_kv, dim = c.n_head_kv * c.hd;
  std::vector<double> out(q.size(), 0.0);
  for (int r = 0; r < n; ++r)
    for (int h = 0; h < c.n_head; ++h) {
      const float* qh = q.data() + (size_t(r) * c.n_head + h) * c.hd;
      const int off = (h / group) * c.hd;
      std::vector<double> w;
      std::vector<int> keys;
      double mx = -INFINITY;
      for (int p = 0; p <= pos[r]; ++p) {
        if (!f.stored[p] || (c.key_mask && !f.mask[p]) || (c.window > 0 && pos[r] - p >= c.window)) continue;
        double s = 0;
        for (int d = 0; d < c.hd; ++d) s += double(qh[d]) * f.k[size_t(p) * dim + off + d];
        s *= c.kq_scale;
        w.push_back(s);
        keys.push_back(p);
        mx = std::max(mx, s);
      }
      double sum = 0;
      for (double& x : w) sum += (x = std::exp(x - mx));
      double* o = out.data() + (size_t(r) * c.n_head + h) * c.hd;
      for (size_t i = 0; i < keys.size(); ++i)
        for (int d = 0; d < c.hd; ++d) o[d] += w[i] / sum * f.v[size_t(keys[i]) * dim + off + d];
    }
  return out;
}

class AttentionKernel : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionKernel, MatchesScalarReferenceAndIsBatchInvariant) {
  const Case c = GetParam();
  std::mt19937 rng(7);
  const int depth = 300, rows = 37, total = depth + rows;
  Fixture f;
  fill(f, c, total, rng);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> q(size_t(rows) * c.n_head * c.hd);
  for (float& x : q) x = nd(rng) / std::sqrt(float(c.hd));
  std::vector<int32_t> pos(rows);
  for (int r = 0; r < rows; ++r) pos[r] = depth + r;
  AttentionShape s{c.n_head, c.n_head_kv, c.hd, c.window};
  s.kq_scale = c.kq_scale;
  if (c.key_mask) s.key_mask = f.mask.data();

  ThreadPool pool2(2);
  std::vector<float> batch(q.size());
  attention(q.data(), pos.data(), rows, f.kv, s, batch.data(), pool2);

  const std::vector<double> ref = reference(f, c, q, pos);
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(ref[i] - batch[i]));
  EXPECT_LT(worst, 2e-4);  // exp_approx and f32 accumulation against double

  // Every row alone (the decode path), with 1, 2 and 3 threads: the same bits as inside the batch.
  const size_t row_len = size_t(c.n_head) * c.hd;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int r = 0; r < rows; ++r) {
      std::vector<float> one(row_len);
      attention(q.data() + r * row_len, &pos[r], 1, f.kv, s, one.data(), pool);
      for (size_t i = 0; i < row_len; ++i)
        ASSERT_EQ(one[i], batch[r * row_len + i]) << "row " << r << " element " << i << " threads " << threads;
    }
  }
  // Rows in a different grouping (blocks of 5) give the same bits too.
  std::vector<float> grouped(q.size());
  for (int r0 = 0; r0 < rows; r0 += 5) {
    const int nr = std::min(5, rows - r0);
    attention(q.data() + r0 * row_len, &pos[r0], nr, f.kv, s, grouped.data() + r0 * row_len, pool2);
  }
  for (size_t i = 0; i < q.size(); ++i) ASSERT_EQ(grouped[i], batch[i]) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionKernel,
    ::testing::Values(Case{4, 1, 256, 0, KVType::F16, false, false, 1.f},    // Gemma 3 global layer
                      Case{4, 1, 256, 100, KVType::F16, true, false, 1.f},   // sliding window, pruned tokens
                      Case{9, 3, 64, 0, KVType::F16, false, false, 0.125f},  // SmolLM2
                      Case{9, 3, 64, 0, KVType::F16, true, true, 0.125f},    // holes and a key subset
                      Case{6, 2, 32, 0, KVType::F32, true, false, 0.2f},     // f32 cache
                      Case{8, 1, 40, 50, KVType::F16, false, true, 0.3f},    // hd not a multiple of 16
                      Case{7, 1, 64, 0, KVType::F16, true, false, 0.125f})); // group of 7 (Qwen-like)

}  // namespace
}  // namespace slim
