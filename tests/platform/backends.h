// Runs store tests against both backends: SQLite in a fresh temporary directory, PostgreSQL in a
// fresh schema of the database at $HEARTH_TEST_POSTGRES_DSN (dropped after the test). Without
// that variable the PostgreSQL instances are skipped, or fail under CI=true.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "hearth/platform/sql_driver.h"
#include "hearth/platform/store.h"
#include "support/fixtures.h"

namespace hearth::platform::testing {

enum class Backend { kSqlite, kPostgres };

// Quotas with one limit set.
inline Quota Rpm(int64_t n) {
  Quota q;
  q.requests_per_minute = n;
  return q;
}
inline Quota Tpm(int64_t n) {
  Quota q;
  q.tokens_per_minute = n;
  return q;
}
inline Quota Concurrent(int64_t n) {
  Quota q;
  q.max_concurrent = n;
  return q;
}

std::string BackendName(Backend backend);

inline constexpr char kPostgresDsnEnv[] = "HEARTH_TEST_POSTGRES_DSN";
std::optional<std::string> PostgresDsn();

// Unwraps a Result in a test, failing with its status (and stopping the test) on error.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(HEARTH_CONCAT(result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
#define ASSERT_OK(expr)                              \
  do {                                               \
    ::hearth::Status status_ = (expr);               \
    ASSERT_TRUE(status_.ok()) << status_.ToString(); \
  } while (0)
#define EXPECT_CODE(expr, expected_code) \
  EXPECT_EQ((expr).status().code(), (expected_code)) << (expr).status().ToString()

// A test fixture parameterized by backend. `store()` is opened (and migrated) in SetUp with a
// controllable clock (`now_ms`).
class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Backend backend() const { return GetParam(); }

  // Opens another store on the same database (a re-open, or a second process's view).
  Result<std::unique_ptr<Store>> OpenStore();
  // A raw driver on the same database, for checks below the Store interface.
  Result<std::unique_ptr<SqlDriver>> OpenDriver();

  // A driver on a second, empty database of the same backend (for migration tests).
  Result<std::unique_ptr<SqlDriver>> OpenScratchDriver();
  // A store on that second database (migrating it to the latest schema).
  Result<std::unique_ptr<Store>> OpenScratchStore();

  Store& store() { return *store_; }

  int64_t now_ms = 1'700'000'000'000;  // the stores' clock; tests move it
  StoreOptions options();

 private:
  std::unique_ptr<hearth::testing::TempDir> dir_;
  std::string schema_;
  std::unique_ptr<Store> store_;
};

// INSTANTIATE_TEST_SUITE_P arguments for both backends, named "Sqlite" and "Postgres".
#define HEARTH_INSTANTIATE_FOR_BACKENDS(Suite)                            \
  INSTANTIATE_TEST_SUITE_P(                                               \
      Backends, Suite,                                                    \
      ::testing::Values(::hearth::platform::testing::Backend::kSqlite,    \
                        ::hearth::platform::testing::Backend::kPostgres), \
      [](const auto& info) { return ::hearth::platform::testing::BackendName(info.param); })

}  // namespace hearth::platform::testing
