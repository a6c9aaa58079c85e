#include "support/fixtures.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "hearth/base/file_util.h"

namespace hearth::testing {

std::filesystem::path SourceDir() { return HEARTH_SOURCE_DIR; }
std::filesystem::path BinaryDir() { return HEARTH_BINARY_DIR; }

std::filesystem::path FixturesDir() {
  if (const char* env = std::getenv("HEARTH_FIXTURES_DIR")) return env;
  return SourceDir().parent_path() / "shared" / "fixtures";
}

std::filesystem::path FixturePath(const std::string& relative) { return FixturesDir() / relative; }

bool RunningUnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::filesystem::path HearthBinary() {
  if (const char* env = std::getenv("HEARTH_BINARY")) return env;
  return BinaryDir() / "hearth";
}

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (;;) {
    path_ = base / ("hearth-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult RunCommand(const std::string& command_line) {
  TempDir dir;
  auto out_path = dir / "stdout";
  auto err_path = dir / "stderr";
  std::string full = command_line + " >" + out_path.string() + " 2>" + err_path.string();
  int rc = std::system(full.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  result.out = ReadFileToString(out_path).value_or("");
  result.err = ReadFileToString(err_path).value_or("");
  return result;
}

std::vector<std::string> ListTree(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    out.push_back(std::filesystem::relative(entry.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace hearth::testing
