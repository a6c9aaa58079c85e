// EngineSupervisor: one deployment replica as a supervised child process.
//
// The child is `<hearth> [--data-dir D] engine --model F --host 127.0.0.1 --port P --ctx N
// --parallel N [--kv-budget B] [--threads T]` (the single-model OpenAI server), in its own
// process group, with stdin from /dev/null and stdout/stderr appended to a log file, and
// PR_SET_PDEATHSIG so it dies with the platform. Its port is a free loopback port picked just
// before the start (a start that loses the port to another process is retried on a new one).
//
// One thread per replica drives it: start → poll GET /health until 200 (ready) or the load
// timeout (failed) → watch for its exit → on an unexpected exit or a failed load, report the
// failure, wait an exponential backoff (1 s, 2 s, 4 s … capped; reset once the replica stayed
// ready long enough) and start it again. Stopping sends SIGTERM to the group (the engine
// drains), waits a bounded time, then SIGKILL.
//
// A ready engine is also probed for liveness: GET /health every liveness_interval, each with
// probe_timeout. The engine answers /health on its HTTP I/O threads, never behind the
// scheduler thread that runs the model, so a replica busy generating still answers; one that
// misses liveness_failures probes in a row (deadlocked, SIGSTOPped, wedged in the kernel) is
// reported unresponsive, killed (SIGKILL to its group) and restarted like a crashed one.
//
// Every change is reported to a listener, called on the supervisor's thread without any
// supervisor lock held; it must not call Join() or the destructor of its own supervisor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::platform {

// What to run: one replica's engine.
struct EngineLaunch {
  std::filesystem::path binary = "/proc/self/exe";  // the hearth executable
  std::filesystem::path data_dir;                    // passed as --data-dir when not empty
  std::filesystem::path model_path;
  int ctx = 0;
  int parallel = 1;
  int64_t kv_budget_bytes = 0;  // 0: the engine derives it (flag omitted)
  int threads = 0;              // 0: the engine's default (flag omitted)
  std::filesystem::path log_path;  // stdout and stderr, appended
};

// The argument vector (argv[0] is the binary) for `launch` listening on `port`.
std::vector<std::string> EngineCommandLine(const EngineLaunch& launch, uint16_t port);

struct SupervisionTimings {
  std::chrono::milliseconds load_timeout{300'000};  // start → /health 200
  std::chrono::milliseconds health_poll{100};       // between readiness probes while loading
  std::chrono::milliseconds probe_timeout{2'000};   // one probe
  std::chrono::milliseconds exit_poll{100};         // between exit checks while ready
  std::chrono::milliseconds stop_grace{30'000};     // SIGTERM → SIGKILL
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{60'000};
  std::chrono::milliseconds backoff_reset_after{60'000};  // ready this long: failures forgotten
  std::chrono::milliseconds liveness_interval{5'000};     // between liveness probes while ready
  int liveness_failures = 3;  // failed probes in a row that make a ready engine unresponsive
};

// The restart delay after `consecutive_failures` (>= 1) failures in a row.
std::chrono::milliseconds RestartBackoff(const SupervisionTimings& timings,
                                         int consecutive_failures);

enum class EngineState { kLoading, kReady, kFailed, kStopped };
std::string_view EngineStateName(EngineState state);

struct EngineReport {
  enum class Event {
    kStateChange,   // an ordinary transition (first start, ready, stopped)
    kFailure,       // the process exited unexpectedly or failed to load: state kFailed
    kRestart,       // a new process after a failure: state kLoading
    kUnresponsive,  // a ready engine stopped answering /health and was killed: state kFailed
  };
  Event event = Event::kStateChange;
  EngineState state = EngineState::kLoading;
  int64_t pid = 0;  // 0 when no process
  uint16_t port = 0;
  int restarts = 0;         // failures so far (each one is followed by a restart)
  std::string last_error;   // the latest failure, kept after recovery
};

class EngineSupervisor {
 public:
  using Listener = std::function<void(const EngineReport&)>;

  // `restarts` and `last_error` continue a replica's history (after re-adoption, for instance).
  EngineSupervisor(EngineLaunch launch, SupervisionTimings timings, Listener listener,
                   int restarts = 0, std::string last_error = {});
  ~EngineSupervisor();  // RequestStop() and Join()
  EngineSupervisor(const EngineSupervisor&) = delete;
  EngineSupervisor& operator=(const EngineSupervisor&) = delete;

  // Starts the supervising thread with a new process. Call once (or Adopt instead).
  void Start();
  // Supervises an already running, ready engine process (`pid` on `port`) instead.
  void Adopt(int64_t pid, uint16_t port);
  // Non-blocking: the thread stops the process and reports kStopped, then ends.
  void RequestStop();
  // Non-blocking: the thread ends and leaves the process running (to be adopted later).
  void Detach();
  // Waits for the thread to end (after RequestStop or Detach).
  void Join();

  EngineReport Current() const;

 private:
  enum class Outcome { kStop, kDetach, kFailed };
  void Run(std::optional<std::pair<int64_t, uint16_t>> adopted);
  Outcome LaunchAndLoad();
  Outcome WatchReady();
  // After liveness_failures failed probes: SIGKILL the group and reap the process.
  void KillUnresponsive();
  void StopProcess();
  void Publish(EngineReport::Event event, EngineState state, std::string error = {});
  // Waits up to `duration`; returns false when a stop or detach was requested.
  bool Sleep(std::chrono::milliseconds duration);
  std::optional<Outcome> Interrupted();

  const EngineLaunch launch_;
  const SupervisionTimings timings_;
  const Listener listener_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;
  bool detach_requested_ = false;
  EngineReport current_;  // guarded by mutex_; written only by the supervising thread
  std::thread thread_;

  // Owned by the supervising thread.
  int64_t pid_ = 0;
  uint16_t port_ = 0;
  int consecutive_failures_ = 0;
  bool after_failure_ = false;
};

// --- Process helpers (exposed for the deployment manager's re-adoption and for tests) ---

// A free TCP port on 127.0.0.1 (bound to port 0 and released).
Result<uint16_t> PickFreeLoopbackPort();

// True when `pid` is a live (not zombie) process whose command line has an "engine" argument.
bool IsEngineProcess(int64_t pid);

// How a process ended, from its wait status: "exit status 3", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

}  // namespace hearth::platform
