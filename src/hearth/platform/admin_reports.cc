// Admin API: usage reports and the audit log.
#include <charconv>
#include <limits>

#include "hearth/platform/admin_api.h"
#include "hearth/platform/admin_call.h"
#include "hearth/platform/admin_json.h"
#include "hearth/platform/admin_time.h"
#include "hearth/platform/admin_usage_report.h"

namespace hearth::platform {

using admin::Call;
using admin::ErrorFromStatus;
using admin::ErrorReply;
using admin::Forbidden;
using admin::JsonReply;
using admin::Reply;
using server::ApiError;

namespace {

constexpr int64_t kDefaultAuditLimit = 100;
constexpr int64_t kMaxAuditLimit = 1000;

// A time query parameter; nullopt when absent, an error reply when malformed.
std::optional<ApiError> TimeParam(const Call& call, const std::string& name,
                                  std::optional<int64_t>& out) {
  auto text = call.query(name);
  if (!text) return std::nullopt;
  auto parsed = ParseTimestamp(*text);
  if (!parsed.ok()) return ApiError::BadRequest(parsed.status().message(), name);
  out = *parsed;
  return std::nullopt;
}

std::optional<ApiError> IntParam(const Call& call, const std::string& name, int64_t min,
                                 int64_t max, std::optional<int64_t>& out) {
  auto text = call.query(name);
  if (!text) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    return ApiError::BadRequest(
        "'" + name + "' must be an integer in " + std::to_string(min) + ".." + std::to_string(max),
        name);
  }
  out = value;
  return std::nullopt;
}

}  // namespace

Reply AdminApi::GetUsage(Call& call) {
  std::optional<int64_t> from, to;
  if (auto error = TimeParam(call, "from", from)) return ErrorReply(*error);
  if (auto error = TimeParam(call, "to", to)) return ErrorReply(*error);
  std::optional<int64_t> tenant_id;
  if (auto reference = call.query("tenant")) {
    auto tenant = VisibleTenant(call, *reference);
    if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status(), "tenant"));
    tenant_id = tenant->id;
  } else if (!call.platform_admin()) {
    tenant_id = call.caller_tenant->id;
  }
  UsageGrouping grouping = UsageGrouping::kTotal;
  if (auto text = call.query("group_by")) {
    auto parsed = ParseUsageGrouping(*text);
    if (!parsed.ok()) {
      return ErrorReply(ApiError::BadRequest(parsed.status().message(), "group_by"));
    }
    grouping = *parsed;
  }
  auto report = CollectUsage(store_, tenant_id, from.value_or(0),
                             to.value_or(std::numeric_limits<int64_t>::max()), grouping);
  if (!report.ok()) return ErrorReply(ErrorFromStatus(report.status(), "to"));
  return JsonReply(UsageReportJson(*report));
}

Reply AdminApi::QueryAuditLog(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not read the audit log"));
  }
  AuditFilter filter;
  filter.actor = call.query("actor");
  filter.action = call.query("action");
  filter.target = call.query("target");
  filter.result = call.query("result");
  if (auto error = TimeParam(call, "from", filter.from)) return ErrorReply(*error);
  if (auto error = TimeParam(call, "to", filter.to)) return ErrorReply(*error);
  if (auto error =
          IntParam(call, "before_id", 1, std::numeric_limits<int64_t>::max(), filter.before_id)) {
    return ErrorReply(*error);
  }
  std::optional<int64_t> limit;
  if (auto error = IntParam(call, "limit", 1, kMaxAuditLimit, limit)) return ErrorReply(*error);
  filter.limit = limit.value_or(kDefaultAuditLimit);
  if (!call.platform_admin()) filter.target_prefix = admin::TenantPrefix(call.caller_tenant->name);

  auto entries = store_.QueryAudit(filter);
  if (!entries.ok()) return ErrorReply(ErrorFromStatus(entries.status()));
  nlohmann::json data = nlohmann::json::array();
  for (const AuditEntry& entry : *entries) data.push_back(admin::AuditJson(entry));
  nlohmann::json body = admin::ListJson(std::move(data));
  // A full page may have more behind it: pass this as before_id to read on.
  body["next_before_id"] = static_cast<int64_t>(entries->size()) == filter.limit
                               ? nlohmann::json(entries->back().id)
                               : nlohmann::json(nullptr);
  return JsonReply(body);
}

}  // namespace hearth::platform
