// Store implemented once over SqlDriver; SQLite and PostgreSQL differ only in the driver.
#include <algorithm>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "hearth/platform/migrations.h"
#include "hearth/platform/postgres_driver.h"
#include "hearth/platform/sqlite_driver.h"
#include "hearth/platform/store.h"

namespace hearth::platform {
namespace {

constexpr std::string_view kTenantColumns = "id, name, created_at";
constexpr std::string_view kUserColumns =
    "id, tenant_id, name, role, password_hash, created_at, disabled";
constexpr std::string_view kKeyColumns =
    "id, tenant_id, name, prefix, secret_hash, deployments, created_at, expires_at, revoked_at, "
    "last_used_at";
constexpr std::string_view kSessionColumns = "token_hash, user_id, created_at, expires_at";
constexpr std::string_view kAuditColumns =
    "id, at, actor, action, target, source_ip, result, detail";
constexpr std::string_view kQuotaColumns = "requests_per_minute, tokens_per_minute, max_concurrent";
constexpr std::string_view kModelColumns =
    "id, name, source, path, size_bytes, sha256, metadata_json, created_at";
constexpr std::string_view kDeploymentColumns =
    "id, name, model_id, replicas, ctx, parallel, kv_budget_bytes, threads, desired, generation, "
    "created_at, updated_at";
constexpr std::string_view kReplicaColumns =
    "id, deployment_id, generation, state, pid, port, restarts, last_error, updated_at";

constexpr size_t kMaxTenantName = 64;
constexpr size_t kMaxUserName = 254;  // the longest e-mail address
constexpr size_t kMaxKeyName = 64;
constexpr size_t kMaxDeploymentName = 128;
constexpr size_t kMaxAuditField = 256;
constexpr size_t kMaxAuditDetail = 4096;
constexpr int64_t kMaxAuditLimit = 10000;
constexpr size_t kMaxModelName = 128;
constexpr size_t kMaxModelText = 4096;  // source and path
constexpr size_t kMaxReplicaError = 4096;

// --- validation --------------------------------------------------------------------------------

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

bool IsPrintableAscii(std::string_view text, bool allow_space) {
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return (c > ' ' && c < 0x7f) || (allow_space && c == ' '); });
}

Result<std::string> NormalizeTenantName(std::string_view name) {
  std::string lower = Lower(name);
  bool ok =
      !lower.empty() && lower.size() <= kMaxTenantName &&
      std::isalnum(static_cast<unsigned char>(lower[0])) &&
      std::all_of(lower.begin(), lower.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
      });
  if (!ok) {
    return Status::InvalidArgument(fmt::format(
        "tenant name '{}' must be 1-{} characters of a-z, 0-9, '.', '_', '-', starting with a "
        "letter or digit",
        name, kMaxTenantName));
  }
  return lower;
}

Result<std::string> NormalizeUserName(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserName || !IsPrintableAscii(name, false)) {
    return Status::InvalidArgument(
        fmt::format("user name '{}' must be 1-{} printable ASCII characters without spaces", name,
                    kMaxUserName));
  }
  return Lower(name);
}

bool IsLowerHex(std::string_view text, size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status ValidateNewApiKey(const NewApiKey& key) {
  if (key.name.empty() || key.name.size() > kMaxKeyName || !IsPrintableAscii(key.name, true)) {
    return Status::InvalidArgument(fmt::format(
        "API key name '{}' must be 1-{} printable ASCII characters", key.name, kMaxKeyName));
  }
  bool prefix_ok = !key.prefix.empty() && key.prefix.size() <= 32 &&
                   std::all_of(key.prefix.begin(), key.prefix.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                   });
  if (!prefix_ok) {
    return Status::InvalidArgument(
        fmt::format("API key prefix '{}' must be 1-32 characters of a-z, 0-9", key.prefix));
  }
  if (!IsLowerHex(key.secret_hash, 64)) {
    return Status::InvalidArgument("API key secret hash must be 64 lower-case hex digits");
  }
  for (const std::string& d : key.deployments) {
    if (d.empty() || d.size() > kMaxDeploymentName || !IsPrintableAscii(d, false)) {
      return Status::InvalidArgument(
          fmt::format("deployment name '{}' must be 1-{} printable ASCII characters without spaces",
                      d, kMaxDeploymentName));
    }
  }
  return Status::Ok();
}

Status ValidateAuditField(std::string_view field, std::string_view value, size_t max,
                          bool required) {
  if (required && value.empty()) {
    return Status::InvalidArgument(fmt::format("audit entry needs a non-empty {}", field));
  }
  if (value.size() > max) {
    return Status::InvalidArgument(
        fmt::format("audit entry {} is {} bytes, more than {}", field, value.size(), max));
  }
  return Status::Ok();
}

Status ValidateQuota(const Quota& quota) {
  for (const auto& [name, value] : {std::pair{"requests_per_minute", quota.requests_per_minute},
                                    std::pair{"tokens_per_minute", quota.tokens_per_minute},
                                    std::pair{"max_concurrent", quota.max_concurrent}}) {
    if (value && *value < 0) {
      return Status::InvalidArgument(fmt::format("quota {} must not be negative", name));
    }
  }
  return Status::Ok();
}

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status ValidateNewModel(const NewModel& model) {
  HEARTH_RETURN_IF_ERROR(ValidateModelName(model.name));
  // Paths may hold any non-control bytes (a home directory with accents), not just ASCII.
  auto has_control = [](std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  };
  if (model.source.empty() || model.source.size() > kMaxModelText || has_control(model.source)) {
    return Status::InvalidArgument(
        fmt::format("model '{}': source must be 1-{} bytes without control characters",
                    model.name, kMaxModelText));
  }
  if (model.path.empty() || model.path.size() > kMaxModelText || model.path[0] != '/' ||
      has_control(model.path)) {
    return Status::InvalidArgument(fmt::format(
        "model '{}': path '{}' must be an absolute path of at most {} bytes", model.name,
        model.path, kMaxModelText));
  }
  if (model.size_bytes < 0) {
    return Status::InvalidArgument(fmt::format("model '{}': size must not be negative", model.name));
  }
  if (!IsLowerHex(model.sha256, 64)) {
    return Status::InvalidArgument(
        fmt::format("model '{}': sha256 must be 64 lower-case hex digits", model.name));
  }
  auto json = nlohmann::json::parse(model.metadata_json, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return Status::InvalidArgument(
        fmt::format("model '{}': metadata must be a JSON object", model.name));
  }
  return Status::Ok();
}

Result<std::string> NormalizeDeploymentName(std::string_view name) {
  std::string lower = Lower(name);
  bool ok = !lower.empty() && lower.size() <= kMaxDeploymentName &&
            std::isalnum(static_cast<unsigned char>(lower[0])) &&
            std::all_of(lower.begin(), lower.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                     c == '.' || c == ':';
            });
  if (!ok) {
    return Status::InvalidArgument(fmt::format(
        "deployment name '{}' must be 1-{} characters of a-z, 0-9, '.', '_', '-', ':', starting "
        "with a letter or digit",
        name, kMaxDeploymentName));
  }
  return lower;
}

// The spec as stored: name lower-case, tenants sorted and unique.
Result<DeploymentSpec> NormalizeDeploymentSpec(const DeploymentSpec& spec) {
  DeploymentSpec out = spec;
  HEARTH_ASSIGN_OR_RETURN(out.name, NormalizeDeploymentName(spec.name));
  auto bad = [&](std::string_view what) {
    return Status::InvalidArgument(fmt::format("deployment '{}': {}", out.name, what));
  };
  if (spec.replicas < 0) return bad(fmt::format("replicas {} must not be negative", spec.replicas));
  if (spec.ctx < 1) return bad(fmt::format("ctx {} must be at least 1", spec.ctx));
  if (spec.parallel < 1) return bad(fmt::format("parallel {} must be at least 1", spec.parallel));
  if (spec.kv_budget_bytes < 0) {
    return bad(fmt::format("kv_budget_bytes {} must not be negative", spec.kv_budget_bytes));
  }
  if (spec.threads < 0) return bad(fmt::format("threads {} must not be negative", spec.threads));
  std::sort(out.tenant_ids.begin(), out.tenant_ids.end());
  out.tenant_ids.erase(std::unique(out.tenant_ids.begin(), out.tenant_ids.end()),
                       out.tenant_ids.end());
  return out;
}

// Whether `after` changes what the engine processes of `before` run (see Deployment::generation).
bool ChangesEngine(const DeploymentSpec& before, const DeploymentSpec& after) {
  return before.model_id != after.model_id || before.ctx != after.ctx ||
         before.parallel != after.parallel || before.kv_budget_bytes != after.kv_budget_bytes ||
         before.threads != after.threads;
}

Status ValidateReplica(const ReplicaRecord& replica) {
  auto bad = [&](std::string_view what) {
    return Status::InvalidArgument(fmt::format("replica {}: {}", replica.id, what));
  };
  if (replica.pid < 0) return bad(fmt::format("pid {} must not be negative", replica.pid));
  if (replica.port < 0 || replica.port > 65535) {
    return bad(fmt::format("port {} outside 0..65535", replica.port));
  }
  if (replica.restarts < 0) {
    return bad(fmt::format("restarts {} must not be negative", replica.restarts));
  }
  if (replica.last_error.size() > kMaxReplicaError) {
    return bad(fmt::format("last_error is {} bytes, more than {}", replica.last_error.size(),
                           kMaxReplicaError));
  }
  return Status::Ok();
}

// --- decoding rows -----------------------------------------------------------------------------

Result<Tenant> DecodeTenant(const SqlRow& row) {
  RowReader r(row);
  Tenant t;
  t.id = r.Int();
  t.name = r.Text();
  t.created_at = r.Int();
  HEARTH_RETURN_IF_ERROR(r.status());
  return t;
}

Result<User> DecodeUser(const SqlRow& row) {
  RowReader r(row);
  User u;
  u.id = r.Int();
  u.tenant_id = r.OptionalInt();
  u.name = r.Text();
  std::string role = r.Text();
  u.password_hash = r.Text();
  u.created_at = r.Int();
  u.disabled = r.Int() != 0;
  HEARTH_RETURN_IF_ERROR(r.status());
  auto parsed = ParseRole(role);
  if (!parsed.ok()) {
    return Status::Corruption(fmt::format("store: user {} has unknown role '{}'", u.id, role));
  }
  u.role = *parsed;
  return u;
}

Result<ApiKey> DecodeApiKey(const SqlRow& row) {
  RowReader r(row);
  ApiKey k;
  k.id = r.Int();
  k.tenant_id = r.Int();
  k.name = r.Text();
  k.prefix = r.Text();
  k.secret_hash = r.Text();
  std::string deployments = r.Text();
  k.created_at = r.Int();
  k.expires_at = r.OptionalInt();
  k.revoked_at = r.OptionalInt();
  k.last_used_at = r.OptionalInt();
  HEARTH_RETURN_IF_ERROR(r.status());
  auto json = nlohmann::json::parse(deployments, nullptr, /*allow_exceptions=*/false);
  bool ok = json.is_array() &&
            std::all_of(json.begin(), json.end(), [](const auto& v) { return v.is_string(); });
  if (!ok) {
    return Status::Corruption(
        fmt::format("store: API key {} has malformed deployments '{}'", k.id, deployments));
  }
  for (const auto& v : json) k.deployments.push_back(v.template get<std::string>());
  return k;
}

Result<Session> DecodeSession(const SqlRow& row) {
  RowReader r(row);
  Session s;
  s.token_hash = r.Text();
  s.user_id = r.Int();
  s.created_at = r.Int();
  s.expires_at = r.Int();
  HEARTH_RETURN_IF_ERROR(r.status());
  return s;
}

Result<AuditEntry> DecodeAudit(const SqlRow& row) {
  RowReader r(row);
  AuditEntry e;
  e.id = r.Int();
  e.at = r.Int();
  e.actor = r.Text();
  e.action = r.Text();
  e.target = r.Text();
  e.source_ip = r.Text();
  e.result = r.Text();
  e.detail = r.Text();
  HEARTH_RETURN_IF_ERROR(r.status());
  return e;
}

Result<Quota> DecodeQuota(const SqlRow& row) {
  RowReader r(row);
  Quota q;
  q.requests_per_minute = r.OptionalInt();
  q.tokens_per_minute = r.OptionalInt();
  q.max_concurrent = r.OptionalInt();
  HEARTH_RETURN_IF_ERROR(r.status());
  return q;
}

Result<ModelRecord> DecodeModel(const SqlRow& row) {
  RowReader r(row);
  ModelRecord m;
  m.id = r.Int();
  m.name = r.Text();
  m.source = r.Text();
  m.path = r.Text();
  m.size_bytes = r.Int();
  m.sha256 = r.Text();
  m.metadata_json = r.Text();
  m.created_at = r.Int();
  HEARTH_RETURN_IF_ERROR(r.status());
  return m;
}

// A deployment without its tenant_ids (a separate table).
Result<Deployment> DecodeDeployment(const SqlRow& row) {
  RowReader r(row);
  Deployment d;
  d.id = r.Int();
  d.spec.name = r.Text();
  d.spec.model_id = r.Int();
  int64_t replicas = r.Int();
  int64_t ctx = r.Int();
  int64_t parallel = r.Int();
  d.spec.kv_budget_bytes = r.Int();
  int64_t threads = r.Int();
  std::string desired = r.Text();
  d.generation = r.Int();
  d.created_at = r.Int();
  d.updated_at = r.Int();
  HEARTH_RETURN_IF_ERROR(r.status());
  // The columns are BIGINT; the spec's ints were range-checked when written.
  d.spec.replicas = static_cast<int>(replicas);
  d.spec.ctx = static_cast<int>(ctx);
  d.spec.parallel = static_cast<int>(parallel);
  d.spec.threads = static_cast<int>(threads);
  auto parsed = ParseDesiredState(desired);
  if (!parsed.ok()) {
    return Status::Corruption(
        fmt::format("store: deployment {} has unknown desired state '{}'", d.id, desired));
  }
  d.desired = *parsed;
  return d;
}

Result<ReplicaRecord> DecodeReplica(const SqlRow& row) {
  RowReader r(row);
  ReplicaRecord rep;
  rep.id = r.Int();
  rep.deployment_id = r.Int();
  rep.generation = r.Int();
  std::string state = r.Text();
  rep.pid = r.Int();
  int64_t port = r.Int();
  int64_t restarts = r.Int();
  rep.last_error = r.Text();
  rep.updated_at = r.Int();
  HEARTH_RETURN_IF_ERROR(r.status());
  rep.port = static_cast<int>(port);
  rep.restarts = static_cast<int>(restarts);
  auto parsed = ParseReplicaState(state);
  if (!parsed.ok()) {
    return Status::Corruption(
        fmt::format("store: replica {} has unknown state '{}'", rep.id, state));
  }
  rep.state = *parsed;
  return rep;
}

template <typename T>
Result<std::vector<T>> DecodeAll(const std::vector<SqlRow>& rows,
                                 Result<T> (*decode)(const SqlRow&)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const SqlRow& row : rows) {
    HEARTH_ASSIGN_OR_RETURN(T value, decode(row));
    out.push_back(std::move(value));
  }
  return out;
}

// The single row a lookup by key returns, or kNotFound with `what` ("tenant 7").
template <typename T>
Result<T> DecodeOne(const std::vector<SqlRow>& rows, Result<T> (*decode)(const SqlRow&),
                    std::string_view what) {
  if (rows.empty()) return Status::NotFound(fmt::format("{} not found", what));
  return decode(rows[0]);
}

}  // namespace

Status ValidateModelName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxModelName && IsAsciiAlnum(name[0]) &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return IsAsciiAlnum(c) || c == '-' || c == '_' || c == '.';
            });
  if (!ok) {
    return Status::InvalidArgument(fmt::format(
        "model name '{}' must be 1-{} characters of A-Z, a-z, 0-9, '.', '_', '-', starting with "
        "a letter or digit",
        name, kMaxModelName));
  }
  return Status::Ok();
}

namespace {

// --- the store ---------------------------------------------------------------------------------

class SqlStore final : public Store {
 public:
  SqlStore(std::unique_ptr<SqlDriver> db, Clock clock)
      : db_(std::move(db)), clock_(std::move(clock)) {}

  std::string_view backend() const override {
    return db_->dialect() == SqlDialect::kSqlite ? "sqlite" : "postgres";
  }

  Result<int64_t> SchemaVersion() override {
    std::lock_guard lock(mu_);
    return CurrentSchemaVersion(*db_);
  }

  // Tenants ---------------------------------------------------------------------------------

  Result<Tenant> CreateTenant(std::string_view name) override {
    HEARTH_ASSIGN_OR_RETURN(std::string normalized, NormalizeTenantName(name));
    std::lock_guard lock(mu_);
    auto rows = Query(fmt::format("INSERT INTO tenants (name, created_at) VALUES (?, ?) "
                                  "RETURNING {}",
                                  kTenantColumns),
                      {normalized, clock_()});
    if (!rows.ok() && rows.status().code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists(fmt::format("tenant '{}' already exists", normalized));
    }
    HEARTH_RETURN_IF_ERROR(rows.status());
    return DecodeOne(*rows, DecodeTenant, "new tenant");
  }

  Result<Tenant> GetTenant(int64_t id) override {
    std::lock_guard lock(mu_);
    return GetTenantLocked(id);
  }

  Result<Tenant> FindTenantByName(std::string_view name) override {
    std::string normalized = Lower(name);
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT {} FROM tenants WHERE name = ?", kTenantColumns), {normalized}));
    return DecodeOne(rows, DecodeTenant, fmt::format("tenant '{}'", normalized));
  }

  Result<std::vector<Tenant>> ListTenants() override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM tenants ORDER BY id", kTenantColumns), {}));
    return DecodeAll(rows, DecodeTenant);
  }

  Status DeleteTenant(int64_t id) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(Tenant tenant, GetTenantLocked(id));
    auto changed = Execute("DELETE FROM tenants WHERE id = ?", {id});
    if (!changed.ok() && changed.status().code() == StatusCode::kFailedPrecondition) {
      return Status::FailedPrecondition(fmt::format(
          "tenant '{}' (id {}) still has users or API keys; delete them first", tenant.name, id));
    }
    HEARTH_RETURN_IF_ERROR(changed.status());
    if (*changed == 0) return Status::NotFound(fmt::format("tenant {} not found", id));
    return Status::Ok();
  }

  // Users -----------------------------------------------------------------------------------

  Result<User> CreateUser(const NewUser& user) override {
    HEARTH_ASSIGN_OR_RETURN(std::string name, NormalizeUserName(user.name));
    bool platform_admin = user.role == Role::kPlatformAdmin;
    if (platform_admin && user.tenant_id) {
      return Status::InvalidArgument(
          fmt::format("user '{}': a platform admin belongs to no tenant", name));
    }
    if (!platform_admin && !user.tenant_id) {
      return Status::InvalidArgument(
          fmt::format("user '{}': a {} must belong to a tenant", name, RoleName(user.role)));
    }
    if (user.password_hash.empty()) {
      return Status::InvalidArgument(fmt::format("user '{}': empty password hash", name));
    }
    std::lock_guard lock(mu_);
    auto rows = Query(fmt::format("INSERT INTO users (tenant_id, name, role, password_hash, "
                                  "created_at, disabled) VALUES (?, ?, ?, ?, ?, 0) RETURNING {}",
                                  kUserColumns),
                      {SqlOptional(user.tenant_id), name, std::string(RoleName(user.role)),
                       user.password_hash, clock_()});
    if (!rows.ok()) {
      switch (rows.status().code()) {
        case StatusCode::kAlreadyExists:
          return Status::AlreadyExists(fmt::format("user '{}' already exists", name));
        case StatusCode::kFailedPrecondition:
          return Status::NotFound(
              fmt::format("user '{}': tenant {} does not exist", name, user.tenant_id.value_or(0)));
        default:
          return rows.status();
      }
    }
    return DecodeOne(*rows, DecodeUser, "new user");
  }

  Result<User> GetUser(int64_t id) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM users WHERE id = ?", kUserColumns), {id}));
    return DecodeOne(rows, DecodeUser, fmt::format("user {}", id));
  }

  Result<User> FindUserByName(std::string_view name) override {
    std::string normalized = Lower(name);
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT {} FROM users WHERE name = ?", kUserColumns), {normalized}));
    return DecodeOne(rows, DecodeUser, fmt::format("user '{}'", normalized));
  }

  Result<std::vector<User>> ListUsers(std::optional<int64_t> tenant_id) override {
    std::lock_guard lock(mu_);
    Result<std::vector<SqlRow>> rows =
        tenant_id ? Query(fmt::format("SELECT {} FROM users WHERE tenant_id = ? ORDER BY id",
                                      kUserColumns),
                          {*tenant_id})
                  : Query(fmt::format("SELECT {} FROM users ORDER BY id", kUserColumns), {});
    HEARTH_RETURN_IF_ERROR(rows.status());
    return DecodeAll(*rows, DecodeUser);
  }

  Result<int64_t> CountUsers() override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(auto rows, Query("SELECT COUNT(*) FROM users", {}));
    if (rows.size() != 1) return Status::Corruption("store: COUNT returned no row");
    RowReader r(rows[0]);
    int64_t count = r.Int();
    HEARTH_RETURN_IF_ERROR(r.status());
    return count;
  }

  Status SetUserPasswordHash(int64_t id, std::string_view password_hash) override {
    if (password_hash.empty()) return Status::InvalidArgument("empty password hash");
    std::lock_guard lock(mu_);
    return ExpectChanged(Execute("UPDATE users SET password_hash = ? WHERE id = ?",
                                 {std::string(password_hash), id}),
                         fmt::format("user {}", id));
  }

  Status SetUserDisabled(int64_t id, bool disabled) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(
        Execute("UPDATE users SET disabled = ? WHERE id = ?", {int64_t{disabled ? 1 : 0}, id}),
        fmt::format("user {}", id));
  }

  Status SetUserRole(int64_t id, Role role) override {
    if (role == Role::kPlatformAdmin) {
      return Status::InvalidArgument("a tenant user cannot become a platform admin");
    }
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(int64_t changed,
                            Execute("UPDATE users SET role = ? WHERE id = ? AND tenant_id IS NOT "
                                    "NULL",
                                    {std::string(RoleName(role)), id}));
    if (changed > 0) return Status::Ok();
    HEARTH_ASSIGN_OR_RETURN(auto rows, Query("SELECT id FROM users WHERE id = ?", {id}));
    if (rows.empty()) return Status::NotFound(fmt::format("user {} not found", id));
    return Status::InvalidArgument(
        fmt::format("user {} is a platform admin; its role is fixed", id));
  }

  Status DeleteUser(int64_t id) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(Execute("DELETE FROM users WHERE id = ?", {id}),
                         fmt::format("user {}", id));
  }

  // API keys --------------------------------------------------------------------------------

  Result<ApiKey> CreateApiKey(const NewApiKey& key) override {
    HEARTH_RETURN_IF_ERROR(ValidateNewApiKey(key));
    std::string deployments = nlohmann::json(key.deployments).dump();
    std::lock_guard lock(mu_);
    auto rows = Query(fmt::format("INSERT INTO api_keys (tenant_id, name, prefix, secret_hash, "
                                  "deployments, created_at, expires_at) VALUES (?, ?, ?, ?, ?, "
                                  "?, ?) RETURNING {}",
                                  kKeyColumns),
                      {key.tenant_id, key.name, key.prefix, key.secret_hash, deployments, clock_(),
                       SqlOptional(key.expires_at)});
    if (!rows.ok()) {
      switch (rows.status().code()) {
        case StatusCode::kAlreadyExists: {
          // Two unique constraints; name the one that was hit without parsing engine messages.
          auto same_prefix = Query("SELECT id FROM api_keys WHERE prefix = ?", {key.prefix});
          if (same_prefix.ok() && !same_prefix->empty()) {
            return Status::AlreadyExists(
                fmt::format("API key prefix '{}' is already in use", key.prefix));
          }
          return Status::AlreadyExists(
              fmt::format("tenant {} already has an API key named '{}'", key.tenant_id, key.name));
        }
        case StatusCode::kFailedPrecondition:
          return Status::NotFound(
              fmt::format("API key '{}': tenant {} does not exist", key.name, key.tenant_id));
        default:
          return rows.status();
      }
    }
    return DecodeOne(*rows, DecodeApiKey, "new API key");
  }

  Result<ApiKey> GetApiKey(int64_t id) override {
    std::lock_guard lock(mu_);
    return GetApiKeyLocked(id);
  }

  Result<ApiKey> FindApiKeyByPrefix(std::string_view prefix) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM api_keys WHERE prefix = ?", kKeyColumns),
                         {std::string(prefix)}));
    return DecodeOne(rows, DecodeApiKey, fmt::format("API key with prefix '{}'", prefix));
  }

  Result<std::vector<ApiKey>> ListApiKeys(int64_t tenant_id) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT {} FROM api_keys WHERE tenant_id = ? ORDER BY id", kKeyColumns),
              {tenant_id}));
    return DecodeAll(rows, DecodeApiKey);
  }

  Result<ApiKey> RevokeApiKey(int64_t id) override {
    std::lock_guard lock(mu_);
    HEARTH_RETURN_IF_ERROR(
        Execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                {clock_(), id})
            .status());
    return GetApiKeyLocked(id);
  }

  Status TouchApiKey(int64_t id, int64_t used_at) override {
    std::lock_guard lock(mu_);
    // Never moves last_used_at backwards when two requests finish out of order.
    return Execute(
               "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND "
               "(last_used_at IS NULL OR last_used_at < ?)",
               {used_at, id, used_at})
        .status();
  }

  Status DeleteApiKey(int64_t id) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(Execute("DELETE FROM api_keys WHERE id = ?", {id}),
                         fmt::format("API key {}", id));
  }

  // Sessions --------------------------------------------------------------------------------

  Result<Session> CreateSession(std::string_view token_hash, int64_t user_id,
                                int64_t expires_at) override {
    if (!IsLowerHex(token_hash, 64)) {
      return Status::InvalidArgument("session token hash must be 64 lower-case hex digits");
    }
    std::lock_guard lock(mu_);
    auto rows = Query(fmt::format("INSERT INTO sessions (token_hash, user_id, created_at, "
                                  "expires_at) VALUES (?, ?, ?, ?) RETURNING {}",
                                  kSessionColumns),
                      {std::string(token_hash), user_id, clock_(), expires_at});
    if (!rows.ok()) {
      switch (rows.status().code()) {
        case StatusCode::kAlreadyExists:
          return Status::AlreadyExists("a session with this token already exists");
        case StatusCode::kFailedPrecondition:
          return Status::NotFound(fmt::format("session: user {} does not exist", user_id));
        default:
          return rows.status();
      }
    }
    return DecodeOne(*rows, DecodeSession, "new session");
  }

  Result<Session> FindSession(std::string_view token_hash) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT {} FROM sessions WHERE token_hash = ?", kSessionColumns),
              {std::string(token_hash)}));
    return DecodeOne(rows, DecodeSession, "session");
  }

  Status DeleteSession(std::string_view token_hash) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(
        Execute("DELETE FROM sessions WHERE token_hash = ?", {std::string(token_hash)}), "session");
  }

  Result<int64_t> DeleteExpiredSessions(int64_t now) override {
    std::lock_guard lock(mu_);
    return Execute("DELETE FROM sessions WHERE expires_at <= ?", {now});
  }

  // Audit -----------------------------------------------------------------------------------

  Result<AuditEntry> AppendAudit(const AuditEntry& entry) override {
    HEARTH_RETURN_IF_ERROR(ValidateAuditField("actor", entry.actor, kMaxAuditField, true));
    HEARTH_RETURN_IF_ERROR(ValidateAuditField("action", entry.action, kMaxAuditField, true));
    HEARTH_RETURN_IF_ERROR(ValidateAuditField("target", entry.target, kMaxAuditField, false));
    HEARTH_RETURN_IF_ERROR(ValidateAuditField("source_ip", entry.source_ip, kMaxAuditField, false));
    HEARTH_RETURN_IF_ERROR(ValidateAuditField("result", entry.result, kMaxAuditField, true));
    HEARTH_RETURN_IF_ERROR(ValidateAuditField("detail", entry.detail, kMaxAuditDetail, false));
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("INSERT INTO audit_log (at, actor, action, target, source_ip, result, "
                          "detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {}",
                          kAuditColumns),
              {clock_(), entry.actor, entry.action, entry.target, entry.source_ip, entry.result,
               entry.detail}));
    return DecodeOne(rows, DecodeAudit, "new audit entry");
  }

  Result<std::vector<AuditEntry>> QueryAudit(const AuditFilter& filter) override {
    if (filter.limit < 1 || filter.limit > kMaxAuditLimit) {
      return Status::InvalidArgument(
          fmt::format("audit query limit {} outside 1..{}", filter.limit, kMaxAuditLimit));
    }
    std::string sql = fmt::format("SELECT {} FROM audit_log WHERE 1 = 1", kAuditColumns);
    std::vector<SqlValue> params;
    auto add = [&](std::string_view clause, SqlValue value) {
      sql += " AND ";
      sql += clause;
      params.push_back(std::move(value));
    };
    if (filter.actor) add("actor = ?", *filter.actor);
    if (filter.action) add("action = ?", *filter.action);
    if (filter.target) add("target = ?", *filter.target);
    if (filter.target_prefix) {
      // substr counts characters and the length below counts bytes: equal only for ASCII.
      for (char c : *filter.target_prefix) {
        if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') {
          return Status::InvalidArgument("audit target prefix must be ASCII");
        }
      }
      add(fmt::format("substr(target, 1, {}) = ?", filter.target_prefix->size()),
          *filter.target_prefix);
    }
    if (filter.result) add("result = ?", *filter.result);
    if (filter.from) add("at >= ?", *filter.from);
    if (filter.to) add("at < ?", *filter.to);
    if (filter.before_id) add("id < ?", *filter.before_id);
    sql += " ORDER BY id DESC LIMIT ?";
    params.push_back(filter.limit);
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(auto rows, db_->Query(sql, params));
    return DecodeAll(rows, DecodeAudit);
  }

  // Usage -----------------------------------------------------------------------------------

  Status RecordUsage(const UsageEvent& event) override {
    HEARTH_RETURN_IF_ERROR(ValidateUsage(event));
    std::lock_guard lock(mu_);
    return InsertUsage(event);
  }

  Status RecordUsageBatch(std::span<const UsageEvent> events) override {
    for (const UsageEvent& event : events) HEARTH_RETURN_IF_ERROR(ValidateUsage(event));
    if (events.empty()) return Status::Ok();
    std::lock_guard lock(mu_);
    HEARTH_RETURN_IF_ERROR(db_->BeginWrite());
    Status status;
    for (const UsageEvent& event : events) {
      status = InsertUsage(event);
      if (!status.ok()) break;
    }
    if (status.ok()) status = db_->Commit();
    if (!status.ok()) (void)db_->Rollback();
    return status;
  }

  Result<std::vector<UsageTotals>> QueryUsage(int64_t tenant_id, int64_t from,
                                              int64_t to) override {
    HEARTH_RETURN_IF_ERROR(CheckUsageRange(from, to));
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT key_id, deployment, {} FROM usage "
                                     "WHERE tenant_id = ? AND at >= ? AND at < ? "
                                     "GROUP BY key_id, deployment",
                                     kUsageSums),
                         {tenant_id, from, to}));
    std::vector<UsageTotals> totals;
    for (const SqlRow& row : rows) {
      RowReader r(row);
      UsageTotals t;
      t.key_id = r.OptionalInt();
      t.deployment = r.Text();
      HEARTH_RETURN_IF_ERROR(ReadUsageSums(r, t));
      totals.push_back(std::move(t));
    }
    // Sorted here, not in SQL: the engines order NULLs and text (collations) differently.
    std::sort(totals.begin(), totals.end(), UsageGroupBefore);
    return totals;
  }

  Result<std::vector<HourlyUsageTotals>> QueryUsageByHour(int64_t tenant_id, int64_t from,
                                                          int64_t to) override {
    HEARTH_RETURN_IF_ERROR(CheckUsageRange(from, to));
    // The hour is floor(at / 1h) * 1h. Both engines' integer '/' and '%' truncate toward zero,
    // so the remainder is made non-negative first: times before 1970 land in the right hour too.
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT hour_start, key_id, deployment, {} FROM ("
                          "SELECT at - (((at % 3600000) + 3600000) % 3600000) AS hour_start, "
                          "key_id, deployment, prompt_tokens, completion_tokens, errors FROM usage "
                          "WHERE tenant_id = ? AND at >= ? AND at < ?) AS in_range "
                          "GROUP BY hour_start, key_id, deployment",
                          kUsageSums),
              {tenant_id, from, to}));
    std::vector<HourlyUsageTotals> hours;
    for (const SqlRow& row : rows) {
      RowReader r(row);
      HourlyUsageTotals h;
      h.hour = r.Int();
      h.totals.key_id = r.OptionalInt();
      h.totals.deployment = r.Text();
      HEARTH_RETURN_IF_ERROR(ReadUsageSums(r, h.totals));
      hours.push_back(std::move(h));
    }
    std::sort(hours.begin(), hours.end(),
              [](const HourlyUsageTotals& a, const HourlyUsageTotals& b) {
                if (a.hour != b.hour) return a.hour < b.hour;
                return UsageGroupBefore(a.totals, b.totals);
              });
    return hours;
  }

  // Quotas ----------------------------------------------------------------------------------

  Status SetQuota(QuotaSubject subject, const Quota& quota) override {
    HEARTH_RETURN_IF_ERROR(ValidateQuota(quota));
    std::string_view column = SubjectColumn(subject);
    bool tenant = subject.kind == QuotaSubject::Kind::kTenant;
    std::lock_guard lock(mu_);
    auto changed =
        Execute(fmt::format("INSERT INTO quotas (tenant_id, key_id, {0}) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT ({1}) DO UPDATE SET "
                            "requests_per_minute = excluded.requests_per_minute, "
                            "tokens_per_minute = excluded.tokens_per_minute, "
                            "max_concurrent = excluded.max_concurrent",
                            kQuotaColumns, column),
                {tenant ? SqlValue(subject.id) : SqlNull(),
                 tenant ? SqlNull() : SqlValue(subject.id), SqlOptional(quota.requests_per_minute),
                 SqlOptional(quota.tokens_per_minute), SqlOptional(quota.max_concurrent)});
    if (!changed.ok() && changed.status().code() == StatusCode::kFailedPrecondition) {
      return Status::NotFound(fmt::format("quota: {} does not exist", SubjectName(subject)));
    }
    return changed.status();
  }

  Result<Quota> GetQuota(QuotaSubject subject) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(auto rows, Query(fmt::format("SELECT {} FROM quotas WHERE {} = ?",
                                                         kQuotaColumns, SubjectColumn(subject)),
                                             {subject.id}));
    return DecodeOne(rows, DecodeQuota, fmt::format("quota of {}", SubjectName(subject)));
  }

  Status DeleteQuota(QuotaSubject subject) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(
        Execute(fmt::format("DELETE FROM quotas WHERE {} = ?", SubjectColumn(subject)),
                {subject.id}),
        fmt::format("quota of {}", SubjectName(subject)));
  }

  // Models ----------------------------------------------------------------------------------

  Result<ModelRecord> CreateModel(const NewModel& model) override {
    HEARTH_RETURN_IF_ERROR(ValidateNewModel(model));
    std::lock_guard lock(mu_);
    auto rows = Query(fmt::format("INSERT INTO models (name, source, path, size_bytes, sha256, "
                                  "metadata_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                                  "RETURNING {}",
                                  kModelColumns),
                      {model.name, model.source, model.path, model.size_bytes, model.sha256,
                       model.metadata_json, clock_()});
    if (!rows.ok() && rows.status().code() == StatusCode::kAlreadyExists) {
      auto taken = FindModelLocked(model.name);
      return Status::AlreadyExists(
          taken.ok() && taken->name != model.name
              ? fmt::format("model '{}' already exists (as '{}')", model.name, taken->name)
              : fmt::format("model '{}' already exists", model.name));
    }
    HEARTH_RETURN_IF_ERROR(rows.status());
    return DecodeOne(*rows, DecodeModel, "new model");
  }

  Result<ModelRecord> GetModel(int64_t id) override {
    std::lock_guard lock(mu_);
    return GetModelLocked(id);
  }

  Result<ModelRecord> FindModelByName(std::string_view name) override {
    std::lock_guard lock(mu_);
    return FindModelLocked(name);
  }

  Result<std::vector<ModelRecord>> ListModels() override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM models ORDER BY id", kModelColumns), {}));
    return DecodeAll(rows, DecodeModel);
  }

  Status DeleteModel(int64_t id) override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(ModelRecord model, GetModelLocked(id));
    auto changed = Execute("DELETE FROM models WHERE id = ?", {id});
    if (!changed.ok() && changed.status().code() == StatusCode::kFailedPrecondition) {
      std::string users;
      auto rows = Query("SELECT name FROM deployments WHERE model_id = ? ORDER BY name", {id});
      if (rows.ok()) {
        for (const SqlRow& row : *rows) {
          RowReader r(row);
          users += (users.empty() ? "'" : ", '") + r.Text() + "'";
        }
      }
      return Status::FailedPrecondition(
          fmt::format("model '{}' (id {}) is used by deployment {}; delete the deployment first",
                      model.name, id, users.empty() ? "(unknown)" : users));
    }
    return ExpectChanged(changed, fmt::format("model {}", id));
  }

  // Deployments -----------------------------------------------------------------------------

  Result<Deployment> CreateDeployment(const DeploymentSpec& spec, DesiredState desired) override {
    HEARTH_ASSIGN_OR_RETURN(DeploymentSpec normalized, NormalizeDeploymentSpec(spec));
    std::lock_guard lock(mu_);
    int64_t id = 0;
    HEARTH_RETURN_IF_ERROR(InWriteTransaction([&]() -> Status {
      HEARTH_RETURN_IF_ERROR(CheckReferences(normalized));
      int64_t now = clock_();
      auto rows = Query(
          "INSERT INTO deployments (name, model_id, replicas, ctx, parallel, kv_budget_bytes, "
          "threads, desired, generation, created_at, updated_at) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id",
          {normalized.name, normalized.model_id, int64_t{normalized.replicas},
           int64_t{normalized.ctx}, int64_t{normalized.parallel}, normalized.kv_budget_bytes,
           int64_t{normalized.threads}, std::string(DesiredStateName(desired)), now, now});
      if (!rows.ok()) {
        switch (rows.status().code()) {
          case StatusCode::kAlreadyExists:
            return Status::AlreadyExists(
                fmt::format("deployment '{}' already exists", normalized.name));
          case StatusCode::kFailedPrecondition:
            return Status::NotFound(fmt::format(
                "deployment '{}': its model or a tenant does not exist", normalized.name));
          default:
            return rows.status();
        }
      }
      if (rows->size() != 1) return Status::Corruption("store: INSERT RETURNING gave no row");
      RowReader r((*rows)[0]);
      id = r.Int();
      HEARTH_RETURN_IF_ERROR(r.status());
      return InsertDeploymentTenants(id, normalized);
    }));
    return GetDeploymentLocked(id);
  }

  Result<Deployment> GetDeployment(int64_t id) override {
    std::lock_guard lock(mu_);
    return GetDeploymentLocked(id);
  }

  Result<Deployment> FindDeploymentByName(std::string_view name) override {
    std::string normalized = Lower(name);
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM deployments WHERE name = ?",
                                     kDeploymentColumns),
                         {normalized}));
    HEARTH_ASSIGN_OR_RETURN(
        Deployment deployment,
        DecodeOne(rows, DecodeDeployment, fmt::format("deployment '{}'", normalized)));
    HEARTH_RETURN_IF_ERROR(LoadTenants(deployment));
    return deployment;
  }

  Result<std::vector<Deployment>> ListDeployments() override {
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT {} FROM deployments ORDER BY id", kDeploymentColumns), {}));
    HEARTH_ASSIGN_OR_RETURN(std::vector<Deployment> deployments,
                            DecodeAll(rows, DecodeDeployment));
    HEARTH_ASSIGN_OR_RETURN(
        auto grants, Query("SELECT deployment_id, tenant_id FROM deployment_tenants "
                           "ORDER BY deployment_id, tenant_id",
                           {}));
    for (const SqlRow& row : grants) {
      RowReader r(row);
      int64_t deployment_id = r.Int();
      int64_t tenant_id = r.Int();
      HEARTH_RETURN_IF_ERROR(r.status());
      auto it = std::lower_bound(
          deployments.begin(), deployments.end(), deployment_id,
          [](const Deployment& d, int64_t wanted) { return d.id < wanted; });
      if (it != deployments.end() && it->id == deployment_id) {
        it->spec.tenant_ids.push_back(tenant_id);
      }
    }
    return deployments;
  }

  Result<Deployment> UpdateDeployment(int64_t id, const DeploymentSpec& spec,
                                      DesiredState desired) override {
    HEARTH_ASSIGN_OR_RETURN(DeploymentSpec normalized, NormalizeDeploymentSpec(spec));
    std::lock_guard lock(mu_);
    HEARTH_RETURN_IF_ERROR(InWriteTransaction([&]() -> Status {
      HEARTH_ASSIGN_OR_RETURN(Deployment current, GetDeploymentLocked(id));
      if (current.spec.name != normalized.name) {
        return Status::InvalidArgument(
            fmt::format("deployment {} is named '{}'; its name cannot change to '{}'", id,
                        current.spec.name, normalized.name));
      }
      HEARTH_RETURN_IF_ERROR(CheckReferences(normalized));
      int64_t generation = current.generation + (ChangesEngine(current.spec, normalized) ? 1 : 0);
      auto changed = Execute(
          "UPDATE deployments SET model_id = ?, replicas = ?, ctx = ?, parallel = ?, "
          "kv_budget_bytes = ?, threads = ?, desired = ?, generation = ?, updated_at = ? "
          "WHERE id = ?",
          {normalized.model_id, int64_t{normalized.replicas}, int64_t{normalized.ctx},
           int64_t{normalized.parallel}, normalized.kv_budget_bytes, int64_t{normalized.threads},
           std::string(DesiredStateName(desired)), generation, clock_(), id});
      if (!changed.ok() && changed.status().code() == StatusCode::kFailedPrecondition) {
        return Status::NotFound(
            fmt::format("deployment '{}': model {} does not exist", normalized.name,
                        normalized.model_id));
      }
      HEARTH_RETURN_IF_ERROR(ExpectChanged(changed, fmt::format("deployment {}", id)));
      HEARTH_RETURN_IF_ERROR(
          Execute("DELETE FROM deployment_tenants WHERE deployment_id = ?", {id}).status());
      return InsertDeploymentTenants(id, normalized);
    }));
    return GetDeploymentLocked(id);
  }

  Status DeleteDeployment(int64_t id) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(Execute("DELETE FROM deployments WHERE id = ?", {id}),
                         fmt::format("deployment {}", id));
  }

  // Replicas --------------------------------------------------------------------------------

  Result<ReplicaRecord> CreateReplica(int64_t deployment_id, int64_t generation) override {
    if (generation < 1) {
      return Status::InvalidArgument(
          fmt::format("replica of deployment {}: generation {} must be at least 1", deployment_id,
                      generation));
    }
    std::lock_guard lock(mu_);
    auto rows = Query(fmt::format("INSERT INTO replicas (deployment_id, generation, state, pid, "
                                  "port, restarts, last_error, updated_at) "
                                  "VALUES (?, ?, ?, 0, 0, 0, '', ?) RETURNING {}",
                                  kReplicaColumns),
                      {deployment_id, generation,
                       std::string(ReplicaStateName(ReplicaState::kPending)), clock_()});
    if (!rows.ok() && rows.status().code() == StatusCode::kFailedPrecondition) {
      return Status::NotFound(fmt::format("replica: deployment {} does not exist", deployment_id));
    }
    HEARTH_RETURN_IF_ERROR(rows.status());
    return DecodeOne(*rows, DecodeReplica, "new replica");
  }

  Result<ReplicaRecord> UpdateReplica(const ReplicaRecord& replica) override {
    HEARTH_RETURN_IF_ERROR(ValidateReplica(replica));
    std::lock_guard lock(mu_);
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("UPDATE replicas SET state = ?, pid = ?, port = ?, restarts = ?, "
                          "last_error = ?, updated_at = ? WHERE id = ? RETURNING {}",
                          kReplicaColumns),
              {std::string(ReplicaStateName(replica.state)), replica.pid,
               int64_t{replica.port}, int64_t{replica.restarts}, replica.last_error, clock_(),
               replica.id}));
    return DecodeOne(rows, DecodeReplica, fmt::format("replica {}", replica.id));
  }

  Result<std::vector<ReplicaRecord>> ListReplicas(std::optional<int64_t> deployment_id) override {
    std::lock_guard lock(mu_);
    Result<std::vector<SqlRow>> rows =
        deployment_id
            ? Query(fmt::format("SELECT {} FROM replicas WHERE deployment_id = ? ORDER BY id",
                                kReplicaColumns),
                    {*deployment_id})
            : Query(fmt::format("SELECT {} FROM replicas ORDER BY id", kReplicaColumns), {});
    HEARTH_RETURN_IF_ERROR(rows.status());
    return DecodeAll(*rows, DecodeReplica);
  }

  Status DeleteReplica(int64_t id) override {
    std::lock_guard lock(mu_);
    return ExpectChanged(Execute("DELETE FROM replicas WHERE id = ?", {id}),
                         fmt::format("replica {}", id));
  }

 private:
  // Runs `body` in a write transaction: committed when it succeeds, rolled back otherwise.
  Status InWriteTransaction(const std::function<Status()>& body) {
    HEARTH_RETURN_IF_ERROR(db_->BeginWrite());
    Status status = body();
    if (status.ok()) status = db_->Commit();
    if (!status.ok()) (void)db_->Rollback();
    return status;
  }

  Result<ModelRecord> GetModelLocked(int64_t id) {
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM models WHERE id = ?", kModelColumns), {id}));
    return DecodeOne(rows, DecodeModel, fmt::format("model {}", id));
  }

  Result<ModelRecord> FindModelLocked(std::string_view name) {
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM models WHERE lower(name) = ?", kModelColumns),
                         {Lower(name)}));
    return DecodeOne(rows, DecodeModel, fmt::format("model '{}'", name));
  }

  // kNotFound naming the first model or tenant of `spec` that does not exist.
  Status CheckReferences(const DeploymentSpec& spec) {
    HEARTH_ASSIGN_OR_RETURN(auto model, Query("SELECT id FROM models WHERE id = ?",
                                              {spec.model_id}));
    if (model.empty()) {
      return Status::NotFound(
          fmt::format("deployment '{}': model {} does not exist", spec.name, spec.model_id));
    }
    for (int64_t tenant_id : spec.tenant_ids) {
      HEARTH_ASSIGN_OR_RETURN(auto tenant, Query("SELECT id FROM tenants WHERE id = ?",
                                                 {tenant_id}));
      if (tenant.empty()) {
        return Status::NotFound(
            fmt::format("deployment '{}': tenant {} does not exist", spec.name, tenant_id));
      }
    }
    return Status::Ok();
  }

  Status InsertDeploymentTenants(int64_t id, const DeploymentSpec& spec) {
    for (int64_t tenant_id : spec.tenant_ids) {
      auto inserted = Execute(
          "INSERT INTO deployment_tenants (deployment_id, tenant_id) VALUES (?, ?)",
          {id, tenant_id});
      if (!inserted.ok() && inserted.status().code() == StatusCode::kFailedPrecondition) {
        return Status::NotFound(
            fmt::format("deployment '{}': tenant {} does not exist", spec.name, tenant_id));
      }
      HEARTH_RETURN_IF_ERROR(inserted.status());
    }
    return Status::Ok();
  }

  Status LoadTenants(Deployment& deployment) {
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query("SELECT tenant_id FROM deployment_tenants WHERE deployment_id = ? "
                         "ORDER BY tenant_id",
                         {deployment.id}));
    deployment.spec.tenant_ids.clear();
    for (const SqlRow& row : rows) {
      RowReader r(row);
      deployment.spec.tenant_ids.push_back(r.Int());
      HEARTH_RETURN_IF_ERROR(r.status());
    }
    return Status::Ok();
  }

  Result<Deployment> GetDeploymentLocked(int64_t id) {
    HEARTH_ASSIGN_OR_RETURN(
        auto rows,
        Query(fmt::format("SELECT {} FROM deployments WHERE id = ?", kDeploymentColumns), {id}));
    HEARTH_ASSIGN_OR_RETURN(Deployment deployment,
                            DecodeOne(rows, DecodeDeployment, fmt::format("deployment {}", id)));
    HEARTH_RETURN_IF_ERROR(LoadTenants(deployment));
    return deployment;
  }

  static Status ValidateUsage(const UsageEvent& event) {
    if (event.prompt_tokens < 0 || event.completion_tokens < 0) {
      return Status::InvalidArgument("usage token counts must not be negative");
    }
    // Empty only for a request that reached no deployment, which cannot have used tokens.
    const bool tokens = event.prompt_tokens > 0 || event.completion_tokens > 0;
    if ((event.deployment.empty() && tokens) || event.deployment.size() > kMaxDeploymentName) {
      return Status::InvalidArgument(fmt::format(
          "usage deployment name must be 1-{} characters (empty only without tokens)",
          kMaxDeploymentName));
    }
    if (event.http_status != 0 && (event.http_status < 100 || event.http_status > 599)) {
      return Status::InvalidArgument(
          fmt::format("usage HTTP status {} is not 0 or 100-599", event.http_status));
    }
    return Status::Ok();
  }

  static Status CheckUsageRange(int64_t from, int64_t to) {
    if (from > to) {
      return Status::InvalidArgument(
          fmt::format("usage query range [{}, {}) ends before it starts", from, to));
    }
    return Status::Ok();
  }

  // The aggregate columns of a usage query, in the order ReadUsageSums reads them. CAST: SUM of
  // BIGINT is NUMERIC in PostgreSQL.
  static constexpr std::string_view kUsageSums =
      "COUNT(*), CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), "
      "CAST(SUM(errors) AS BIGINT)";

  static Status ReadUsageSums(RowReader& r, UsageTotals& t) {
    t.requests = r.Int();
    t.prompt_tokens = r.Int();
    t.completion_tokens = r.Int();
    t.errors = r.Int();
    return r.status();
  }

  // Console traffic (no key) first, then by key id, then deployment (bytewise).
  static bool UsageGroupBefore(const UsageTotals& a, const UsageTotals& b) {
    if (a.key_id != b.key_id) return a.key_id < b.key_id;  // empty optional sorts first
    return a.deployment < b.deployment;
  }

  Status InsertUsage(const UsageEvent& event) {
    return Execute(
               "INSERT INTO usage (tenant_id, key_id, deployment, at, prompt_tokens, "
               "completion_tokens, errors, http_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               {event.tenant_id, SqlOptional(event.key_id), event.deployment, event.at,
                event.prompt_tokens, event.completion_tokens, int64_t{event.error ? 1 : 0},
                int64_t{event.http_status}})
        .status();
  }

  static std::string_view SubjectColumn(QuotaSubject subject) {
    return subject.kind == QuotaSubject::Kind::kTenant ? "tenant_id" : "key_id";
  }
  static std::string SubjectName(QuotaSubject subject) {
    return fmt::format("{} {}", subject.kind == QuotaSubject::Kind::kTenant ? "tenant" : "API key",
                       subject.id);
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql, std::vector<SqlValue> params) {
    return db_->Query(sql, params);
  }
  Result<int64_t> Execute(std::string_view sql, std::vector<SqlValue> params) {
    return db_->Execute(sql, params);
  }
  static Status ExpectChanged(const Result<int64_t>& changed, std::string_view what) {
    HEARTH_RETURN_IF_ERROR(changed.status());
    if (*changed == 0) return Status::NotFound(fmt::format("{} not found", what));
    return Status::Ok();
  }

  Result<Tenant> GetTenantLocked(int64_t id) {
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM tenants WHERE id = ?", kTenantColumns), {id}));
    return DecodeOne(rows, DecodeTenant, fmt::format("tenant {}", id));
  }

  Result<ApiKey> GetApiKeyLocked(int64_t id) {
    HEARTH_ASSIGN_OR_RETURN(
        auto rows, Query(fmt::format("SELECT {} FROM api_keys WHERE id = ?", kKeyColumns), {id}));
    return DecodeOne(rows, DecodeApiKey, fmt::format("API key {}", id));
  }

  // One connection per store: SQLite allows one writer anyway, and the control plane's write
  // rate (admin actions, usage batches) is far below what one connection sustains.
  std::mutex mu_;
  std::unique_ptr<SqlDriver> db_;
  Clock clock_;
};

Result<std::unique_ptr<Store>> Migrated(std::unique_ptr<SqlDriver> db, Clock clock) {
  if (!clock) clock = SystemNowMillis;
  HEARTH_RETURN_IF_ERROR(ApplyMigrations(*db, BuiltinMigrations(), clock()));
  return std::unique_ptr<Store>(std::make_unique<SqlStore>(std::move(db), std::move(clock)));
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& path,
                                               StoreOptions options) {
  HEARTH_ASSIGN_OR_RETURN(auto db, OpenSqliteDriver(path));
  return Migrated(std::move(db), std::move(options.clock));
}

Result<std::unique_ptr<Store>> OpenPostgresStore(std::string_view dsn, StoreOptions options) {
  PostgresOptions pg;
  pg.schema = options.postgres_schema;
  HEARTH_ASSIGN_OR_RETURN(auto db, OpenPostgresDriver(dsn, pg));
  return Migrated(std::move(db), std::move(options.clock));
}

}  // namespace hearth::platform
