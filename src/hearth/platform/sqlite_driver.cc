#include "hearth/platform/sqlite_driver.h"

#include <sqlite3.h>

#include <limits>

namespace hearth::platform {
namespace {

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message =
      fmt::format("sqlite: {}: {}", what, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status::AlreadyExists(std::move(message));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Status::FailedPrecondition(std::move(message));
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
      return Status::InvalidArgument(std::move(message));
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::IoError(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(message));
    case SQLITE_CONSTRAINT:
      return Status::FailedPrecondition(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

// Finalizes the statement on every path out of a query.
struct StatementCloser {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementCloser>;

class SqliteDriver final : public SqlDriver {
 public:
  explicit SqliteDriver(sqlite3* db) : db_(db) {}
  ~SqliteDriver() override { sqlite3_close_v2(db_); }
  SqliteDriver(const SqliteDriver&) = delete;
  SqliteDriver& operator=(const SqliteDriver&) = delete;

  SqlDialect dialect() const override { return SqlDialect::kSqlite; }

  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    std::span<const SqlValue> params) override {
    HEARTH_ASSIGN_OR_RETURN(Statement stmt, Prepare(sql, params));
    std::vector<SqlRow> rows;
    for (;;) {
      int rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return SqliteError(db_, sqlite3_extended_errcode(db_), "step");
      int columns = sqlite3_column_count(stmt.get());
      SqlRow row;
      row.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt.get(), c)) {
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt.get(), c)));
            break;
          case SQLITE_FLOAT:
            return Status::Corruption(fmt::format(
                "sqlite: column '{}' holds a floating-point value; the store uses integers only",
                sqlite3_column_name(stmt.get(), c)));
          default: {  // TEXT or BLOB: both are bytes to us.
            const void* data = sqlite3_column_blob(stmt.get(), c);
            int size = sqlite3_column_bytes(stmt.get(), c);
            row.emplace_back(std::string(static_cast<const char*>(data), size));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<int64_t> Execute(std::string_view sql, std::span<const SqlValue> params) override {
    HEARTH_ASSIGN_OR_RETURN(auto rows, Query(sql, params));
    (void)rows;
    return static_cast<int64_t>(sqlite3_changes64(db_));
  }

  Status ExecuteScript(std::string_view sql) override {
    std::string text(sql);
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, sqlite3_extended_errcode(db_), "script");
    return Status::Ok();
  }

  Status BeginWrite() override { return ExecuteScript("BEGIN IMMEDIATE"); }
  Status Commit() override { return ExecuteScript("COMMIT"); }
  Status Rollback() override { return ExecuteScript("ROLLBACK"); }

 private:
  Result<Statement> Prepare(std::string_view sql, std::span<const SqlValue> params) {
    if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return Status::InvalidArgument("sqlite: statement too long");
    }
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    Statement stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, fmt::format("prepare '{}'", sql));
    int expected = sqlite3_bind_parameter_count(stmt.get());
    if (expected != static_cast<int>(params.size())) {
      return Status::Internal(fmt::format("sqlite: statement '{}' takes {} parameters, got {}", sql,
                                          expected, params.size()));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int index = static_cast<int>(i) + 1;
      const SqlValue& v = params[i];
      if (const auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt.get(), index, *n);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text64(stmt.get(), index, s->data(), s->size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
      } else {
        rc = sqlite3_bind_null(stmt.get(), index);
      }
      if (rc != SQLITE_OK) return SqliteError(db_, rc, "bind");
    }
    return stmt;
  }

  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SqlDriver>> OpenSqliteDriver(const std::filesystem::path& path,
                                                    const SqliteOptions& options) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteError(db, rc, fmt::format("open {}", path.string()));
    sqlite3_close_v2(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  auto driver = std::make_unique<SqliteDriver>(db);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));

  HEARTH_ASSIGN_OR_RETURN(auto mode, driver->Query("PRAGMA journal_mode = WAL", {}));
  std::string got =
      mode.empty() || mode[0].empty() || !std::holds_alternative<std::string>(mode[0][0])
          ? "?"
          : std::get<std::string>(mode[0][0]);
  if (got != "wal") {
    return Status::IoError(fmt::format(
        "sqlite: {}: cannot use the WAL journal (got '{}'); is it on a network filesystem?",
        path.string(), got));
  }
  // NORMAL is durable across application crashes in WAL mode; only an OS crash or power loss
  // can lose the last transactions, never corrupt the file.
  HEARTH_RETURN_IF_ERROR(driver->ExecuteScript("PRAGMA synchronous = NORMAL"));
  HEARTH_RETURN_IF_ERROR(driver->ExecuteScript("PRAGMA foreign_keys = ON"));
  return std::unique_ptr<SqlDriver>(std::move(driver));
}

}  // namespace hearth::platform
