#include "hearth/base/data_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace hearth {

std::filesystem::path DefaultDataDir() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return std::filesystem::path(".hearth");
  return std::filesystem::path(home) / ".hearth";
}

Status EnsureDataDir(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    return Status::FailedPrecondition(
        fmt::format("data directory {} exists and is not a directory", dir.string()));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::IoError(
        fmt::format("cannot create data directory {}: {}", dir.string(), ec.message()));
  }
  auto probe = dir / ".write-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::PermissionDenied(
        fmt::format("data directory {} is not writable: {}", dir.string(), std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

}  // namespace hearth
