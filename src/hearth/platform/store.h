// The control plane's persistent state: tenants, users, API keys, sessions, quotas, the audit
// log and usage records (docs/PLATFORM.md describes the data model).
//
// Since schema version 2 it also holds the model registry, deployments (which model, for which
// tenants, how many replicas) and the replicas' supervision state.
//
// Store is one interface with two backends: SQLite (embedded; a file in the data directory) and
// PostgreSQL (shared by several control-plane processes). Both run the same portable SQL and the
// same versioned migrations, and both report failures the same way:
//   kInvalidArgument     a malformed name, role or value (before the database is touched)
//   kAlreadyExists       a unique name or prefix is taken
//   kNotFound            the record (or the tenant/user it refers to) does not exist
//   kFailedPrecondition  the change would break a reference (a tenant that still has users, a
//                        model a deployment uses);
//                        or the database schema is newer than this binary
//   kUnavailable         the database is busy or unreachable; retrying may help
//
// Secrets never reach the store in clear: it holds password hashes (argon2id, encoded), SHA-256
// hashes of API-key secrets and of session tokens (identity.h makes them).
//
// Methods are thread-safe (each store serialises its calls over one connection). Times are Unix
// milliseconds; the store's clock (StoreOptions::clock) stamps created_at and audit times.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::platform {

// Returns the current time in Unix milliseconds. Injected so tests control expiry.
using Clock = std::function<int64_t()>;
int64_t SystemNowMillis();

enum class Role { kPlatformAdmin, kTenantAdmin, kMember };
std::string_view RoleName(Role role);  // "platform-admin", "tenant-admin", "member"
Result<Role> ParseRole(std::string_view text);

struct Tenant {
  int64_t id = 0;
  std::string name;
  int64_t created_at = 0;
};

struct User {
  int64_t id = 0;
  std::optional<int64_t> tenant_id;  // empty exactly for platform admins
  std::string name;                  // username or e-mail, stored lower-case
  Role role = Role::kMember;
  std::string password_hash;  // argon2id encoded form (identity.h)
  int64_t created_at = 0;
  bool disabled = false;
};

struct NewUser {
  std::optional<int64_t> tenant_id;
  std::string name;
  Role role = Role::kMember;
  std::string password_hash;
};

struct ApiKey {
  int64_t id = 0;
  int64_t tenant_id = 0;
  std::string name;                      // the tenant's label for the key, unique within the tenant
  std::string prefix;                    // public identifier, shown in lists and logs
  std::string secret_hash;               // lower-case hex SHA-256 of the secret part
  std::vector<std::string> deployments;  // empty: every deployment of the tenant
  int64_t created_at = 0;
  std::optional<int64_t> expires_at;
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used_at;
};

struct NewApiKey {
  int64_t tenant_id = 0;
  std::string name;
  std::string prefix;
  std::string secret_hash;
  std::vector<std::string> deployments;
  std::optional<int64_t> expires_at;
};

struct Session {
  std::string token_hash;  // lower-case hex SHA-256 of the token
  int64_t user_id = 0;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

struct AuditEntry {
  int64_t id = 0;         // assigned by the store, increasing
  int64_t at = 0;         // assigned by the store's clock
  std::string actor;      // "user:alice", "key:ab12cd34", "system"
  std::string action;     // "tenant.create", "key.revoke", "login"
  std::string target;     // what the action was applied to
  std::string source_ip;  // empty when not from the network
  std::string result;     // "ok", "denied", "error"
  std::string detail;     // free text
};

// Every set field must match; times are a half-open range [from, to). Newest entries first.
struct AuditFilter {
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> target;
  // The target starts with this (ASCII only). The admin API scopes a tenant's view of the log
  // with it: entries about tenant NAME's objects have targets "tenant:NAME/...".
  std::optional<std::string> target_prefix;
  std::optional<std::string> result;
  std::optional<int64_t> from;
  std::optional<int64_t> to;
  std::optional<int64_t> before_id;  // paging: only entries older than this id
  int64_t limit = 100;
};

// One request answered for a tenant: a success, or (error) a failed one, which is still a
// request of its key and deployment.
struct UsageEvent {
  int64_t tenant_id = 0;
  std::optional<int64_t> key_id;  // empty for console (session) traffic
  // Empty when the request named no deployment the key may use (an unknown model, a malformed
  // body, a model listing); such a request used no tokens. Otherwise 1-128 characters.
  std::string deployment;
  int64_t at = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool error = false;  // the request failed (a 4xx/5xx answer, or a stream ended by an error)
  // The HTTP status the client was sent: 100-599, or 0 when it left before any answer. A stream
  // that ends in an error event was sent 200 (error marks it). Rows recorded before schema
  // version 3 have no status (NULL) and no error.
  int http_status = 200;
};

// Totals of one tenant's usage over [from, to) for one (key, deployment) pair.
struct UsageTotals {
  std::optional<int64_t> key_id;
  std::string deployment;
  int64_t requests = 0;  // failed ones included
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t errors = 0;  // requests that failed
};

// UsageTotals of one UTC hour: events with hour <= at < hour + 3'600'000.
struct HourlyUsageTotals {
  int64_t hour = 0;  // Unix ms, a multiple of 3'600'000 (floor for times before 1970)
  UsageTotals totals;
};

// Limits; an empty field means unlimited.
struct Quota {
  std::optional<int64_t> requests_per_minute;
  std::optional<int64_t> tokens_per_minute;
  std::optional<int64_t> max_concurrent;
  bool operator==(const Quota&) const = default;
};

// A quota applies to a whole tenant or to one API key.
struct QuotaSubject {
  enum class Kind { kTenant, kApiKey };
  Kind kind = Kind::kTenant;
  int64_t id = 0;
  static QuotaSubject Tenant(int64_t id) { return {Kind::kTenant, id}; }
  static QuotaSubject ApiKey(int64_t id) { return {Kind::kApiKey, id}; }
};

// --- Models in the registry ---

struct ModelRecord {
  int64_t id = 0;
  std::string name;           // unique; 1-128 of [A-Za-z0-9._-], first alnum (case kept, unique
                              // case-insensitively)
  std::string source;         // "file:/abs/path" or "hf:ORG/REPO/FILE@https://endpoint"
  std::string path;           // absolute path of the GGUF the platform serves (in the data dir)
  int64_t size_bytes = 0;
  std::string sha256;         // lower-case hex of the file
  std::string metadata_json;  // `hearth model inspect --json` of the file
  int64_t created_at = 0;
};

struct NewModel {
  std::string name, source, path;
  int64_t size_bytes = 0;
  std::string sha256, metadata_json;
};

// --- Deployments ---

enum class DesiredState { kRunning, kStopped };
std::string_view DesiredStateName(DesiredState state);  // "running", "stopped"
Result<DesiredState> ParseDesiredState(std::string_view text);

struct DeploymentSpec {
  std::string name;                 // what clients send as "model"; tenant-name rules but up to
                                    // 128 chars, [a-z0-9._-] plus ':' allowed (stored lower-case)
  int64_t model_id = 0;
  std::vector<int64_t> tenant_ids;  // tenants that may use it (sorted, unique)
  int replicas = 1;                 // >= 0
  int ctx = 4096;                   // context length per sequence
  int parallel = 16;                // sequences decoded together
  int64_t kv_budget_bytes = 0;      // 0: derived from ctx * parallel
  int threads = 0;                  // 0: engine default
  bool operator==(const DeploymentSpec&) const = default;
};

struct Deployment {
  int64_t id = 0;
  DeploymentSpec spec;
  DesiredState desired = DesiredState::kRunning;
  // +1 whenever what the engine processes run changes (model_id, ctx, parallel,
  // kv_budget_bytes, threads): replicas of older generations are replaced. Scaling (replicas),
  // access changes (tenant_ids) and desired-state changes keep it.
  int64_t generation = 1;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// --- Replicas (supervision state, visible to the admin API) ---

enum class ReplicaState { kPending, kLoading, kReady, kFailed, kStopped };
// "pending", "loading", "ready", "failed", "stopped"
std::string_view ReplicaStateName(ReplicaState state);
Result<ReplicaState> ParseReplicaState(std::string_view text);

struct ReplicaRecord {
  int64_t id = 0;
  int64_t deployment_id = 0;
  int64_t generation = 0;  // the deployment generation it runs
  ReplicaState state = ReplicaState::kPending;
  int64_t pid = 0;  // 0 when no process
  int port = 0;     // 0 when none
  int restarts = 0;
  std::string last_error;  // at most 4096 bytes
  int64_t updated_at = 0;  // store clock
};

class Store {
 public:
  virtual ~Store() = default;

  virtual std::string_view backend() const = 0;  // "sqlite" or "postgres"
  virtual Result<int64_t> SchemaVersion() = 0;

  // Tenants. Names: 1-64 of [a-z0-9._-], starting with a letter or digit.
  virtual Result<Tenant> CreateTenant(std::string_view name) = 0;
  virtual Result<Tenant> GetTenant(int64_t id) = 0;
  virtual Result<Tenant> FindTenantByName(std::string_view name) = 0;
  virtual Result<std::vector<Tenant>> ListTenants() = 0;
  // kFailedPrecondition while the tenant still has users or API keys.
  virtual Status DeleteTenant(int64_t id) = 0;

  // Users. Names are case-insensitive (stored lower-case): 1-254 printable ASCII characters
  // without spaces, e.g. "alice" or "alice@example.com".
  virtual Result<User> CreateUser(const NewUser& user) = 0;
  virtual Result<User> GetUser(int64_t id) = 0;
  virtual Result<User> FindUserByName(std::string_view name) = 0;
  // Users of one tenant, or (tenant empty) every user.
  virtual Result<std::vector<User>> ListUsers(std::optional<int64_t> tenant_id) = 0;
  virtual Result<int64_t> CountUsers() = 0;
  virtual Status SetUserPasswordHash(int64_t id, std::string_view password_hash) = 0;
  virtual Status SetUserDisabled(int64_t id, bool disabled) = 0;
  // Between tenant-admin and member only: kInvalidArgument for platform-admin (as the new role or
  // the user's current one), because that would move the user across the tenant boundary.
  virtual Status SetUserRole(int64_t id, Role role) = 0;
  virtual Status DeleteUser(int64_t id) = 0;  // also ends the user's sessions

  // API keys (identity.h generates prefix and hash). Names: 1-64 printable characters.
  virtual Result<ApiKey> CreateApiKey(const NewApiKey& key) = 0;
  virtual Result<ApiKey> GetApiKey(int64_t id) = 0;
  virtual Result<ApiKey> FindApiKeyByPrefix(std::string_view prefix) = 0;
  virtual Result<std::vector<ApiKey>> ListApiKeys(int64_t tenant_id) = 0;
  // Sets revoked_at to now; revoking a revoked key keeps the first time (idempotent).
  virtual Result<ApiKey> RevokeApiKey(int64_t id) = 0;
  virtual Status TouchApiKey(int64_t id, int64_t used_at) = 0;  // last_used_at
  virtual Status DeleteApiKey(int64_t id) = 0;

  // Sessions.
  // created_at is the store's clock.
  virtual Result<Session> CreateSession(std::string_view token_hash, int64_t user_id,
                                        int64_t expires_at) = 0;
  virtual Result<Session> FindSession(std::string_view token_hash) = 0;
  virtual Status DeleteSession(std::string_view token_hash) = 0;
  // Removes sessions that expired at or before `now`; returns how many.
  virtual Result<int64_t> DeleteExpiredSessions(int64_t now) = 0;

  // The audit log: append-only (the database rejects updates and deletes).
  virtual Result<AuditEntry> AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<std::vector<AuditEntry>> QueryAudit(const AuditFilter& filter) = 0;

  // Usage.
  virtual Status RecordUsage(const UsageEvent& event) = 0;
  // Many events in one transaction (one commit, one fsync): all are recorded or none. The
  // gateway batches with this; a commit per request would bound throughput by the disk.
  virtual Status RecordUsageBatch(std::span<const UsageEvent> events) = 0;
  // Totals per (key, deployment) of `tenant_id` over [from, to), ordered by key then deployment
  // (console traffic, without a key, first).
  virtual Result<std::vector<UsageTotals>> QueryUsage(int64_t tenant_id, int64_t from,
                                                      int64_t to) = 0;
  // The same per UTC hour: totals per (hour, key, deployment) of the events in [from, to) (the
  // first and last hour hold only the part inside the range), ordered by hour, then as above.
  virtual Result<std::vector<HourlyUsageTotals>> QueryUsageByHour(int64_t tenant_id, int64_t from,
                                                                  int64_t to) = 0;

  // Quotas: set replaces the subject's whole quota; kNotFound when the subject has none.
  virtual Status SetQuota(QuotaSubject subject, const Quota& quota) = 0;
  virtual Result<Quota> GetQuota(QuotaSubject subject) = 0;
  virtual Status DeleteQuota(QuotaSubject subject) = 0;

  // Models (the registry; model_registry.h manages their files).
  virtual Result<ModelRecord> CreateModel(const NewModel& model) = 0;
  virtual Result<ModelRecord> GetModel(int64_t id) = 0;
  virtual Result<ModelRecord> FindModelByName(std::string_view name) = 0;  // case-insensitive
  virtual Result<std::vector<ModelRecord>> ListModels() = 0;               // by id
  // kFailedPrecondition while a deployment refers to the model.
  virtual Status DeleteModel(int64_t id) = 0;

  // Deployments. tenant_ids are stored sorted and unique (duplicates in the input are merged).
  // kNotFound for an unknown model or tenant; kAlreadyExists for a taken name.
  virtual Result<Deployment> CreateDeployment(const DeploymentSpec& spec,
                                              DesiredState desired) = 0;
  virtual Result<Deployment> GetDeployment(int64_t id) = 0;
  virtual Result<Deployment> FindDeploymentByName(std::string_view name) = 0;
  virtual Result<std::vector<Deployment>> ListDeployments() = 0;  // by id
  // Replaces spec (name must stay: kInvalidArgument otherwise) and desired state; bumps
  // generation per the rule at Deployment::generation; updated_at = store clock.
  virtual Result<Deployment> UpdateDeployment(int64_t id, const DeploymentSpec& spec,
                                              DesiredState desired) = 0;
  virtual Status DeleteDeployment(int64_t id) = 0;  // also deletes its replica rows

  // Replicas. A new replica is kPending with no pid or port; updated_at = store clock.
  virtual Result<ReplicaRecord> CreateReplica(int64_t deployment_id, int64_t generation) = 0;
  // Writes state, pid, port, restarts, last_error (updated_at = store clock); kNotFound if gone.
  virtual Result<ReplicaRecord> UpdateReplica(const ReplicaRecord& replica) = 0;
  // One deployment's replicas, or (empty) all; by id.
  virtual Result<std::vector<ReplicaRecord>> ListReplicas(
      std::optional<int64_t> deployment_id) = 0;
  virtual Status DeleteReplica(int64_t id) = 0;
};

struct StoreOptions {
  Clock clock = SystemNowMillis;
  // PostgreSQL only: keep the tables in this schema (see PostgresOptions::schema).
  std::string postgres_schema;
};

// SQLite at `path` (created if absent; the directory must exist), migrated to the latest schema.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& path,
                                               StoreOptions options = {});

// PostgreSQL at `dsn` (postgres://user:password@host:port/database), migrated likewise.
Result<std::unique_ptr<Store>> OpenPostgresStore(std::string_view dsn, StoreOptions options = {});

// Chooses the backend from `location`: a postgres:// or postgresql:// URI, an explicit
// sqlite:PATH, or else a file path for SQLite.
Result<std::unique_ptr<Store>> OpenStore(std::string_view location, StoreOptions options = {});

// The rule CreateModel applies to ModelRecord::name, for callers that check before heavy work
// (the registry, before copying gigabytes). kInvalidArgument with the reason.
Status ValidateModelName(std::string_view name);

// The SQLite file the control plane uses inside a data directory.
std::filesystem::path DefaultStorePath(const std::filesystem::path& data_dir);

}  // namespace hearth::platform
