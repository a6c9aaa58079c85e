// Running the real `hearth` binary as a child process for the end-to-end tests: start it with
// its output in files, wait for lines it prints, signal it, reap it. A process still running when
// its handle is destroyed is killed (SIGKILL) and reaped, so a failing test leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::e2e {

using Env = std::vector<std::pair<std::string, std::string>>;

class HearthProcess {
 public:
  // Starts `binary args...` with `env` added to this process's environment; stdout and stderr
  // go to `<log_prefix>.out` and `<log_prefix>.err`. The child dies with the test process
  // (PR_SET_PDEATHSIG), so an aborted test cannot leak a platform.
  static std::unique_ptr<HearthProcess> Start(const std::filesystem::path& binary,
                                              const std::vector<std::string>& args,
                                              const Env& env,
                                              const std::filesystem::path& log_prefix);
  ~HearthProcess();
  HearthProcess(const HearthProcess&) = delete;
  HearthProcess& operator=(const HearthProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string Stdout() const;
  std::string Stderr() const;

  // The rest of the first stdout line that starts with `prefix`, once it appears; nullopt when
  // the process exits first or the time is up.
  std::optional<std::string> WaitForStdoutLine(std::string_view prefix,
                                               std::chrono::milliseconds timeout);

  bool Running();  // reaps the process when it has exited
  void Signal(int sig);
  // The wait status once the process has exited, or nullopt when still running at the deadline.
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);

 private:
  HearthProcess() = default;
  pid_t pid_ = -1;
  std::optional<int> wait_status_;
  std::filesystem::path out_path_, err_path_;
};

// Live (non-zombie) processes other than this one whose command line contains `needle`.
std::vector<pid_t> ProcessesMentioning(std::string_view needle);

// Polls `done` every `interval` until it is true or the time is up; returns its last value.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval = std::chrono::milliseconds(50));

}  // namespace hearth::e2e
