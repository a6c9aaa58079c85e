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

// Claims and runs chunks of job `generation` until none are left. A chunk is claimed by a
// compare-and-swap on claim_, which holds the job's generation in its high half: a worker that
// wakes up late, after the job it was woken for has finished, fails the swap and runs nothing.
// The job's fields are stable while any of its chunks is unfinished, because the submitter waits
// for every chunk before returning.
void ThreadPool::RunClaimedChunks(uint32_t generation) {
  uint64_t state = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(state >> 32) != generation) return;
    const uint32_t chunk = static_cast<uint32_t>(state);
    if (chunk >= static_cast<uint32_t>(size_)) return;
    if (!claim_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;  // `state` now holds the current value
    }
    RunChunk(static_cast<int>(chunk), job_n_, job_call_, job_fn_);
    if (done_chunks_.fetch_add(1, std::memory_order_acq_rel) + 1 == size_) {
      done_chunks_.notify_one();
    }
    state = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::Run(int64_t n, Trampoline call, void* fn) {
  if (n <= 0) return;
  if (size_ == 1 || n == 1 || tls_inside_parallel_for) {
    call(fn, 0, n);
    return;
  }
  std::lock_guard<std::mutex> lock(submit_mutex_);
  const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
  job_call_ = call;
  job_fn_ = fn;
  job_n_ = n;
  done_chunks_.store(0, std::memory_order_relaxed);
  claim_.store(static_cast<uint64_t>(generation) << 32, std::memory_order_release);
  generation_.store(generation, std::memory_order_release);
  generation_.notify_all();

  // The caller works too, and takes over the chunks of any worker the OS has not scheduled yet:
  // a busy core then slows the call down instead of stalling it.
  tls_inside_parallel_for = true;
  RunClaimedChunks(generation);
  tls_inside_parallel_for = false;

  for (int spin = 0;; ++spin) {
    const int done = done_chunks_.load(std::memory_order_acquire);
    if (done == size_) break;
    if (spin < kSpinIterations) {
      CpuRelax();
    } else {
      done_chunks_.wait(done, std::memory_order_acquire);
    }
  }
}

void ThreadPool::WorkerLoop(int /*index*/) {
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
    RunClaimedChunks(current);
  }
}

}  // namespace hearth::kernels
