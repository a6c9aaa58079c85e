// Usage metering through the gateway, on both store backends: every request answered after the
// API key is authenticated is one usage row (a failed one marked as an error), a request refused
// at authentication is none, and each answer arrives only once its row is committed. The engine
// is a scripted HttpServer (ok, engine refusal, stream ending in an error event); the report is
// the one GET /admin/v1/usage and `hearth usage` print (CollectUsage).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "backends.h"
#include "gateway_test_support.h"
#include "hearth/platform/admin_usage_report.h"
#include "hearth/platform/gateway.h"
#include "hearth/server/http_server.h"
#include "hearth/server/sse.h"
#include "support/http_test_client.h"

namespace hearth::platform::testing {
namespace {

using nlohmann::json;
using server::testing::Bearer;
using server::testing::Fetch;
using server::testing::ParseSse;

constexpr int64_t kPromptTokens = 5;
constexpr int64_t kCompletionTokens = 3;

// An engine: prompt "refuse" gets a 400; a stream sends one content event, then an error event
// and [DONE] (the engine failed mid-generation); anything else a completion with usage.
class FakeEngine {
 public:
  FakeEngine() {
    server::HttpServerOptions options;
    options.io_threads = 1;
    server_ = std::make_unique<server::HttpServer>(
        options,
        [](server::HttpRequest& request, const std::shared_ptr<server::ResponseChannel>& channel) {
          const json body = json::parse(request.body(), nullptr, false);
          if (body.value("prompt", "") == "refuse") {
            channel->Respond(
                400, "application/json",
                R"({"error":{"message":"prompt refused","type":"invalid_request_error"}})");
            return;
          }
          if (body.value("stream", false)) {
            channel->BeginStream(200, "text/event-stream");
            json chunk = {{"object", "text_completion"},
                          {"model", "engine"},
                          {"choices", {{{"index", 0}, {"text", "Hi"}}}}};
            channel->Write(server::SseEvent(chunk.dump()));
            channel->Write(
                server::SseEvent(R"({"error":{"message":"decode failed","type":"server_error"}})"));
            channel->Write(std::string(server::kSseDone));
            channel->EndStream();
            return;
          }
          const json answer = {
              {"object", "text_completion"},
              {"model", "engine"},
              {"choices", {{{"index", 0}, {"text", "Hello"}, {"finish_reason", "length"}}}},
              {"usage",
               {{"prompt_tokens", kPromptTokens},
                {"completion_tokens", kCompletionTokens},
                {"total_tokens", kPromptTokens + kCompletionTokens}}}};
          channel->Respond(200, "application/json", answer.dump());
        },
        nullptr);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakeEngine() { server_->Stop(); }
  uint16_t port() const { return server_->port(); }

 private:
  std::unique_ptr<server::HttpServer> server_;
};

class UsageGatewayTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    now_ms = kHour0 + kHourMs - 1'000;  // a second before an hour ends
    identity_ = std::make_unique<Identity>(store(), TestIdentityOptions([this] { return now_ms; }));
    ASSERT_OK_AND_ASSIGN(tenant_, store().CreateTenant("acme"));
    ASSERT_OK_AND_ASSIGN(IssuedApiKey key, identity_->IssueApiKey(tenant_.id, "app"));
    key_ = key.plaintext;
    key_id_ = key.key.id;
    directory_.Set("fake", {tenant_.id}, {{1, "127.0.0.1", engine_.port()}}, 1);
    directory_.Set("idle", {tenant_.id}, {}, 1);

    ASSERT_OK_AND_ASSIGN(front_, GatewayFront::Start(store(), *identity_, directory_,
                                                     TestGatewayOptions([this] { return now_ms; }),
                                                     /*io_threads=*/1));
  }

  void TearDown() override {
    front_.reset();
    identity_.reset();
    BackendTest::TearDown();
  }

  static std::string Completion(const std::string& model, bool stream = false,
                                const std::string& prompt = "Once") {
    return json{{"model", model}, {"prompt", prompt}, {"max_tokens", 4}, {"stream", stream}}.dump();
  }

  int Post(const std::string& body, const std::string& key = "") {
    auto r =
        Fetch(front_->port(), "POST", "/v1/completions", body, Bearer(key.empty() ? key_ : key));
    EXPECT_TRUE(r.has_value());
    return r ? r->status : 0;
  }

  // The tenant's report as the admin API and the CLI build it.
  TenantUsageReport Report(UsageGrouping grouping = UsageGrouping::kTotal) {
    auto report = CollectUsage(store(), tenant_.id, 0, INT64_MAX, grouping);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report->tenants.at(0) : TenantUsageReport{};
  }

  static const UsageTotals* Row(const TenantUsageReport& report, const std::string& deployment) {
    for (const auto& row : report.rows) {
      if (row.totals.deployment == deployment) return &row.totals;
    }
    return nullptr;
  }

  static constexpr int64_t kHourMs = 3'600'000;
  static constexpr int64_t kHour0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  FakeEngine engine_;
  TestDirectory directory_;
  std::unique_ptr<Identity> identity_;
  Tenant tenant_;
  std::string key_;
  int64_t key_id_ = 0;
  std::unique_ptr<GatewayFront> front_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(UsageGatewayTest);

TEST_P(UsageGatewayTest, FailedRequestsAreCountedAsErrorsOfTheKey) {
  ASSERT_OK(store().SetQuota(QuotaSubject::ApiKey(key_id_), Rpm(2)));
  EXPECT_EQ(Post(Completion("fake")), 200);
  EXPECT_EQ(Post(Completion("fake")), 200);
  EXPECT_EQ(Post(Completion("no-such-model")), 404);  // not admitted: uses no quota
  EXPECT_EQ(Post(Completion("fake")), 429);
  // Refused before authentication: no key to charge, no row.
  EXPECT_EQ(Post(Completion("fake"), "hk-abcdefgh-" + std::string(32, 'x')), 401);

  // Every answer was sent after its row committed: no flush needed.
  const TenantUsageReport report = Report();
  EXPECT_EQ(report.requests, 4);
  EXPECT_EQ(report.errors, 2);
  EXPECT_EQ(report.prompt_tokens, 2 * kPromptTokens);
  EXPECT_EQ(report.completion_tokens, 2 * kCompletionTokens);
  ASSERT_EQ(report.rows.size(), 2u);
  const UsageTotals* fake = Row(report, "fake");
  ASSERT_NE(fake, nullptr);
  EXPECT_EQ(fake->key_id, key_id_);
  EXPECT_EQ(fake->requests, 3);
  EXPECT_EQ(fake->errors, 1);
  const UsageTotals* unknown = Row(report, "");  // the model named no usable deployment
  ASSERT_NE(unknown, nullptr);
  EXPECT_EQ(unknown->key_id, key_id_);
  EXPECT_EQ(unknown->requests, 1);
  EXPECT_EQ(unknown->errors, 1);
  EXPECT_EQ(unknown->prompt_tokens + unknown->completion_tokens, 0);
  const json as_json = UsageReportJson(*CollectUsage(store(), tenant_.id, 0, INT64_MAX));
  EXPECT_EQ(as_json["tenants"][0]["requests"], 4);
  EXPECT_EQ(as_json["tenants"][0]["errors"], 2);
}

TEST_P(UsageGatewayTest, EveryFailureKindIsOneErrorRowAndNothingIsCountedTwice) {
  EXPECT_EQ(Post("not json"), 400);
  EXPECT_EQ(Post(Completion("fake", false, "refuse")), 400);  // the engine's refusal
  EXPECT_EQ(Post(Completion("idle")), 503);                   // no ready replica
  EXPECT_EQ(Post(R"({"model":"fake","prompt":"x","stream":"yes"})"), 400);
  auto wrong_method = Fetch(front_->port(), "GET", "/v1/completions", "", Bearer(key_));
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  // A stream that the engine ends with an error event: 200 on the wire, an error in the usage,
  // billed what it delivered (one content event).
  auto stream =
      Fetch(front_->port(), "POST", "/v1/completions", Completion("fake", true), Bearer(key_));
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 200);
  auto events = ParseSse(stream->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  // A listing and a success.
  auto models = Fetch(front_->port(), "GET", "/v1/models", "", Bearer(key_));
  ASSERT_TRUE(models && models->status == 200);
  EXPECT_EQ(Post(Completion("fake")), 200);

  const TenantUsageReport report = Report();
  EXPECT_EQ(report.requests, 8);
  EXPECT_EQ(report.errors, 6);
  const UsageTotals* fake = Row(report, "fake");
  ASSERT_NE(fake, nullptr);
  // refuse, bad 'stream', failed stream, success
  EXPECT_EQ(fake->requests, 4);
  EXPECT_EQ(fake->errors, 3);
  EXPECT_EQ(fake->prompt_tokens, kPromptTokens);
  EXPECT_EQ(fake->completion_tokens, kCompletionTokens + 1);
  const UsageTotals* idle = Row(report, "idle");
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->requests, 1);
  EXPECT_EQ(idle->errors, 1);
  const UsageTotals* none = Row(report, "");  // bad body, wrong method, the listing
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(none->requests, 3);
  EXPECT_EQ(none->errors, 2);

  // The meter committed exactly one event per request, none of them twice.
  front_->gateway().usage_meter().Flush();
  EXPECT_EQ(front_->gateway().usage_meter().stats().events_committed, 8);
  EXPECT_EQ(front_->gateway().usage_meter().stats().events_failed, 0);
}

TEST_P(UsageGatewayTest, RequestsAroundAnHourBoundaryLandInTheirHours) {
  EXPECT_EQ(Post(Completion("fake")), 200);  // 00:59:59
  EXPECT_EQ(Post(Completion("missing")), 404);
  now_ms += 1'000;  // 01:00:00.000
  EXPECT_EQ(Post(Completion("fake")), 200);
  EXPECT_EQ(Post(Completion("fake", false, "refuse")), 400);
  const TenantUsageReport report = Report(UsageGrouping::kHour);
  ASSERT_EQ(report.rows.size(), 3u);
  EXPECT_EQ(report.rows[0].hour, kHour0);
  EXPECT_EQ(report.rows[0].totals.deployment, "");
  EXPECT_EQ(report.rows[0].totals.errors, 1);
  EXPECT_EQ(report.rows[1].hour, kHour0);
  EXPECT_EQ(report.rows[1].totals.deployment, "fake");
  EXPECT_EQ(report.rows[1].totals.requests, 1);
  EXPECT_EQ(report.rows[1].totals.errors, 0);
  EXPECT_EQ(report.rows[1].totals.prompt_tokens, kPromptTokens);
  EXPECT_EQ(report.rows[2].hour, kHour0 + kHourMs);
  EXPECT_EQ(report.rows[2].totals.deployment, "fake");
  EXPECT_EQ(report.rows[2].totals.requests, 2);
  EXPECT_EQ(report.rows[2].totals.errors, 1);
  EXPECT_EQ(report.rows[2].totals.prompt_tokens, kPromptTokens);
  EXPECT_EQ(report.requests, 4);
  EXPECT_EQ(report.errors, 2);
}

}  // namespace
}  // namespace hearth::platform::testing
