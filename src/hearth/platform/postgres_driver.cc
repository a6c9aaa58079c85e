#include "hearth/platform/postgres_driver.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <regex>

namespace hearth::platform {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kNumericOid = 1700;

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultCloser>;

Status StatusFromSqlState(std::string_view state, std::string message) {
  if (state == "23505") return Status::AlreadyExists(std::move(message));       // unique
  if (state == "23503") return Status::FailedPrecondition(std::move(message));  // foreign key
  if (state == "23514" || state == "23502") {                                   // check, not null
    return Status::InvalidArgument(std::move(message));
  }
  // Serialization failure, deadlock, lock not available, and the connection-exception class.
  // Also the server shutting down or terminating this backend (57P01-57P03).
  if (state == "40001" || state == "40P01" || state == "55P03" || state.starts_with("08") ||
      state.starts_with("57P")) {
    return Status::Unavailable(std::move(message));
  }
  // restrict_violation: raised by the audit log's append-only trigger; undefined_table.
  if (state == "23001" || state == "42P01") return Status::FailedPrecondition(std::move(message));
  return Status::Internal(std::move(message));
}

std::string Trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void IgnoreNotice(void*, const char*) {}

class PostgresDriver final : public SqlDriver {
 public:
  PostgresDriver(PGconn* conn, std::string schema) : conn_(conn), schema_(std::move(schema)) {}
  ~PostgresDriver() override { PQfinish(conn_); }
  PostgresDriver(const PostgresDriver&) = delete;
  PostgresDriver& operator=(const PostgresDriver&) = delete;

  SqlDialect dialect() const override { return SqlDialect::kPostgres; }

  // Applies the per-session settings; runs again after a reconnect.
  Status Configure() {
    PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
    if (schema_.empty()) return Status::Ok();
    return ExecuteScript(
        fmt::format("CREATE SCHEMA IF NOT EXISTS {0}; SET search_path TO {0}", schema_));
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql,
                                    std::span<const SqlValue> params) override {
    HEARTH_RETURN_IF_ERROR(EnsureConnected());
    std::string translated = TranslatePlaceholders(sql);
    std::vector<Oid> types(params.size(), 0);
    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* n = std::get_if<int64_t>(&params[i])) {
        types[i] = kInt8Oid;
        texts[i] = std::to_string(*n);
        values[i] = texts[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        if (s->find('\0') != std::string::npos) {
          return Status::InvalidArgument("postgres: text values cannot contain NUL bytes");
        }
        values[i] = s->c_str();  // type 0: inferred from where the parameter is used
      }
    }
    PgResult result(PQexecParams(conn_, translated.c_str(), static_cast<int>(params.size()),
                                 types.data(), values.data(), nullptr, nullptr, 0));
    HEARTH_RETURN_IF_ERROR(CheckResult(result.get(), sql));
    last_changes_ = 0;
    if (const char* tuples = PQcmdTuples(result.get()); tuples != nullptr && *tuples != '\0') {
      std::from_chars(tuples, tuples + std::strlen(tuples), last_changes_);
    }
    std::vector<SqlRow> rows;
    int row_count = PQntuples(result.get());
    int columns = PQnfields(result.get());
    rows.reserve(row_count);
    for (int r = 0; r < row_count; ++r) {
      SqlRow row;
      row.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        if (PQgetisnull(result.get(), r, c)) {
          row.emplace_back(std::monostate{});
          continue;
        }
        const char* text = PQgetvalue(result.get(), r, c);
        size_t size = static_cast<size_t>(PQgetlength(result.get(), r, c));
        Oid type = PQftype(result.get(), c);
        if (type == kBoolOid) {
          row.emplace_back(static_cast<int64_t>(text[0] == 't' ? 1 : 0));
        } else if (type == kInt8Oid || type == kInt4Oid || type == kInt2Oid || type == kOidOid ||
                   type == kNumericOid) {
          int64_t n = 0;
          auto [end, ec] = std::from_chars(text, text + size, n);
          if (ec != std::errc() || end != text + size) {
            return Status::Corruption(
                fmt::format("postgres: column '{}' value '{}' is not a 64-bit integer",
                            PQfname(result.get(), c), std::string_view(text, size)));
          }
          row.emplace_back(n);
        } else {
          row.emplace_back(std::string(text, size));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  Result<int64_t> Execute(std::string_view sql, std::span<const SqlValue> params) override {
    HEARTH_ASSIGN_OR_RETURN(auto rows, Query(sql, params));
    (void)rows;
    return last_changes_;
  }

  Status ExecuteScript(std::string_view sql) override {
    HEARTH_RETURN_IF_ERROR(EnsureConnected());
    std::string text(sql);
    PgResult result(PQexec(conn_, text.c_str()));
    return CheckResult(result.get(), sql);
  }

  Status BeginWrite() override {
    HEARTH_RETURN_IF_ERROR(ExecuteScript("BEGIN"));
    in_transaction_ = true;
    return Status::Ok();
  }
  Status Commit() override {
    in_transaction_ = false;
    return ExecuteScript("COMMIT");
  }
  Status Rollback() override {
    in_transaction_ = false;
    return ExecuteScript("ROLLBACK");
  }

 private:
  // A dropped connection (server restart, terminated backend) fails the call that finds it with
  // kUnavailable, and the next call reconnects. The failed statement is not retried: it may have
  // been executed before the connection went, and repeating an INSERT would double it. Inside a
  // transaction the work done so far is gone, so there is no reconnecting until it ends.
  Status EnsureConnected() {
    if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    if (in_transaction_) {
      return Status::Unavailable("postgres: connection lost inside a transaction");
    }
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Status::Unavailable(
          fmt::format("postgres: reconnect failed: {}", Trimmed(PQerrorMessage(conn_))));
    }
    return Configure();
  }

  Status CheckResult(PGresult* result, std::string_view sql) {
    ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
    if (result == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      return Status::Unavailable(
          fmt::format("postgres: connection failed: {}", Trimmed(PQerrorMessage(conn_))));
    }
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string message =
        fmt::format("postgres: {} (in '{}')", Trimmed(PQresultErrorMessage(result)), sql);
    return StatusFromSqlState(state != nullptr ? state : "", std::move(message));
  }

  PGconn* conn_;
  std::string schema_;
  bool in_transaction_ = false;
  int64_t last_changes_ = 0;
};

}  // namespace

bool IsValidSchemaName(std::string_view name) {
  static const std::regex re("[a-z_][a-z0-9_]{0,62}");
  return std::regex_match(name.begin(), name.end(), re);
}

std::string RedactDsn(std::string_view dsn) {
  std::string out(dsn);
  // URI form: scheme://user:password@host...
  if (size_t scheme = out.find("://"); scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t at = out.find('@', start);
    size_t slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... in the key=value form or in URI query parameters.
  static const std::regex key_value(R"((password\s*=\s*)('[^']*'|[^\s&]*))");
  return std::regex_replace(out, key_value, "$1***");
}

Result<std::unique_ptr<SqlDriver>> OpenPostgresDriver(std::string_view dsn,
                                                      const PostgresOptions& options) {
  if (!options.schema.empty() && !IsValidSchemaName(options.schema)) {
    return Status::InvalidArgument(fmt::format(
        "postgres: schema name '{}' must match [a-z_][a-z0-9_]* (at most 63 characters)",
        options.schema));
  }
  std::string dsn_text(dsn);
  std::string timeout = std::to_string(options.connect_timeout.count());
  // Settings listed before dbname are defaults that the DSN itself may override.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "hearth", dsn_text.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Status::Internal("postgres: out of memory creating a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    Status status = Status::Unavailable(fmt::format("postgres: cannot connect to {}: {}",
                                                    RedactDsn(dsn), Trimmed(PQerrorMessage(conn))));
    PQfinish(conn);
    return status;
  }
  auto driver = std::make_unique<PostgresDriver>(conn, options.schema);
  HEARTH_RETURN_IF_ERROR(driver->Configure());
  return std::unique_ptr<SqlDriver>(std::move(driver));
}

}  // namespace hearth::platform
