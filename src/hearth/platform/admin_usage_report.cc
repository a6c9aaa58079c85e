#include "hearth/platform/admin_usage_report.h"

namespace hearth::platform {
namespace {

Result<TenantUsageReport> CollectTenant(Store& store, const Tenant& tenant, int64_t from,
                                        int64_t to) {
  TenantUsageReport out;
  out.tenant = tenant;
  HEARTH_ASSIGN_OR_RETURN(auto totals, store.QueryUsage(tenant.id, from, to));
  std::map<int64_t, ApiKey> keys;
  if (!totals.empty()) {
    HEARTH_ASSIGN_OR_RETURN(auto listed, store.ListApiKeys(tenant.id));
    for (ApiKey& key : listed) keys.emplace(key.id, std::move(key));
  }
  for (UsageTotals& row : totals) {
    out.requests += row.requests;
    out.prompt_tokens += row.prompt_tokens;
    out.completion_tokens += row.completion_tokens;
    UsageReportRow report_row{std::move(row), std::nullopt};
    if (report_row.totals.key_id) {
      auto it = keys.find(*report_row.totals.key_id);
      if (it != keys.end()) report_row.key = it->second;
    }
    out.rows.push_back(std::move(report_row));
  }
  return out;
}

}  // namespace

Result<UsageReport> CollectUsage(Store& store, std::optional<int64_t> tenant_id, int64_t from,
                                 int64_t to) {
  if (from > to) {
    return Status::InvalidArgument("the usage range ends before it starts ('to' < 'from')");
  }
  UsageReport report{from, to, {}};
  std::vector<Tenant> tenants;
  if (tenant_id) {
    HEARTH_ASSIGN_OR_RETURN(Tenant tenant, store.GetTenant(*tenant_id));
    tenants.push_back(std::move(tenant));
  } else {
    HEARTH_ASSIGN_OR_RETURN(tenants, store.ListTenants());
  }
  for (const Tenant& tenant : tenants) {
    HEARTH_ASSIGN_OR_RETURN(TenantUsageReport one, CollectTenant(store, tenant, from, to));
    report.tenants.push_back(std::move(one));
  }
  return report;
}

nlohmann::json UsageReportJson(const UsageReport& report) {
  nlohmann::json tenants = nlohmann::json::array();
  for (const TenantUsageReport& tenant : report.tenants) {
    nlohmann::json rows = nlohmann::json::array();
    for (const UsageReportRow& row : tenant.rows) {
      const UsageTotals& t = row.totals;
      rows.push_back({
          {"key_id", t.key_id ? nlohmann::json(*t.key_id) : nlohmann::json(nullptr)},
          {"key_prefix", row.key ? nlohmann::json(row.key->prefix) : nlohmann::json(nullptr)},
          {"key_name", row.key ? nlohmann::json(row.key->name) : nlohmann::json(nullptr)},
          {"deployment", t.deployment},
          {"requests", t.requests},
          {"prompt_tokens", t.prompt_tokens},
          {"completion_tokens", t.completion_tokens},
          {"total_tokens", t.prompt_tokens + t.completion_tokens},
      });
    }
    tenants.push_back({
        {"tenant", tenant.tenant.name},
        {"tenant_id", tenant.tenant.id},
        {"requests", tenant.requests},
        {"prompt_tokens", tenant.prompt_tokens},
        {"completion_tokens", tenant.completion_tokens},
        {"total_tokens", tenant.prompt_tokens + tenant.completion_tokens},
        {"rows", std::move(rows)},
    });
  }
  return {{"object", "usage"}, {"from", report.from}, {"to", report.to}, {"tenants", tenants}};
}

}  // namespace hearth::platform
