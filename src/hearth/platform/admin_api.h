// The admin REST API under /admin/v1/ (docs/API.md, "Admin API"): login and sessions, tenants,
// users, API keys, quotas, usage and the audit log.
//
// Callers authenticate with "Authorization: Bearer <session token>" from POST /admin/v1/login.
// Authorization is by role and tenant:
//   platform-admin  everything;
//   tenant-admin    its own tenant: users (not platform admins), keys, quotas (read only), usage
//                   and the audit entries about the tenant;
//   member          GET /me, its own password, and its tenant's usage.
// Another tenant's objects answer 404, exactly as objects that do not exist, so their existence
// does not leak. Role checks come before lookups, so a 403 says nothing about an object either.
//
// With a DeploymentManager and a ModelRegistry (AdminApiOptions) it also manages deployments
// (platform admins; tenant admins read the deployments their tenant may use) and models
// (platform admins).
//
// Every mutating call, and every login, writes exactly one audit entry (actor "user:NAME", or
// "anonymous" before authentication; result "ok", "denied" or "error"). Targets of a tenant's
// objects start with "tenant:NAME/" (admin_call.h), which is how a tenant admin's audit query is
// scoped.
//
// Handle() returns at once: the call runs on the API's own worker threads (store round trips and
// argon2id must not block the HTTP server's I/O threads) and the reply is posted back to the
// connection's strand.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hearth/platform/identity.h"
#include "hearth/platform/store.h"
#include "hearth/server/http_server.h"

namespace hearth::platform {

namespace admin {
struct Call;
struct Reply;
class WorkQueue;
}  // namespace admin

class DeploymentManager;
class ModelRegistry;

struct AdminApiOptions {
  int worker_threads = 2;
  // Optional: without them /deployments and /models answer 503. Not owned; must outlive the API.
  DeploymentManager* deployments = nullptr;
  ModelRegistry* models = nullptr;
};

class AdminApi {
 public:
  // `store` and `identity` must outlive the AdminApi.
  AdminApi(Store& store, Identity& identity, AdminApiOptions options = {});
  // Finishes the calls already accepted. Destroy the AdminApi after the HTTP server has stopped.
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // For requests whose target starts with /admin/v1/ (anything else answers 404).
  void Handle(server::HttpRequest& request,
              const std::shared_ptr<server::ResponseChannel>& channel);

  struct Route;

 private:
  static const std::vector<Route>& Routes();
  admin::Reply Process(admin::Call& call);
  admin::Reply Dispatch(admin::Call& call);
  admin::Reply Authenticate(admin::Call& call);  // status 0: authenticated
  void Audit(const admin::Call& call, int status);

  // Sessions (admin_api.cc).
  admin::Reply Login(admin::Call& call);
  admin::Reply Logout(admin::Call& call);
  admin::Reply Me(admin::Call& call);

  // Tenants and users (admin_users.cc).
  admin::Reply ListTenants(admin::Call& call);
  admin::Reply CreateTenant(admin::Call& call);
  admin::Reply GetTenant(admin::Call& call);
  admin::Reply DeleteTenant(admin::Call& call);
  admin::Reply ListUsers(admin::Call& call);
  admin::Reply CreateUser(admin::Call& call);
  admin::Reply GetUser(admin::Call& call);
  admin::Reply UpdateUser(admin::Call& call);
  admin::Reply DeleteUser(admin::Call& call);

  // API keys and quotas (admin_keys.cc).
  admin::Reply ListKeys(admin::Call& call);
  admin::Reply CreateKey(admin::Call& call);
  admin::Reply GetKey(admin::Call& call);
  admin::Reply RevokeKey(admin::Call& call);
  admin::Reply DeleteKey(admin::Call& call);
  admin::Reply GetTenantQuota(admin::Call& call);
  admin::Reply SetTenantQuota(admin::Call& call);
  admin::Reply DeleteTenantQuota(admin::Call& call);
  admin::Reply GetKeyQuota(admin::Call& call);
  admin::Reply SetKeyQuota(admin::Call& call);
  admin::Reply DeleteKeyQuota(admin::Call& call);

  // Usage and audit (admin_reports.cc).
  admin::Reply GetUsage(admin::Call& call);
  admin::Reply QueryAuditLog(admin::Call& call);

  // Deployments and models (admin_deployments.cc).
  admin::Reply ListDeployments(admin::Call& call);
  admin::Reply CreateDeployment(admin::Call& call);
  admin::Reply GetDeployment(admin::Call& call);
  admin::Reply UpdateDeployment(admin::Call& call);
  admin::Reply DeleteDeployment(admin::Call& call);
  admin::Reply ListModels(admin::Call& call);
  admin::Reply GetModel(admin::Call& call);
  admin::Reply DeleteModel(admin::Call& call);

  // Lookups scoped to what the caller may see: another tenant's object is kNotFound (and marks
  // the call's audit result "denied").
  Result<Tenant> VisibleTenant(admin::Call& call, const std::string& reference);
  Result<User> VisibleUser(admin::Call& call, const std::string& id);
  Result<ApiKey> VisibleKey(admin::Call& call, const std::string& id);
  std::string TenantName(std::optional<int64_t> tenant_id);

  Store& store_;
  Identity& identity_;
  AdminApiOptions options_;
  std::unique_ptr<admin::WorkQueue> work_;  // last: joined first
};

}  // namespace hearth::platform
