#include "hearth/platform/admin_json.h"

namespace hearth::platform::admin {
namespace {

nlohmann::json OrNull(const std::optional<int64_t>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json TenantJson(const Tenant& tenant) {
  return {{"object", "tenant"},
          {"id", tenant.id},
          {"name", tenant.name},
          {"created_at", tenant.created_at}};
}

nlohmann::json UserJson(const User& user, const std::string& tenant) {
  return {{"object", "user"},
          {"id", user.id},
          {"username", user.name},
          {"role", RoleName(user.role)},
          {"tenant", tenant.empty() ? nlohmann::json(nullptr) : nlohmann::json(tenant)},
          {"tenant_id", OrNull(user.tenant_id)},
          {"disabled", user.disabled},
          {"created_at", user.created_at}};
}

nlohmann::json KeyJson(const ApiKey& key, const std::string& tenant) {
  return {{"object", "api_key"},
          {"id", key.id},
          {"tenant", tenant},
          {"tenant_id", key.tenant_id},
          {"name", key.name},
          {"prefix", key.prefix},
          {"deployments", key.deployments},
          {"created_at", key.created_at},
          {"expires_at", OrNull(key.expires_at)},
          {"revoked_at", OrNull(key.revoked_at)},
          {"last_used_at", OrNull(key.last_used_at)}};
}

nlohmann::json QuotaJson(const std::string& subject, const std::optional<Quota>& quota) {
  Quota q = quota.value_or(Quota{});
  return {{"object", "quota"},
          {"subject", subject},
          {"set", quota.has_value()},
          {"requests_per_minute", OrNull(q.requests_per_minute)},
          {"tokens_per_minute", OrNull(q.tokens_per_minute)},
          {"max_concurrent", OrNull(q.max_concurrent)}};
}

nlohmann::json AuditJson(const AuditEntry& entry) {
  return {{"id", entry.id},         {"at", entry.at},         {"actor", entry.actor},
          {"action", entry.action}, {"target", entry.target}, {"source_ip", entry.source_ip},
          {"result", entry.result}, {"detail", entry.detail}};
}

nlohmann::json ListJson(nlohmann::json data) {
  return {{"object", "list"}, {"data", std::move(data)}};
}

nlohmann::json DeletedJson(const std::string& object, int64_t id) {
  return {{"object", object}, {"id", id}, {"deleted", true}};
}

}  // namespace hearth::platform::admin
