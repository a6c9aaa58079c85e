// The API-key verification cache: Identity::VerifyApiKey on both store backends with a
// controlled clock, and ApiKeyCache's bounds and invalidation race on their own.
#include <gtest/gtest.h>

#include "backends.h"
#include "hearth/platform/api_key_cache.h"
#include "hearth/platform/identity.h"
#include "identity_test_support.h"

namespace hearth::platform::testing {
namespace {

constexpr int64_t kTtlMs = 5000;

class KeyCacheTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    IdentityOptions o = TestIdentityOptions([this] { return now_ms; });
    o.api_key_cache.ttl = std::chrono::milliseconds(kTtlMs);
    identity_ = std::make_unique<Identity>(store(), o);
    ASSERT_OK_AND_ASSIGN(tenant_, store().CreateTenant("acme"));
  }

  Identity& identity() { return *identity_; }
  int64_t misses() { return identity_->api_key_cache_stats().misses; }
  int64_t hits() { return identity_->api_key_cache_stats().hits; }

  std::unique_ptr<Identity> identity_;
  Tenant tenant_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(KeyCacheTest);

TEST_P(KeyCacheTest, RepeatedVerificationsSkipTheStore) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant_.id, "ci"));
  ASSERT_OK_AND_ASSIGN(ApiKey first, identity().VerifyApiKey(issued.plaintext));
  EXPECT_EQ(misses(), 1);
  EXPECT_EQ(hits(), 0);
  for (int i = 0; i < 10; ++i) {
    now_ms += 100;
    ASSERT_OK_AND_ASSIGN(ApiKey again, identity().VerifyApiKey(issued.plaintext));
    EXPECT_EQ(again.id, first.id);
    EXPECT_EQ(again.tenant_id, tenant_.id);
  }
  EXPECT_EQ(misses(), 1);
  EXPECT_EQ(hits(), 10);

  // Proof that the store is not asked: the row is gone (another process deleted it), yet the key
  // verifies until the entry's ttl has passed, then the store's answer holds.
  ASSERT_OK(store().DeleteApiKey(issued.key.id));
  now_ms += kTtlMs - 1000 - 1;  // 4999 ms after the entry was read
  EXPECT_TRUE(identity().VerifyApiKey(issued.plaintext).ok());
  now_ms += 1;
  auto gone = identity().VerifyApiKey(issued.plaintext);
  EXPECT_CODE(gone, StatusCode::kUnauthenticated);
  EXPECT_EQ(gone.status().message(), "invalid API key");
  EXPECT_EQ(misses(), 2);
}

TEST_P(KeyCacheTest, WrongSecretsAreNeverServedFromTheCache) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant_.id, "ci"));
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  std::string wrong = issued.plaintext;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_CODE(identity().VerifyApiKey(wrong), StatusCode::kUnauthenticated);
  EXPECT_CODE(identity().VerifyApiKey(wrong), StatusCode::kUnauthenticated);
  // The same secret under another prefix is another (unknown) key.
  std::string other_prefix = issued.plaintext;
  other_prefix[3] = other_prefix[3] == 'a' ? 'b' : 'a';
  EXPECT_CODE(identity().VerifyApiKey(other_prefix), StatusCode::kUnauthenticated);
  EXPECT_EQ(hits(), 0);
}

TEST_P(KeyCacheTest, ForgetTakesEffectAtOnce) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant_.id, "ci"));
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  ASSERT_EQ(hits(), 1);
  ASSERT_OK(store().RevokeApiKey(issued.key.id).status());
  identity().ForgetApiKey(issued.key.id);
  auto refused = identity().VerifyApiKey(issued.plaintext);
  EXPECT_CODE(refused, StatusCode::kUnauthenticated);
  EXPECT_EQ(refused.status().message(),
            fmt::format("API key {} has been revoked", issued.key.prefix));
  // A revoked key is not cached: every attempt asks the store.
  EXPECT_CODE(identity().VerifyApiKey(issued.plaintext), StatusCode::kUnauthenticated);
  EXPECT_EQ(hits(), 1);
}

TEST_P(KeyCacheTest, ExpiryIsCheckedOnEveryHit) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued,
                       identity().IssueApiKey(tenant_.id, "temp", {}, now_ms + 3000));
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  now_ms += 2999;
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  now_ms += 1;  // expired, while the entry is still fresh
  auto expired = identity().VerifyApiKey(issued.plaintext);
  EXPECT_CODE(expired, StatusCode::kUnauthenticated);
  EXPECT_EQ(expired.status().message(), fmt::format("API key {} has expired", issued.key.prefix));
  EXPECT_EQ(misses(), 1) << "the expiry was decided from the cached record";
  EXPECT_EQ(hits(), 2);
}

TEST_P(KeyCacheTest, AnotherProcesssRevocationIsSeenWithinTheTtl) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant_.id, "ci"));
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> other, OpenStore());
  ASSERT_OK(other->RevokeApiKey(issued.key.id).status());
  now_ms += kTtlMs - 1;
  EXPECT_TRUE(identity().VerifyApiKey(issued.plaintext).ok()) << "documented staleness";
  now_ms += 1;
  auto refused = identity().VerifyApiKey(issued.plaintext);
  EXPECT_CODE(refused, StatusCode::kUnauthenticated);
  EXPECT_EQ(refused.status().message(),
            fmt::format("API key {} has been revoked", issued.key.prefix));
}

TEST_P(KeyCacheTest, LastUseIsStillRecordedFromCachedVerifications) {
  IdentityOptions o;
  o.clock = [this] { return now_ms; };
  o.api_key_cache.ttl = std::chrono::milliseconds(kTtlMs);
  o.last_used_granularity = std::chrono::milliseconds(1000);
  Identity fine(store(), o);
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, fine.IssueApiKey(tenant_.id, "ci"));
  auto last_used = [&] {
    auto stored = store().GetApiKey(issued.key.id);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return stored.ok() ? stored->last_used_at.value_or(-1) : -1;
  };
  const int64_t t0 = now_ms;
  ASSERT_OK(fine.VerifyApiKey(issued.plaintext).status());
  EXPECT_EQ(last_used(), t0);
  now_ms = t0 + 1500;  // a hit, past the granularity: written
  ASSERT_OK(fine.VerifyApiKey(issued.plaintext).status());
  EXPECT_EQ(last_used(), t0 + 1500);
  now_ms = t0 + 2000;  // a hit within it: not written
  ASSERT_OK(fine.VerifyApiKey(issued.plaintext).status());
  EXPECT_EQ(last_used(), t0 + 1500);
  now_ms = t0 + 2600;  // measured from the cached entry's updated last use
  ASSERT_OK(fine.VerifyApiKey(issued.plaintext).status());
  EXPECT_EQ(last_used(), t0 + 2600);
  EXPECT_EQ(fine.api_key_cache_stats().hits, 3);
  EXPECT_EQ(fine.api_key_cache_stats().misses, 1);
}

TEST_P(KeyCacheTest, ATtlOfZeroDisablesTheCache) {
  IdentityOptions o;
  o.clock = [this] { return now_ms; };
  o.api_key_cache.ttl = std::chrono::milliseconds(0);
  Identity uncached(store(), o);
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, uncached.IssueApiKey(tenant_.id, "ci"));
  ASSERT_OK(uncached.VerifyApiKey(issued.plaintext).status());
  ASSERT_OK(store().RevokeApiKey(issued.key.id).status());
  EXPECT_CODE(uncached.VerifyApiKey(issued.plaintext), StatusCode::kUnauthenticated);
  EXPECT_EQ(uncached.api_key_cache_stats().hits, 0);
}

ApiKey KeyWithId(int64_t id) {
  ApiKey key;
  key.id = id;
  key.prefix = fmt::format("p{}", id);
  key.secret_hash = fmt::format("h{}", id);
  return key;
}

// KeyWithId's prefix for a hash "hN".
std::string Prefix(std::string_view hash) { return fmt::format("p{}", hash.substr(1)); }

TEST(ApiKeyCacheTest, HoldsAtMostMaxEntriesEvictingTheLeastRecentlyUsed) {
  ApiKeyCache cache({std::chrono::milliseconds(1000), 3});
  for (int64_t id = 1; id <= 3; ++id) {
    cache.Insert(fmt::format("h{}", id), KeyWithId(id), 0, cache.generation());
  }
  ASSERT_TRUE(cache.Find("h1", Prefix("h1"), 10).has_value());  // now h2 is the least recent
  cache.Insert("h4", KeyWithId(4), 10, cache.generation());
  EXPECT_EQ(cache.stats().entries, 3);
  EXPECT_FALSE(cache.Find("h2", Prefix("h2"), 10).has_value());
  for (const char* kept : {"h1", "h3", "h4"}) {
    auto found = cache.Find(kept, Prefix(kept), 10);
    ASSERT_TRUE(found.has_value()) << kept;
    EXPECT_EQ(found->secret_hash, kept);
  }
}

TEST(ApiKeyCacheTest, EntriesEndAfterTheTtlOrWhenTheClockGoesBack) {
  ApiKeyCache cache({std::chrono::milliseconds(1000), 8});
  cache.Insert("h1", KeyWithId(1), 5000, cache.generation());
  EXPECT_TRUE(cache.Find("h1", Prefix("h1"), 5999).has_value());
  EXPECT_FALSE(cache.Find("h1", Prefix("h1"), 6000).has_value());
  EXPECT_EQ(cache.stats().entries, 0);
  cache.Insert("h1", KeyWithId(1), 5000, cache.generation());
  EXPECT_FALSE(cache.Find("h1", Prefix("h1"), 4999).has_value());
}

TEST(ApiKeyCacheTest, AReadThatRacedAnInvalidationIsNotCached) {
  ApiKeyCache cache({std::chrono::milliseconds(1000), 8});
  const uint64_t before_read = cache.generation();
  cache.Forget(1);  // the key is revoked while the verification reads the store
  cache.Insert("h1", KeyWithId(1), 0, before_read);
  EXPECT_FALSE(cache.Find("h1", Prefix("h1"), 1).has_value());

  cache.Insert("h1", KeyWithId(1), 0, cache.generation());
  cache.Insert("h2", KeyWithId(2), 0, cache.generation());
  cache.Forget(1);
  EXPECT_FALSE(cache.Find("h1", Prefix("h1"), 1).has_value());
  EXPECT_TRUE(cache.Find("h2", Prefix("h2"), 1).has_value());
  EXPECT_FALSE(cache.Find("h2", "p1", 1).has_value()) << "the prefix is part of the key";
  cache.Clear();
  EXPECT_FALSE(cache.Find("h2", Prefix("h2"), 1).has_value());
}

}  // namespace
}  // namespace hearth::platform::testing
