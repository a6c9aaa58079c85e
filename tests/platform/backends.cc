#include "backends.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "hearth/platform/postgres_driver.h"
#include "hearth/platform/sqlite_driver.h"

namespace hearth::platform::testing {

std::string BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "Sqlite" : "Postgres";
}

std::optional<std::string> PostgresDsn() {
  const char* dsn = std::getenv(kPostgresDsnEnv);
  if (dsn == nullptr || *dsn == '\0') return std::nullopt;
  return std::string(dsn);
}

StoreOptions BackendTest::options() {
  StoreOptions o;
  o.clock = [this] { return now_ms; };
  o.postgres_schema = schema_;
  return o;
}

void BackendTest::SetUp() {
  if (backend() == Backend::kSqlite) {
    dir_ = std::make_unique<hearth::testing::TempDir>();
  } else {
    if (!PostgresDsn()) {
      if (hearth::testing::RunningUnderCi()) {
        FAIL() << kPostgresDsnEnv << " is not set under CI (scripts/start-postgres.sh prints it)";
      }
      GTEST_SKIP() << "PostgreSQL tests need " << kPostgresDsnEnv
                   << " (run scripts/start-postgres.sh and export the DSN it prints)";
    }
    // A schema per test: tests run in parallel processes against one database.
    std::random_device rd;
    schema_ = "hearth_test_" + std::to_string(getpid()) + "_" + std::to_string(rd());
  }
  auto store = OpenStore();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(store).value();
}

void BackendTest::TearDown() {
  store_.reset();
  if (!schema_.empty() && PostgresDsn()) {
    auto db = OpenPostgresDriver(*PostgresDsn());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    for (const std::string& schema : {schema_, schema_ + "_scratch"}) {
      EXPECT_TRUE((*db)->ExecuteScript("DROP SCHEMA IF EXISTS " + schema + " CASCADE").ok());
    }
  }
}

Result<std::unique_ptr<Store>> BackendTest::OpenStore() {
  if (backend() == Backend::kSqlite) {
    return OpenSqliteStore(DefaultStorePath(dir_->path()), options());
  }
  return OpenPostgresStore(*PostgresDsn(), options());
}

Result<std::unique_ptr<SqlDriver>> BackendTest::OpenDriver() {
  if (backend() == Backend::kSqlite) return OpenSqliteDriver(DefaultStorePath(dir_->path()));
  PostgresOptions pg;
  pg.schema = schema_;
  return OpenPostgresDriver(*PostgresDsn(), pg);
}

Result<std::unique_ptr<SqlDriver>> BackendTest::OpenScratchDriver() {
  if (backend() == Backend::kSqlite) return OpenSqliteDriver(dir_->path() / "scratch.db");
  PostgresOptions pg;
  pg.schema = schema_ + "_scratch";
  return OpenPostgresDriver(*PostgresDsn(), pg);
}

Result<std::unique_ptr<Store>> BackendTest::OpenScratchStore() {
  if (backend() == Backend::kSqlite) return OpenSqliteStore(dir_->path() / "scratch.db", options());
  StoreOptions scratch = options();
  scratch.postgres_schema = schema_ + "_scratch";
  return OpenPostgresStore(*PostgresDsn(), scratch);
}

}  // namespace hearth::platform::testing
