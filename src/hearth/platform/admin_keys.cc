// Admin API: API keys and quotas.
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

bool ManagesTenants(const Call& call) { return call.platform_admin() || call.tenant_admin(); }

std::string KeyTarget(const std::string& tenant, const ApiKey& key) {
  return admin::InTenant(tenant, "key:" + key.prefix);
}

}  // namespace

// API keys --------------------------------------------------------------------------------------

Reply AdminApi::ListKeys(Call& call) {
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not list API keys"));
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  auto keys = store_.ListApiKeys(tenant->id);
  if (!keys.ok()) return ErrorReply(ErrorFromStatus(keys.status()));
  nlohmann::json data = nlohmann::json::array();
  for (const ApiKey& key : *keys) data.push_back(admin::KeyJson(key, tenant->name));
  return JsonReply(admin::ListJson(std::move(data)));
}

Reply AdminApi::CreateKey(Call& call) {
  admin::JsonFields fields(call.body);
  std::optional<std::string> name = fields.String("name", true);
  std::optional<std::vector<std::string>> deployments = fields.StringList("deployments");
  std::optional<int64_t> expires_at = fields.Time("expires_at");
  auto error = fields.error();
  call.audit_target = admin::TenantTarget(call.params[0]);
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not create API keys"));
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  call.audit_target = admin::InTenant(tenant->name, "key:?");
  if (error) return ErrorReply(*error);
  auto issued = identity_.IssueApiKey(tenant->id, *name,
                                      deployments.value_or(std::vector<std::string>{}), expires_at);
  if (!issued.ok()) {
    const bool expiry = issued.status().message().find("expir") != std::string::npos;
    return ErrorReply(ErrorFromStatus(issued.status(), expiry ? "expires_at" : "name"));
  }
  call.audit_target = KeyTarget(tenant->name, issued->key);
  nlohmann::json body = admin::KeyJson(issued->key, tenant->name);
  body["key"] = issued->plaintext;  // the only time it is shown
  return JsonReply(body, 201);
}

Reply AdminApi::GetKey(Call& call) {
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not read API keys"));
  auto key = VisibleKey(call, call.params[0]);
  if (!key.ok()) return ErrorReply(ErrorFromStatus(key.status()));
  return JsonReply(admin::KeyJson(*key, TenantName(key->tenant_id)));
}

Reply AdminApi::RevokeKey(Call& call) {
  call.audit_target = "key:" + call.params[0];
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not revoke API keys"));
  auto key = VisibleKey(call, call.params[0]);
  if (!key.ok()) return ErrorReply(ErrorFromStatus(key.status()));
  const std::string tenant = TenantName(key->tenant_id);
  call.audit_target = KeyTarget(tenant, *key);
  auto revoked = store_.RevokeApiKey(key->id);
  identity_.ForgetApiKey(key->id);  // the gateway's key cache must not outlive the change
  if (!revoked.ok()) return ErrorReply(ErrorFromStatus(revoked.status()));
  return JsonReply(admin::KeyJson(*revoked, tenant));
}

Reply AdminApi::DeleteKey(Call& call) {
  call.audit_target = "key:" + call.params[0];
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not delete API keys"));
  auto key = VisibleKey(call, call.params[0]);
  if (!key.ok()) return ErrorReply(ErrorFromStatus(key.status()));
  call.audit_target = KeyTarget(TenantName(key->tenant_id), *key);
  const Status deleted = store_.DeleteApiKey(key->id);
  identity_.ForgetApiKey(key->id);  // as in RevokeKey
  if (!deleted.ok()) return ErrorReply(ErrorFromStatus(deleted));
  return JsonReply(admin::DeletedJson("api_key", key->id));
}

// Quotas ----------------------------------------------------------------------------------------

namespace {

Reply QuotaReply(Store& store, QuotaSubject subject, const std::string& label) {
  auto quota = store.GetQuota(subject);
  if (!quota.ok() && quota.status().code() != StatusCode::kNotFound) {
    return ErrorReply(ErrorFromStatus(quota.status()));
  }
  return JsonReply(
      admin::QuotaJson(label, quota.ok() ? std::optional<Quota>(*quota) : std::optional<Quota>()));
}

Reply SetQuotaFromBody(Store& store, Call& call, QuotaSubject subject, const std::string& label) {
  admin::JsonFields fields(call.body);
  Quota quota;
  quota.requests_per_minute = fields.Int("requests_per_minute", 0);
  quota.tokens_per_minute = fields.Int("tokens_per_minute", 0);
  quota.max_concurrent = fields.Int("max_concurrent", 0);
  if (auto error = fields.error()) return ErrorReply(*error);
  if (Status set = store.SetQuota(subject, quota); !set.ok()) {
    return ErrorReply(ErrorFromStatus(set));
  }
  call.detail = admin::QuotaJson(label, quota).dump();
  return QuotaReply(store, subject, label);
}

Reply DeleteQuotaOf(Store& store, QuotaSubject subject, const std::string& label) {
  if (Status deleted = store.DeleteQuota(subject); !deleted.ok()) {
    if (deleted.code() == StatusCode::kNotFound) {
      return ErrorReply(admin::NotFound(label + " has no quota"));
    }
    return ErrorReply(ErrorFromStatus(deleted));
  }
  return JsonReply(admin::QuotaJson(label, std::nullopt));
}

}  // namespace

Reply AdminApi::GetTenantQuota(Call& call) {
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not read quotas"));
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  return QuotaReply(store_, QuotaSubject::Tenant(tenant->id), admin::TenantTarget(tenant->name));
}

Reply AdminApi::SetTenantQuota(Call& call) {
  call.audit_target = admin::TenantTarget(call.params[0]) + "/quota";
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins set quotas"));
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  call.audit_target = admin::InTenant(tenant->name, "quota");
  return SetQuotaFromBody(store_, call, QuotaSubject::Tenant(tenant->id),
                          admin::TenantTarget(tenant->name));
}

Reply AdminApi::DeleteTenantQuota(Call& call) {
  call.audit_target = admin::TenantTarget(call.params[0]) + "/quota";
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins remove quotas"));
  auto tenant = VisibleTenant(call, call.params[0]);
  if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
  call.audit_target = admin::InTenant(tenant->name, "quota");
  return DeleteQuotaOf(store_, QuotaSubject::Tenant(tenant->id), admin::TenantTarget(tenant->name));
}

Reply AdminApi::GetKeyQuota(Call& call) {
  if (!ManagesTenants(call)) return ErrorReply(Forbidden("members may not read quotas"));
  auto key = VisibleKey(call, call.params[0]);
  if (!key.ok()) return ErrorReply(ErrorFromStatus(key.status()));
  return QuotaReply(store_, QuotaSubject::ApiKey(key->id), "key:" + key->prefix);
}

Reply AdminApi::SetKeyQuota(Call& call) {
  call.audit_target = "key:" + call.params[0] + "/quota";
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins set quotas"));
  auto key = VisibleKey(call, call.params[0]);
  if (!key.ok()) return ErrorReply(ErrorFromStatus(key.status()));
  call.audit_target = KeyTarget(TenantName(key->tenant_id), *key) + "/quota";
  return SetQuotaFromBody(store_, call, QuotaSubject::ApiKey(key->id), "key:" + key->prefix);
}

Reply AdminApi::DeleteKeyQuota(Call& call) {
  call.audit_target = "key:" + call.params[0] + "/quota";
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins remove quotas"));
  auto key = VisibleKey(call, call.params[0]);
  if (!key.ok()) return ErrorReply(ErrorFromStatus(key.status()));
  call.audit_target = KeyTarget(TenantName(key->tenant_id), *key) + "/quota";
  return DeleteQuotaOf(store_, QuotaSubject::ApiKey(key->id), "key:" + key->prefix);
}

}  // namespace hearth::platform
