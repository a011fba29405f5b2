#include "runtime/thread_pool.h"

#include "simd/relax.h"

namespace slim {

namespace {
constexpr int kSpins = 4000;  // ~50 µs of pause before sleeping
}

ThreadPool::ThreadPool(int n_threads) : n_(n_threads < 1 ? 1 : n_threads) {
  for (int t = 1; t < n_; ++t) threads_.emplace_back([this, t] { worker(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& th : threads_) th.join();
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  fn(0, n_);
  // Wait for the workers: spin briefly (regions are short), then sleep on the counter so a busy machine
  // (other processes on our cores) does not see us burn the time slice a worker needs.
  for (int spins = 0; spins < kSpins && pending_.load(std::memory_order_acquire) != 0; ++spins) simd::cpu_relax();
  for (int p; (p = pending_.load(std::memory_order_acquire)) != 0;) pending_.wait(p, std::memory_order_acquire);
  job_ = nullptr;
}

void ThreadPool::worker(int tid) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpins) {
        simd::cpu_relax();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
    }
    seen = g;
    if (stop_.load()) return;
    (*job_)(tid, n_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace slim
