#include "hearth/kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <chrono>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace hearth::kernels {
namespace {

// Every index in [0, n) is visited exactly once, for pool sizes below, at and above the core
// count and for n smaller and larger than the pool.
TEST(ThreadPoolTest, VisitsEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 3, 4, 7, 64, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
        ASSERT_LE(0, begin);
        ASSERT_LT(begin, end);
        ASSERT_LE(end, n);
        for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPoolTest, UsesSeveralThreadsForLargeLoops) {
  ThreadPool pool(3);
  std::mutex mutex;
  std::set<std::thread::id> ids;
  pool.ParallelFor(3, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ids.insert(std::this_thread::get_id());
    }
    // Chunks are claimed dynamically: long chunks give the workers time to wake and claim theirs
    // instead of the caller running everything.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(ids.count(std::this_thread::get_id()));
}

TEST(ThreadPoolTest, RapidSuccessiveCallsSeeCompletedWork) {
  ThreadPool pool(3);
  std::vector<int64_t> data(97, 0);
  for (int round = 0; round < 20000; ++round) {
    pool.ParallelFor(static_cast<int64_t>(data.size()), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) data[i] += i;
    });
  }
  for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], 20000 * static_cast<int64_t>(i));
}

TEST(ThreadPoolTest, NestedCallsRunInlineAndComplete) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(10 * 50);
  pool.ParallelFor(10, [&](int64_t b, int64_t e) {
    for (int64_t outer = b; outer < e; ++outer) {
      pool.ParallelFor(50, [&](int64_t ib, int64_t ie) {
        for (int64_t i = ib; i < ie; ++i) hits[outer * 50 + i].fetch_add(1);
      });
    }
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerializedSafely) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  auto caller = [&] {
    for (int round = 0; round < 2000; ++round) {
      pool.ParallelFor(10, [&](int64_t b, int64_t e) { total.fetch_add(e - b); });
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 2000 * 10);
}

TEST(ThreadPoolTest, DefaultSizeIsAvailableCores) {
  ThreadPool pool;
  EXPECT_EQ(pool.size(), ThreadPool::AvailableCores());
  EXPECT_GE(pool.size(), 1);
}

}  // namespace
}  // namespace hearth::kernels
