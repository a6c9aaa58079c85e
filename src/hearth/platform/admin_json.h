// The admin API's JSON shapes of store records. Secrets (password hashes, key hashes) never
// appear in them.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hearth/platform/store.h"

namespace hearth::platform::admin {

nlohmann::json TenantJson(const Tenant& tenant);
// `tenant` is the user's tenant name (empty for platform admins).
nlohmann::json UserJson(const User& user, const std::string& tenant);
nlohmann::json KeyJson(const ApiKey& key, const std::string& tenant);
// `quota` empty: no quota set (unlimited).
nlohmann::json QuotaJson(const std::string& subject, const std::optional<Quota>& quota);
nlohmann::json AuditJson(const AuditEntry& entry);
nlohmann::json ListJson(nlohmann::json data);
nlohmann::json DeletedJson(const std::string& object, int64_t id);

}  // namespace hearth::platform::admin
