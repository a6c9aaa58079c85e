// Crashes, end to end: a kill -9 of the platform under load loses no acknowledged usage and the
// restarted platform serves again (issue #8); a kill -9 of an engine replica is noticed and the
// replica restarted.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "platform_fixture.h"

namespace hearth::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Acknowledged {
  std::mutex mu;
  int64_t responses = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

TEST_F(PlatformE2eTest, KillDuringLoadLosesNoAcknowledgedUsage) {
  auto platform = StartPlatform();
  ASSERT_TRUE(platform);
  ASSERT_TRUE(WaitUntilServing(platform->port, platform->api_key));

  // A second key, created through the admin API, must survive the crash (the quick-start key
  // is replaced on every start).
  std::string token = AdminToken(platform->port);
  ASSERT_FALSE(token.empty());
  HttpReply created = HttpCall(platform->port, "POST", "/admin/v1/tenants/default/keys",
                               R"({"name":"survivor"})", JsonWithBearer(token));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string survivor = json::parse(created.body).value("key", "");
  ASSERT_FALSE(survivor.empty()) << created.body;

  // Usage from the warm-up request(s) above is part of the store, not of what the clients
  // count, so the check below compares against the store's state before the load.
  Acknowledged acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  constexpr int kClients = 4;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      const std::string& key = i % 2 == 0 ? platform->api_key : survivor;
      for (int n = 0; !stop.load(); ++n) {
        Completion done = Complete(platform->port, key, /*stream=*/(n + i) % 2 == 1, 15s);
        if (!done.acknowledged) continue;
        std::lock_guard lock(acked.mu);
        ++acked.responses;
        acked.prompt_tokens += done.prompt_tokens;
        acked.completion_tokens += done.completion_tokens;
      }
    });
  }
  // Kill in the middle of the load: once some responses were acknowledged.
  bool loaded = WaitUntil(
      [&] {
        std::lock_guard lock(acked.mu);
        return acked.responses >= 8;
      },
      30s);
  platform->process->Signal(SIGKILL);
  const auto exited = platform->process->WaitForExit(10s);
  stop.store(true);
  for (std::thread& client : clients) client.join();
  ASSERT_TRUE(loaded) << "the load never got going";
  ASSERT_TRUE(exited);
  ASSERT_TRUE(WIFSIGNALED(*exited) && WTERMSIG(*exited) == SIGKILL);
  // The engines die with the platform (PR_SET_PDEATHSIG).
  EXPECT_TRUE(NoProcessesLeft(10s)) << "engine processes survived a kill -9 of the platform";

  // Everything acknowledged was recorded: the store holds at least the acknowledged counts (it
  // may hold more: the warm-up request, and responses recorded whose last bytes never arrived).
  auto usage = hearth::testing::RunCommand(hearth::testing::HearthBinary().string() +
                                           " --data-dir " + data_dir().string() +
                                           " usage --json");
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  json report = json::parse(usage.out, nullptr, false);
  ASSERT_TRUE(report.is_object() && report["tenants"].is_array()) << usage.out;
  json tenant;
  for (const json& t : report["tenants"]) {
    if (t.value("tenant", "") == "default") tenant = t;
  }
  ASSERT_TRUE(tenant.is_object()) << usage.out;
  std::lock_guard lock(acked.mu);
  RecordProperty("acknowledged_responses", std::to_string(acked.responses));
  RecordProperty("recorded_requests", std::to_string(tenant.value("requests", int64_t{0})));
  EXPECT_GE(tenant.value("requests", int64_t{0}), acked.responses + 1) << usage.out;
  EXPECT_GE(tenant.value("prompt_tokens", int64_t{0}), acked.prompt_tokens) << usage.out;
  EXPECT_GE(tenant.value("completion_tokens", int64_t{0}), acked.completion_tokens)
      << usage.out;

  // The restarted platform serves again, with the new quick-start key and the surviving key.
  auto restarted = StartPlatform();
  ASSERT_TRUE(restarted);
  EXPECT_NE(restarted->api_key, platform->api_key);
  ASSERT_TRUE(WaitUntilServing(restarted->port, restarted->api_key));
  Completion again = Complete(restarted->port, survivor, /*stream=*/true);
  EXPECT_TRUE(again.acknowledged) << again.detail;
  Completion old_key = Complete(restarted->port, platform->api_key, /*stream=*/false);
  EXPECT_EQ(old_key.status, 401) << "the previous quick-start key still works";

  auto status = Terminate(*restarted);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(NoProcessesLeft(10s));
}

TEST_F(PlatformE2eTest, CrashedEngineIsRestarted) {
  auto platform = StartPlatform();
  ASSERT_TRUE(platform);
  ASSERT_TRUE(WaitUntilServing(platform->port, platform->api_key));
  std::string token = AdminToken(platform->port);
  ASSERT_FALSE(token.empty());

  auto replica = [&]() -> json {
    json deployment = AdminGet(platform->port, token, std::string("/admin/v1/deployments/") +
                                                          kDeployment);
    if (!deployment.is_object() || !deployment["replica_status"].is_array() ||
        deployment["replica_status"].size() != 1) {
      return nullptr;
    }
    return deployment["replica_status"][0];
  };
  json before = replica();
  ASSERT_TRUE(before.is_object());
  ASSERT_EQ(before.value("state", ""), "ready") << before.dump();
  ASSERT_EQ(before.value("restarts", -1), 0) << before.dump();
  const pid_t engine = before.value("pid", pid_t{0});
  ASSERT_GT(engine, 0) << before.dump();
  // The pid the admin API shows is really the engine child of this platform.
  std::vector<pid_t> ours = ProcessesMentioning(data_dir().string());
  ASSERT_NE(std::find(ours.begin(), ours.end(), engine), ours.end()) << before.dump();

  ASSERT_EQ(kill(engine, SIGKILL), 0);
  json after;
  bool restarted = WaitUntil(
      [&] {
        after = replica();
        return after.is_object() && after.value("restarts", 0) == 1 &&
               after.value("state", "") == "ready" && after.value("pid", pid_t{0}) != engine &&
               after.value("pid", pid_t{0}) > 0;
      },
      30s, 100ms);
  ASSERT_TRUE(restarted) << "replica now: " << after.dump();
  ASSERT_TRUE(WaitUntilServing(platform->port, platform->api_key));

  json audit = AdminGet(platform->port, token, "/admin/v1/audit?action=replica.crash");
  ASSERT_TRUE(audit.is_object() && audit["data"].is_array()) << audit.dump();
  ASSERT_EQ(audit["data"].size(), 1u) << audit.dump();
  EXPECT_EQ(audit["data"][0].value("actor", ""), "system") << audit.dump();
  EXPECT_NE(audit["data"][0].value("target", "").find("deployment:tiny/replica:"),
            std::string::npos)
      << audit.dump();

  auto status = Terminate(*platform);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(NoProcessesLeft(10s));
}

// A second `hearth serve` on the same data directory fails with one clear line — on the same
// port or another — and leaves the running platform's engine alone (it used to re-adopt the
// engine and then stop it on its way out; on another port both would have supervised it).
TEST_F(PlatformE2eTest, FailedSecondStartLeavesTheRunningPlatformAlone) {
  auto platform = StartPlatform();
  ASSERT_TRUE(platform);
  ASSERT_TRUE(WaitUntilServing(platform->port, platform->api_key));
  std::string token = AdminToken(platform->port);
  ASSERT_FALSE(token.empty());
  json before = AdminGet(platform->port, token, std::string("/admin/v1/deployments/") +
                                                    kDeployment);
  ASSERT_TRUE(before.is_object() && before["replica_status"].size() == 1) << before.dump();
  const pid_t engine = before["replica_status"][0].value("pid", pid_t{0});
  ASSERT_GT(engine, 0);

  for (uint16_t port : {platform->port, FreeLoopbackPort()}) {
    auto second = HearthProcess::Start(
        hearth::testing::HearthBinary(),
        {"--data-dir", data_dir().string(), "serve", "--model", (*dir_ / "tiny.gguf").string(),
         "--port", std::to_string(port)},
        {{"HEARTH_ADMIN_PASSWORD", kAdminPassword}}, *dir_ / ("second-" + std::to_string(port)));
    ASSERT_TRUE(second);
    auto status = second->WaitForExit(30s);
    ASSERT_TRUE(status) << "the second platform did not give up";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << *status;
    EXPECT_NE(second->Stderr().find("hearth: another hearth serve is already using the data "
                                    "directory"),
              std::string::npos)
        << second->Stderr();
    EXPECT_EQ(second->Stdout().find("API key"), std::string::npos) << second->Stdout();
  }

  // The first platform's engine is untouched: same process, no restart, still serving.
  EXPECT_EQ(kill(engine, 0), 0) << "the running platform's engine was stopped";
  Completion after = Complete(platform->port, platform->api_key, /*stream=*/false);
  EXPECT_TRUE(after.acknowledged) << after.detail;
  json now = AdminGet(platform->port, token, std::string("/admin/v1/deployments/") + kDeployment);
  ASSERT_TRUE(now.is_object() && now["replica_status"].size() == 1) << now.dump();
  EXPECT_EQ(now["replica_status"][0].value("pid", pid_t{0}), engine) << now.dump();
  EXPECT_EQ(now["replica_status"][0].value("restarts", -1), 0) << now.dump();

  auto stopped = Terminate(*platform);
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0) << *stopped;
  EXPECT_TRUE(NoProcessesLeft(10s));
}

}  // namespace
}  // namespace hearth::e2e
