// `hearth usage` as a process over a SQLite store in a data directory (the report itself is
// checked on both backends through the admin API in admin_reports_test.cc).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
