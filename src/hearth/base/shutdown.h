// Clean shutdown on SIGINT and SIGTERM.
//
// ShutdownSignal::Install() blocks both signals in the calling thread (call it in main() before
// starting any thread, so every thread inherits the mask) and starts a watcher thread that
// waits for them with sigwait. The first signal sets the flag and wakes every Wait(); servers
// poll requested() or Wait() and then drain. A second signal while draining exits at once
// (status 130), so an operator is never stuck.
#pragma once

#include <chrono>

namespace hearth {

class ShutdownSignal {
 public:
  static void Install();
  static bool requested();
  // Blocks until shutdown is requested (or the timeout passes); returns requested().
  static bool Wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
  // Requests shutdown from inside the process (tests, fatal errors).
  static void Request();
};

}  // namespace hearth
