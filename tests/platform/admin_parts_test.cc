// The admin API's building blocks: time parsing (checked against the C library's timegm and
// gmtime_r), request targets, JSON body fields, and the two store additions it relies on
// (audit target prefixes and role changes) on both backends.
#include <gtest/gtest.h>

#include <ctime>
#include <random>

#include "backends.h"
#include "hearth/platform/admin_http.h"
#include "hearth/platform/admin_time.h"

namespace hearth::platform::testing {
namespace {

int64_t LibcMillis(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

TEST(AdminTimeTest, IsoInstantsMatchTimegm) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const int year = 1970 + static_cast<int>(rng() % 400);
    const int month = 1 + static_cast<int>(rng() % 12);
    const int day = 1 + static_cast<int>(rng() % 28);
    const int hour = static_cast<int>(rng() % 24), minute = static_cast<int>(rng() % 60),
              second = static_cast<int>(rng() % 60);
    const std::string text =
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", year, month, day, hour, minute, second);
    ASSERT_OK_AND_ASSIGN(int64_t ms, ParseTimestamp(text));
    ASSERT_EQ(ms, LibcMillis(year, month, day, hour, minute, second)) << text;

    // Formatting agrees with gmtime_r and round-trips.
    const int64_t with_millis = ms + static_cast<int64_t>(rng() % 1000);
    const std::string formatted = FormatIso8601(with_millis);
    std::time_t seconds = static_cast<std::time_t>(with_millis / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char expected[32];
    std::strftime(expected, sizeof(expected), "%Y-%m-%dT%H:%M:%S", &tm);
    ASSERT_EQ(formatted, fmt::format("{}.{:03}Z", expected, with_millis % 1000));
    ASSERT_OK_AND_ASSIGN(int64_t back, ParseTimestamp(formatted));
    ASSERT_EQ(back, with_millis);
  }
}

TEST(AdminTimeTest, FormsOffsetsAndErrors) {
  const int64_t noon = LibcMillis(2024, 2, 29, 12, 0, 0);
  EXPECT_EQ(*ParseTimestamp("2024-02-29"), LibcMillis(2024, 2, 29, 0, 0, 0));
  EXPECT_EQ(*ParseTimestamp("2024-02-29T12:00Z"), noon);
  EXPECT_EQ(*ParseTimestamp("2024-02-29T14:00:00+02:00"), noon);
  EXPECT_EQ(*ParseTimestamp("2024-02-29T07:30:00-0430"), noon);
  EXPECT_EQ(*ParseTimestamp("2024-02-29T12:00:00.25Z"), noon + 250);
  EXPECT_EQ(*ParseTimestamp("1700000000123"), 1700000000123);
  for (const char* bad :
       {"", "2023-02-29", "2024-13-01", "2024-01-01T12:00:00", "2024-01-01T24:00:00Z",
        "2024-01-01 12:00Z", "2024-1-1", "tomorrow", "2024-01-01T12:00:00Zjunk",
        "99999999999999999999", "-5", "2024-01-01T12:00:00.Z"}) {
    auto parsed = ParseTimestamp(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << "'" << bad << "'";
  }
}

TEST(AdminHttpTest, RequestTargetsAreSplitAndDecoded) {
  ASSERT_OK_AND_ASSIGN(auto target,
                       admin::ParseRequestTarget("/admin/v1/tenants/a%2Fb/keys?x=1+2&y=%3D&z"));
  EXPECT_EQ(target.path, (std::vector<std::string>{"admin", "v1", "tenants", "a/b", "keys"}));
  EXPECT_EQ(target.query,
            (std::map<std::string, std::string>{{"x", "1 2"}, {"y", "="}, {"z", ""}}));
  EXPECT_FALSE(admin::ParseRequestTarget("/a%4").ok());
  EXPECT_FALSE(admin::ParseRequestTarget("/a?x=%g1").ok());
  EXPECT_FALSE(admin::ParseRequestTarget("/a?x=1&x=2").ok());
}

TEST(AdminHttpTest, JsonFieldsReportTheFirstBadField) {
  admin::JsonFields ok(R"({"name": "n", "count": 3, "on": true, "tags": ["a"], "gone": null})");
  EXPECT_EQ(ok.String("name"), "n");
  EXPECT_EQ(ok.Int("count", 1), 3);
  EXPECT_EQ(ok.Bool("on"), true);
  EXPECT_EQ(ok.StringList("tags"), std::vector<std::string>{"a"});
  EXPECT_EQ(ok.Int("gone"), std::nullopt);
  EXPECT_FALSE(ok.error().has_value());

  admin::JsonFields small(R"({"count": 0})");
  small.Int("count", 1);
  ASSERT_TRUE(small.error().has_value());
  EXPECT_EQ(small.error()->param, "count");

  admin::JsonFields extra(R"({"name": "n", "nme": "typo"})");
  extra.String("name", true);
  ASSERT_TRUE(extra.error().has_value());
  EXPECT_EQ(extra.error()->param, "nme");

  admin::JsonFields huge(R"({"n": 18446744073709551615})");
  huge.Int("n");
  EXPECT_EQ(huge.error()->param, "n");

  admin::JsonFields broken("{");
  broken.String("name", true);
  ASSERT_TRUE(broken.error().has_value());
  EXPECT_EQ(broken.error()->param, "");
  EXPECT_EQ(broken.error()->http_status, 400);
}

// Store additions -----------------------------------------------------------------------------

class AdminStoreTest : public BackendTest {};
HEARTH_INSTANTIATE_FOR_BACKENDS(AdminStoreTest);

TEST_P(AdminStoreTest, AuditTargetPrefixSelectsOneTenantsEntries) {
  for (const char* target : {"tenant:acme/user:a", "tenant:acme", "tenant:acme2/user:b",
                             "tenant:acme/key:x", "user:root", "TENANT:ACME/user:c"}) {
    ASSERT_OK(store().AppendAudit({0, 0, "user:root", "test", target, "", "ok", ""}).status());
  }
  AuditFilter filter;
  filter.target_prefix = "tenant:acme/";
  ASSERT_OK_AND_ASSIGN(auto entries, store().QueryAudit(filter));
  std::vector<std::string> targets;
  for (const AuditEntry& e : entries) targets.push_back(e.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"tenant:acme/key:x", "tenant:acme/user:a"}));

  filter.target_prefix = "tenant:\xc3\xa9/";
  EXPECT_EQ(store().QueryAudit(filter).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(AdminStoreTest, RolesChangeOnlyWithinATenant) {
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(User member, store().CreateUser({acme.id, "m", Role::kMember, "h"}));
  ASSERT_OK_AND_ASSIGN(User admin,
                       store().CreateUser({std::nullopt, "a", Role::kPlatformAdmin, "h"}));
  ASSERT_OK(store().SetUserRole(member.id, Role::kTenantAdmin));
  ASSERT_OK_AND_ASSIGN(User promoted, store().GetUser(member.id));
  EXPECT_EQ(promoted.role, Role::kTenantAdmin);
  ASSERT_OK(store().SetUserRole(member.id, Role::kMember));
  ASSERT_OK_AND_ASSIGN(promoted, store().GetUser(member.id));
  EXPECT_EQ(promoted.role, Role::kMember);

  EXPECT_EQ(store().SetUserRole(member.id, Role::kPlatformAdmin).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store().SetUserRole(admin.id, Role::kMember).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store().SetUserRole(999999, Role::kMember).code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(User still_admin, store().GetUser(admin.id));
  EXPECT_EQ(still_admin.role, Role::kPlatformAdmin);
}

}  // namespace
}  // namespace hearth::platform::testing
