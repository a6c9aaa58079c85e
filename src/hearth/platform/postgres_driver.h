// The PostgreSQL driver (libpq), for deployments that run several control-plane processes
// against one database.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "hearth/platform/sql_driver.h"

namespace hearth::platform {

struct PostgresOptions {
  // When set, every table lives in this schema (created if absent) instead of `public`: lets
  // several installations, or several tests, share one database. Must match [a-z_][a-z0-9_]*.
  std::string schema;
  std::chrono::seconds connect_timeout{10};
};

// Connects to `dsn` (a libpq URI such as postgres://user:password@host:5432/db, or key=value
// pairs). Error messages never repeat the password. A lost connection fails the call that finds
// it (kUnavailable) and is re-established, with the schema setting, by the next call.
Result<std::unique_ptr<SqlDriver>> OpenPostgresDriver(std::string_view dsn,
                                                      const PostgresOptions& options = {});

// `dsn` with its password replaced by "***", for messages and logs.
std::string RedactDsn(std::string_view dsn);

// True when `name` is usable as an unquoted schema name.
bool IsValidSchemaName(std::string_view name);

}  // namespace hearth::platform
