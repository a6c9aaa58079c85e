#include "hearth/platform/sql_driver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "backends.h"
#include "hearth/platform/postgres_driver.h"

namespace hearth::platform::testing {
namespace {

TEST(PlaceholderTest, NumbersQuestionMarksOutsideQuotesAndComments) {
  EXPECT_EQ(TranslatePlaceholders("SELECT 1"), "SELECT 1");
  EXPECT_EQ(TranslatePlaceholders("INSERT INTO t VALUES (?, ?, ?)"),
            "INSERT INTO t VALUES ($1, $2, $3)");
  EXPECT_EQ(TranslatePlaceholders("SELECT '?', \"a?b\", ? FROM t WHERE x = ?"),
            "SELECT '?', \"a?b\", $1 FROM t WHERE x = $2");
  EXPECT_EQ(TranslatePlaceholders("SELECT 'it''s ?' || ?"), "SELECT 'it''s ?' || $1");
  EXPECT_EQ(TranslatePlaceholders("SELECT ? -- why?\n, ? /* ? */ , ?"),
            "SELECT $1 -- why?\n, $2 /* ? */ , $3");
  EXPECT_EQ(TranslatePlaceholders("SELECT 'unterminated ?"), "SELECT 'unterminated ?");
  std::string many;
  for (int i = 0; i < 12; ++i) many += "?";
  EXPECT_EQ(TranslatePlaceholders(many), "$1$2$3$4$5$6$7$8$9$10$11$12");
}

TEST(RowReaderTest, ChecksTypesAndReportsTheFirstMismatch) {
  SqlRow row = {int64_t{5}, std::string("x"), std::monostate{}, std::monostate{}};
  RowReader ok(row);
  EXPECT_EQ(ok.Int(), 5);
  EXPECT_EQ(ok.Text(), "x");
  EXPECT_FALSE(ok.OptionalInt().has_value());
  EXPECT_FALSE(ok.OptionalText().has_value());
  ASSERT_OK(ok.status());

  RowReader wrong_type(row);
  wrong_type.Text();
  EXPECT_EQ(wrong_type.status().code(), StatusCode::kCorruption);

  RowReader null_required(row);
  null_required.Int();
  null_required.Text();
  null_required.Int();
  EXPECT_EQ(null_required.status().code(), StatusCode::kCorruption);

  RowReader too_far(row);
  for (int i = 0; i < 5; ++i) too_far.OptionalInt();
  EXPECT_EQ(too_far.status().code(), StatusCode::kCorruption);
}

TEST(PostgresDriverTest, RedactsPasswordsFromConnectionStrings) {
  EXPECT_EQ(RedactDsn("postgres://hearth:s3cret@db:5432/x"), "postgres://hearth:***@db:5432/x");
  EXPECT_EQ(RedactDsn("postgres://hearth@db/x"), "postgres://hearth@db/x");
  EXPECT_EQ(RedactDsn("postgresql://db/x?password=s3cret&sslmode=require"),
            "postgresql://db/x?password=***&sslmode=require");
  EXPECT_EQ(RedactDsn("host=db password=s3cret user=u"), "host=db password=*** user=u");
  EXPECT_EQ(RedactDsn("host=db password='s3 cret' user=u"), "host=db password=*** user=u");
}

TEST(PostgresDriverTest, AnUnreachableServerIsUnavailableWithoutLeakingThePassword) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  auto db = OpenPostgresDriver("postgres://hearth:topsecret@127.0.0.1:1/none");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(db.status().message().find("topsecret"), std::string::npos) << db.status().message();
  EXPECT_NE(db.status().message().find("127.0.0.1"), std::string::npos) << db.status().message();
}

TEST(PostgresDriverTest, ValidatesTheSchemaName) {
  EXPECT_TRUE(IsValidSchemaName("hearth_test_1"));
  EXPECT_FALSE(IsValidSchemaName("Hearth"));
  EXPECT_FALSE(IsValidSchemaName("1abc"));
  EXPECT_FALSE(IsValidSchemaName("a; DROP TABLE x"));
  EXPECT_FALSE(IsValidSchemaName(std::string(64, 'a')));
  PostgresOptions options;
  options.schema = "bad-name";
  auto db = OpenPostgresDriver("postgres://127.0.0.1:1/none", options);
  EXPECT_EQ(db.status().code(), StatusCode::kInvalidArgument);
}

TEST(PostgresDriverTest, ReconnectsOnTheCallAfterTheServerDropsTheConnection) {
  std::optional<std::string> dsn = PostgresDsn();
  if (!dsn) {
    if (hearth::testing::RunningUnderCi()) FAIL() << kPostgresDsnEnv << " is not set under CI";
    GTEST_SKIP() << "needs " << kPostgresDsnEnv << " (scripts/start-postgres.sh)";
  }
  std::random_device rd;
  PostgresOptions options;
  options.schema = "hearth_test_" + std::to_string(getpid()) + "_" + std::to_string(rd());
  ASSERT_OK_AND_ASSIGN(auto db, OpenPostgresDriver(*dsn, options));
  ASSERT_OK_AND_ASSIGN(auto admin, OpenPostgresDriver(*dsn));
  ASSERT_OK(db->ExecuteScript("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (42)"));
  ASSERT_OK_AND_ASSIGN(auto pid, db->Query("SELECT pg_backend_pid()", {}));
  SqlValue backend[] = {pid.at(0).at(0)};
  // The timeout makes pg_terminate_backend wait until the backend has gone.
  ASSERT_OK(
      admin->Query("SELECT pg_terminate_backend(CAST(? AS INTEGER), 10000)", backend).status());

  auto lost = db->Query("SELECT x FROM t", {});
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();
  // The next call reconnects and restores the search path: t is found in the test's schema.
  ASSERT_OK_AND_ASSIGN(auto rows, db->Query("SELECT x FROM t", {}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(rows[0][0]), 42);
  EXPECT_TRUE(admin->ExecuteScript("DROP SCHEMA " + options.schema + " CASCADE").ok());
}

TEST(OpenStoreTest, ChoosesTheBackendFromTheLocation) {
  hearth::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto plain, OpenStore((dir / "a.db").string()));
  EXPECT_EQ(plain->backend(), "sqlite");
  ASSERT_OK_AND_ASSIGN(auto prefixed, OpenStore("sqlite:" + (dir / "b.db").string()));
  EXPECT_EQ(prefixed->backend(), "sqlite");
  EXPECT_TRUE(std::filesystem::exists(dir / "b.db"));
  auto pg = OpenStore("postgres://u:p@127.0.0.1:1/none");
  EXPECT_EQ(pg.status().code(), StatusCode::kUnavailable) << "dispatched to PostgreSQL";
  EXPECT_CODE(OpenStore(""), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hearth::platform::testing
