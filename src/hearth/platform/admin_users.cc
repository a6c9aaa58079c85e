// Admin API: tenants and users.
#include <algorithm>

#include "hearth/platform/admin_api.h"
#include "hearth/platform/admin_call.h"
#include "hearth/platform/admin_json.h"

namespace hearth::platform {

using admin::Call;
using admin::ErrorFromStatus;
using admin::ErrorReply;
using admin::Forbidden;
using admin::JsonReply;
using admin::Reply;

namespace {

std::string UserTarget(const User& user, const std::string& tenant) {
  const std::string self = "user:" + user.name;
  return tenant.empty() ? self : admin::InTenant(tenant, self);
}

}  // namespace

// Tenants ---------------------------------------------------------------------------------------

Reply AdminApi::ListTenants(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not list tenants"));
  }
  nlohmann::json data = nlohmann::json::array();
  if (call.platform_admin()) {
    auto tenants = store_.ListTenants();
    if (!tenants.ok()) return ErrorReply(ErrorFromStatus(tenants.status()));
    for (const Tenant& tenant : *tenants) data.push_back(admin::TenantJson(tenant));
  } else {
    data.push_back(admin::TenantJson(*call.caller_tenant));
  }
  return JsonReply(admin::ListJson(std::move(data)));
}

Reply AdminApi::CreateTenant(Call& call) {
  admin::JsonFields fields(call.body);
  std::optional<std::string> name = fields.String("name", true);
  auto error = fields.error();
  call.audit_target = name ? admin::TenantTarget(*name) : "tenant:?";
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins create tenants"));
  if (error) return ErrorReply(*error);
  auto tenant = store_.CreateTenant(*name);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status(), "name"));
  return JsonReply(admin::TenantJson(*tenant), 201);
}

Reply AdminApi::GetTenant(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not read tenants"));
  }
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  return JsonReply(admin::TenantJson(*tenant));
}

Reply AdminApi::DeleteTenant(Call& call) {
  call.audit_target = admin::TenantTarget(call.params[0]);
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins delete tenants"));
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  call.audit_target = admin::TenantTarget(tenant->name);
  if (Status deleted = store_.DeleteTenant(tenant->id); !deleted.ok()) {
    return ErrorReply(ErrorFromStatus(deleted));
  }
  return JsonReply(admin::DeletedJson("tenant", tenant->id));
}

// Users -----------------------------------------------------------------------------------------

Reply AdminApi::ListUsers(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not list users"));
  }
  std::optional<int64_t> tenant_id;
  if (auto reference = call.query("tenant")) {
    auto tenant = VisibleTenant(call, *reference);
    if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
    tenant_id = tenant->id;
  } else if (!call.platform_admin()) {
    tenant_id = call.caller_tenant->id;
  }
  auto users = store_.ListUsers(tenant_id);
  if (!users.ok()) return ErrorReply(ErrorFromStatus(users.status()));
  nlohmann::json data = nlohmann::json::array();
  std::map<int64_t, std::string> names;
  for (const User& user : *users) {
    std::string tenant;
    if (user.tenant_id) {
      auto [it, added] = names.try_emplace(*user.tenant_id);
      if (added) it->second = TenantName(user.tenant_id);
      tenant = it->second;
    }
    data.push_back(admin::UserJson(user, tenant));
  }
  return JsonReply(admin::ListJson(std::move(data)));
}

Reply AdminApi::CreateUser(Call& call) {
  admin::JsonFields fields(call.body);
  std::optional<std::string> username = fields.String("username", true);
  std::optional<std::string> password = fields.String("password", true);
  std::optional<std::string> role_text = fields.String("role");
  std::optional<std::string> tenant_reference = fields.String("tenant");
  auto error = fields.error();
  std::string lower_name = username.value_or("?");
  std::transform(lower_name.begin(), lower_name.end(), lower_name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  call.audit_target = "user:" + lower_name;
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not create users"));
  }
  if (error) return ErrorReply(*error);

  Role role = Role::kMember;
  if (role_text) {
    auto parsed = ParseRole(*role_text);
    if (!parsed.ok()) return ErrorReply(ErrorFromStatus(parsed.status(), "role"));
    role = *parsed;
  }
  if (role == Role::kPlatformAdmin && !call.platform_admin()) {
    return ErrorReply(Forbidden("only platform admins create platform admins"));
  }

  std::optional<Tenant> tenant;
  if (tenant_reference) {
    auto found = VisibleTenant(call, *tenant_reference);
    if (!found.ok()) return ErrorReply(ErrorFromStatus(found.status(), "tenant"));
    tenant = std::move(found).value();
  } else if (!call.platform_admin()) {
    tenant = call.caller_tenant;
  }
  if (role == Role::kPlatformAdmin && tenant) {
    return ErrorReply(server::ApiError::BadRequest(
        "a platform admin belongs to no tenant: leave 'tenant' out", "tenant"));
  }
  if (role != Role::kPlatformAdmin && !tenant) {
    return ErrorReply(server::ApiError::BadRequest(
        "'tenant' is required for the role " + std::string(RoleName(role)), "tenant"));
  }
  if (tenant) call.audit_target = admin::InTenant(tenant->name, "user:" + lower_name);

  if (Status policy = CheckPasswordPolicy(*password); !policy.ok()) {
    return ErrorReply(ErrorFromStatus(policy, "password"));
  }
  auto user = identity_.CreateUser(tenant ? std::optional<int64_t>(tenant->id) : std::nullopt,
                                   *username, role, *password);
  if (!user.ok()) return ErrorReply(ErrorFromStatus(user.status(), "username"));
  return JsonReply(admin::UserJson(*user, tenant ? tenant->name : ""), 201);
}

Reply AdminApi::GetUser(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may read only themselves, at /admin/v1/me"));
  }
  auto user = VisibleUser(call, call.params[0]);
  if (!user.ok()) return ErrorReply(ErrorFromStatus(user.status()));
  return JsonReply(admin::UserJson(*user, TenantName(user->tenant_id)));
}

Reply AdminApi::UpdateUser(Call& call) {
  admin::JsonFields fields(call.body);
  std::optional<std::string> password = fields.String("password");
  std::optional<std::string> current_password = fields.String("current_password");
  std::optional<bool> disabled = fields.Bool("disabled");
  std::optional<std::string> role_text = fields.String("role");
  auto error = fields.error();
  call.audit_target = "user:" + call.params[0];

  const bool self = call.caller->id > 0 && std::to_string(call.caller->id) == call.params[0];
  if (!call.platform_admin() && !call.tenant_admin()) {
    if (!self) return ErrorReply(Forbidden("members may change only their own password"));
    if (disabled || role_text) {
      return ErrorReply(Forbidden("members may change only their own password"));
    }
  }
  std::optional<Role> role;
  if (role_text) {
    auto parsed = ParseRole(*role_text);
    if (!parsed.ok()) return ErrorReply(ErrorFromStatus(parsed.status(), "role"));
    role = *parsed;
    if (role == Role::kPlatformAdmin && !call.platform_admin()) {
      return ErrorReply(Forbidden("only platform admins grant the platform-admin role"));
    }
  }
  auto user = VisibleUser(call, call.params[0]);
  if (!user.ok()) return ErrorReply(ErrorFromStatus(user.status()));
  call.audit_target = UserTarget(*user, TenantName(user->tenant_id));
  if (error) return ErrorReply(*error);
  if (!password && !disabled && !role) {
    return ErrorReply(
        server::ApiError::BadRequest("nothing to change: give 'password', 'disabled' or 'role'"));
  }
  if (self && disabled.value_or(false)) {
    return ErrorReply(admin::Conflict("you cannot disable your own account"));
  }
  if (role && *role != user->role &&
      (*role == Role::kPlatformAdmin || user->role == Role::kPlatformAdmin)) {
    return ErrorReply(server::ApiError::BadRequest(
        "a user cannot move between platform admin and a tenant role; create a new user", "role"));
  }
  if (password && self) {
    // A stolen session alone must not be enough to take the account over.
    if (!current_password) {
      return ErrorReply(server::ApiError::BadRequest(
          "changing your own password needs 'current_password'", "current_password"));
    }
    auto verified = identity_.Authenticate(user->name, *current_password);
    if (!verified.ok()) {
      call.result = "denied";
      return ErrorReply(Forbidden("'current_password' is wrong"));
    }
  }

  std::vector<std::string> changed;
  if (password) {
    if (Status set = identity_.SetPassword(user->id, *password); !set.ok()) {
      return ErrorReply(ErrorFromStatus(set, "password"));
    }
    changed.push_back("password");
  }
  if (disabled && *disabled != user->disabled) {
    if (Status set = store_.SetUserDisabled(user->id, *disabled); !set.ok()) {
      return ErrorReply(ErrorFromStatus(set, "disabled"));
    }
    changed.push_back(*disabled ? "disabled" : "enabled");
  }
  if (role && *role != user->role) {
    if (Status set = store_.SetUserRole(user->id, *role); !set.ok()) {
      return ErrorReply(ErrorFromStatus(set, "role"));
    }
    changed.push_back("role=" + std::string(RoleName(*role)));
  }
  for (const std::string& what : changed) {
    call.detail += (call.detail.empty() ? "" : ",") + what;
  }
  auto updated = store_.GetUser(user->id);
  if (!updated.ok()) return ErrorReply(ErrorFromStatus(updated.status()));
  return JsonReply(admin::UserJson(*updated, TenantName(updated->tenant_id)));
}

Reply AdminApi::DeleteUser(Call& call) {
  call.audit_target = "user:" + call.params[0];
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not delete users"));
  }
  auto user = VisibleUser(call, call.params[0]);
  if (!user.ok()) return ErrorReply(ErrorFromStatus(user.status()));
  call.audit_target = UserTarget(*user, TenantName(user->tenant_id));
  if (user->id == call.caller->id) {
    return ErrorReply(admin::Conflict("you cannot delete your own account"));
  }
  if (Status deleted = store_.DeleteUser(user->id); !deleted.ok()) {
    return ErrorReply(ErrorFromStatus(deleted));
  }
  return JsonReply(admin::DeletedJson("user", user->id));
}

}  // namespace hearth::platform
