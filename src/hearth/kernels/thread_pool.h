// ThreadPool: a fixed set of workers for data-parallel loops, tuned for many short calls (every
// matmul of every layer of every token).
//
// ParallelFor splits [0, n) into one contiguous chunk per participant (the matmul work per index
// is uniform); participants claim chunks dynamically and the calling thread works too, so a pool
// of size N uses exactly N threads, and a worker the OS has descheduled (another process on its
// core) costs throughput instead of stalling the call. Idle workers spin briefly before sleeping so back-to-back calls
// do not pay a futex wake-up each. A ParallelFor issued from inside a ParallelFor body runs
// serially on the calling thread (no deadlock, no oversubscription); calls from several outside
// threads are serialized.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace hearth::kernels {

class ThreadPool {
 public:
  // `threads` participants in total, the caller included; 0 means one per available core.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n); returns when all have finished.
  template <typename Fn>
  void ParallelFor(int64_t n, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    Run(n, [](void* f, int64_t b, int64_t e) { (*static_cast<F*>(f))(b, e); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Cores available to this process (affinity-aware), at least 1.
  static int AvailableCores();

 private:
  using Trampoline = void (*)(void*, int64_t, int64_t);
  void Run(int64_t n, Trampoline call, void* fn);
  void WorkerLoop(int index);
  void RunChunk(int index, int64_t n, Trampoline call, void* fn) const;
  void RunClaimedChunks(uint32_t generation);

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;  // serializes callers from different threads

  // The job being run; written by the submitter before bumping generation_.
  Trampoline job_call_ = nullptr;
  void* job_fn_ = nullptr;
  int64_t job_n_ = 0;

  std::atomic<uint32_t> generation_{0};
  std::atomic<uint64_t> claim_{0};     // (job generation << 32) | next unclaimed chunk
  std::atomic<int> done_chunks_{0};    // chunks of the current job that have finished
  std::atomic<bool> stop_{false};
};

}  // namespace hearth::kernels
