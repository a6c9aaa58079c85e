// The small SQL surface the Store is written against, with one driver per database engine.
//
// The repository code (sql_store.cc) and the migrations are written once, in SQL that both
// SQLite and PostgreSQL accept, with `?` placeholders; a driver translates what differs (the
// PostgreSQL driver rewrites `?` to `$1, $2, ...`) and maps engine errors onto Status codes:
//   unique or primary-key violation  -> kAlreadyExists
//   foreign-key violation            -> kFailedPrecondition
//   CHECK / NOT NULL violation       -> kInvalidArgument
//   busy, locked, connection lost    -> kUnavailable
// Callers (the Store) replace those messages with ones that name the record involved.
//
// Values are deliberately few: 64-bit integers, text and NULL. Timestamps are integers (Unix
// milliseconds) and booleans are 0/1, so the two engines store and compare them the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::platform {

enum class SqlDialect { kSqlite, kPostgres };

using SqlValue = std::variant<std::monostate, int64_t, std::string>;
using SqlRow = std::vector<SqlValue>;

// Convenience constructors for parameters.
inline SqlValue SqlNull() { return std::monostate{}; }
inline SqlValue SqlOptional(const std::optional<int64_t>& v) {
  return v ? SqlValue(*v) : SqlNull();
}
inline SqlValue SqlOptional(const std::optional<std::string>& v) {
  return v ? SqlValue(*v) : SqlNull();
}

// A connection to one database. Not thread-safe: the Store serialises access.
class SqlDriver {
 public:
  virtual ~SqlDriver() = default;

  virtual SqlDialect dialect() const = 0;

  // Runs one statement with `?` placeholders bound to `params` and returns its rows (none for
  // statements without a result or RETURNING clause).
  virtual Result<std::vector<SqlRow>> Query(std::string_view sql,
                                            std::span<const SqlValue> params) = 0;

  // Runs one statement and returns the number of rows it changed.
  virtual Result<int64_t> Execute(std::string_view sql, std::span<const SqlValue> params) = 0;

  // Runs several `;`-separated statements without parameters (migrations).
  virtual Status ExecuteScript(std::string_view sql) = 0;

  // Transactions. BeginWrite takes the write lock at once (SQLite BEGIN IMMEDIATE), so that a
  // read-then-write transaction cannot fail half-way on a lock upgrade.
  virtual Status BeginWrite() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
};

// The `?` placeholders of `sql` rewritten as PostgreSQL's `$1, $2, ...`. Question marks inside
// string literals ('...'), quoted identifiers ("...") and comments are left alone.
std::string TranslatePlaceholders(std::string_view sql);

// Reads a row column by column, checking each value's type; the first mismatch (a schema that
// is not what this binary expects) is kept as a kCorruption status for the caller to return.
class RowReader {
 public:
  explicit RowReader(const SqlRow& row) : row_(row) {}

  int64_t Int();
  std::optional<int64_t> OptionalInt();
  std::string Text();
  std::optional<std::string> OptionalText();

  const Status& status() const { return status_; }

 private:
  const SqlValue* Next(const char* wanted);

  const SqlRow& row_;
  size_t column_ = 0;
  Status status_;
};

}  // namespace hearth::platform
