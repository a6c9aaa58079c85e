// `hearth engine` (the single-model server) as a process: argument errors, serving a fixture
// model, and a clean exit (status 0) on SIGTERM.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api_test_support.h"
#include "support/fixtures.h"

extern char** environ;

namespace hearth::server {
namespace {

using namespace std::chrono_literals;
using hearth::testing::HearthBinary;
using hearth::testing::RunCommand;

// A port that was free a moment ago.
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(ServeCommandTest, RequiresAModel) {
  if (!std::filesystem::exists(HearthBinary())) GTEST_SKIP() << "hearth binary not built";
  hearth::testing::TempDir dir;
  const std::string prefix = HearthBinary().string() + " --data-dir " + dir.path().string();
  auto none = RunCommand(prefix + " engine");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err, "hearth: a model is required: hearth engine --model FILE\n");
  auto missing = RunCommand(prefix + " engine --model /no/such/model.gguf");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/no/such/model.gguf"), std::string::npos) << missing.err;
}

TEST(ServeCommandTest, ServesAndExitsCleanlyOnSigterm) {
  const auto model = hearth::testing::FixturePath("models/stories260K.gguf");
  HEARTH_REQUIRE_FIXTURE(model);
  if (!std::filesystem::exists(HearthBinary())) GTEST_SKIP() << "hearth binary not built";
  hearth::testing::TempDir dir;
  const uint16_t port = FreePort();
  const std::string binary = HearthBinary().string();
  const std::string data_dir = dir.path().string();
  const std::string model_path = model.string();
  const std::string port_text = std::to_string(port);
  std::vector<const char*> argv = {
      binary.c_str(),     "--data-dir", data_dir.c_str(),  "engine", "--model",
      model_path.c_str(), "--port",     port_text.c_str(), "--ctx", "256",
      "--parallel",       "2",          "--threads",       "1",     nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), nullptr, nullptr,
                        const_cast<char* const*>(argv.data()), environ),
            0);
  bool healthy = false;
  for (int i = 0; i < 300 && !healthy; ++i) {
    auto health = testing::Fetch(port, "GET", "/health");
    healthy = health && health->status == 200;
    if (!healthy) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(healthy);
  if (healthy) {
    auto models = testing::Fetch(port, "GET", "/v1/models");
    ASSERT_TRUE(models.has_value());
    const std::string id = nlohmann::json::parse(models->body)["data"][0]["id"];
    auto r = testing::PostJson(
        port, "/v1/completions",
        nlohmann::json({{"model", id}, {"prompt", "Once"}, {"max_tokens", 8}}).dump());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["usage"]["completion_tokens"].get<int>() > 0, true);
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace hearth::server
