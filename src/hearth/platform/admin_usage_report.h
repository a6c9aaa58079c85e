// Usage per tenant, key and deployment over a time range, as totals or per UTC hour: what
// GET /admin/v1/usage and `hearth usage` report. Built on Store::QueryUsage and
// Store::QueryUsageByHour, with key names and prefixes attached so a report is readable without a
// second lookup.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

enum class UsageGrouping {
  kTotal,  // one row per (key, deployment) over the whole range
  kHour,   // one row per (UTC hour, key, deployment)
};
std::string_view UsageGroupingName(UsageGrouping grouping);  // "total", "hour"
Result<UsageGrouping> ParseUsageGrouping(std::string_view text);

struct UsageReportRow {
  std::optional<int64_t> hour;  // start of the UTC hour (Unix ms); set exactly for kHour
  UsageTotals totals;
  std::optional<ApiKey> key;  // empty for console traffic or a key deleted since
};

struct TenantUsageReport {
  Tenant tenant;
  // Ordered as the store orders them (by hour first when grouped by hour).
  std::vector<UsageReportRow> rows;
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct UsageReport {
  int64_t from = 0;  // [from, to), Unix ms
  int64_t to = 0;
  UsageGrouping grouping = UsageGrouping::kTotal;
  std::vector<TenantUsageReport> tenants;  // by tenant id; tenants without usage included
};

// One tenant (when given) or every tenant.
Result<UsageReport> CollectUsage(Store& store, std::optional<int64_t> tenant_id, int64_t from,
                                 int64_t to, UsageGrouping grouping = UsageGrouping::kTotal);

// Rows carry "hour" only when grouped by hour; "deployment" is null for requests that named no
// deployment the key may use.
nlohmann::json UsageReportJson(const UsageReport& report);

}  // namespace hearth::platform
