// A few worker threads for the admin API. Admin calls block on the store and on argon2id
// (tens of milliseconds per login), which must not happen on the HTTP server's I/O threads: those
// also carry every inference stream.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::platform::admin {

class WorkQueue {
 public:
  explicit WorkQueue(int threads);
  // Runs every task already submitted, then joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace hearth::platform::admin
