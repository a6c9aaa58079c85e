// Versioned schema migrations for the Store.
//
// The database records every applied migration in schema_migrations(version, name,
// applied_at). Opening a store applies, in order, each migration whose version is above the
// recorded maximum, each in its own transaction together with its schema_migrations row, so a
// failed migration leaves the database at the previous version. A database whose version is
// above the newest this binary knows is refused: an older binary must not write into a schema it
// does not understand.
//
// Migrations are append-only: a released migration is never edited; a change is a new one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hearth/platform/sql_driver.h"

namespace hearth::platform {

struct Migration {
  int64_t version = 0;  // 1, 2, 3, ... with no gaps
  std::string_view name;
  // Portable SQL; `{{ID}}` becomes the dialect's auto-increment primary key column type.
  std::string_view sql;
  // Dialect-only additions run after `sql` (triggers, whose syntax differs).
  std::string_view sqlite_sql;
  std::string_view postgres_sql;
};

// The migrations this binary ships, in order.
std::span<const Migration> BuiltinMigrations();

// The version a database has after BuiltinMigrations() are applied.
int64_t LatestSchemaVersion();

// The highest applied version (0 for a database without schema_migrations rows).
Result<int64_t> CurrentSchemaVersion(SqlDriver& db);

// Applies the pending `migrations` (see above). `now_ms` is recorded as applied_at.
Status ApplyMigrations(SqlDriver& db, std::span<const Migration> migrations, int64_t now_ms);

// `sql` with the dialect's substitutions made.
std::string RenderMigrationSql(std::string_view sql, SqlDialect dialect);

}  // namespace hearth::platform
