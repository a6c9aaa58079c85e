// The admin API's usage reports and audit log over a real socket, on both store backends.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <set>

#include "admin_test_support.h"

namespace hearth::platform::testing {
namespace {

using nlohmann::json;

class AdminReportsTest : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(IssuedApiKey acme_key, identity().IssueApiKey(acme.id, "acme-app"));
    acme_key_ = acme_key.key;
    // Events in three hours; the report's ranges below cut between them.
    events_ = {
        {acme.id, acme_key_.id, "llama", kHour0 + 10, 100, 20},
        {acme.id, acme_key_.id, "llama", kHour0 + 3'600'000, 50, 5},
        {acme.id, acme_key_.id, "qwen", kHour0 + 3'600'001, 7, 3},
        {acme.id, std::nullopt, "llama", kHour0 + 7'200'000, 1, 1},
        {beta.id, std::nullopt, "llama", kHour0 + 20, 1000, 1000},
    };
    ASSERT_OK(store().RecordUsageBatch(events_));
  }

  // Sums of the recorded events of one tenant in [from, to), per (key, deployment).
  std::map<std::pair<int64_t, std::string>, std::array<int64_t, 3>> Expected(int64_t tenant,
                                                                             int64_t from,
                                                                             int64_t to) {
    std::map<std::pair<int64_t, std::string>, std::array<int64_t, 3>> sums;
    for (const UsageEvent& e : events_) {
      if (e.tenant_id != tenant || e.at < from || e.at >= to) continue;
      auto& sum = sums[{e.key_id.value_or(0), e.deployment}];
      sum[0] += 1;
      sum[1] += e.prompt_tokens;
      sum[2] += e.completion_tokens;
    }
    return sums;
  }

  static std::map<std::pair<int64_t, std::string>, std::array<int64_t, 3>> Reported(
      const json& tenant) {
    std::map<std::pair<int64_t, std::string>, std::array<int64_t, 3>> sums;
    for (const json& row : tenant["rows"]) {
      int64_t key = row["key_id"].is_null() ? 0 : row["key_id"].get<int64_t>();
      sums[{key, row["deployment"]}] = {row["requests"].get<int64_t>(),
                                        row["prompt_tokens"].get<int64_t>(),
                                        row["completion_tokens"].get<int64_t>()};
    }
    return sums;
  }

  static constexpr int64_t kHour0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  ApiKey acme_key_;
  std::vector<UsageEvent> events_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(AdminReportsTest);

TEST_P(AdminReportsTest, UsageReportsTheRecordedTotals) {
  AdminResponse all = Call(alice_token, "GET", "/admin/v1/usage?tenant=acme");
  ASSERT_EQ(all.status, 200) << all.raw;
  ASSERT_EQ(all.body["tenants"].size(), 1u);
  const json& acme_usage = all.body["tenants"][0];
  EXPECT_EQ(acme_usage["tenant"], "acme");
  EXPECT_EQ(Reported(acme_usage), Expected(acme.id, 0, INT64_MAX));
  EXPECT_EQ(acme_usage["requests"], 4);
  EXPECT_EQ(acme_usage["prompt_tokens"], 158);
  EXPECT_EQ(acme_usage["completion_tokens"], 29);
  for (const json& row : acme_usage["rows"]) {
    if (!row["key_id"].is_null()) {
      EXPECT_EQ(row["key_prefix"], acme_key_.prefix);
    }
  }

  // The second hour only, as ISO-8601 and as Unix ms.
  const std::string iso = "/admin/v1/usage?from=2024-01-01T01:00:00Z&to=2024-01-01T02:00:00Z";
  AdminResponse hour = Call(alice_token, "GET", iso);
  ASSERT_EQ(hour.status, 200) << hour.raw;
  EXPECT_EQ(hour.body["from"], kHour0 + 3'600'000);
  EXPECT_EQ(Reported(hour.body["tenants"][0]),
            Expected(acme.id, kHour0 + 3'600'000, kHour0 + 7'200'000));
  AdminResponse hour_ms = Call(alice_token, "GET",
                               "/admin/v1/usage?from=" + std::to_string(kHour0 + 3'600'000) +
                                   "&to=" + std::to_string(kHour0 + 7'200'000));
  EXPECT_EQ(hour_ms.body["tenants"], hour.body["tenants"]);
}

TEST_P(AdminReportsTest, UsageIsScopedToTheCallersTenant) {
  AdminResponse member = Call(carol_token, "GET", "/admin/v1/usage");
  ASSERT_EQ(member.status, 200) << member.raw;
  ASSERT_EQ(member.body["tenants"].size(), 1u);
  EXPECT_EQ(member.body["tenants"][0]["tenant"], "acme");
  EXPECT_EQ(Call(carol_token, "GET", "/admin/v1/usage?tenant=beta").status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/usage?tenant=beta").status, 404);

  AdminResponse everything = Call(root_token, "GET", "/admin/v1/usage");
  ASSERT_EQ(everything.status, 200);
  ASSERT_EQ(everything.body["tenants"].size(), 2u);
  EXPECT_EQ(Reported(everything.body["tenants"][1]), Expected(beta.id, 0, INT64_MAX));

  AdminResponse bad = Call(root_token, "GET", "/admin/v1/usage?from=yesterday");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_param(), "from");
  AdminResponse backwards = Call(root_token, "GET", "/admin/v1/usage?from=10&to=5");
  EXPECT_EQ(backwards.status, 400);
}

TEST_P(AdminReportsTest, TheAuditLogFiltersAndPages) {
  ASSERT_EQ(Call(root_token, "POST", "/admin/v1/tenants", {{"name", "gamma"}}).status, 201);
  ASSERT_EQ(Call(root_token, "POST", "/admin/v1/tenants", {{"name", "delta"}}).status, 201);
  AdminResponse creates = Call(root_token, "GET", "/admin/v1/audit?action=tenant.create");
  ASSERT_EQ(creates.status, 200) << creates.raw;
  ASSERT_EQ(creates.body["data"].size(), 2u);
  EXPECT_EQ(creates.body["data"][0]["target"], "tenant:delta");  // newest first
  EXPECT_EQ(creates.body["data"][1]["target"], "tenant:gamma");
  EXPECT_TRUE(creates.body["next_before_id"].is_null());

  AdminResponse page1 = Call(root_token, "GET", "/admin/v1/audit?action=tenant.create&limit=1");
  ASSERT_EQ(page1.body["data"].size(), 1u);
  const int64_t cursor = page1.body["next_before_id"];
  AdminResponse page2 =
      Call(root_token, "GET",
           "/admin/v1/audit?action=tenant.create&limit=1&before_id=" + std::to_string(cursor));
  ASSERT_EQ(page2.body["data"].size(), 1u);
  EXPECT_EQ(page2.body["data"][0]["target"], "tenant:gamma");

  AdminResponse logins =
      Call(root_token, "GET", "/admin/v1/audit?actor=user%3Abob&action=login&result=ok");
  ASSERT_EQ(logins.body["data"].size(), 1u);
  EXPECT_EQ(logins.body["data"][0]["target"], "tenant:beta/user:bob");

  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/audit?limit=0").error_param(), "limit");
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/audit?before_id=x").error_param(), "before_id");
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/audit?to=someday").error_param(), "to");
}

TEST_P(AdminReportsTest, ATenantAdminReadsOnlyEntriesAboutItsTenant) {
  ASSERT_EQ(Call(bob_token, "POST", "/admin/v1/users",
                 {{"username", "beta-user"}, {"password", kPassword}})
                .status,
            201);
  ASSERT_EQ(Call(alice_token, "POST", "/admin/v1/users",
                 {{"username", "acme-user"}, {"password", kPassword}})
                .status,
            201);
  AdminResponse seen = Call(alice_token, "GET", "/admin/v1/audit?limit=1000");
  ASSERT_EQ(seen.status, 200) << seen.raw;
  std::set<std::string> targets;
  for (const json& entry : seen.body["data"]) {
    const std::string target = entry["target"];
    EXPECT_TRUE(target.starts_with("tenant:acme/")) << target;
    targets.insert(target);
  }
  EXPECT_TRUE(targets.contains("tenant:acme/user:acme-user"));
  EXPECT_TRUE(targets.contains("tenant:acme/user:alice"));  // alice's login
  // Even asking for beta's entries by name returns nothing.
  AdminResponse probe =
      Call(alice_token, "GET", "/admin/v1/audit?target=tenant%3Abeta%2Fuser%3Abeta-user");
  ASSERT_EQ(probe.status, 200);
  EXPECT_TRUE(probe.body["data"].empty());
  AdminResponse as_root =
      Call(root_token, "GET", "/admin/v1/audit?target=tenant%3Abeta%2Fuser%3Abeta-user");
  EXPECT_EQ(as_root.body["data"].size(), 1u);
}

}  // namespace
}  // namespace hearth::platform::testing
