#include "hearth/platform/admin_usage_report.h"

#include <fmt/format.h>

namespace hearth::platform {
namespace {

Result<std::vector<UsageReportRow>> QueryRows(Store& store, int64_t tenant_id, int64_t from,
                                              int64_t to, UsageGrouping grouping) {
  std::vector<UsageReportRow> rows;
  if (grouping == UsageGrouping::kHour) {
    HEARTH_ASSIGN_OR_RETURN(auto hours, store.QueryUsageByHour(tenant_id, from, to));
    for (HourlyUsageTotals& h : hours) rows.push_back({h.hour, std::move(h.totals), std::nullopt});
  } else {
    HEARTH_ASSIGN_OR_RETURN(auto totals, store.QueryUsage(tenant_id, from, to));
    for (UsageTotals& t : totals) rows.push_back({std::nullopt, std::move(t), std::nullopt});
  }
  return rows;
}

Result<TenantUsageReport> CollectTenant(Store& store, const Tenant& tenant, int64_t from,
                                        int64_t to, UsageGrouping grouping) {
  TenantUsageReport out;
  out.tenant = tenant;
  HEARTH_ASSIGN_OR_RETURN(out.rows, QueryRows(store, tenant.id, from, to, grouping));
  std::map<int64_t, ApiKey> keys;
  if (!out.rows.empty()) {
    HEARTH_ASSIGN_OR_RETURN(auto listed, store.ListApiKeys(tenant.id));
    for (ApiKey& key : listed) keys.emplace(key.id, std::move(key));
  }
  for (UsageReportRow& row : out.rows) {
    out.requests += row.totals.requests;
    out.errors += row.totals.errors;
    out.prompt_tokens += row.totals.prompt_tokens;
    out.completion_tokens += row.totals.completion_tokens;
    if (row.totals.key_id) {
      auto it = keys.find(*row.totals.key_id);
      if (it != keys.end()) row.key = it->second;
    }
  }
  return out;
}

}  // namespace

std::string_view UsageGroupingName(UsageGrouping grouping) {
  return grouping == UsageGrouping::kHour ? "hour" : "total";
}

Result<UsageGrouping> ParseUsageGrouping(std::string_view text) {
  if (text == "total") return UsageGrouping::kTotal;
  if (text == "hour") return UsageGrouping::kHour;
  return Status::InvalidArgument(
      fmt::format("unknown usage grouping '{}': use 'total' or 'hour'", text));
}

Result<UsageReport> CollectUsage(Store& store, std::optional<int64_t> tenant_id, int64_t from,
                                 int64_t to, UsageGrouping grouping) {
  if (from > to) {
    return Status::InvalidArgument("the usage range ends before it starts ('to' < 'from')");
  }
  UsageReport report{from, to, grouping, {}};
  std::vector<Tenant> tenants;
  if (tenant_id) {
    HEARTH_ASSIGN_OR_RETURN(Tenant tenant, store.GetTenant(*tenant_id));
    tenants.push_back(std::move(tenant));
  } else {
    HEARTH_ASSIGN_OR_RETURN(tenants, store.ListTenants());
  }
  for (const Tenant& tenant : tenants) {
    HEARTH_ASSIGN_OR_RETURN(TenantUsageReport one,
                            CollectTenant(store, tenant, from, to, grouping));
    report.tenants.push_back(std::move(one));
  }
  return report;
}

nlohmann::json UsageReportJson(const UsageReport& report) {
  using nlohmann::json;
  json tenants = json::array();
  for (const TenantUsageReport& tenant : report.tenants) {
    json rows = json::array();
    for (const UsageReportRow& row : tenant.rows) {
      const UsageTotals& t = row.totals;
      json out = json::object();
      if (row.hour) out["hour"] = *row.hour;
      out["key_id"] = t.key_id ? json(*t.key_id) : json(nullptr);
      out["key_prefix"] = row.key ? json(row.key->prefix) : json(nullptr);
      out["key_name"] = row.key ? json(row.key->name) : json(nullptr);
      out["deployment"] = t.deployment.empty() ? json(nullptr) : json(t.deployment);
      out["requests"] = t.requests;
      out["errors"] = t.errors;
      out["prompt_tokens"] = t.prompt_tokens;
      out["completion_tokens"] = t.completion_tokens;
      out["total_tokens"] = t.prompt_tokens + t.completion_tokens;
      rows.push_back(std::move(out));
    }
    tenants.push_back({
        {"tenant", tenant.tenant.name},
        {"tenant_id", tenant.tenant.id},
        {"requests", tenant.requests},
        {"errors", tenant.errors},
        {"prompt_tokens", tenant.prompt_tokens},
        {"completion_tokens", tenant.completion_tokens},
        {"total_tokens", tenant.prompt_tokens + tenant.completion_tokens},
        {"rows", std::move(rows)},
    });
  }
  return {{"object", "usage"},
          {"from", report.from},
          {"to", report.to},
          {"group_by", UsageGroupingName(report.grouping)},
          {"tenants", tenants}};
}

}  // namespace hearth::platform
