// Test helpers for the shared fixtures (../shared/fixtures from the repository root) and for
// temporary directories.
//
// Where the fixtures are absent (a user's own clone) tests that need them are skipped with the
// reason printed; under CI (environment CI=true) a missing fixture is a failure.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace hearth::testing {

// ../shared/fixtures relative to the source tree (may not exist).
std::filesystem::path FixturesDir();

// Path of a file under FixturesDir(), e.g. FixturePath("models/stories260K.gguf").
std::filesystem::path FixturePath(const std::string& relative);

// True when running under CI (environment CI=true).
bool RunningUnderCi();

// The repository's source root and the CMake build directory.
std::filesystem::path SourceDir();
std::filesystem::path BinaryDir();

// Path of the built `hearth` binary (for tests that drive the CLI as a process).
std::filesystem::path HearthBinary();

// A fresh, empty directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Result of running a command line through /bin/sh.
struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
CommandResult RunCommand(const std::string& command_line);

// Every path under `dir`, relative to it and sorted (empty when `dir` does not exist): tests use
// it to prove that nothing stray was left behind.
std::vector<std::string> ListTree(const std::filesystem::path& dir);

}  // namespace hearth::testing

// Skips the test (or fails it under CI) when `path` does not exist.
#define HEARTH_REQUIRE_FIXTURE(path)                                                     \
  do {                                                                                   \
    if (!std::filesystem::exists(path)) {                                                \
      if (::hearth::testing::RunningUnderCi()) {                                         \
        FAIL() << "fixture missing under CI: " << (path);                                \
      } else {                                                                           \
        GTEST_SKIP() << "fixture not found (clone shared/ beside the repo): " << (path); \
      }                                                                                  \
    }                                                                                    \
  } while (0)
