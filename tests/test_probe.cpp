// The score probe's head reduction: mean over heads (the default) vs max over heads (heads=max).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "prune/probe.h"
#include "runtime/thread_pool.h"

namespace slim {
namespace {

// 2 query heads sharing 1 KV head (head_dim 4), keys at positions 0..2, one scoring query at position 2.
// Head 0 looks hard at key 0; head 1 has a zero query and spreads evenly (1/3 each).
std::vector<float> probe_scores(bool head_max) {
  ScoreProbe probe(2, 1, 4, 1.f, /*window_from=*/2, 3);
  probe.set_head_max(head_max);
  std::vector<float> q(3 * 8, 0.f), k(3 * 4, 0.f);
  q[2 * 8 + 0] = 10.f;  // query row 2, head 0
  for (int j = 0; j < 3; ++j) k[j * 4 + j] = 1.f;
  const int32_t pos[3] = {0, 1, 2};
  probe.on_qk(q.data(), k.data(), pos, 3);
  ThreadPool pool(2);
  return probe.scores(pool);
}

TEST(ScoreProbe, MeanAndMaxOverHeads) {
  const double e = std::exp(-10.0), z = 1.0 + 2.0 * e;  // head 0: softmax of (10, 0, 0)
  const std::vector<float> mean = probe_scores(false), mx = probe_scores(true);
  ASSERT_EQ(mean.size(), 3u);
  ASSERT_EQ(mx.size(), 3u);
  EXPECT_NEAR(mean[0], (1.0 / z + 1.0 / 3) / 2, 1e-6);
  EXPECT_NEAR(mean[1], (e / z + 1.0 / 3) / 2, 1e-6);
  EXPECT_NEAR(mx[0], 1.0 / z, 1e-6);  // the head that found key 0 decides alone
  EXPECT_NEAR(mx[1], 1.0 / 3, 1e-6);
  EXPECT_NEAR(mx[2], 1.0 / 3, 1e-6);
}

}  // namespace
}  // namespace slim
