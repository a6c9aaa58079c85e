#include "hearth/platform/migrations.h"

#include <array>

namespace hearth::platform {
namespace {

// Timestamps are BIGINT Unix milliseconds and flags INTEGER 0/1 in both engines. Foreign keys to
// tenants and users are RESTRICT where deleting the parent would silently destroy credentials
// (a tenant's users and keys must be removed deliberately) and CASCADE where the child has no
// meaning alone (sessions, quotas). usage and audit_log carry ids without foreign keys: they are
// history and outlive what they mention.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE tenants (
  id {{ID}},
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);

CREATE TABLE users (
  id {{ID}},
  tenant_id BIGINT REFERENCES tenants(id) ON DELETE RESTRICT,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('platform-admin', 'tenant-admin', 'member')),
  password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  CHECK ((role = 'platform-admin') = (tenant_id IS NULL))
);
CREATE INDEX users_tenant ON users(tenant_id);

CREATE TABLE api_keys (
  id {{ID}},
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL UNIQUE,
  secret_hash TEXT NOT NULL,
  deployments TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  last_used_at BIGINT,
  UNIQUE (tenant_id, name)
);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE audit_log (
  id {{ID}},
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  result TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE usage (
  id {{ID}},
  tenant_id BIGINT NOT NULL,
  key_id BIGINT,
  deployment TEXT NOT NULL,
  at BIGINT NOT NULL,
  prompt_tokens BIGINT NOT NULL CHECK (prompt_tokens >= 0),
  completion_tokens BIGINT NOT NULL CHECK (completion_tokens >= 0)
);
CREATE INDEX usage_tenant_at ON usage(tenant_id, at);

CREATE TABLE quotas (
  id {{ID}},
  tenant_id BIGINT UNIQUE REFERENCES tenants(id) ON DELETE CASCADE,
  key_id BIGINT UNIQUE REFERENCES api_keys(id) ON DELETE CASCADE,
  requests_per_minute BIGINT CHECK (requests_per_minute >= 0),
  tokens_per_minute BIGINT CHECK (tokens_per_minute >= 0),
  max_concurrent BIGINT CHECK (max_concurrent >= 0),
  CHECK ((tenant_id IS NULL) <> (key_id IS NULL))
);
)sql";

// The audit log is append-only in the database too, not just by the absence of an update
// method: a bug or a stray admin statement must not be able to rewrite history.
constexpr std::string_view kSqliteAuditGuard = R"sql(
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql";

constexpr std::string_view kPostgresAuditGuard = R"sql(
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'restrict_violation';
END
$fn$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
)sql";

// The model registry, deployments and replica supervision state. A model a deployment uses
// cannot be deleted (RESTRICT: the deployment must go first); a deployment's tenant grants and
// replica rows mean nothing without it (CASCADE), and deleting a tenant withdraws its grants
// (CASCADE). Model names keep their case but are unique case-insensitively (the names are
// ASCII, where lower() agrees in both engines).
constexpr std::string_view kDeploymentsSchema = R"sql(
CREATE TABLE models (
  id {{ID}},
  name TEXT NOT NULL,
  source TEXT NOT NULL,
  path TEXT NOT NULL,
  size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
  sha256 TEXT NOT NULL,
  metadata_json TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX models_name_ci ON models(lower(name));

CREATE TABLE deployments (
  id {{ID}},
  name TEXT NOT NULL UNIQUE,
  model_id BIGINT NOT NULL REFERENCES models(id) ON DELETE RESTRICT,
  replicas BIGINT NOT NULL CHECK (replicas >= 0),
  ctx BIGINT NOT NULL CHECK (ctx > 0),
  parallel BIGINT NOT NULL CHECK (parallel > 0),
  kv_budget_bytes BIGINT NOT NULL CHECK (kv_budget_bytes >= 0),
  threads BIGINT NOT NULL CHECK (threads >= 0),
  desired TEXT NOT NULL CHECK (desired IN ('running', 'stopped')),
  generation BIGINT NOT NULL CHECK (generation >= 1),
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX deployments_model ON deployments(model_id);

CREATE TABLE deployment_tenants (
  deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  PRIMARY KEY (deployment_id, tenant_id)
);
CREATE INDEX deployment_tenants_tenant ON deployment_tenants(tenant_id);

CREATE TABLE replicas (
  id {{ID}},
  deployment_id BIGINT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  generation BIGINT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'loading', 'ready', 'failed', 'stopped')),
  pid BIGINT NOT NULL CHECK (pid >= 0),
  port BIGINT NOT NULL CHECK (port >= 0 AND port <= 65535),
  restarts BIGINT NOT NULL CHECK (restarts >= 0),
  last_error TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX replicas_deployment ON replicas(deployment_id);
)sql";

// Failed requests are usage too (one row each, errors = 1), and every row says what the client
// was answered. Rows from before keep their meaning: they were all successes (errors 0), with
// the status unknown (NULL). ADD COLUMN with a constant default rewrites no row in either
// engine (the CHECKs read the existing rows once).
constexpr std::string_view kUsageErrorsSchema = R"sql(
ALTER TABLE usage ADD COLUMN errors INTEGER NOT NULL DEFAULT 0 CHECK (errors IN (0, 1));
ALTER TABLE usage ADD COLUMN http_status BIGINT CHECK (http_status >= 0 AND http_status <= 599);
)sql";

constexpr std::array<Migration, 3> kMigrations = {{
    {1, "initial schema", kInitialSchema, kSqliteAuditGuard, kPostgresAuditGuard},
    {2, "models and deployments", kDeploymentsSchema, {}, {}},
    {3, "usage errors and status", kUsageErrorsSchema, {}, {}},
}};

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

Status CheckOrder(std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return Status::Internal(fmt::format("store: migration #{} has version {}, expected {}", i,
                                          migrations[i].version, i + 1));
    }
  }
  return Status::Ok();
}

Status CheckNotNewer(int64_t current, int64_t known) {
  if (current > known) {
    return Status::FailedPrecondition(fmt::format(
        "store: database schema version {} is newer than this binary supports ({}); upgrade "
        "hearth before opening this database",
        current, known));
  }
  return Status::Ok();
}

Status ApplyOne(SqlDriver& db, const Migration& m, int64_t known, int64_t now_ms) {
  if (db.dialect() == SqlDialect::kPostgres) {
    // Two processes starting at once: the second waits here, then sees the new version below.
    HEARTH_RETURN_IF_ERROR(db.ExecuteScript("LOCK TABLE schema_migrations IN EXCLUSIVE MODE"));
  }
  HEARTH_ASSIGN_OR_RETURN(int64_t current, CurrentSchemaVersion(db));
  HEARTH_RETURN_IF_ERROR(CheckNotNewer(current, known));
  if (current >= m.version) return Status::Ok();
  HEARTH_RETURN_IF_ERROR(db.ExecuteScript(RenderMigrationSql(m.sql, db.dialect())));
  std::string_view extra = db.dialect() == SqlDialect::kSqlite ? m.sqlite_sql : m.postgres_sql;
  if (!extra.empty())
    HEARTH_RETURN_IF_ERROR(db.ExecuteScript(RenderMigrationSql(extra, db.dialect())));
  SqlValue params[] = {m.version, std::string(m.name), now_ms};
  HEARTH_ASSIGN_OR_RETURN(
      int64_t rows,
      db.Execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                 params));
  (void)rows;
  return Status::Ok();
}

}  // namespace

std::span<const Migration> BuiltinMigrations() { return kMigrations; }

int64_t LatestSchemaVersion() { return kMigrations.back().version; }

std::string RenderMigrationSql(std::string_view sql, SqlDialect dialect) {
  constexpr std::string_view kIdToken = "{{ID}}";
  std::string_view id_type = dialect == SqlDialect::kSqlite
                                 // AUTOINCREMENT: ids of deleted rows are never reused, so an id
                                 // in the audit log or usage history names one thing forever.
                                 ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                 : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t hit = sql.find(kIdToken, pos);
    out.append(sql.substr(pos, hit - pos));
    if (hit == std::string_view::npos) break;
    out.append(id_type);
    pos = hit + kIdToken.size();
  }
  return out;
}

Result<int64_t> CurrentSchemaVersion(SqlDriver& db) {
  HEARTH_ASSIGN_OR_RETURN(auto rows,
                          db.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}));
  if (rows.size() != 1) return Status::Corruption("store: cannot read schema_migrations");
  RowReader reader(rows[0]);
  int64_t version = reader.Int();
  HEARTH_RETURN_IF_ERROR(reader.status());
  return version;
}

Status ApplyMigrations(SqlDriver& db, std::span<const Migration> migrations, int64_t now_ms) {
  HEARTH_RETURN_IF_ERROR(CheckOrder(migrations));
  HEARTH_RETURN_IF_ERROR(db.ExecuteScript(kCreateMigrationsTable));
  int64_t known = migrations.empty() ? 0 : migrations.back().version;
  HEARTH_ASSIGN_OR_RETURN(int64_t current, CurrentSchemaVersion(db));
  HEARTH_RETURN_IF_ERROR(CheckNotNewer(current, known));
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    HEARTH_RETURN_IF_ERROR(db.BeginWrite());
    Status status = ApplyOne(db, m, known, now_ms);
    if (status.ok()) status = db.Commit();
    if (!status.ok()) {
      (void)db.Rollback();
      return status.WithContext(fmt::format("store: migration {} ({})", m.version, m.name));
    }
  }
  return Status::Ok();
}

}  // namespace hearth::platform
