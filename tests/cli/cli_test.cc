// Drives the real `hearth` binary as a process: flags, config precedence and bad input.
#include <gtest/gtest.h>

#include <fstream>

#include "support/fixtures.h"

namespace hearth {
namespace {

using testing::HearthBinary;
using testing::RunCommand;

std::string Hearth(const std::string& args) { return HearthBinary().string() + " " + args; }

int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(CliTest, VersionAndHelp) {
  auto r = RunCommand(Hearth("--version"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("hearth ", 0), 0u) << r.out;
  r = RunCommand(Hearth("--help"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("serve"), std::string::npos);
}

TEST(CliTest, UnknownFlagIsOneClearLine) {
  auto r = RunCommand(Hearth("config show --bogus-flag"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--bogus-flag"), std::string::npos) << r.err;
}

TEST(CliTest, MalformedOrMissingConfigFileIsOneClearLine) {
  testing::TempDir dir;
  std::ofstream(dir / "bad.toml") << "[server\nport = 1\n";
  auto r = RunCommand(Hearth("--config " + (dir / "bad.toml").string() + " config show"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("bad.toml: line 1"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());

  r = RunCommand(Hearth("--config " + (dir / "none.toml").string() + " config show"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("none.toml: no such file"), std::string::npos) << r.err;
}

TEST(CliTest, PrecedenceEndToEnd) {
  testing::TempDir dir;
  std::ofstream(dir / "h.toml") << "[server]\nport = 9000\nhost = \"10.0.0.1\"\n[log]\nlevel = "
                                   "\"warn\"\n";
  std::string cfg = "--config " + (dir / "h.toml").string();
  auto r = RunCommand("HEARTH_SERVER_PORT=9100 HEARTH_LOG_LEVEL=error " +
                      Hearth(cfg + " --log-level debug config show"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("server.port = 9100  # environment"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("server.host = '10.0.0.1'  # file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("log.level = 'debug'  # flag"), std::string::npos) << r.out;
  // HEARTH_CONFIG names the file when --config is absent.
  r = RunCommand("HEARTH_CONFIG=" + (dir / "h.toml").string() + " " + Hearth("config show"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("server.port = 9000  # file"), std::string::npos) << r.out;
}

TEST(CliTest, BadEnvironmentValueIsRejected) {
  auto r = RunCommand("HEARTH_SERVER_PORT=eighty " + Hearth("config show"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("HEARTH_SERVER_PORT"), std::string::npos) << r.err;
}

TEST(CliTest, UnwritableDataDirectoryIsOneClearLine) {
  testing::TempDir dir;
  std::ofstream(dir / "file") << "x";
  auto r = RunCommand(Hearth("--data-dir " + (dir / "file").string() + " serve"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
  r = RunCommand(Hearth("--data-dir /proc/hearth serve"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/proc/hearth"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hearth
