// GET /admin/v1/usage with errors and group_by=hour, over a real socket on both backends: the
// rows against the recorded events summed in memory, and the tenant boundary for every role.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <tuple>

#include "admin_test_support.h"

namespace hearth::platform::testing {
namespace {

using nlohmann::json;

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kHour0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z

class UsageAdminReportTest : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(IssuedApiKey app, identity().IssueApiKey(acme.id, "acme-app"));
    acme_key_ = app.key;
    const int64_t k = acme_key_.id;
    events_ = {
        {acme.id, k, "llama", kHour0 + 10, 100, 20, false, 200},
        {acme.id, k, "llama", kHour0 + kHourMs - 1, 0, 0, true, 429},
        {acme.id, k, "llama", kHour0 + kHourMs, 50, 5, false, 200},
        {acme.id, k, "", kHour0 + kHourMs + 1, 0, 0, true, 404},
        {acme.id, k, "llama", kHour0 + kHourMs + 2, 7, 3, true, 200},  // a stream that failed
        {acme.id, std::nullopt, "qwen", kHour0 + 2 * kHourMs, 1, 1, false, 200},
        {beta.id, std::nullopt, "llama", kHour0 + 20, 1000, 1000, false, 200},
        {beta.id, std::nullopt, "llama", kHour0 + 30, 0, 0, true, 503},
    };
    ASSERT_OK(store().RecordUsageBatch(events_));
  }

  using Row = std::tuple<int64_t, int64_t, std::string>;  // hour (or -1), key (or 0), deployment
  using Sums = std::array<int64_t, 4>;                    // requests, errors, prompt, completion

  std::map<Row, Sums> Expected(int64_t tenant, bool by_hour, int64_t from = 0,
                               int64_t to = INT64_MAX) const {
    std::map<Row, Sums> sums;
    for (const UsageEvent& e : events_) {
      if (e.tenant_id != tenant || e.at < from || e.at >= to) continue;
      Sums& s = sums[{by_hour ? e.at / kHourMs * kHourMs : -1, e.key_id.value_or(0), e.deployment}];
      s[0] += 1;
      s[1] += e.error ? 1 : 0;
      s[2] += e.prompt_tokens;
      s[3] += e.completion_tokens;
    }
    return sums;
  }

  // The rows of one tenant's report; checks that they come ordered by hour.
  static std::map<Row, Sums> Reported(const json& tenant) {
    std::map<Row, Sums> sums;
    int64_t last_hour = INT64_MIN;
    for (const json& row : tenant["rows"]) {
      const int64_t hour = row.contains("hour") ? row["hour"].get<int64_t>() : -1;
      EXPECT_GE(hour, last_hour) << "rows must be ordered by hour";
      last_hour = hour;
      const int64_t key = row["key_id"].is_null() ? 0 : row["key_id"].get<int64_t>();
      const std::string deployment =
          row["deployment"].is_null() ? std::string() : row["deployment"].get<std::string>();
      sums[{hour, key, deployment}] = {row["requests"].get<int64_t>(), row["errors"].get<int64_t>(),
                                       row["prompt_tokens"].get<int64_t>(),
                                       row["completion_tokens"].get<int64_t>()};
      EXPECT_EQ(row["total_tokens"],
                row["prompt_tokens"].get<int64_t>() + row["completion_tokens"].get<int64_t>());
    }
    return sums;
  }

  ApiKey acme_key_;
  std::vector<UsageEvent> events_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(UsageAdminReportTest);

TEST_P(UsageAdminReportTest, TotalsCarryErrors) {
  AdminResponse r = Call(alice_token, "GET", "/admin/v1/usage");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["group_by"], "total");
  ASSERT_EQ(r.body["tenants"].size(), 1u);
  const json& acme_usage = r.body["tenants"][0];
  EXPECT_EQ(Reported(acme_usage), Expected(acme.id, false));
  EXPECT_EQ(acme_usage["requests"], 6);
  EXPECT_EQ(acme_usage["errors"], 3);
  EXPECT_EQ(acme_usage["prompt_tokens"], 158);
  EXPECT_EQ(acme_usage["completion_tokens"], 29);
  bool saw_no_deployment = false;
  for (const json& row : acme_usage["rows"]) {
    EXPECT_FALSE(row.contains("hour")) << row;
    if (row["deployment"].is_null()) {
      saw_no_deployment = true;
      EXPECT_EQ(row["errors"], 1);
      EXPECT_EQ(row["key_prefix"], acme_key_.prefix);
    }
  }
  EXPECT_TRUE(saw_no_deployment) << "the 404 without a deployment is a row of its own";
}

TEST_P(UsageAdminReportTest, GroupByHourGivesARowPerHourKeyAndDeployment) {
  AdminResponse r = Call(root_token, "GET", "/admin/v1/usage?tenant=acme&group_by=hour");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["group_by"], "hour");
  ASSERT_EQ(r.body["tenants"].size(), 1u);
  const json& acme_usage = r.body["tenants"][0];
  const auto reported = Reported(acme_usage);
  EXPECT_EQ(reported, Expected(acme.id, true));
  // The 429 in the last millisecond of hour 0 and the success in the first of hour 1.
  EXPECT_EQ(reported.at({kHour0, acme_key_.id, "llama"}), (Sums{2, 1, 100, 20}));
  EXPECT_EQ(reported.at({kHour0 + kHourMs, acme_key_.id, "llama"}), (Sums{2, 1, 57, 8}));
  EXPECT_EQ(acme_usage["requests"], 6);
  EXPECT_EQ(acme_usage["errors"], 3);

  // A range cutting through hour 1: that hour holds only what is inside.
  AdminResponse cut = Call(
      root_token, "GET",
      "/admin/v1/usage?tenant=acme&group_by=hour&from=" + std::to_string(kHour0 + kHourMs - 1) +
          "&to=2024-01-01T01:00:00.002Z");
  ASSERT_EQ(cut.status, 200) << cut.raw;
  EXPECT_EQ(Reported(cut.body["tenants"][0]),
            Expected(acme.id, true, kHour0 + kHourMs - 1, kHour0 + kHourMs + 2));
  EXPECT_EQ(cut.body["tenants"][0]["requests"], 3);

  AdminResponse explicit_total = Call(root_token, "GET", "/admin/v1/usage?group_by=total");
  ASSERT_EQ(explicit_total.status, 200);
  EXPECT_EQ(explicit_total.body, Call(root_token, "GET", "/admin/v1/usage").body);
  AdminResponse bad = Call(root_token, "GET", "/admin/v1/usage?group_by=day");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_param(), "group_by");
}

TEST_P(UsageAdminReportTest, HourlyReportsKeepTheTenantBoundary) {
  // Members and tenant admins see their own tenant only, by hour as in totals.
  for (const std::string* token : {&carol_token, &alice_token}) {
    AdminResponse own = Call(*token, "GET", "/admin/v1/usage?group_by=hour");
    ASSERT_EQ(own.status, 200) << own.raw;
    ASSERT_EQ(own.body["tenants"].size(), 1u);
    EXPECT_EQ(own.body["tenants"][0]["tenant"], "acme");
    EXPECT_EQ(Reported(own.body["tenants"][0]), Expected(acme.id, true));
    EXPECT_EQ(Call(*token, "GET", "/admin/v1/usage?tenant=beta&group_by=hour").status, 404);
  }
  AdminResponse bob_view = Call(bob_token, "GET", "/admin/v1/usage?group_by=hour");
  ASSERT_EQ(bob_view.status, 200);
  ASSERT_EQ(bob_view.body["tenants"].size(), 1u);
  EXPECT_EQ(bob_view.body["tenants"][0]["tenant"], "beta");
  EXPECT_EQ(Reported(bob_view.body["tenants"][0]), Expected(beta.id, true));
  EXPECT_EQ(bob_view.body["tenants"][0]["errors"], 1);

  AdminResponse all = Call(root_token, "GET", "/admin/v1/usage?group_by=hour");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.body["tenants"].size(), 2u);
  EXPECT_EQ(Reported(all.body["tenants"][0]), Expected(acme.id, true));
  EXPECT_EQ(Reported(all.body["tenants"][1]), Expected(beta.id, true));
}

}  // namespace
}  // namespace hearth::platform::testing
