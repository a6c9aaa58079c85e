#include "hearth/platform/engine_supervisor.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <iterator>

#include "hearth/platform/engine_probe.h"

extern char** environ;

namespace hearth::platform {
namespace {

using Clock = std::chrono::steady_clock;

// --- Spawning ---
//
// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process. Replica
// threads come and go (and a platform may hand its engines to a successor in the same process),
// so every child is forked by one spawner thread that lives as long as the process: children
// then die exactly when the platform process does.

struct SpawnRequest {
  std::vector<std::string> argv;
  std::filesystem::path log_path;
  std::promise<Result<int64_t>> result;
};

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(pid_t parent, const char* binary, char* const* argv, int log_fd,
                            int null_fd, int error_fd, int max_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the platform died before prctl took effect
  setpgid(0, 0);
  // Signal dispositions set to "ignore" and the blocked mask survive exec; the platform blocks
  // SIGINT/SIGTERM (ShutdownSignal) and servers ignore SIGPIPE. The engine expects defaults.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) {
    sigaction(sig, &default_action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  dup2(null_fd, STDIN_FILENO);
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  dup2(error_fd, 3);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  // Nothing else of the platform's (sockets, database files) may leak into the engine.
  if (syscall(__NR_close_range, 4u, ~0u, 0) != 0) {
    for (int fd = 4; fd < max_fd; ++fd) close(fd);
  }
  execve(binary, argv, environ);
  const int error = errno;
  [[maybe_unused]] ssize_t n = write(3, &error, sizeof error);
  _exit(127);
}

Result<int64_t> SpawnNow(const std::vector<std::string>& args,
                         const std::filesystem::path& log_path) {
  std::error_code ec;
  std::filesystem::create_directories(log_path.parent_path(), ec);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    return Status::IoError(
        fmt::format("cannot open log file {}: {}", log_path.string(), std::strerror(errno)));
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int error_pipe[2] = {-1, -1};
  if (null_fd < 0 || pipe2(error_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return Status::IoError(fmt::format("cannot prepare an engine process: {}",
                                       std::strerror(error)));
  }
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  rlimit files{};
  const int max_fd = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 65536
                         ? static_cast<int>(files.rlim_cur)
                         : 65536;

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    ExecChild(parent, argv[0], argv.data(), log_fd, null_fd, error_pipe[1], max_fd);
  }
  const int fork_error = errno;
  close(log_fd);
  close(null_fd);
  close(error_pipe[1]);
  if (pid < 0) {
    close(error_pipe[0]);
    return Status::Unavailable(fmt::format("fork failed: {}", std::strerror(fork_error)));
  }
  setpgid(pid, pid);  // also from here, so the group exists before anyone signals it
  int exec_error = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n == sizeof exec_error) {
    int ignored;
    waitpid(pid, &ignored, 0);
    return Status::NotFound(
        fmt::format("cannot run {}: {}", args.front(), std::strerror(exec_error)));
  }
  return static_cast<int64_t>(pid);
}

class Spawner {
 public:
  static Spawner& Instance() {
    // Leaked on purpose: its thread must outlive every child (see above).
    static Spawner* instance = new Spawner();
    return *instance;
  }

  Result<int64_t> Spawn(std::vector<std::string> argv, std::filesystem::path log_path) {
    SpawnRequest request{std::move(argv), std::move(log_path), {}};
    std::future<Result<int64_t>> result = request.result.get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(request));
    }
    wake_.notify_one();
    return result.get();
  }

 private:
  Spawner() {
    std::thread([this] { Loop(); }).detach();
  }

  [[noreturn]] void Loop() {
    for (;;) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty(); });
      SpawnRequest request = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      request.result.set_value(SpawnNow(request.argv, request.log_path));
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<SpawnRequest> queue_;
};

// --- Watching ---

struct ExitCheck {
  bool exited = false;
  std::string how;
};

bool IsZombieOrGone(int64_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(stat, text)) return true;
  // "pid (comm) S ...": the state follows the last ')' (comm may contain anything).
  const size_t close = text.rfind(')');
  return close == std::string::npos || close + 2 >= text.size() || text[close + 2] == 'Z' ||
         text[close + 2] == 'X';
}

ExitCheck CheckExit(int64_t pid) {
  int status = 0;
  const pid_t r = waitpid(static_cast<pid_t>(pid), &status, WNOHANG);
  if (r == static_cast<pid_t>(pid)) return {true, DescribeWaitStatus(status)};
  if (r == 0) return {};
  // Not our child (adopted from an earlier platform process): no exit status to collect.
  if (kill(static_cast<pid_t>(pid), 0) != 0 || IsZombieOrGone(pid)) {
    return {true, "exited (not a child of this process: status unknown)"};
  }
  return {};
}

void SignalGroup(int64_t pid, int sig) {
  if (kill(-static_cast<pid_t>(pid), sig) != 0) kill(static_cast<pid_t>(pid), sig);
}

bool PortInUse(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool in_use =
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 && errno == EADDRINUSE;
  close(fd);
  return in_use;
}

std::string Seconds(std::chrono::milliseconds d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000);
}

}  // namespace

std::vector<std::string> EngineCommandLine(const EngineLaunch& launch, uint16_t port) {
  std::vector<std::string> argv = {launch.binary.string()};
  if (!launch.data_dir.empty()) {
    argv.insert(argv.end(), {"--data-dir", launch.data_dir.string()});
  }
  argv.insert(argv.end(), {"engine", "--model", launch.model_path.string(), "--host",
                           "127.0.0.1", "--port", std::to_string(port), "--ctx",
                           std::to_string(launch.ctx), "--parallel",
                           std::to_string(launch.parallel)});
  if (launch.kv_budget_bytes > 0) {
    argv.insert(argv.end(), {"--kv-budget", std::to_string(launch.kv_budget_bytes)});
  }
  if (launch.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(launch.threads)});
  return argv;
}

std::chrono::milliseconds RestartBackoff(const SupervisionTimings& timings,
                                         int consecutive_failures) {
  std::chrono::milliseconds delay = timings.backoff_initial;
  for (int i = 1; i < consecutive_failures && delay < timings.backoff_max; ++i) delay *= 2;
  return std::min(delay, timings.backoff_max);
}

std::string_view EngineStateName(EngineState state) {
  switch (state) {
    case EngineState::kLoading: return "loading";
    case EngineState::kReady: return "ready";
    case EngineState::kFailed: return "failed";
    case EngineState::kStopped: return "stopped";
  }
  return "unknown";
}

Result<uint16_t> PickFreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    close(fd);
    return Status::Unavailable(
        fmt::format("no free loopback port: {}", std::strerror(error)));
  }
  close(fd);
  return ntohs(address.sin_port);
}

bool IsEngineProcess(int64_t pid) {
  if (pid <= 0 || IsZombieOrGone(pid)) return false;
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    if (std::string_view(cmdline).substr(start, end - start) == "engine") return true;
    start = end + 1;
  }
  return false;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return fmt::format("exit status {}", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = strsignal(sig);
    return fmt::format("killed by signal {} ({})", sig, name != nullptr ? name : "unknown");
  }
  return fmt::format("wait status {:#x}", wait_status);
}

// --- EngineSupervisor ---

EngineSupervisor::EngineSupervisor(EngineLaunch launch, SupervisionTimings timings,
                                   Listener listener, int restarts, std::string last_error)
    : launch_(std::move(launch)), timings_(timings), listener_(std::move(listener)) {
  current_.restarts = restarts;
  current_.last_error = std::move(last_error);
}

EngineSupervisor::~EngineSupervisor() {
  RequestStop();
  Join();
}

void EngineSupervisor::Start() {
  thread_ = std::thread([this] { Run(std::nullopt); });
}

void EngineSupervisor::Adopt(int64_t pid, uint16_t port) {
  thread_ = std::thread([this, pid, port] { Run(std::make_pair(pid, port)); });
}

void EngineSupervisor::RequestStop() {
  {
    std::lock_guard lock(mutex_);
    if (detach_requested_) return;
    stop_requested_ = true;
  }
  wake_.notify_all();
}

void EngineSupervisor::Detach() {
  {
    std::lock_guard lock(mutex_);
    if (stop_requested_) return;
    detach_requested_ = true;
  }
  wake_.notify_all();
}

void EngineSupervisor::Join() {
  if (thread_.joinable()) thread_.join();
}

EngineReport EngineSupervisor::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void EngineSupervisor::Publish(EngineReport::Event event, EngineState state, std::string error) {
  EngineReport report;
  {
    std::lock_guard lock(mutex_);
    current_.event = event;
    current_.state = state;
    current_.pid = pid_;
    current_.port = port_;
    if (event == EngineReport::Event::kFailure || event == EngineReport::Event::kUnresponsive) {
      ++current_.restarts;
      current_.last_error = std::move(error);
    }
    report = current_;
  }
  if (listener_) listener_(report);
}

std::optional<EngineSupervisor::Outcome> EngineSupervisor::Interrupted() {
  std::lock_guard lock(mutex_);
  if (stop_requested_) return Outcome::kStop;
  if (detach_requested_) return Outcome::kDetach;
  return std::nullopt;
}

bool EngineSupervisor::Sleep(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, duration, [this] { return stop_requested_ || detach_requested_; });
}

void EngineSupervisor::Run(std::optional<std::pair<int64_t, uint16_t>> adopted) {
  Outcome outcome;
  if (adopted) {
    pid_ = adopted->first;
    port_ = adopted->second;
    Publish(EngineReport::Event::kStateChange, EngineState::kReady);
    outcome = WatchReady();
  } else {
    outcome = LaunchAndLoad();
  }
  for (;;) {
    if (outcome == Outcome::kDetach) return;
    if (outcome == Outcome::kStop) {
      StopProcess();
      Publish(EngineReport::Event::kStateChange, EngineState::kStopped);
      return;
    }
    // Failed: back off, then start a new process.
    ++consecutive_failures_;
    after_failure_ = true;
    if (!Sleep(RestartBackoff(timings_, consecutive_failures_))) {
      outcome = *Interrupted();
      continue;
    }
    outcome = LaunchAndLoad();
  }
}

EngineSupervisor::Outcome EngineSupervisor::LaunchAndLoad() {
  constexpr int kPortAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    if (auto interrupted = Interrupted()) return *interrupted;
    Result<uint16_t> port = PickFreeLoopbackPort();
    Result<int64_t> pid = port.ok() ? Spawner::Instance().Spawn(EngineCommandLine(launch_, *port),
                                                                launch_.log_path)
                                    : Result<int64_t>(port.status());
    if (!pid.ok()) {
      pid_ = 0;
      port_ = 0;
      Publish(EngineReport::Event::kFailure, EngineState::kFailed,
              fmt::format("cannot start the engine: {}", pid.status().message()));
      return Outcome::kFailed;
    }
    pid_ = *pid;
    port_ = *port;
    Publish(after_failure_ ? EngineReport::Event::kRestart : EngineReport::Event::kStateChange,
            EngineState::kLoading);
    after_failure_ = false;

    const auto deadline = Clock::now() + timings_.load_timeout;
    for (;;) {
      if (auto interrupted = Interrupted()) return *interrupted;
      const ExitCheck exit = CheckExit(pid_);
      if (exit.exited) {
        // Another process took the port between our probe and the engine's bind.
        if (PortInUse(port_) && attempt < kPortAttempts) {
          spdlog::warn("engine {}: port {} was taken before it started; retrying on another",
                       launch_.log_path.stem().string(), port_);
          break;
        }
        pid_ = 0;
        port_ = 0;
        Publish(EngineReport::Event::kFailure, EngineState::kFailed,
                fmt::format("the engine {} while loading (see {})", exit.how,
                            launch_.log_path.string()));
        return Outcome::kFailed;
      }
      if (EngineHealthy(port_, timings_.probe_timeout)) {
        Publish(EngineReport::Event::kStateChange, EngineState::kReady);
        return WatchReady();
      }
      if (Clock::now() >= deadline) {
        SignalGroup(pid_, SIGKILL);
        int ignored;
        waitpid(static_cast<pid_t>(pid_), &ignored, 0);
        pid_ = 0;
        port_ = 0;
        Publish(EngineReport::Event::kFailure, EngineState::kFailed,
                fmt::format("the engine did not become ready within {} (see {})",
                            Seconds(timings_.load_timeout), launch_.log_path.string()));
        return Outcome::kFailed;
      }
      if (!Sleep(timings_.health_poll)) return *Interrupted();
    }
  }
}

EngineSupervisor::Outcome EngineSupervisor::WatchReady() {
  const auto ready_since = Clock::now();
  auto next_probe = ready_since + timings_.liveness_interval;
  int failed_probes = 0;
  std::string last_probe_error;
  const auto crashed = [this](const ExitCheck& exit) {
    pid_ = 0;
    port_ = 0;
    Publish(EngineReport::Event::kFailure, EngineState::kFailed,
            fmt::format("the engine {} unexpectedly (see {})", exit.how,
                        launch_.log_path.string()));
    return Outcome::kFailed;
  };
  for (;;) {
    if (auto interrupted = Interrupted()) return *interrupted;
    if (const ExitCheck exit = CheckExit(pid_); exit.exited) return crashed(exit);
    if (Clock::now() >= next_probe) {
      Result<ProbeReply> reply = LoopbackGet(port_, "/health", timings_.probe_timeout);
      next_probe = Clock::now() + timings_.liveness_interval;
      // Any HTTP answer proves the process alive: an engine at its connection limit answers
      // 503, and killing it for that would end every stream it is serving. Only silence
      // (no connection, no answer before the deadline) counts as a miss.
      if (reply.ok()) {
        failed_probes = 0;
      } else {
        last_probe_error = reply.status().message();
        if (++failed_probes >= std::max(1, timings_.liveness_failures)) {
          if (auto interrupted = Interrupted()) return *interrupted;
          // A process that exited during the probes crashed; it was not hung.
          if (const ExitCheck exit = CheckExit(pid_); exit.exited) return crashed(exit);
          const int64_t pid = pid_;
          KillUnresponsive();
          Publish(EngineReport::Event::kUnresponsive, EngineState::kFailed,
                  fmt::format("the engine (pid {}) was unresponsive: {} health probes in a row "
                              "failed (last: {}); killed it",
                              pid, failed_probes, last_probe_error));
          return Outcome::kFailed;
        }
      }
    }
    // Only an engine that answers counts as having recovered.
    if (failed_probes == 0 && Clock::now() - ready_since >= timings_.backoff_reset_after) {
      consecutive_failures_ = 0;
    }
    if (!Sleep(timings_.exit_poll)) return *Interrupted();
  }
}

void EngineSupervisor::KillUnresponsive() {
  spdlog::warn("engine {} (pid {}) stopped answering on port {}; killing it",
               launch_.log_path.stem().string(), pid_, port_);
  SignalGroup(pid_, SIGKILL);
  int ignored;
  if (waitpid(static_cast<pid_t>(pid_), &ignored, 0) < 0) {
    // Not our child (adopted): wait for it to disappear.
    while (!IsZombieOrGone(pid_)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = 0;
  port_ = 0;
}

void EngineSupervisor::StopProcess() {
  if (pid_ == 0) return;
  SignalGroup(pid_, SIGTERM);
  const auto deadline = Clock::now() + timings_.stop_grace;
  while (!CheckExit(pid_).exited) {
    if (Clock::now() >= deadline) {
      spdlog::warn("engine {} (pid {}) did not stop within {}; killing it",
                   launch_.log_path.stem().string(), pid_, Seconds(timings_.stop_grace));
      SignalGroup(pid_, SIGKILL);
      int ignored;
      if (waitpid(static_cast<pid_t>(pid_), &ignored, 0) < 0) {
        // Not our child: wait for it to disappear.
        while (!IsZombieOrGone(pid_)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = 0;
  port_ = 0;
}

}  // namespace hearth::platform
