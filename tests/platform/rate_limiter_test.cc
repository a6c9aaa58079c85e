// RateLimiter against a real SQLite store, with a fake clock: the sliding windows, settlement of
// token estimates, concurrency slots, tenant-and-key admission, the quota cache's TTL, and
// exactness under concurrent callers.
#include "hearth/platform/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "backends.h"
#include "hearth/platform/identity.h"
#include "support/fixtures.h"

namespace hearth::platform {
namespace {

class RateLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(dir_ / "store.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    ASSERT_OK_AND_ASSIGN(tenant_, store_->CreateTenant("acme"));
    IdentityOptions identity_options;
    identity_options.password_params = {1, 8, 1};
    Identity identity(*store_, identity_options);
    ASSERT_OK_AND_ASSIGN(IssuedApiKey a, identity.IssueApiKey(tenant_.id, "a"));
    ASSERT_OK_AND_ASSIGN(IssuedApiKey b, identity.IssueApiKey(tenant_.id, "b"));
    key_a_ = a.key.id;
    key_b_ = b.key.id;
    RateLimiterOptions options;
    options.clock = [this] { return now_.load(); };
    limiter_ = std::make_unique<RateLimiter>(*store_, options);
  }

  void SetKeyQuota(int64_t key, Quota quota) {
    ASSERT_TRUE(store_->SetQuota(QuotaSubject::ApiKey(key), quota).ok());
  }
  void SetTenantQuota(Quota quota) {
    ASSERT_TRUE(store_->SetQuota(QuotaSubject::Tenant(tenant_.id), quota).ok());
  }

  hearth::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Tenant tenant_;
  int64_t key_a_ = 0, key_b_ = 0;
  std::atomic<int64_t> now_{1'000'000};
  std::unique_ptr<RateLimiter> limiter_;
};

TEST_F(RateLimiterTest, NoQuotaMeansUnlimited) {
  std::vector<RateLimiter::Permit> held;
  for (int i = 0; i < 500; ++i) {
    auto d = limiter_->Admit(tenant_.id, key_a_, 1000);
    ASSERT_TRUE(d.admitted()) << i;
    held.push_back(std::move(*d.permit));
  }
  EXPECT_EQ(limiter_->InFlight(QuotaSubject::ApiKey(key_a_)), 500);
}

TEST_F(RateLimiterTest, RequestsPerMinuteIsASlidingWindow) {
  SetKeyQuota(key_a_, testing::Rpm(3));
  const int64_t t0 = now_;
  for (int i = 0; i < 3; ++i) {
    now_ = t0 + i * 10'000;
    EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted()) << i;
  }
  now_ = t0 + 30'000;
  auto refused = limiter_->Admit(tenant_.id, key_a_, 0);
  ASSERT_FALSE(refused.admitted());
  EXPECT_EQ(refused.rejection->limit, "requests_per_minute");
  EXPECT_EQ(refused.rejection->subject, "api_key");
  EXPECT_EQ(refused.rejection->limit_value, 3);
  // The first admission (t0) leaves the window at t0 + 60 s.
  EXPECT_EQ(refused.rejection->retry_after_ms, 30'000);
  EXPECT_EQ(refused.rejection->retry_after_seconds(), 30);
  now_ = t0 + 59'999;
  EXPECT_FALSE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  now_ = t0 + 60'000;
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  EXPECT_FALSE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  // Another key of the same tenant has its own window.
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_b_, 0).admitted());
}

TEST_F(RateLimiterTest, ConcurrencySlotsComeBackWhenPermitsEnd) {
  SetTenantQuota(testing::Concurrent(2));
  auto first = limiter_->Admit(tenant_.id, key_a_, 0);
  auto second = limiter_->Admit(tenant_.id, key_b_, 0);
  ASSERT_TRUE(first.admitted() && second.admitted());
  auto third = limiter_->Admit(tenant_.id, key_a_, 0);
  ASSERT_FALSE(third.admitted());
  EXPECT_EQ(third.rejection->limit, "max_concurrent");
  EXPECT_EQ(third.rejection->subject, "tenant");
  EXPECT_GE(third.rejection->retry_after_seconds(), 1);
  first.permit->Release();
  first.permit->Release();  // idempotent: frees one slot, not two
  auto fourth = limiter_->Admit(tenant_.id, key_a_, 0);
  EXPECT_TRUE(fourth.admitted());
  EXPECT_FALSE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  second.permit.reset();  // destruction releases too
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  EXPECT_EQ(limiter_->InFlight(QuotaSubject::Tenant(tenant_.id)), 1);  // fourth only
}

TEST_F(RateLimiterTest, TokenEstimatesAreSettledWithRealUsage) {
  SetKeyQuota(key_a_, testing::Tpm(100));
  const int64_t t0 = now_;
  auto first = limiter_->Admit(tenant_.id, key_a_, 60);
  ASSERT_TRUE(first.admitted());
  auto refused = limiter_->Admit(tenant_.id, key_a_, 50);  // 60 + 50 > 100
  ASSERT_FALSE(refused.admitted());
  EXPECT_EQ(refused.rejection->limit, "tokens_per_minute");
  EXPECT_EQ(refused.rejection->retry_after_ms, 60'000);  // the estimate leaves at t0 + 60 s
  now_ = t0 + 1000;
  first.permit->Settle(20);  // the real usage was smaller: 20 tokens, charged at t0 + 1 s
  first.permit->Settle(90);  // only the first settlement counts
  auto second = limiter_->Admit(tenant_.id, key_a_, 50);  // 20 + 50 <= 100
  ASSERT_TRUE(second.admitted());
  now_ = t0 + 2000;
  second.permit->Settle(70);                             // 20 (t0+1s) + 70 (t0+2s) = 90
  auto third = limiter_->Admit(tenant_.id, key_a_, 20);  // 90 + 20 > 100
  ASSERT_FALSE(third.admitted());
  // Dropping the 20 charged at t0 + 1 s makes room (70 + 20 <= 100): at t0 + 61 s.
  EXPECT_EQ(third.rejection->retry_after_ms, 59'000);
  now_ = t0 + 61'000;
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 20).admitted());
}

TEST_F(RateLimiterTest, ARequestLargerThanTheTokenLimitIsRefusedWithAReason) {
  SetKeyQuota(key_a_, testing::Tpm(100));
  auto refused = limiter_->Admit(tenant_.id, key_a_, 101);
  ASSERT_FALSE(refused.admitted());
  EXPECT_NE(refused.rejection->message.find("Request too large"), std::string::npos)
      << refused.rejection->message;
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 100).admitted());
}

TEST_F(RateLimiterTest, TenantAndKeyMustBothAdmitAndARefusalChargesNothing) {
  SetTenantQuota(testing::Rpm(2));
  SetKeyQuota(key_a_, testing::Rpm(1));
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  auto by_key = limiter_->Admit(tenant_.id, key_a_, 0);
  ASSERT_FALSE(by_key.admitted());
  EXPECT_EQ(by_key.rejection->subject, "api_key");
  // The refusal above did not count against the tenant: one tenant request is left.
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_b_, 0).admitted());
  auto by_tenant = limiter_->Admit(tenant_.id, key_b_, 0);
  ASSERT_FALSE(by_tenant.admitted());
  EXPECT_EQ(by_tenant.rejection->subject, "tenant");
}

TEST_F(RateLimiterTest, QuotaRowsAreCachedForTheirTtl) {
  SetKeyQuota(key_a_, testing::Rpm(1));
  const int64_t t0 = now_;
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  SetKeyQuota(key_a_, testing::Rpm(5));
  now_ = t0 + 4999;
  EXPECT_FALSE(limiter_->Admit(tenant_.id, key_a_, 0).admitted()) << "read before the TTL";
  now_ = t0 + 5000;
  EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
  ASSERT_TRUE(store_->DeleteQuota(QuotaSubject::ApiKey(key_a_)).ok());
  now_ = t0 + 10'000;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter_->Admit(tenant_.id, key_a_, 0).admitted());
}

TEST_F(RateLimiterTest, ConcurrentCallersGetExactlyTheLimit) {
  SetTenantQuota(testing::Rpm(100));
  std::atomic<int> admitted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto d = limiter_->Admit(tenant_.id, t % 2 ? key_a_ : key_b_, 3);
        (d.admitted() ? admitted : refused).fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(refused.load(), 300);
}

}  // namespace
}  // namespace hearth::platform
