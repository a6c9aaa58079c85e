// `hearth usage`: requests, errors and tokens per tenant, API key and deployment (totals over the
// range, or per UTC hour with --by-hour), read straight from the store (the data directory's
// SQLite store, or the database given with --database), so it works whether or not the platform
// is running.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "hearth/cli/commands.h"
#include "hearth/platform/admin_time.h"
#include "hearth/platform/admin_usage_report.h"
#include "hearth/platform/store.h"

namespace hearth::cli {
namespace {

struct UsageArgs {
  std::string tenant;
  std::string from;
  std::string to;
  std::string database;
  bool json = false;
  bool by_hour = false;
};

int Fail(const Status& status) {
  std::fprintf(stderr, "hearth: %s\n", status.message().c_str());
  return 1;
}

std::string KeyLabel(const platform::UsageReportRow& row) {
  if (row.key) return row.key->prefix + " " + row.key->name;
  if (row.totals.key_id) return fmt::format("#{} (deleted)", *row.totals.key_id);
  return "(console)";
}

std::string Table(const platform::UsageReport& report) {
  const bool by_hour = report.grouping == platform::UsageGrouping::kHour;
  std::string out = fmt::format(
      "usage from {} to {}{}\n\n",
      report.from == 0 ? std::string("the beginning") : platform::FormatIso8601(report.from),
      report.to == std::numeric_limits<int64_t>::max() ? std::string("now")
                                                       : platform::FormatIso8601(report.to),
      by_hour ? ", per UTC hour" : "");
  auto line = [&](std::string_view hour, std::string_view tenant, std::string_view key,
                  std::string_view deployment, auto requests, auto errors, auto prompt,
                  auto completion) {
    if (by_hour) out += fmt::format("{:<20} ", hour);
    out += fmt::format("{:<20} {:<20} {:<24} {:>10} {:>8} {:>14} {:>14}\n", tenant, key, deployment,
                       requests, errors, prompt, completion);
  };
  line("HOUR", "TENANT", "KEY", "DEPLOYMENT", "REQUESTS", "ERRORS", "PROMPT_TOKENS",
       "COMPL_TOKENS");
  for (const auto& tenant : report.tenants) {
    for (const auto& row : tenant.rows) {
      const platform::UsageTotals& t = row.totals;
      line(row.hour ? platform::FormatIso8601(*row.hour) : "", tenant.tenant.name, KeyLabel(row),
           t.deployment.empty() ? "-" : t.deployment, t.requests, t.errors, t.prompt_tokens,
           t.completion_tokens);
    }
    line("", tenant.tenant.name, "(total)", "", tenant.requests, tenant.errors,
         tenant.prompt_tokens, tenant.completion_tokens);
  }
  return out;
}

int RunUsage(const UsageArgs& args, const GlobalOptions& globals) {
  std::string location = args.database;
  if (location.empty()) location = globals.config->GetString("platform.database");
  if (location.empty()) {
    const std::filesystem::path path = platform::DefaultStorePath(globals.data_dir());
    // Opening would create an empty store; a report on nothing is better said plainly.
    if (!std::filesystem::exists(path)) {
      return Fail(Status::NotFound(fmt::format(
          "no store at {} (run hearth serve once, or pass --database)", path.string())));
    }
    location = path.string();
  }
  int64_t from = 0;
  int64_t to = std::numeric_limits<int64_t>::max();
  if (!args.from.empty()) {
    auto parsed = platform::ParseTimestamp(args.from);
    if (!parsed.ok()) return Fail(parsed.status().WithContext("--from"));
    from = *parsed;
  }
  if (!args.to.empty()) {
    auto parsed = platform::ParseTimestamp(args.to);
    if (!parsed.ok()) return Fail(parsed.status().WithContext("--to"));
    to = *parsed;
  }
  auto store = platform::OpenStore(location);
  if (!store.ok()) return Fail(store.status());
  std::optional<int64_t> tenant_id;
  if (!args.tenant.empty()) {
    auto tenant = (*store)->FindTenantByName(args.tenant);
    if (!tenant.ok()) return Fail(tenant.status());
    tenant_id = tenant->id;
  }
  auto report = platform::CollectUsage(
      **store, tenant_id, from, to,
      args.by_hour ? platform::UsageGrouping::kHour : platform::UsageGrouping::kTotal);
  if (!report.ok()) return Fail(report.status());
  if (args.json) {
    std::printf("%s\n", platform::UsageReportJson(*report).dump(2).c_str());
  } else {
    std::fputs(Table(*report).c_str(), stdout);
  }
  return 0;
}

}  // namespace

void RegisterUsage(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto args = std::make_shared<UsageArgs>();
  CLI::App* usage = app.add_subcommand(
      "usage",
      "Requests, errors and tokens per tenant, API key and deployment, from the platform's store");
  usage->add_option("--tenant", args->tenant, "only this tenant (by name)");
  usage->add_option("--from", args->from,
                    "start of the range, inclusive: Unix ms or ISO-8601 (2024-05-01T00:00:00Z)");
  usage->add_option("--to", args->to, "end of the range, exclusive: Unix ms or ISO-8601");
  usage->add_option("--database", args->database,
                    "store to read: postgres://... or a SQLite file (default: the data "
                    "directory's store)");
  usage->add_flag("--by-hour", args->by_hour,
                  "one row per UTC hour, key and deployment instead of totals over the range");
  usage->add_flag("--json", args->json, "print JSON instead of a table");
  usage->callback([args, &globals, action] {
    *action = [args, &globals] { return RunUsage(*args, globals); };
  });
}

}  // namespace hearth::cli
