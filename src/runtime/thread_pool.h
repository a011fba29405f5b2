// A fixed pool of worker threads that run one parallel region at a time: run(fn) calls fn(tid, n) on
// every thread (the caller is thread 0) and returns when all are done. Workers spin briefly, then sleep,
// so short back-to-back regions (one per matmul) cost little and an idle pool costs nothing.
#pragma once
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace slim {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_; }
  void run(const std::function<void(int tid, int n)>& fn);

  // Splits [0, total) into n near-equal contiguous chunks; chunk for thread tid.
  static void split(int64_t total, int tid, int n, int64_t& begin, int64_t& end) {
    const int64_t base = total / n, rem = total % n;
    begin = tid * base + (tid < rem ? tid : rem);
    end = begin + base + (tid < rem ? 1 : 0);
  }

 private:
  void worker(int tid);
  int n_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace slim
