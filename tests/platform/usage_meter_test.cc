// UsageMeter on both store backends: a callback runs only once its event is committed (another
// connection already sees it), events from many threads share transactions, a bad event fails
// alone, and audit entries reach the log.
#include "hearth/platform/usage_meter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "backends.h"

namespace hearth::platform {
namespace {

using testing::BackendTest;

UsageMeterOptions Interval(int ms) {
  UsageMeterOptions options;
  options.commit_interval = std::chrono::milliseconds(ms);
  return options;
}

class UsageMeterTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(tenant_, store().CreateTenant("acme"));
  }

  UsageEvent Event(std::string deployment, int64_t prompt, int64_t completion) {
    UsageEvent e;
    e.tenant_id = tenant_.id;
    e.deployment = std::move(deployment);
    e.at = now_ms;
    e.prompt_tokens = prompt;
    e.completion_tokens = completion;
    return e;
  }

  Tenant tenant_;
};

TEST_P(UsageMeterTest, CallbacksRunOnlyOnceTheEventIsCommitted) {
  // A second connection: what it sees has been committed, not merely written.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> observer, OpenStore());
  std::mutex mu;
  std::map<std::string, UsageTotals> seen;  // deployment -> what the observer saw at callback time
  std::atomic<int> callbacks{0};
  {
    UsageMeter meter(store(), Interval(2));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          const std::string name = fmt::format("d{}-{}", t, i);
          meter.Record(Event(name, 10 + i, t), [&, name](const Status& s) {
            EXPECT_TRUE(s.ok()) << s.ToString();
            auto totals = observer->QueryUsage(tenant_.id, now_ms, now_ms + 1);
            ASSERT_TRUE(totals.ok()) << totals.status().ToString();
            std::lock_guard lock(mu);
            for (const auto& row : *totals) {
              if (row.deployment == name) seen[name] = row;
            }
            callbacks.fetch_add(1);
          });
        }
      });
    }
    for (auto& thread : threads) thread.join();
    meter.Flush();
    EXPECT_EQ(callbacks.load(), 40);
    EXPECT_EQ(meter.stats().events_committed, 40);
    EXPECT_EQ(meter.stats().events_failed, 0);
  }
  ASSERT_EQ(seen.size(), 40u);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 10; ++i) {
      const auto& row = seen[fmt::format("d{}-{}", t, i)];
      EXPECT_EQ(row.requests, 1);
      EXPECT_EQ(row.prompt_tokens, 10 + i);
      EXPECT_EQ(row.completion_tokens, t);
    }
  }
}

TEST_P(UsageMeterTest, EventsArrivingTogetherShareATransaction) {
  UsageMeter meter(store(), Interval(30));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        meter.Record(Event("llama", 3, 4), [&](const Status& s) {
          if (s.ok()) ok.fetch_add(1);
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  meter.Flush();
  EXPECT_EQ(ok.load(), 200);
  const UsageMeterStats stats = meter.stats();
  EXPECT_EQ(stats.events_committed, 200);
  EXPECT_LT(stats.batches_committed, 50) << "group commit should batch 200 quick events";
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(tenant_.id, now_ms, now_ms + 1));
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0].requests, 200);
  EXPECT_EQ(totals[0].prompt_tokens, 600);
  EXPECT_EQ(totals[0].completion_tokens, 800);
}

TEST_P(UsageMeterTest, ARejectedEventFailsAloneNotItsBatch) {
  UsageMeter meter(store(), Interval(50));
  std::vector<Status> results(3);
  meter.Record(Event("good-1", 1, 1), [&](const Status& s) { results[0] = s; });
  meter.Record(Event("bad", -5, 1), [&](const Status& s) { results[1] = s; });
  meter.Record(Event("good-2", 2, 2), [&](const Status& s) { results[2] = s; });
  meter.Flush();
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidArgument) << results[1].ToString();
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  ASSERT_OK_AND_ASSIGN(auto totals, store().QueryUsage(tenant_.id, now_ms, now_ms + 1));
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(meter.stats().events_failed, 1);
}

TEST_P(UsageMeterTest, AuditEntriesAreWrittenOffThePath) {
  UsageMeter meter(store());
  AuditEntry entry;
  entry.actor = "key:abcdefgh";
  entry.action = "gateway.auth";
  entry.target = "/v1/models";
  entry.result = "denied";
  meter.Audit(entry);
  meter.Flush();
  AuditFilter filter;
  filter.action = "gateway.auth";
  ASSERT_OK_AND_ASSIGN(auto entries, store().QueryAudit(filter));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].actor, "key:abcdefgh");
  EXPECT_EQ(entries[0].result, "denied");
}

HEARTH_INSTANTIATE_FOR_BACKENDS(UsageMeterTest);

}  // namespace
}  // namespace hearth::platform
