// `hearth serve --model FILE` end to end: the printed key works on the OpenAI API, the admin
// API logs in, and SIGTERM stops the platform and its engines cleanly (issue #8).
#include <signal.h>
#include <sys/wait.h>

#include "platform_fixture.h"

namespace hearth::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST_F(PlatformE2eTest, QuickStartServesTheModelWithThePrintedKey) {
  auto platform = StartPlatform();
  ASSERT_TRUE(platform);
  ASSERT_EQ(platform->api_key.rfind("hk-", 0), 0u) << platform->api_key;

  // The deployment is listed for the key before its replica is ready.
  HttpReply models =
      HttpCall(platform->port, "GET", "/v1/models", {}, JsonWithBearer(platform->api_key));
  ASSERT_EQ(models.status, 200) << models.body << models.error;
  json listed = json::parse(models.body, nullptr, false);
  ASSERT_TRUE(listed.is_object() && listed["data"].is_array()) << models.body;
  ASSERT_EQ(listed["data"].size(), 1u) << models.body;
  EXPECT_EQ(listed["data"][0]["id"], kDeployment);

  // No key, or a wrong one: 401 with the OpenAI error shape.
  HttpReply anonymous = HttpCall(platform->port, "GET", "/v1/models");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_NE(anonymous.body.find("invalid_api_key"), std::string::npos) << anonymous.body;
  HttpReply wrong = HttpCall(platform->port, "POST", "/v1/chat/completions", "{}",
                             JsonWithBearer(platform->api_key + "x"));
  EXPECT_EQ(wrong.status, 401) << wrong.body;

  ASSERT_TRUE(WaitUntilServing(platform->port, platform->api_key));
  Completion plain = Complete(platform->port, platform->api_key, /*stream=*/false);
  EXPECT_TRUE(plain.acknowledged) << plain.detail;
  EXPECT_GT(plain.prompt_tokens, 0);
  EXPECT_GT(plain.completion_tokens, 0);
  EXPECT_LE(plain.completion_tokens, 4);
  Completion streamed = Complete(platform->port, platform->api_key, /*stream=*/true);
  EXPECT_TRUE(streamed.acknowledged) << streamed.detail;
  EXPECT_EQ(streamed.prompt_tokens, plain.prompt_tokens);  // same prompt, same template

  // The admin API: the bootstrap admin logs in (a wrong password does not).
  std::string token = AdminToken(platform->port);
  ASSERT_FALSE(token.empty());
  json me = AdminGet(platform->port, token, "/admin/v1/me");
  EXPECT_EQ(me.value("username", ""), "admin") << me.dump();
  HttpReply bad_login = HttpCall(platform->port, "POST", "/admin/v1/login",
                                 R"({"username":"admin","password":"not-it"})");
  EXPECT_EQ(bad_login.status, 401) << bad_login.body;

  HttpReply health = HttpCall(platform->port, "GET", "/health");
  EXPECT_EQ(health.status, 200) << health.body;
  HttpReply metrics = HttpCall(platform->port, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("hearth_platform_replicas{deployment=\"tiny\",state=\"ready\"} 1"),
            std::string::npos)
      << metrics.body;

  // The engine replica is a child process whose command line names the data directory.
  ASSERT_GE(ProcessesMentioning(data_dir().string()).size(), 2u);

  std::optional<int> status = Terminate(*platform);
  ASSERT_TRUE(status) << "the platform did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status
                                                                << platform->process->Stderr();
  EXPECT_TRUE(NoProcessesLeft(10s)) << "engine processes survived the platform";
}

}  // namespace
}  // namespace hearth::e2e
