// Block-paged KV stores and the tiered KV manager (src/kv): rows read back byte-identical through any budget,
// bytes accounting, statistics, truncate/clear with cold blocks, active sets, and a reader + I/O thread stress.
// Small shapes throughout: these run under ASan/UBSan in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "kv/cold_file.h"
#include "kv/kv_cache.h"
#include "kv/kv_tier.h"
#include "model/forward.h"
#include "runtime/thread_pool.h"
#include "slim/error.h"
#include "slim/model.h"
#include "tensor/kernels.h"

namespace fs = std::filesystem;
using namespace slim;

namespace {

// The flat store LayerKV used to be (one array of `capacity` rows), as the reference for slot semantics.
struct FlatKV {
  int dim = 0, cap = 0, size = 0, head = 0;
  bool ring = false;
  std::vector<int32_t> pos;
  std::vector<std::vector<float>> k, v;
  FlatKV(int d, int c, bool r) : dim(d), cap(c), ring(r), pos(c, -1), k(c), v(c) {}
  void append(int32_t p, const float* kr, const float* vr) {
    int slot;
    if (size < cap) slot = size++;
    else slot = head, head = (head + 1) % cap;
    pos[slot] = p;
    k[slot].assign(kr, kr + dim);
    v[slot].assign(vr, vr + dim);
  }
  void truncate(int32_t n) {
    std::vector<std::pair<int32_t, int>> keep;
    for (int s = 0; s < size; ++s)
      if (pos[s] >= 0 && pos[s] < n) keep.emplace_back(pos[s], s);
    std::sort(keep.begin(), keep.end());
    std::vector<std::vector<float>> k2, v2;
    for (auto& [p, s] : keep) k2.push_back(k[s]), v2.push_back(v[s]);
    std::fill(pos.begin(), pos.end(), -1);
    for (size_t i = 0; i < keep.size(); ++i) pos[i] = keep[i].first, k[i] = k2[i], v[i] = v2[i];
    size = static_cast<int>(keep.size());
    head = 0;
  }
};

std::vector<uint8_t> encode(const std::vector<float>& row, KVType t) {
  std::vector<uint8_t> out(row.size() * (t == KVType::F16 ? 2 : 4));
  if (t == KVType::F16) kernels::fp32_to_fp16_row(row.data(), reinterpret_cast<uint16_t*>(out.data()), int(row.size()));
  else std::memcpy(out.data(), row.data(), out.size());
  return out;
}

// Every slot of kv holds what the flat reference holds, byte for byte.
void expect_same(const LayerKV& kv, const FlatKV& ref, KVType t) {
  ASSERT_EQ(kv.size(), ref.size);
  ASSERT_EQ(kv.first_slot(), ref.size < ref.cap ? 0 : ref.head);
  for (int s = 0; s < ref.size; ++s) {
    ASSERT_EQ(kv.pos(s), ref.pos[s]) << "slot " << s;
    ASSERT_EQ(kv.positions()[s], ref.pos[s]);
    const auto k = encode(ref.k[s], t), v = encode(ref.v[s], t);
    ASSERT_EQ(std::memcmp(kv.k_row(s), k.data(), k.size()), 0) << "K of slot " << s;
    ASSERT_EQ(std::memcmp(kv.v_row(s), v.data(), v.size()), 0) << "V of slot " << s;
  }
}

std::vector<float> random_row(std::mt19937& rng, int dim) {
  std::uniform_real_distribution<float> u(-4.f, 4.f);
  std::vector<float> r(dim);
  for (float& x : r) x = u(rng);
  return r;
}

// Deterministic row contents for (layer, position): lets a test check any row without keeping copies.
void fill_row(int layer, int32_t pos, int dim, float* k, float* v) {
  for (int i = 0; i < dim; ++i) {
    k[i] = float(layer * 100003 + pos * 131 + i);
    v[i] = -float(layer * 7919 + pos * 17 + i);
  }
}

::testing::AssertionResult rows_ok(const LayerKV& kv, int layer, int dim) {
  std::vector<float> k(dim), v(dim);
  for (int s = 0; s < kv.size(); ++s) {
    const int32_t p = kv.pos(s);
    fill_row(layer, p, dim, k.data(), v.data());
    if (std::memcmp(kv.k_row(s), k.data(), dim * 4) != 0 || std::memcmp(kv.v_row(s), v.data(), dim * 4) != 0)
      return ::testing::AssertionFailure() << "layer " << layer << " slot " << s << " (pos " << p << ") differs";
  }
  return ::testing::AssertionSuccess();
}

void append_rows(LayerKV& kv, int layer, int32_t p0, int n, int dim) {
  std::vector<float> k(dim), v(dim);
  for (int i = 0; i < n; ++i) {
    fill_row(layer, p0 + i, dim, k.data(), v.data());
    kv.append(p0 + i, k.data(), v.data());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Block-paged LayerKV without a tier

TEST(BlockPagedKV, SameRowsAsFlatStore) {
  for (KVType t : {KVType::F32, KVType::F16})
    for (bool ring : {false, true})
      for (int block : {1, 4, 128}) {
        SCOPED_TRACE(::testing::Message() << "ring " << ring << " block " << block << " f16 " << (t == KVType::F16));
        const int dim = 8, cap = ring ? 13 : 60;
        std::mt19937 rng(42 + block);
        LayerKV kv;
        kv.init(dim, cap, ring, t, block);
        FlatKV ref(dim, cap, ring);
        int32_t p = 0;
        for (int step = 0; step < 50; ++step) {
          p += 1 + int(rng() % 3);  // gaps: a pruned layer stores a subset of positions
          const auto k = random_row(rng, dim), v = random_row(rng, dim);
          if (!ring && ref.size == cap) break;
          ASSERT_EQ(kv.append(p, k.data(), v.data()), ref.size < cap ? ref.size : ref.head);
          ref.append(p, k.data(), v.data());
          if (step == 30) {  // drop the newest few, then continue appending
            p -= 5;
            kv.truncate(p + 1, 0);
            ref.truncate(p + 1);
          }
          expect_same(kv, ref, t);
        }
        EXPECT_EQ(kv.bytes_used(), size_t(ref.size) * dim * (t == KVType::F16 ? 4 : 8));
      }
}

TEST(BlockPagedKV, MemoryFollowsRows) {
  const int dim = 64;
  LayerKV kv;
  kv.init(dim, 32768, false, KVType::F16, 128);
  EXPECT_EQ(kv.bytes_reserved(), 0u);  // nothing allocated up front
  std::vector<float> k(dim, 1.f), v(dim, 2.f);
  for (int p = 0; p < 129; ++p) kv.append(p, k.data(), v.data());
  EXPECT_EQ(kv.n_blocks(), 2);
  EXPECT_EQ(kv.bytes_reserved(), 2 * kv.block_bytes());
  EXPECT_EQ(kv.block_bytes(), size_t(2) * 128 * dim * 2);
  EXPECT_EQ(kv.bytes_used(), size_t(129) * 2 * dim * 2);
  kv.truncate(100, 0);  // the second block is freed
  EXPECT_EQ(kv.n_blocks(), 1);
  EXPECT_EQ(kv.bytes_reserved(), kv.block_bytes());
  kv.clear();
  EXPECT_EQ(kv.bytes_reserved(), 0u);
  EXPECT_EQ(kv.size(), 0);
  EXPECT_THROW(kv.init(dim, 100, false, KVType::F16, 100), Error);  // not a power of two
}

// ---------------------------------------------------------------------------------------------------------
// The cold file and the tier

TEST(ColdFile, RoundTripAndErrors) {
  ColdFile f;
  std::vector<uint8_t> a(5000), b(5000);
  for (size_t i = 0; i < a.size(); ++i) a[i] = uint8_t(i * 7);
  f.write_at(a.data(), a.size(), 1 << 20);
  f.read_at(b.data(), b.size(), 1 << 20);
  EXPECT_EQ(a, b);
  EXPECT_THROW(f.read_at(b.data(), 10, 1 << 24), Error);  // past the end
  EXPECT_THROW(ColdFile("/nonexistent/slim-kv-dir"), Error);
}

TEST(KVTier, OffWhenBudgetIsZero) {
  std::vector<LayerKV> layers(2);
  for (auto& kv : layers) kv.init(4, 16, false, KVType::F32, 4);
  KVTier tier(KVTierParams{}, 2);
  tier.attach(layers);
  EXPECT_FALSE(tier.enabled());
  for (int l = 0; l < 2; ++l) {
    tier.begin_layer(l);
    append_rows(layers[l], l, 0, 10, 4);
    tier.end_layer(l);
    EXPECT_TRUE(rows_ok(layers[l], l, 4));
  }
  const KVManagerStats s = tier.stats();
  EXPECT_EQ(s.budget_bytes, 0u);
  EXPECT_EQ(s.hot_bytes_peak, 0u);
  EXPECT_EQ(s.prefetch_hits + s.prefetch_misses, 0u);
}

namespace {

// n_layer layers of dim floats (F32), block_rows 4: global layers, one ring layer, and a pruned deep layer
// that stores every third position only.
struct TierRig {
  static constexpr int kDim = 6, kBlock = 4;
  int n_layer;
  std::vector<LayerKV> layers;
  std::unique_ptr<KVTier> tier;
  int32_t n_past = 0;
  TierRig(int n_layer_, int cap, size_t budget_blocks, bool prefetch = true, int ring_layer = 1)
      : n_layer(n_layer_), layers(n_layer_) {
    for (int l = 0; l < n_layer; ++l)
      layers[l].init(kDim, l == ring_layer ? 10 : cap, l == ring_layer, KVType::F32, kBlock);
    KVTierParams p;
    p.block_rows = kBlock;
    p.budget_bytes = budget_blocks * layers[0].block_bytes();
    p.prefetch = prefetch;
    tier = std::make_unique<KVTier>(p, n_layer);
    tier->attach(layers);
  }
  bool stores(int l, int32_t pos) const { return l != n_layer - 1 || pos % 3 == 0; }
  // One forward step over n new positions: every layer is pinned, checked, appended to.
  void step(int n) {
    for (int l = 0; l < n_layer; ++l) {
      tier->begin_layer(l);
      EXPECT_TRUE(rows_ok(layers[l], l, kDim));
      for (int i = 0; i < n; ++i)
        if (stores(l, n_past + i)) append_rows(layers[l], l, n_past + i, 1, kDim);
      EXPECT_TRUE(rows_ok(layers[l], l, kDim));
      tier->end_layer(l);
    }
    n_past += n;
  }
  int cold_blocks() const {
    int c = 0;
    for (const auto& kv : layers)
      for (int b = 0; b < kv.n_blocks(); ++b) c += !kv.resident(b);
    return c;
  }
};

}  // namespace

TEST(KVTier, RowsSurviveATinyBudget) {
  // Layers of up to 12 blocks through a budget of 14: most blocks cycle through the cold file.
  TierRig rig(4, 48, 14);
  for (int s = 0; s < 20; ++s) rig.step(s < 4 ? 7 : 1);  // a "prefill" of 4 batches, then decode steps
  rig.tier->drain();
  const KVManagerStats st = rig.tier->stats();
  EXPECT_GT(rig.cold_blocks(), 0);
  EXPECT_GT(st.bytes_offloaded, 0u);
  EXPECT_GT(st.bytes_fetched, 0u);
  EXPECT_GT(st.cold_bytes, 0u);
  EXPECT_LE(st.hot_bytes_peak, st.budget_bytes);  // the budget is never exceeded
  EXPECT_LE(rig.tier->hot_bytes(), st.budget_bytes);
  EXPECT_EQ(st.block_bytes, rig.layers[0].block_bytes());
  EXPECT_EQ(st.bytes_fetched % st.block_bytes, 0u);
  // Accounting: bytes_used counts rows wherever they are, bytes_reserved whole blocks.
  EXPECT_EQ(rig.layers[0].bytes_used(), size_t(rig.n_past) * 2 * TierRig::kDim * 4);
  EXPECT_EQ(rig.layers[0].bytes_reserved(), size_t((rig.n_past + 3) / 4) * st.block_bytes);
  EXPECT_LT(rig.layers[3].bytes_reserved(), rig.layers[0].bytes_reserved() / 2);  // pruned layer: fewer blocks
}

TEST(KVTier, LayerLargerThanTheBudgetStreams) {
  // Layers of up to 12 blocks through the minimum budget of 8 blocks: layer 0 (12 blocks) and, late, the
  // pruned layer 2 do not fit and stream through windows of 2 blocks; the ring (3 blocks) never streams.
  TierRig rig(3, 48, 8);
  EXPECT_EQ(KVTier::min_budget(rig.layers), 8 * rig.layers[0].block_bytes());
  const int cap = rig.tier->stream_capacity();
  EXPECT_EQ(cap, 2);
  int streamed = 0;
  std::vector<float> k(TierRig::kDim), v(TierRig::kDim);
  for (int s = 0; s < 12; ++s) {
    for (int l = 0; l < rig.n_layer; ++l) {
      rig.tier->begin_layer(l);
      for (int i = 0; i < 4; ++i)
        if (rig.stores(l, rig.n_past + i)) append_rows(rig.layers[l], l, rig.n_past + i, 1, TierRig::kDim);
      const LayerKV& kv = rig.layers[l];
      if (!rig.tier->streaming(l)) {
        EXPECT_TRUE(rows_ok(kv, l, TierRig::kDim));
      } else {
        ++streamed;
        EXPECT_NE(l, 1) << "a ring layer never streams";
        for (int b0 = 0; b0 < kv.n_blocks(); b0 += cap) {
          std::vector<int> cur, next;
          for (int b = b0; b < std::min(b0 + cap, kv.n_blocks()); ++b) cur.push_back(b);
          for (int b = b0 + cap; b < std::min(b0 + 2 * cap, kv.n_blocks()); ++b) next.push_back(b);
          rig.tier->stream_window(l, cur, next);
          for (int slot = b0 * TierRig::kBlock; slot < std::min(kv.size(), (b0 + cap) * TierRig::kBlock); ++slot) {
            ASSERT_TRUE(kv.resident(kv.block_of(slot)));
            fill_row(l, kv.pos(slot), TierRig::kDim, k.data(), v.data());
            ASSERT_EQ(0, std::memcmp(kv.k_row(slot), k.data(), sizeof(float) * TierRig::kDim)) << l << " " << slot;
            ASSERT_EQ(0, std::memcmp(kv.v_row(slot), v.data(), sizeof(float) * TierRig::kDim)) << l << " " << slot;
          }
        }
      }
      rig.tier->end_layer(l);
    }
    rig.n_past += 4;
  }
  EXPECT_GT(streamed, 0);
  const KVManagerStats st = rig.tier->stats();
  EXPECT_GT(st.stream_windows, 0u);
  EXPECT_LE(st.hot_bytes_peak, st.budget_bytes);
  EXPECT_GT(st.bytes_fetched, 0u);
  // Misuse is a clear error: a window over the capacity, a window on a layer that does not stream.
  rig.tier->begin_layer(0);
  ASSERT_TRUE(rig.tier->streaming(0));
  EXPECT_THROW(rig.tier->stream_window(0, {0, 1, 2}, {}), Error);
  rig.tier->end_layer(0);
  rig.tier->begin_layer(1);
  EXPECT_THROW(rig.tier->stream_window(1, {0}, {}), Error);
  rig.tier->end_layer(1);
}

TEST(KVTier, PrefetchedBlocksAreHits) {
  for (bool prefetch : {true, false}) {
    SCOPED_TRACE(prefetch ? "prefetch" : "no prefetch");
    // 3 layers of 2 full blocks, no ring, no pruning; room for the pinned layer, the next one and one more.
    TierRig rig(3, 8, 5, prefetch, /*ring_layer=*/-1);
    rig.n_layer = 3;
    for (int l = 0; l < 3; ++l) {
      rig.tier->begin_layer(l);
      append_rows(rig.layers[l], l, 0, 8, TierRig::kDim);
      rig.tier->end_layer(l);
    }
    for (int round = 0; round < 3; ++round)
      for (int l = 0; l < 3; ++l) {
        rig.tier->drain();  // let the I/O thread finish what it started
        const KVManagerStats before = rig.tier->stats();
        rig.tier->begin_layer(l);
        EXPECT_TRUE(rows_ok(rig.layers[l], l, TierRig::kDim));
        const KVManagerStats after = rig.tier->stats();
        rig.tier->end_layer(l);
        if (prefetch) {
          EXPECT_EQ(after.prefetch_hits - before.prefetch_hits, 2u) << "round " << round << " layer " << l;
          EXPECT_EQ(after.prefetch_misses, before.prefetch_misses);
        }
      }
    const KVManagerStats st = rig.tier->stats();
    if (prefetch) {
      EXPECT_GT(st.blocks_prefetched, 0u);
      EXPECT_EQ(st.bytes_fetched, st.blocks_prefetched * st.block_bytes);  // every fetch was ahead of time
    } else {
      EXPECT_EQ(st.blocks_prefetched, 0u);
      EXPECT_GT(st.prefetch_misses, 0u);
      EXPECT_GT(st.stall_seconds, 0.0);
    }
  }
}

TEST(KVTier, TruncateAndClearWithColdBlocks) {
  TierRig rig(4, 48, 14);
  for (int s = 0; s < 6; ++s) rig.step(7);  // 42 positions; the ring layer has wrapped
  rig.tier->drain();
  ASSERT_GT(rig.cold_blocks(), 0);
  const int32_t n = 23;
  for (int l = 0; l < rig.n_layer; ++l) rig.layers[l].truncate(n, l == 1 ? 4 : 0);
  rig.n_past = n;
  for (int l = 0; l < rig.n_layer; ++l) {
    int32_t maxp = -1;
    for (int s = 0; s < rig.layers[l].size(); ++s) maxp = std::max(maxp, rig.layers[l].pos(s));
    EXPECT_LT(maxp, n);
  }
  EXPECT_EQ(rig.layers[0].size(), n);
  EXPECT_EQ(rig.layers[0].n_blocks(), (n + 3) / 4);
  rig.step(3);
  rig.step(5);  // appending after the truncation, through the tiers again
  rig.tier->drain();
  for (auto& kv : rig.layers) kv.clear();
  EXPECT_EQ(rig.cold_blocks(), 0);
  EXPECT_EQ(rig.tier->hot_bytes(), 0u);
  EXPECT_EQ(rig.tier->stats().cold_bytes, 0u);
  rig.n_past = 0;
  for (int s = 0; s < 6; ++s) rig.step(7);
}

TEST(KVTier, ActiveSetsAndTheSwapThreshold) {
  TierRig rig(3, 48, 14, true, /*ring_layer=*/-1);
  for (int s = 0; s < 5; ++s) rig.step(8);  // layers 0 and 1: 10 blocks; layer 2 (pruned): 4
  rig.tier->drain();  // layer 0 is prefetched whole; layer 1 keeps what is left of the 14 blocks
  const int L = 1;
  LayerKV& kv = rig.layers[L];
  std::vector<int> cold;
  for (int b = 0; b + 1 < kv.n_blocks(); ++b)
    if (!kv.resident(b)) cold.push_back(b);
  ASSERT_GE(cold.size(), 3u);
  const std::vector<int> need(cold.begin(), cold.begin() + 2);
  // Needed blocks that are all cold: overlap 0 < 0.9, a swap.
  EXPECT_TRUE(rig.tier->set_active(L, need));
  EXPECT_EQ(rig.tier->swaps(), 1u);
  rig.tier->drain();  // residency is read below while nothing moves
  std::vector<uint8_t> before(kv.n_blocks());
  for (int b = 0; b < kv.n_blocks(); ++b) before[b] = kv.resident(b);
  rig.tier->begin_layer(L);
  std::vector<float> k(TierRig::kDim), v(TierRig::kDim);
  for (int b : need)
    for (int s = b * 4; s < b * 4 + 4; ++s) {
      fill_row(L, kv.pos(s), TierRig::kDim, k.data(), v.data());
      ASSERT_EQ(std::memcmp(kv.k_row(s), k.data(), k.size() * 4), 0) << "slot " << s;
      ASSERT_EQ(std::memcmp(kv.v_row(s), v.data(), v.size() * 4), 0) << "slot " << s;
    }
  EXPECT_TRUE(kv.resident(kv.n_blocks() - 1));  // the tail block (appends) is always there
  for (int b = 0; b < kv.n_blocks(); ++b)      // blocks outside the active set are not fetched for it
    if (!before[b] && std::find(need.begin(), need.end(), b) == need.end() && b != kv.n_blocks() - 1) {
      EXPECT_FALSE(kv.resident(b)) << "block " << b;
    }
  // The same set again, all resident now: no swap.
  EXPECT_FALSE(rig.tier->set_active(L, need));
  EXPECT_EQ(rig.tier->swaps(), 1u);
  rig.tier->end_layer(L);
  // Back to the whole layer.
  rig.tier->clear_active(L);
  rig.tier->begin_layer(L);
  EXPECT_TRUE(rows_ok(kv, L, TierRig::kDim));
  rig.tier->end_layer(L);
  // Ring layers ignore active sets.
  TierRig ring(2, 48, 14, true, /*ring_layer=*/1);
  EXPECT_FALSE(ring.tier->set_active(1, {0}));
}

TEST(KVTier, MisuseIsAnError) {
  TierRig rig(2, 16, 10);
  std::vector<float> k(TierRig::kDim), v(TierRig::kDim);
  EXPECT_THROW(rig.layers[0].append(0, k.data(), v.data()), Error);  // not pinned
  rig.tier->begin_layer(0);
  EXPECT_THROW(rig.tier->begin_layer(1), Error);  // one layer at a time
  EXPECT_THROW(rig.tier->end_layer(1), Error);
  rig.tier->end_layer(0);
  EXPECT_THROW(rig.tier->attach(rig.layers), Error);
}

// Compute threads read the pinned layer while the I/O thread prefetches and offloads the others; truncation
// and active sets change under it now and then. ASan/TSan builds catch any overlap of the two.
TEST(KVTier, StressReadersWithTheIOThread) {
  TierRig rig(6, 64, 20);
  ThreadPool pool(3);
  std::mt19937 rng(5);
  std::atomic<int> bad{0};
  for (int step = 0; step < 60; ++step) {
    const int n = step < 3 ? 9 : 1 + int(rng() % 3);
    if (rig.n_past + n > 60) {  // wrap around: cut the sequence back
      const int32_t keep = int32_t(rng() % 30);
      for (int l = 0; l < rig.n_layer; ++l) rig.layers[l].truncate(keep, l == 1 ? 4 : 0);
      rig.n_past = keep;
    }
    if (step % 7 == 3) {
      const int nb = rig.layers[0].n_blocks();
      if (nb > 2) rig.tier->set_active(0, {int(rng() % nb)});
    }
    if (step % 7 == 5) rig.tier->clear_active(0);
    for (int l = 0; l < rig.n_layer; ++l) {
      rig.tier->begin_layer(l);
      for (int i = 0; i < n; ++i)
        if (rig.stores(l, rig.n_past + i)) append_rows(rig.layers[l], l, rig.n_past + i, 1, TierRig::kDim);
      if (l != 0) {  // layer 0 may have an active subset: the others are read whole, by every thread
        const LayerKV& kv = rig.layers[l];
        pool.run([&](int tid, int nth) {
          std::vector<float> k(TierRig::kDim), v(TierRig::kDim);
          for (int s = tid; s < kv.size(); s += nth) {
            fill_row(l, kv.pos(s), TierRig::kDim, k.data(), v.data());
            if (std::memcmp(kv.k_row(s), k.data(), k.size() * 4) != 0 ||
                std::memcmp(kv.v_row(s), v.data(), v.size() * 4) != 0)
              ++bad;
          }
        });
      }
      rig.tier->end_layer(l);
    }
    rig.n_past += n;
  }
  EXPECT_EQ(bad.load(), 0);
  const KVManagerStats st = rig.tier->stats();
  EXPECT_GT(st.bytes_fetched, 0u);
  EXPECT_LE(st.hot_bytes_peak, st.budget_bytes);
}

// The forward pass of a tiny model (per layer: begin_layer, forward_layer, end_layer, as the context does)
// gives bit-identical hidden states with a KV budget far below the KV size as with none.
TEST(KVTier, TinyModelHiddenStatesDoNotDependOnTheBudget) {
  for (const char* name : {"tiny-gemma3-f16.gguf", "tiny-llama-q4_0.gguf"}) {
    SCOPED_TRACE(name);
    auto m = Model::load((fs::path(SLIM_SOURCE_DIR) / "tests/models" / name).string());
    const ModelConfig& c = m->config();
    const int n_ctx = 96, ubatch = 8, block = 4, kvd = c.n_head_kv * c.head_dim;
    std::mt19937 rng(3);
    std::vector<int32_t> toks(70);
    for (auto& t : toks) t = int32_t(rng() % c.n_vocab);
    auto run = [&](size_t budget_blocks, KVManagerStats* st) {
      std::vector<LayerKV> kv(c.n_layer);
      for (int l = 0; l < c.n_layer; ++l) {
        const bool ring = c.layer_swa[l] && c.sliding_window > 0 && c.sliding_window + ubatch < n_ctx;
        kv[l].init(kvd, ring ? c.sliding_window + ubatch : n_ctx, ring, KVType::F16, block);
      }
      KVTierParams p;
      p.block_rows = block;
      p.budget_bytes = budget_blocks * kv[0].block_bytes();
      KVTier tier(p, c.n_layer);
      tier.attach(kv);
      ThreadPool pool(2);
      Workspace ws;
      ws.reserve(c, ubatch);
      std::vector<float> out, x(size_t(ubatch) * c.n_embd);
      std::vector<int32_t> pos(ubatch);
      // A prompt in micro-batches of 8, then one token at a time.
      for (int done = 0; done < int(toks.size());) {
        const int nb = done < 48 ? ubatch : 1;
        embed_tokens(*m, toks.data() + done, nb, x.data(), pool);
        for (int i = 0; i < nb; ++i) pos[i] = done + i;
        Rows rows{x.data(), pos.data(), nb};
        for (int l = 0; l < c.n_layer; ++l) {
          KVLayerScope scope(&tier, l);
          forward_layer(*m, l, rows, kv[l], ws, pool);
        }
        out.insert(out.end(), x.begin(), x.begin() + size_t(nb) * c.n_embd);
        done += nb;
      }
      if (st) *st = tier.stats();
      return out;
    };
    const auto dense = run(0, nullptr);
    KVManagerStats st;
    const auto tiered = run(70 / block + 3, &st);  // the largest layer plus a little
    ASSERT_EQ(dense.size(), tiered.size());
    EXPECT_EQ(std::memcmp(dense.data(), tiered.data(), dense.size() * sizeof(float)), 0);
    EXPECT_GT(st.bytes_fetched, 0u);  // the budget really forced blocks through the cold file
  }
}
