// `hearth usage` as a process over a SQLite store in a data directory (the report itself is
// checked on both backends through the admin API in admin_reports_test.cc).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "backends.h"
#include "hearth/platform/store.h"
#include "support/fixtures.h"

namespace hearth::platform::testing {
namespace {

using hearth::testing::HearthBinary;
using hearth::testing::RunCommand;

class UsageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(HearthBinary())) {
      if (hearth::testing::RunningUnderCi()) FAIL() << "hearth binary missing: " << HearthBinary();
      GTEST_SKIP() << "build the hearth target first";
    }
    auto store = OpenSqliteStore(DefaultStorePath(dir_.path()));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  std::string Hearth(const std::string& args) {
    return HearthBinary().string() + " --data-dir " + dir_.path().string() + " usage " + args;
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(UsageCliTest, PrintsTheRecordedTotalsPerTenantKeyAndDeployment) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store_->CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant beta, store_->CreateTenant("beta"));
  ASSERT_OK_AND_ASSIGN(
      ApiKey key,
      store_->CreateApiKey({acme.id, "ci", "abcdefgh", std::string(64, 'a'), {}, std::nullopt}));
  const int64_t t0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  std::vector<UsageEvent> events = {
      {acme.id, key.id, "llama", t0 + 1, 10, 2},
      {acme.id, key.id, "llama", t0 + 2, 30, 4},
      {acme.id, std::nullopt, "qwen", t0 + 86'400'000, 5, 5},  // the next day
      {beta.id, std::nullopt, "llama", t0 + 3, 100, 1},
  };
  ASSERT_OK(store_->RecordUsageBatch(events));

  auto all = RunCommand(Hearth("--json"));
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto report = nlohmann::json::parse(all.out);
  ASSERT_EQ(report["tenants"].size(), 2u);
  const auto& acme_report = report["tenants"][0];
  EXPECT_EQ(acme_report["tenant"], "acme");
  EXPECT_EQ(acme_report["requests"], 3);
  EXPECT_EQ(acme_report["prompt_tokens"], 45);
  EXPECT_EQ(acme_report["completion_tokens"], 11);
  ASSERT_EQ(acme_report["rows"].size(), 2u);
  EXPECT_TRUE(acme_report["rows"][0]["key_id"].is_null());  // console traffic first
  EXPECT_EQ(acme_report["rows"][1]["key_prefix"], "abcdefgh");
  EXPECT_EQ(acme_report["rows"][1]["requests"], 2);
  EXPECT_EQ(acme_report["rows"][1]["prompt_tokens"], 40);
  EXPECT_EQ(report["tenants"][1]["prompt_tokens"], 100);

  auto first_day = RunCommand(Hearth("--tenant acme --from 2024-01-01 --to 2024-01-02 --json"));
  ASSERT_EQ(first_day.exit_code, 0) << first_day.err;
  report = nlohmann::json::parse(first_day.out);
  ASSERT_EQ(report["tenants"].size(), 1u);
  EXPECT_EQ(report["tenants"][0]["requests"], 2);
  EXPECT_EQ(report["from"], t0);

  auto table = RunCommand(Hearth("--tenant beta"));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("beta"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("100"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("acme"), std::string::npos) << table.out;
}

TEST_F(UsageCliTest, ShowsErrorsAndAnHourlyBreakdown) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store_->CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(
      ApiKey key,
      store_->CreateApiKey({acme.id, "ci", "abcdefgh", std::string(64, 'a'), {}, std::nullopt}));
  const int64_t t0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  const int64_t hour = 3'600'000;
  std::vector<UsageEvent> events = {
      {acme.id, key.id, "llama", t0 + hour - 1, 10, 2, false, 200},
      {acme.id, key.id, "llama", t0 + hour - 1, 0, 0, true, 429},
      {acme.id, key.id, "llama", t0 + hour, 30, 4, false, 200},  // the next hour
      {acme.id, key.id, "", t0 + hour + 5, 0, 0, true, 404},     // no deployment
  };
  ASSERT_OK(store_->RecordUsageBatch(events));

  auto totals = RunCommand(Hearth("--json"));
  ASSERT_EQ(totals.exit_code, 0) << totals.err;
  auto report = nlohmann::json::parse(totals.out);
  EXPECT_EQ(report["group_by"], "total");
  EXPECT_EQ(report["tenants"][0]["requests"], 4);
  EXPECT_EQ(report["tenants"][0]["errors"], 2);

  auto hourly = RunCommand(Hearth("--by-hour --json"));
  ASSERT_EQ(hourly.exit_code, 0) << hourly.err;
  report = nlohmann::json::parse(hourly.out);
  EXPECT_EQ(report["group_by"], "hour");
  const auto& rows = report["tenants"][0]["rows"];
  ASSERT_EQ(rows.size(), 3u) << hourly.out;
  EXPECT_EQ(rows[0]["hour"], t0);
  EXPECT_EQ(rows[0]["deployment"], "llama");
  EXPECT_EQ(rows[0]["requests"], 2);
  EXPECT_EQ(rows[0]["errors"], 1);
  EXPECT_EQ(rows[0]["prompt_tokens"], 10);
  EXPECT_EQ(rows[1]["hour"], t0 + hour);
  EXPECT_TRUE(rows[1]["deployment"].is_null());  // "" sorts before "llama"
  EXPECT_EQ(rows[1]["errors"], 1);
  EXPECT_EQ(rows[2]["hour"], t0 + hour);
  EXPECT_EQ(rows[2]["requests"], 1);
  EXPECT_EQ(rows[2]["errors"], 0);
  EXPECT_EQ(rows[2]["prompt_tokens"], 30);

  // The table: an HOUR column with UTC hours, an ERRORS column, "-" for no deployment.
  auto table = RunCommand(Hearth("--by-hour"));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines;
  for (size_t pos = 0, eol; (eol = table.out.find('\n', pos)) != std::string::npos; pos = eol + 1) {
    lines.push_back(table.out.substr(pos, eol - pos));
  }
  auto line_with = [&](const std::string& a, const std::string& b) -> std::string {
    for (const auto& l : lines) {
      if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return l;
    }
    return "";
  };
  EXPECT_NE(line_with("HOUR", "ERRORS"), "") << table.out;
  const std::string first = line_with("2024-01-01T00:00:00", "llama");
  ASSERT_NE(first, "") << table.out;
  std::istringstream fields(first.substr(first.find("llama")));
  std::string deployment;
  int64_t requests = 0, errors = 0, prompt = 0, completion = 0;
  fields >> deployment >> requests >> errors >> prompt >> completion;
  EXPECT_EQ(std::vector<int64_t>({requests, errors, prompt, completion}),
            std::vector<int64_t>({2, 1, 10, 2}))
      << first;
  EXPECT_NE(line_with("2024-01-01T01:00:00", " - "), "") << table.out;
  const std::string total = line_with("acme", "(total)");
  ASSERT_NE(total, "") << table.out;
  std::istringstream total_fields(total.substr(total.find("(total)") + 7));
  total_fields >> requests >> errors;
  EXPECT_EQ(requests, 4) << total;
  EXPECT_EQ(errors, 2) << total;
}

TEST_F(UsageCliTest, BadInputIsOneClearLine) {
  auto unknown = RunCommand(Hearth("--tenant nosuch"));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(unknown.err.starts_with("hearth: ")) << unknown.err;
  EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1) << unknown.err;

  auto bad_time = RunCommand(Hearth("--from yesterday"));
  EXPECT_NE(bad_time.exit_code, 0);
  EXPECT_NE(bad_time.err.find("--from"), std::string::npos) << bad_time.err;

  hearth::testing::TempDir empty;
  auto no_store =
      RunCommand(HearthBinary().string() + " --data-dir " + empty.path().string() + " usage");
  EXPECT_NE(no_store.exit_code, 0);
  EXPECT_NE(no_store.err.find("no store"), std::string::npos) << no_store.err;
  EXPECT_FALSE(std::filesystem::exists(DefaultStorePath(empty.path())));
}

}  // namespace
}  // namespace hearth::platform::testing
