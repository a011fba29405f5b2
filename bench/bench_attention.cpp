// Attention micro-benchmark at Gemma 3 270M's global-layer shape (4 query heads, 1 kv head, head_dim 256,
// F16 cache) and SmolLM2-135M's (9 query heads, 3 kv heads, head_dim 64): a prefill block of `rows`
// queries after `depth` cached tokens, and one decode row.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kv/kv_cache.h"
#include "model/attention.h"
#include "runtime/thread_pool.h"

namespace {

void run_attention(benchmark::State& state, int n_head, int n_head_kv, int hd) {
  const int rows = static_cast<int>(state.range(0)), depth = static_cast<int>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const int total = depth + rows;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  slim::LayerKV kv;
  kv.init(n_head_kv * hd, total, false, slim::KVType::F16);
  std::vector<float> k(hd), v(hd);
  for (int p = 0; p < total; ++p) {
    for (int i = 0; i < hd; ++i) k[i] = nd(rng), v[i] = nd(rng);
    kv.append(p, k.data(), v.data());
  }
  std::vector<float> q(size_t(rows) * n_head * hd), out(q.size());
  for (float& x : q) x = nd(rng) / 16.f;
  std::vector<int32_t> pos(rows);
  for (int r = 0; r < rows; ++r) pos[r] = depth + r;
  slim::ThreadPool pool(threads);
  slim::AttentionShape s{n_head, n_head_kv, hd, 0};
  for (auto _ : state) {
    slim::attention(q.data(), pos.data(), rows, kv, s, out.data(), pool);
    benchmark::DoNotOptimize(out.data());
  }
  // Visible keys per query summed over rows, × heads × 2 matrix products × head_dim.
  const double visible = double(rows) * depth + double(rows) * (rows + 1) / 2;
  state.counters["GFLOP/s"] =
      benchmark::Counter(visible * n_head * 2 * 2 * hd * state.iterations(), benchmark::Counter::kIsRate, 
                         benchmark::Counter::kIs1000);
}

void BM_Attention(benchmark::State& state) { run_attention(state, 4, 1, 256); }
void BM_AttentionSmolLM2(benchmark::State& state) { run_attention(state, 9, 3, 64); }

BENCHMARK(BM_Attention)
    ->ArgNames({"rows", "depth", "threads"})
    ->Args({512, 0, 2})
    ->Args({512, 4096, 2})
    ->Args({1, 4096, 2})
    ->Args({1, 16384, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_AttentionSmolLM2)
    ->ArgNames({"rows", "depth", "threads"})
    ->Args({512, 4096, 2})
    ->Args({1, 8192, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
