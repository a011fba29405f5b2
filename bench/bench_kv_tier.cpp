// KV tier micro-benchmarks: pread/pwrite throughput of KV blocks against the cold file, and a full
// begin_layer/end_layer cycle over layers whose KV is twice the RAM budget (no compute: the I/O bound).
// Block shape: Gemma 3 270M (1 kv head × 256, F16): 128 rows × 512 B × (K + V) = 128 KiB.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kv/cold_file.h"
#include "kv/kv_cache.h"
#include "kv/kv_tier.h"

namespace {

constexpr size_t kBlockBytes = 128 * 512 * 2;

// Reads 64 MiB of blocks in a shuffled order (range(0): 0 = sequential, 1 = shuffled).
void BM_ColdFileRead(benchmark::State& state) {
  const int n_blocks = 512;
  slim::ColdFile file;
  std::vector<uint8_t> buf(kBlockBytes, 7);
  for (int b = 0; b < n_blocks; ++b) file.write_at(buf.data(), buf.size(), uint64_t(b) * kBlockBytes);
  std::vector<int> order(n_blocks);
  for (int b = 0; b < n_blocks; ++b) order[b] = b;
  if (state.range(0)) std::shuffle(order.begin(), order.end(), std::mt19937(1));
  for (auto _ : state)
    for (int b : order) file.read_at(buf.data(), buf.size(), uint64_t(b) * kBlockBytes);
  state.SetBytesProcessed(int64_t(state.iterations()) * n_blocks * kBlockBytes);
}

void BM_ColdFileWrite(benchmark::State& state) {
  const int n_blocks = 512;
  slim::ColdFile file;
  std::vector<uint8_t> buf(kBlockBytes, 7);
  for (auto _ : state)
    for (int b = 0; b < n_blocks; ++b) file.write_at(buf.data(), buf.size(), uint64_t(b) * kBlockBytes);
  state.SetBytesProcessed(int64_t(state.iterations()) * n_blocks * kBlockBytes);
}

// 8 layers × 2048 rows (16 blocks each, 16 MiB in all) through a budget of range(0) % of it: one iteration
// is one pass over the layers (as a decode step), each layer pinned and released with no work in between,
// so the time is what the manager adds when nothing hides its I/O.
void BM_TierLayerCycle(benchmark::State& state) {
  const int n_layer = 8, rows = 2048, dim = 256;
  std::vector<slim::LayerKV> layers(n_layer);
  for (auto& kv : layers) kv.init(dim, rows, false, slim::KVType::F16, 128);
  slim::KVTierParams p;
  p.block_rows = 128;
  p.budget_bytes = size_t(n_layer) * 16 * layers[0].block_bytes() * state.range(0) / 100;
  slim::KVTier tier(p, n_layer);
  tier.attach(layers);
  std::vector<float> k(dim, 0.5f), v(dim, -0.5f);
  for (int l = 0; l < n_layer; ++l) {
    tier.begin_layer(l);
    for (int r = 0; r < rows; ++r) layers[l].append(r, k.data(), v.data());
    tier.end_layer(l);
  }
  tier.drain();
  const slim::KVManagerStats s0 = tier.stats();
  for (auto _ : state)
    for (int l = 0; l < n_layer; ++l) {
      tier.begin_layer(l);
      benchmark::DoNotOptimize(layers[l].k_row(0));
      tier.end_layer(l);
    }
  const slim::KVManagerStats s1 = tier.stats();
  state.counters["fetched_MiB/s"] = benchmark::Counter(double(s1.bytes_fetched - s0.bytes_fetched) / 1048576.0,
                                                       benchmark::Counter::kIsRate);
  const double needed = double(s1.prefetch_hits + s1.prefetch_misses - s0.prefetch_hits - s0.prefetch_misses);
  state.counters["hit_rate"] = needed > 0 ? double(s1.prefetch_hits - s0.prefetch_hits) / needed : 0;
}

BENCHMARK(BM_ColdFileRead)->ArgName("shuffled")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ColdFileWrite)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TierLayerCycle)->ArgName("budget_pct")->Arg(50)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
