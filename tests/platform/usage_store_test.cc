// Usage in the store, on both backends: errors per key and deployment, and hourly totals, each
// checked against the same events summed in memory.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>

#include "backends.h"

namespace hearth::platform::testing {
namespace {

using UsageStoreTest = BackendTest;
HEARTH_INSTANTIATE_FOR_BACKENDS(UsageStoreTest);

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kHour0 = 1'704'067'200'000;  // 2024-01-01T00:00:00Z

// The UTC hour holding `at`, by floor division (C++ '/' truncates toward zero).
int64_t HourOf(int64_t at) {
  int64_t hour = at / kHourMs * kHourMs;
  if (hour > at) hour -= kHourMs;
  return hour;
}

using Group = std::tuple<std::optional<int64_t>, std::string>;

void Add(UsageTotals& t, const UsageEvent& e) {
  t.key_id = e.key_id;
  t.deployment = e.deployment;
  t.requests += 1;
  t.errors += e.error ? 1 : 0;
  t.prompt_tokens += e.prompt_tokens;
  t.completion_tokens += e.completion_tokens;
}

void ExpectSame(const UsageTotals& got, const UsageTotals& want, const std::string& where) {
  EXPECT_EQ(got.key_id, want.key_id) << where;
  EXPECT_EQ(got.deployment, want.deployment) << where;
  EXPECT_EQ(got.requests, want.requests) << where;
  EXPECT_EQ(got.errors, want.errors) << where;
  EXPECT_EQ(got.prompt_tokens, want.prompt_tokens) << where;
  EXPECT_EQ(got.completion_tokens, want.completion_tokens) << where;
}

// Random events of tenants 1 and 2 around [from, to), failed ones among them.
std::vector<UsageEvent> RandomEvents(int n, int64_t from, int64_t to, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::optional<int64_t> keys[] = {std::nullopt, 11, 12};
  const char* deployments[] = {"llama", "qwen", "Qwen", ""};
  std::vector<UsageEvent> events;
  for (int i = 0; i < n; ++i) {
    UsageEvent e;
    e.tenant_id = i % 7 == 0 ? 2 : 1;
    e.key_id = keys[rng() % 3];
    e.deployment = deployments[rng() % 4];
    const int64_t span = to - from;
    e.at = from - span / 4 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span + span / 2));
    e.error = e.deployment.empty() || rng() % 3 == 0;
    e.http_status = e.error ? (rng() % 2 ? 429 : 200) : 200;
    // Tokens need a deployment; a failed request has some only as a stream ended by an error.
    const bool tokens = !e.deployment.empty() && (!e.error || e.http_status == 200);
    e.prompt_tokens = tokens ? rng() % 5000 : 0;
    e.completion_tokens = tokens ? rng() % 3000 : 0;
    events.push_back(std::move(e));
  }
  events[0].at = from;  // inclusive start
  events[1].at = to;    // exclusive end
  events[2].at = to - 1;
  return events;
}

TEST_P(UsageStoreTest, ErrorsAreCountedWithTheRequestsPerKeyAndDeployment) {
  const int64_t from = kHour0, to = kHour0 + 5 * kHourMs;
  const auto events = RandomEvents(400, from, to, 77);
  ASSERT_OK(store().RecordUsageBatch(events));
  std::map<Group, UsageTotals> expected;
  for (const UsageEvent& e : events) {
    if (e.tenant_id == 1 && e.at >= from && e.at < to) Add(expected[{e.key_id, e.deployment}], e);
  }
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(1, from, to));
  ASSERT_EQ(totals.size(), expected.size());
  size_t i = 0;
  int64_t errors = 0;
  for (const auto& [group, want] : expected) {  // no key first, then by id; "" before names
    ExpectSame(totals[i], want, "group " + std::to_string(i));
    ++i;
    errors += want.errors;
  }
  EXPECT_GT(errors, 0);
  EXPECT_EQ(totals[0].deployment, "") << "the failed requests without a deployment sort first";
}

TEST_P(UsageStoreTest, HourlyTotalsSplitAtUtcHourBoundaries) {
  // Around the boundaries: the last and first millisecond of each hour.
  const std::vector<UsageEvent> events = {
      {1, 11, "llama", kHour0 - 1, 1, 1, false, 200},                       // before the range
      {1, 11, "llama", kHour0 + 5, 10, 2, false, 200},                      // hour 0
      {1, 11, "llama", kHour0 + kHourMs - 1, 20, 4, false, 200},            // hour 0, last ms
      {1, 11, "llama", kHour0 + kHourMs, 40, 8, false, 200},                // hour 1, first ms
      {1, 11, "llama", kHour0 + kHourMs + 1, 0, 0, true, 429},              // hour 1, an error
      {1, 12, "llama", kHour0 + kHourMs + 2, 0, 0, true, 404},              // hour 1, other key
      {1, 11, "", kHour0 + 2 * kHourMs - 1, 0, 0, true, 404},               // hour 1, no deployment
      {1, 11, "qwen", kHour0 + 2 * kHourMs, 80, 16, false, 200},            // hour 2
      {1, 11, "qwen", kHour0 + 2 * kHourMs + 30, 160, 32, true, 200},       // hour 2, stream error
      {1, 11, "qwen", kHour0 + 2 * kHourMs + 3'000'000, 1, 1, false, 200},  // after the range
      {2, 11, "llama", kHour0 + 10, 999, 999, false, 200},                  // another tenant
  };
  ASSERT_OK(store().RecordUsageBatch(events));
  ASSERT_OK_AND_ASSIGN(auto hours,
                       store().QueryUsageByHour(1, kHour0, kHour0 + 2 * kHourMs + 3'000'000));
  struct Want {
    int64_t hour;
    std::optional<int64_t> key;
    std::string deployment;
    int64_t requests, errors, prompt, completion;
  };
  const std::vector<Want> want = {
      {kHour0, 11, "llama", 2, 0, 30, 6},
      {kHour0 + kHourMs, 11, "", 1, 1, 0, 0},
      {kHour0 + kHourMs, 11, "llama", 2, 1, 40, 8},
      {kHour0 + kHourMs, 12, "llama", 1, 1, 0, 0},
      {kHour0 + 2 * kHourMs, 11, "qwen", 2, 1, 240, 48},
  };
  ASSERT_EQ(hours.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(hours[i].hour, want[i].hour) << i;
    EXPECT_EQ(hours[i].totals.key_id, want[i].key) << i;
    EXPECT_EQ(hours[i].totals.deployment, want[i].deployment) << i;
    EXPECT_EQ(hours[i].totals.requests, want[i].requests) << i;
    EXPECT_EQ(hours[i].totals.errors, want[i].errors) << i;
    EXPECT_EQ(hours[i].totals.prompt_tokens, want[i].prompt) << i;
    EXPECT_EQ(hours[i].totals.completion_tokens, want[i].completion) << i;
  }
  // A range that starts and ends inside hours: those hours hold only the part in the range.
  ASSERT_OK_AND_ASSIGN(auto cut,
                       store().QueryUsageByHour(1, kHour0 + kHourMs - 1, kHour0 + kHourMs + 1));
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0].hour, kHour0);
  EXPECT_EQ(cut[0].totals.prompt_tokens, 20);
  EXPECT_EQ(cut[1].hour, kHour0 + kHourMs);
  EXPECT_EQ(cut[1].totals.prompt_tokens, 40);
  EXPECT_EQ(cut[1].totals.errors, 0);

  ASSERT_OK_AND_ASSIGN(auto none, store().QueryUsageByHour(3, 0, kHour0 * 2));
  EXPECT_TRUE(none.empty());
  EXPECT_CODE(store().QueryUsageByHour(1, 10, 5), StatusCode::kInvalidArgument);
}

TEST_P(UsageStoreTest, HourlyTotalsMatchAReferenceAndSumToTheRangeTotals) {
  // Times on both sides of 1970 too: the hour is a floor, never a truncation toward zero.
  for (const auto& [from, to] : {std::pair{kHour0 + 1234, kHour0 + 7 * kHourMs + 99},
                                 std::pair{-3 * kHourMs - 17, 2 * kHourMs + 5}}) {
    SCOPED_TRACE(from);
    ASSERT_OK_AND_ASSIGN(auto fresh, OpenScratchStore());
    const auto events = RandomEvents(300, from, to, static_cast<uint32_t>(from & 0xffff));
    ASSERT_OK(fresh->RecordUsageBatch(events));
    std::map<std::tuple<int64_t, std::optional<int64_t>, std::string>, UsageTotals> expected;
    for (const UsageEvent& e : events) {
      if (e.tenant_id != 1 || e.at < from || e.at >= to) continue;
      Add(expected[{HourOf(e.at), e.key_id, e.deployment}], e);
    }
    ASSERT_OK_AND_ASSIGN(auto hours, fresh->QueryUsageByHour(1, from, to));
    ASSERT_EQ(hours.size(), expected.size());
    size_t i = 0;
    std::map<Group, UsageTotals> summed;
    for (const auto& [group, want] : expected) {  // by hour, then key, then deployment
      EXPECT_EQ(hours[i].hour, std::get<0>(group)) << i;
      EXPECT_EQ(hours[i].hour % kHourMs, 0);
      ExpectSame(hours[i].totals, want, "row " + std::to_string(i));
      UsageTotals& s = summed[{want.key_id, want.deployment}];
      s.key_id = want.key_id;
      s.deployment = want.deployment;
      s.requests += hours[i].totals.requests;
      s.errors += hours[i].totals.errors;
      s.prompt_tokens += hours[i].totals.prompt_tokens;
      s.completion_tokens += hours[i].totals.completion_tokens;
      ++i;
    }
    ASSERT_OK_AND_ASSIGN(auto totals, fresh->QueryUsage(1, from, to));
    ASSERT_EQ(totals.size(), summed.size());
    i = 0;
    for (const auto& [group, want] : summed) ExpectSame(totals[i++], want, "total");
    // The scratch database is reused by the next range: start it empty.
    fresh.reset();
    ASSERT_OK_AND_ASSIGN(auto db, OpenScratchDriver());
    ASSERT_OK(db->Execute("DELETE FROM usage", {}).status());
  }
}

TEST_P(UsageStoreTest, AnEventWithoutDeploymentHasNoTokensAndStatusesAreHttp) {
  UsageEvent billed{1, 5, "", kHour0, 0, 1, false, 200};
  EXPECT_EQ(store().RecordUsage(billed).code(), StatusCode::kInvalidArgument);
  UsageEvent failed{1, 5, "", kHour0, 0, 0, true, 400};
  ASSERT_OK(store().RecordUsage(failed));
  UsageEvent listing{1, 5, "", kHour0, 0, 0, false, 200};
  ASSERT_OK(store().RecordUsage(listing));
  for (int status : {-1, 1, 99, 600, 1000}) {
    UsageEvent bad{1, 5, "llama", kHour0, 0, 0, true, status};
    EXPECT_EQ(store().RecordUsage(bad).code(), StatusCode::kInvalidArgument) << status;
  }
  UsageEvent client_left{1, 5, "llama", kHour0, 3, 1, false, 0};  // no answer was sent
  ASSERT_OK(store().RecordUsage(client_left));
  UsageEvent too_long{1, 5, std::string(129, 'x'), kHour0, 0, 0, true, 404};
  EXPECT_EQ(store().RecordUsage(too_long).code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(1, 0, kHour0 + 1));
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[0].deployment, "");
  EXPECT_EQ(totals[0].requests, 2);
  EXPECT_EQ(totals[0].errors, 1);
  EXPECT_EQ(totals[1].deployment, "llama");
  EXPECT_EQ(totals[1].requests, 1);
  EXPECT_EQ(totals[1].errors, 0);
}

}  // namespace
}  // namespace hearth::platform::testing
