// The quick start (short form) on PostgreSQL: `hearth serve --database postgres://…`.
//
// The platform has no schema option, so the test isolates itself the way the store tests do (a
// fresh schema, dropped afterwards) by naming the schema in the DSN: libpq's
// `options=-csearch_path=SCHEMA` makes every unqualified table land there. Without
// $HEARTH_TEST_POSTGRES_DSN the test is skipped, or fails under CI=true.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <variant>

#include "hearth/platform/postgres_driver.h"
#include "platform_fixture.h"

namespace hearth::e2e {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kDsnEnv[] = "HEARTH_TEST_POSTGRES_DSN";

class PlatformPostgresE2eTest : public PlatformE2eTest {
 protected:
  void SetUp() override {
    const char* dsn = std::getenv(kDsnEnv);
    if (dsn == nullptr || *dsn == '\0') {
      if (hearth::testing::RunningUnderCi()) {
        FAIL() << kDsnEnv << " is not set under CI (scripts/start-postgres.sh prints it)";
      }
      GTEST_SKIP() << "the PostgreSQL end-to-end test needs " << kDsnEnv;
    }
    dsn_ = dsn;
    std::random_device rd;
    schema_ = "hearth_e2e_" + std::to_string(getpid()) + "_" + std::to_string(rd());
    auto db = platform::OpenPostgresDriver(dsn_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto created = (*db)->ExecuteScript("CREATE SCHEMA " + schema_);
    ASSERT_TRUE(created.ok()) << created.ToString();
    database_ = dsn_ + (dsn_.find('?') == std::string::npos ? "?" : "&") +
                "options=-csearch_path%3D" + schema_;
    PlatformE2eTest::SetUp();
  }

  void TearDown() override {
    PlatformE2eTest::TearDown();
    if (schema_.empty()) return;
    auto db = platform::OpenPostgresDriver(dsn_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_TRUE((*db)->ExecuteScript("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE").ok());
  }

  std::string dsn_;
  std::string schema_;
};

// The rows the platform wrote are in the test's schema (so the isolation is real).
int64_t CountRows(const std::string& dsn, const std::string& schema, const std::string& table) {
  platform::PostgresOptions options;
  options.schema = schema;
  auto db = platform::OpenPostgresDriver(dsn, options);
  if (!db.ok()) return -1;
  auto rows = (*db)->Query("SELECT COUNT(*) FROM " + table, {});
  if (!rows.ok() || rows->size() != 1 || (*rows)[0].size() != 1) return -1;
  const int64_t* count = std::get_if<int64_t>(&(*rows)[0][0]);
  return count != nullptr ? *count : -1;
}

TEST_F(PlatformPostgresE2eTest, QuickStartOnPostgres) {
  auto platform = StartPlatform();
  ASSERT_TRUE(platform);
  EXPECT_FALSE(std::filesystem::exists(data_dir() / "platform.db"))
      << "a SQLite store was created although --database names PostgreSQL";
  ASSERT_TRUE(WaitUntilServing(platform->port, platform->api_key));
  Completion streamed = Complete(platform->port, platform->api_key, /*stream=*/true);
  EXPECT_TRUE(streamed.acknowledged) << streamed.detail;
  HttpReply anonymous = HttpCall(platform->port, "GET", "/v1/models");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_FALSE(AdminToken(platform->port).empty());

  auto status = Terminate(*platform);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_TRUE(NoProcessesLeft(10s));

  // Both completions were recorded in the test's schema, and `hearth usage` reads them back.
  EXPECT_EQ(CountRows(dsn_, schema_, "deployments"), 1);
  auto usage = hearth::testing::RunCommand(hearth::testing::HearthBinary().string() +
                                           " --data-dir " + data_dir().string() +
                                           " usage --json --database '" + database_ + "'");
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  json report = json::parse(usage.out, nullptr, false);
  ASSERT_TRUE(report.is_object() && report["tenants"].is_array() &&
              report["tenants"].size() == 1)
      << usage.out;
  EXPECT_GE(report["tenants"][0].value("requests", int64_t{0}), 2) << usage.out;
}

}  // namespace
}  // namespace hearth::e2e
