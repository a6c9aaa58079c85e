#include "hearth/kernels/thread_pool.h"

#include <sched.h>

#include <algorithm>

#include "hearth/kernels/isa.h"

namespace hearth::kernels {
namespace {

// Set while a thread runs inside a ParallelFor body (worker or caller): nested calls then run
// inline instead of waiting on workers that are busy with the outer call.
thread_local bool tls_inside_parallel_for = false;

// Roughly 20-50 µs of spinning on current x86 cores: long enough to bridge the gap between two
// matmuls of one layer, short enough not to burn a core while the engine is idle.
constexpr int kSpinIterations = 1 << 12;

inline void CpuRelax() {
#if HEARTH_X86
  _mm_pause();
#endif
}

}  // namespace

int ThreadPool::AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int threads) {
  size_ = threads > 0 ? threads : AvailableCores();
  workers_.reserve(size_ - 1);
  for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::RunChunk(int index, int64_t n, Trampoline call, void* fn) const {
  const int64_t begin = n * index / size_;
  const int64_t end = n * (index + 1) / size_;
  if (begin < end) call(fn, begin, end);
}

void ThreadPool::Run(int64_t n, Trampoline call, void* fn) {
  if (n <= 0) return;
  if (size_ == 1 || n == 1 || tls_inside_parallel_for) {
    call(fn, 0, n);
    return;
  }
  std::lock_guard<std::mutex> lock(submit_mutex_);
  job_call_ = call;
  job_fn_ = fn;
  job_n_ = n;
  pending_.store(size_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();

  tls_inside_parallel_for = true;
  RunChunk(0, n, call, fn);
  tls_inside_parallel_for = false;

  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations) {
      CpuRelax();
    } else {
      const int left = pending_.load(std::memory_order_acquire);
      if (left != 0) pending_.wait(left, std::memory_order_acquire);
    }
  }
}

void ThreadPool::WorkerLoop(int index) {
  tls_inside_parallel_for = true;
  uint32_t seen = 0;
  while (true) {
    uint32_t current = generation_.load(std::memory_order_acquire);
    for (int spin = 0; current == seen && spin < kSpinIterations; ++spin) {
      CpuRelax();
      current = generation_.load(std::memory_order_acquire);
    }
    while (current == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stop_.load(std::memory_order_acquire)) return;
    RunChunk(index, job_n_, job_call_, job_fn_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace hearth::kernels
