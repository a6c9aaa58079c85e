#include "hearth/platform/identity.h"

#include <gtest/gtest.h>

#include <regex>

#include "backends.h"
#include "hearth/platform/crypto.h"
#include "identity_test_support.h"

namespace hearth::platform::testing {
namespace {

class IdentityTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    identity_ = std::make_unique<Identity>(store(), TestIdentityOptions([this] { return now_ms; }));
    auto tenant = store().CreateTenant("acme");
    ASSERT_TRUE(tenant.ok()) << tenant.status().ToString();
    tenant_ = *tenant;
  }

  Identity& identity() { return *identity_; }
  const Tenant& tenant() const { return tenant_; }

 private:
  std::unique_ptr<Identity> identity_;
  Tenant tenant_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(IdentityTest);

// Passwords and users ------------------------------------------------------------------------

TEST_P(IdentityTest, PasswordsAreStoredAsArgon2idAndVerified) {
  ASSERT_OK_AND_ASSIGN(User alice, identity().CreateUser(tenant().id, "alice", Role::kMember,
                                                         "correct horse battery"));
  EXPECT_TRUE(alice.password_hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"))
      << alice.password_hash;
  EXPECT_EQ(alice.password_hash.find("correct horse"), std::string::npos);

  ASSERT_OK_AND_ASSIGN(User authenticated,
                       identity().Authenticate("ALICE", "correct horse battery"));
  EXPECT_EQ(authenticated.id, alice.id);

  auto wrong = identity().Authenticate("alice", "correct horse batterx");
  EXPECT_CODE(wrong, StatusCode::kUnauthenticated);
  auto unknown = identity().Authenticate("mallory", "correct horse battery");
  EXPECT_CODE(unknown, StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message())
      << "a wrong password and an unknown user must look the same";

  EXPECT_CODE(identity().CreateUser(tenant().id, "bob", Role::kMember, "short"),
              StatusCode::kInvalidArgument);
}

TEST_P(IdentityTest, ADisabledUserIsRefusedOnlyAfterTheRightPassword) {
  ASSERT_OK_AND_ASSIGN(User alice,
                       identity().CreateUser(tenant().id, "alice", Role::kMember, "password-1234"));
  ASSERT_OK(store().SetUserDisabled(alice.id, true));
  EXPECT_CODE(identity().Authenticate("alice", "password-1234"), StatusCode::kPermissionDenied);
  EXPECT_CODE(identity().Authenticate("alice", "wrong-password"), StatusCode::kUnauthenticated);
}

TEST_P(IdentityTest, SetPasswordReplacesTheOldOne) {
  ASSERT_OK_AND_ASSIGN(User alice,
                       identity().CreateUser(tenant().id, "alice", Role::kMember, "old-password"));
  ASSERT_OK(identity().SetPassword(alice.id, "new-password"));
  EXPECT_CODE(identity().Authenticate("alice", "old-password"), StatusCode::kUnauthenticated);
  ASSERT_OK(identity().Authenticate("alice", "new-password").status());
}

TEST_P(IdentityTest, ALoginUpgradesAHashMadeWithOlderParameters) {
  ASSERT_OK_AND_ASSIGN(std::string old_hash, HashPassword("password-1234", {1, 16, 1}));
  ASSERT_OK_AND_ASSIGN(User alice,
                       store().CreateUser(NewUser{tenant().id, "alice", Role::kMember, old_hash}));
  ASSERT_OK(identity().Authenticate("alice", "password-1234").status());
  ASSERT_OK_AND_ASSIGN(User after, store().GetUser(alice.id));
  EXPECT_NE(after.password_hash, old_hash);
  EXPECT_TRUE(after.password_hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
  ASSERT_OK(identity().Authenticate("alice", "password-1234").status());
}

// Sessions -----------------------------------------------------------------------------------

TEST_P(IdentityTest, SessionsAreStoredHashedAndExpire) {
  ASSERT_OK_AND_ASSIGN(User alice,
                       identity().CreateUser(tenant().id, "alice", Role::kMember, "password-1234"));
  EXPECT_CODE(identity().Login("alice", "nope-nope-nope"), StatusCode::kUnauthenticated);
  ASSERT_OK_AND_ASSIGN(IssuedSession issued, identity().Login("alice", "password-1234"));
  EXPECT_TRUE(std::regex_match(issued.token, std::regex("[a-z2-7]{52}"))) << issued.token;
  EXPECT_EQ(issued.session.token_hash, Sha256Hex(issued.token));
  EXPECT_EQ(issued.session.expires_at, now_ms + identity().options().session_ttl.count());
  EXPECT_CODE(store().FindSession(issued.token), StatusCode::kNotFound)
      << "the token itself must not be stored";

  ASSERT_OK_AND_ASSIGN(User who, identity().VerifySession(issued.token));
  EXPECT_EQ(who.id, alice.id);
  EXPECT_CODE(identity().VerifySession(issued.token + "x"), StatusCode::kUnauthenticated);

  ASSERT_OK_AND_ASSIGN(IssuedSession second, identity().CreateSession(alice.id));
  EXPECT_NE(second.token, issued.token);

  now_ms = issued.session.expires_at;
  auto expired = identity().VerifySession(issued.token);
  EXPECT_CODE(expired, StatusCode::kUnauthenticated);
  EXPECT_EQ(expired.status().message(), "session expired");
  EXPECT_CODE(store().FindSession(issued.session.token_hash), StatusCode::kNotFound)
      << "an expired session is deleted when seen";
}

TEST_P(IdentityTest, LogoutAndDisablingEndSessions) {
  ASSERT_OK_AND_ASSIGN(User alice,
                       identity().CreateUser(tenant().id, "alice", Role::kMember, "password-1234"));
  ASSERT_OK_AND_ASSIGN(IssuedSession a, identity().CreateSession(alice.id));
  ASSERT_OK_AND_ASSIGN(IssuedSession b, identity().CreateSession(alice.id));
  ASSERT_OK(identity().EndSession(a.token));
  EXPECT_CODE(identity().VerifySession(a.token), StatusCode::kUnauthenticated);
  EXPECT_EQ(identity().EndSession(a.token).code(), StatusCode::kUnauthenticated);
  ASSERT_OK(identity().VerifySession(b.token).status());
  ASSERT_OK(store().SetUserDisabled(alice.id, true));
  EXPECT_CODE(identity().VerifySession(b.token), StatusCode::kPermissionDenied);
  EXPECT_CODE(identity().CreateSession(alice.id + 100), StatusCode::kNotFound);
}

// API keys -----------------------------------------------------------------------------------

TEST_P(IdentityTest, IssuedKeysHaveTheDocumentedShapeAndOnlyTheirHashIsStored) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued,
                       identity().IssueApiKey(tenant().id, "ci", {"llama", "qwen"}));
  std::smatch m;
  ASSERT_TRUE(std::regex_match(issued.plaintext, m, std::regex("hk-([a-z2-7]{8})-([a-z2-7]{52})")))
      << issued.plaintext;
  EXPECT_EQ(issued.key.prefix, m[1].str());
  EXPECT_EQ(issued.key.secret_hash, Sha256Hex(m[2].str()));
  EXPECT_EQ(issued.key.deployments, (std::vector<std::string>{"llama", "qwen"}));

  ASSERT_OK_AND_ASSIGN(ApiKey stored, store().FindApiKeyByPrefix(issued.key.prefix));
  EXPECT_EQ(stored.secret_hash, Sha256Hex(m[2].str()));
  EXPECT_EQ(stored.secret_hash.find(m[2].str()), std::string::npos);

  ASSERT_OK_AND_ASSIGN(IssuedApiKey other, identity().IssueApiKey(tenant().id, "ci-2"));
  EXPECT_NE(other.plaintext, issued.plaintext);
  EXPECT_NE(other.key.prefix, issued.key.prefix);
}

TEST_P(IdentityTest, AValidKeyVerifiesAndRecordsItsUse) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant().id, "ci"));
  ASSERT_OK_AND_ASSIGN(ApiKey verified, identity().VerifyApiKey(issued.plaintext));
  EXPECT_EQ(verified.id, issued.key.id);
  EXPECT_EQ(verified.tenant_id, tenant().id);
  EXPECT_EQ(verified.last_used_at, now_ms);

  // Within the granularity last_used_at is not rewritten; after it, it is.
  int64_t first_use = now_ms;
  now_ms += 30'000;
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  ASSERT_OK_AND_ASSIGN(ApiKey stored, store().GetApiKey(issued.key.id));
  EXPECT_EQ(stored.last_used_at, first_use);
  now_ms += 30'000;
  ASSERT_OK(identity().VerifyApiKey(issued.plaintext).status());
  ASSERT_OK_AND_ASSIGN(stored, store().GetApiKey(issued.key.id));
  EXPECT_EQ(stored.last_used_at, now_ms);
}

TEST_P(IdentityTest, WrongUnknownAndMalformedKeysAreRejectedAlike) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant().id, "ci"));
  std::string wrong_secret = issued.plaintext;
  wrong_secret.back() = wrong_secret.back() == 'a' ? 'b' : 'a';
  std::string unknown_prefix = issued.plaintext;
  unknown_prefix[3] = unknown_prefix[3] == 'a' ? 'b' : 'a';

  auto wrong = identity().VerifyApiKey(wrong_secret);
  EXPECT_CODE(wrong, StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), "invalid API key");
  auto unknown = identity().VerifyApiKey(unknown_prefix);
  EXPECT_CODE(unknown, StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.status().message(), "invalid API key");

  for (std::string malformed :
       {std::string(""), std::string("hk-"), std::string("sk-abc"),
        issued.plaintext.substr(0, issued.plaintext.size() - 1), issued.plaintext + "a",
        "hk-ABCDEFGH-" + std::string(52, 'a'), "hk-abcdefgh-" + std::string(52, '1')}) {
    EXPECT_CODE(identity().VerifyApiKey(malformed), StatusCode::kUnauthenticated) << malformed;
  }
  ASSERT_OK_AND_ASSIGN(ApiKey stored, store().GetApiKey(issued.key.id));
  EXPECT_FALSE(stored.last_used_at.has_value()) << "failed attempts are not a use";
}

TEST_P(IdentityTest, SecretsAreComparedInConstantTime) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued, identity().IssueApiKey(tenant().id, "ci"));
  std::string wrong_secret = issued.plaintext;
  wrong_secret.back() = wrong_secret.back() == 'a' ? 'b' : 'a';
  for (const std::string& presented : {issued.plaintext, wrong_secret}) {
    uint64_t before = ConstantTimeEqualsCallCount();
    (void)identity().VerifyApiKey(presented);
    EXPECT_EQ(ConstantTimeEqualsCallCount(), before + 1)
        << "the hash comparison must go through ConstantTimeEquals (CRYPTO_memcmp)";
  }
}

TEST_P(IdentityTest, ExpiredAndRevokedKeysAreRefused) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey expiring,
                       identity().IssueApiKey(tenant().id, "temp", {}, now_ms + 60'000));
  ASSERT_OK(identity().VerifyApiKey(expiring.plaintext).status());
  now_ms += 60'000;
  auto expired = identity().VerifyApiKey(expiring.plaintext);
  EXPECT_CODE(expired, StatusCode::kUnauthenticated);
  EXPECT_EQ(expired.status().message(), fmt::format("API key {} has expired", expiring.key.prefix));

  ASSERT_OK_AND_ASSIGN(IssuedApiKey revoked, identity().IssueApiKey(tenant().id, "gone"));
  ASSERT_OK(identity().VerifyApiKey(revoked.plaintext).status());
  ASSERT_OK(store().RevokeApiKey(revoked.key.id).status());
  // Revoked below the Identity (as by another process): seen once the key cache's ttl has passed
  // (identity_key_cache_test.cc covers the cache itself).
  now_ms += identity().options().api_key_cache.ttl.count();
  auto refused = identity().VerifyApiKey(revoked.plaintext);
  EXPECT_CODE(refused, StatusCode::kUnauthenticated);
  EXPECT_EQ(refused.status().message(),
            fmt::format("API key {} has been revoked", revoked.key.prefix));

  EXPECT_CODE(identity().IssueApiKey(tenant().id, "past", {}, now_ms),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(identity().IssueApiKey(tenant().id + 77, "nowhere"), StatusCode::kNotFound);
  EXPECT_CODE(identity().IssueApiKey(tenant().id, "temp"), StatusCode::kAlreadyExists);
}

TEST(ApiKeyFormatTest, ParsesOnlyTheExactShape) {
  std::string prefix = "abcdefgh";
  std::string secret(52, 'q');
  ASSERT_OK_AND_ASSIGN(ParsedApiKey parsed, ParseApiKey("hk-" + prefix + "-" + secret));
  EXPECT_EQ(parsed.prefix, prefix);
  EXPECT_EQ(parsed.secret, secret);
  EXPECT_CODE(ParseApiKey("hk-" + prefix + secret), StatusCode::kInvalidArgument);
  EXPECT_CODE(ParseApiKey("hk-" + prefix + "-" + secret + "-x"), StatusCode::kInvalidArgument);
  EXPECT_CODE(ParseApiKey("HK-" + prefix + "-" + secret), StatusCode::kInvalidArgument);
  EXPECT_CODE(ParseApiKey("hk-abcdefg-" + secret), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hearth::platform::testing
