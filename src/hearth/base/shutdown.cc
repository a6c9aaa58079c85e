#include "hearth/base/shutdown.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace hearth {
namespace {

std::atomic<bool> g_requested{false};
std::mutex g_mutex;
std::condition_variable g_cv;

void WatchSignals(sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (g_requested.load()) _exit(130);  // second signal: stop waiting for the drain
    ShutdownSignal::Request();
  }
}

}  // namespace

void ShutdownSignal::Install() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread(WatchSignals, set).detach();
  });
}

bool ShutdownSignal::requested() { return g_requested.load(); }

void ShutdownSignal::Request() {
  {
    std::lock_guard lock(g_mutex);
    g_requested.store(true);
  }
  g_cv.notify_all();
}

bool ShutdownSignal::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(g_mutex);
  if (timeout == std::chrono::milliseconds::max()) {
    g_cv.wait(lock, [] { return g_requested.load(); });
  } else {
    g_cv.wait_for(lock, timeout, [] { return g_requested.load(); });
  }
  return g_requested.load();
}

}  // namespace hearth
