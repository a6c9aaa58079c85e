// One admin API call as the handlers see it: the parsed request, the authenticated caller and
// what the audit entry for it will say. Internal to the admin_*.cc files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/platform/admin_http.h"
#include "hearth/platform/store.h"

namespace hearth::platform::admin {

struct Call {
  // The request.
  std::string method;
  RequestTarget target;             // path without the leading "admin", "v1"
  std::vector<std::string> params;  // the path segments the route captured, in order
  std::string body;
  std::string bearer;  // the session token from "Authorization: Bearer"
  std::string source_ip;

  // The caller, once authenticated.
  std::optional<User> caller;
  std::optional<Tenant> caller_tenant;  // empty for platform admins

  // The audit entry (mutating routes only: action is empty for reads).
  std::string action;
  std::string actor = "anonymous";
  std::string audit_target;
  std::optional<std::string> result;  // overrides the result derived from the reply status
  std::string detail;

  std::optional<std::string> query(const std::string& name) const {
    auto it = target.query.find(name);
    if (it == target.query.end()) return std::nullopt;
    return it->second;
  }
  bool platform_admin() const { return caller && caller->role == Role::kPlatformAdmin; }
  bool tenant_admin() const { return caller && caller->role == Role::kTenantAdmin; }
  // Whether the caller may see objects of `tenant_id` at all (its role may still forbid more).
  bool Sees(int64_t tenant_id) const {
    return platform_admin() || (caller && caller->tenant_id == tenant_id);
  }
};

// Audit targets. Everything that belongs to tenant NAME is audited as "tenant:NAME/<kind>:<id>"
// so a tenant admin's view of the log is the target prefix "tenant:NAME/" (Store's
// AuditFilter::target_prefix); the tenant itself is "tenant:NAME" (platform admins only).
inline std::string TenantTarget(std::string_view tenant) { return "tenant:" + std::string(tenant); }
inline std::string TenantPrefix(std::string_view tenant) { return TenantTarget(tenant) + "/"; }
inline std::string InTenant(std::string_view tenant, std::string_view what) {
  return TenantPrefix(tenant) + std::string(what);
}

}  // namespace hearth::platform::admin
