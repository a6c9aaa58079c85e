#include "e2e_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

extern char** environ;

namespace hearth::e2e {
namespace {

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Zombies keep their /proc entry (with an empty cmdline) until reaped; they are not running.
bool IsZombie(pid_t pid) {
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  size_t close_paren = stat.rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= stat.size() ||
         stat[close_paren + 2] == 'Z' || stat[close_paren + 2] == 'X';
}

}  // namespace

std::unique_ptr<HearthProcess> HearthProcess::Start(const std::filesystem::path& binary,
                                                    const std::vector<std::string>& args,
                                                    const Env& env,
                                                    const std::filesystem::path& log_prefix) {
  std::unique_ptr<HearthProcess> process(new HearthProcess());
  process->out_path_ = log_prefix.string() + ".out";
  process->err_path_ = log_prefix.string() + ".err";

  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<std::string> argv_storage = {binary.string()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool overridden = false;
    for (const auto& [name, value] : env) {
      if (entry.substr(0, name.size() + 1) == name + "=") overridden = true;
    }
    if (!overridden) env_storage.emplace_back(entry);
  }
  for (const auto& [name, value] : env) env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const int out_fd = open(process->out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          0644);
  const int err_fd = open(process->err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          0644);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) return nullptr;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  close(null_fd);
  if (pid < 0) return nullptr;
  process->pid_ = pid;
  return process;
}

HearthProcess::~HearthProcess() {
  if (pid_ > 0 && !wait_status_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string HearthProcess::Stdout() const { return ReadAll(out_path_); }
std::string HearthProcess::Stderr() const { return ReadAll(err_path_); }

std::optional<std::string> HearthProcess::WaitForStdoutLine(std::string_view prefix,
                                                            std::chrono::milliseconds timeout) {
  std::optional<std::string> found;
  WaitUntil(
      [&] {
        const std::string out = Stdout();
        size_t start = 0;
        while (start < out.size()) {
          size_t end = out.find('\n', start);
          if (end == std::string::npos) break;  // a line still being written
          std::string_view line(out.data() + start, end - start);
          if (line.substr(0, prefix.size()) == prefix) {
            found = std::string(line.substr(prefix.size()));
            return true;
          }
          start = end + 1;
        }
        return !Running();
      },
      timeout);
  return found;
}

bool HearthProcess::Running() {
  if (wait_status_) return false;
  int status = 0;
  pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    wait_status_ = status;
    return false;
  }
  return true;
}

void HearthProcess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

std::optional<int> HearthProcess::WaitForExit(std::chrono::milliseconds timeout) {
  WaitUntil([&] { return !Running(); }, timeout);
  return wait_status_;
}

std::vector<pid_t> ProcessesMentioning(std::string_view needle) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    std::string cmdline = ReadAll(entry.path() / "cmdline");
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (cmdline.find(needle) != std::string::npos && !IsZombie(pid)) found.push_back(pid);
  }
  return found;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace hearth::e2e
