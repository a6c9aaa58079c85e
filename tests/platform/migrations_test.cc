#include "hearth/platform/migrations.h"

#include <gtest/gtest.h>

#include "backends.h"
#include "hearth/platform/sqlite_driver.h"

namespace hearth::platform::testing {
namespace {

using MigrationsTest = BackendTest;
HEARTH_INSTANTIATE_FOR_BACKENDS(MigrationsTest);

Result<std::vector<SqlRow>> Rows(SqlDriver& db, std::string_view sql) { return db.Query(sql, {}); }

TEST_P(MigrationsTest, FreshDatabaseRecordsEveryMigrationInOrder) {
  ASSERT_OK_AND_ASSIGN(int64_t version, store().SchemaVersion());
  EXPECT_EQ(version, LatestSchemaVersion());
  ASSERT_OK_AND_ASSIGN(auto db, OpenDriver());
  ASSERT_OK_AND_ASSIGN(auto rows, Rows(*db,
                                       "SELECT version, name, applied_at FROM schema_migrations "
                                       "ORDER BY version"));
  auto builtin = BuiltinMigrations();
  ASSERT_EQ(rows.size(), builtin.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    RowReader r(rows[i]);
    EXPECT_EQ(r.Int(), builtin[i].version);
    EXPECT_EQ(r.Text(), builtin[i].name);
    EXPECT_EQ(r.Int(), now_ms);
    ASSERT_OK(r.status());
  }
  // Every table the platform needs is there and queryable.
  for (const char* table :
       {"tenants", "users", "api_keys", "sessions", "audit_log", "usage", "quotas"}) {
    auto count = Rows(*db, std::string("SELECT COUNT(*) FROM ") + table);
    ASSERT_TRUE(count.ok()) << table << ": " << count.status().ToString();
  }
}

TEST_P(MigrationsTest, ReopenIsIdempotentAndKeepsData) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  now_ms += 5000;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(auto reopened, OpenStore());
    ASSERT_OK_AND_ASSIGN(int64_t version, reopened->SchemaVersion());
    EXPECT_EQ(version, LatestSchemaVersion());
    ASSERT_OK_AND_ASSIGN(Tenant again, reopened->GetTenant(acme.id));
    EXPECT_EQ(again.name, "acme");
  }
  ASSERT_OK_AND_ASSIGN(auto db, OpenDriver());
  ASSERT_OK_AND_ASSIGN(auto rows, Rows(*db,
                                       "SELECT COUNT(*), MAX(applied_at) FROM "
                                       "schema_migrations"));
  RowReader r(rows.at(0));
  EXPECT_EQ(r.Int(), LatestSchemaVersion());
  EXPECT_EQ(r.Int(), now_ms - 5000) << "a re-open must not re-apply migrations";
}

TEST_P(MigrationsTest, RefusesADatabaseNewerThanTheBinary) {
  ASSERT_OK_AND_ASSIGN(auto db, OpenDriver());
  SqlValue params[] = {LatestSchemaVersion() + 1, std::string("from the future"), now_ms};
  ASSERT_OK(db->Execute("INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (?, ?, ?)",
                        params)
                .status());
  auto reopened = OpenStore();
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(reopened.status().message().find(
                fmt::format("schema version {} is newer than this binary supports ({})",
                            LatestSchemaVersion() + 1, LatestSchemaVersion())),
            std::string::npos)
      << reopened.status().ToString();
}

TEST_P(MigrationsTest, AppliesPendingMigrationsInOrderEachInItsTransaction) {
  ASSERT_OK_AND_ASSIGN(auto db, OpenScratchDriver());
  // Migration 2 needs migration 1's table, and 3 needs 2's row: any other order fails.
  const Migration first[] = {
      {1, "make t", "CREATE TABLE t (id {{ID}}, v BIGINT NOT NULL)", "", ""},
      {2, "fill t", "INSERT INTO t (v) VALUES (7)", "", ""},
  };
  ASSERT_OK(ApplyMigrations(*db, first, 100));
  ASSERT_OK_AND_ASSIGN(int64_t version, CurrentSchemaVersion(*db));
  EXPECT_EQ(version, 2);

  // Version 4 fails half-way (its second statement names a missing table): its first statement
  // must be rolled back with it, while 3 stays applied.
  const Migration more[] = {
      first[0],
      first[1],
      {3, "double", "UPDATE t SET v = v * 2", "", ""},
      {4, "broken", "CREATE TABLE u (x BIGINT); INSERT INTO missing_table VALUES (1)", "", ""},
  };
  Status failed = ApplyMigrations(*db, more, 200);
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("migration 4 (broken)"), std::string::npos) << failed.ToString();
  ASSERT_OK_AND_ASSIGN(version, CurrentSchemaVersion(*db));
  EXPECT_EQ(version, 3);
  ASSERT_OK_AND_ASSIGN(auto rows, Rows(*db, "SELECT v FROM t"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(rows[0][0]), 14);
  EXPECT_FALSE(Rows(*db, "SELECT COUNT(*) FROM u").ok()) << "table u survived a rollback";

  // Applying the same list again changes nothing for 1-3 and fails 4 again.
  EXPECT_FALSE(ApplyMigrations(*db, more, 300).ok());
  ASSERT_OK_AND_ASSIGN(rows, Rows(*db, "SELECT v FROM t"));
  EXPECT_EQ(std::get<int64_t>(rows[0][0]), 14);
}

TEST_P(MigrationsTest, RejectsAMigrationListWithGaps) {
  ASSERT_OK_AND_ASSIGN(auto db, OpenScratchDriver());
  const Migration gappy[] = {
      {1, "one", "CREATE TABLE a (x BIGINT)", "", ""},
      {3, "three", "CREATE TABLE b (x BIGINT)", "", ""},
  };
  Status status = ApplyMigrations(*db, gappy, 0);
  EXPECT_EQ(status.code(), StatusCode::kInternal) << status.ToString();
  EXPECT_FALSE(Rows(*db, "SELECT COUNT(*) FROM a").ok()) << "nothing may be applied";
}

TEST(MigrationSqlTest, RendersTheIdColumnPerDialect) {
  EXPECT_EQ(RenderMigrationSql("CREATE TABLE t (id {{ID}}, p {{ID}})", SqlDialect::kSqlite),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, p INTEGER PRIMARY KEY "
            "AUTOINCREMENT)");
  EXPECT_EQ(RenderMigrationSql("CREATE TABLE t (id {{ID}})", SqlDialect::kPostgres),
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)");
  EXPECT_EQ(RenderMigrationSql("no token", SqlDialect::kPostgres), "no token");
}

TEST(SqliteDriverTest, UsesWalForeignKeysAndABusyTimeout) {
  hearth::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, OpenSqliteDriver(dir / "x.db"));
  ASSERT_OK_AND_ASSIGN(auto mode, db->Query("PRAGMA journal_mode", {}));
  EXPECT_EQ(std::get<std::string>(mode.at(0).at(0)), "wal");
  ASSERT_OK_AND_ASSIGN(auto fk, db->Query("PRAGMA foreign_keys", {}));
  EXPECT_EQ(std::get<int64_t>(fk.at(0).at(0)), 1);
  ASSERT_OK_AND_ASSIGN(auto timeout, db->Query("PRAGMA busy_timeout", {}));
  EXPECT_EQ(std::get<int64_t>(timeout.at(0).at(0)), 5000);
}

TEST(SqliteDriverTest, ALockedDatabaseIsUnavailableAfterTheBusyTimeout) {
  hearth::testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto holder, OpenSqliteDriver(dir / "x.db"));
  ASSERT_OK(holder->ExecuteScript("CREATE TABLE t (x BIGINT)"));
  ASSERT_OK(holder->BeginWrite());
  SqliteOptions impatient;
  impatient.busy_timeout = std::chrono::milliseconds(20);
  ASSERT_OK_AND_ASSIGN(auto other, OpenSqliteDriver(dir / "x.db", impatient));
  SqlValue one[] = {int64_t{1}};
  auto blocked = other->Execute("INSERT INTO t (x) VALUES (?)", one);
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable) << blocked.status().ToString();
  ASSERT_OK(holder->Commit());
  ASSERT_OK(other->Execute("INSERT INTO t (x) VALUES (?)", one).status());
}

TEST(SqliteDriverTest, ReportsAMissingDirectoryAsAnIoError) {
  hearth::testing::TempDir dir;
  auto db = OpenSqliteDriver(dir / "no" / "such" / "dir" / "x.db");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kIoError) << db.status().ToString();
}

}  // namespace
}  // namespace hearth::platform::testing
