// Usage totals per tenant, key and deployment over a time range: what GET /admin/v1/usage and
// `hearth usage` report. Built on Store::QueryUsage (totals per key and deployment), with key
// names and prefixes attached so a report is readable without a second lookup.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

struct UsageReportRow {
  UsageTotals totals;
  std::optional<ApiKey> key;  // empty for console traffic or a key deleted since
};

struct TenantUsageReport {
  Tenant tenant;
  std::vector<UsageReportRow> rows;  // ordered as Store::QueryUsage orders them
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct UsageReport {
  int64_t from = 0;  // [from, to), Unix ms
  int64_t to = 0;
  std::vector<TenantUsageReport> tenants;  // by tenant id; tenants without usage included
};

// One tenant (when given) or every tenant.
Result<UsageReport> CollectUsage(Store& store, std::optional<int64_t> tenant_id, int64_t from,
                                 int64_t to);

nlohmann::json UsageReportJson(const UsageReport& report);

}  // namespace hearth::platform
