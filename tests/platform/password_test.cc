#include "hearth/platform/password.h"

#include <gtest/gtest.h>

#include "backends.h"

namespace hearth::platform::testing {
namespace {

constexpr PasswordHashParams kFast{1, 8, 1};

TEST(PasswordTest, VerifiesTheReferenceImplementationsVectors) {
  // Argon2id v1.3 outputs from the reference implementation's test suite (phc-winner-argon2
  // src/test.c): password "password", salt "somesalt".
  const char* kP1 =
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
  const char* kP2 =
      "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";
  for (const char* encoded : {kP1, kP2}) {
    ASSERT_OK_AND_ASSIGN(bool ok, VerifyPassword("password", encoded));
    EXPECT_TRUE(ok) << encoded;
    ASSERT_OK_AND_ASSIGN(ok, VerifyPassword("passwore", encoded));
    EXPECT_FALSE(ok) << encoded;
  }
  ASSERT_OK_AND_ASSIGN(PasswordHashParams p, ParsePasswordHashParams(kP2));
  EXPECT_EQ(p, (PasswordHashParams{2, 256, 2}));
}

TEST(PasswordTest, HashesCarryTheirParametersAndAFreshSalt) {
  ASSERT_OK_AND_ASSIGN(std::string a, HashPassword("hunter2-hunter2", {2, 32, 2}));
  ASSERT_OK_AND_ASSIGN(std::string b, HashPassword("hunter2-hunter2", {2, 32, 2}));
  EXPECT_TRUE(a.starts_with("$argon2id$v=19$m=32,t=2,p=2$")) << a;
  EXPECT_NE(a, b) << "two hashes of one password differ by their salt";
  for (const std::string& encoded : {a, b}) {
    ASSERT_OK_AND_ASSIGN(bool ok, VerifyPassword("hunter2-hunter2", encoded));
    EXPECT_TRUE(ok);
    ASSERT_OK_AND_ASSIGN(ok, VerifyPassword("hunter2-hunter3", encoded));
    EXPECT_FALSE(ok);
    ASSERT_OK_AND_ASSIGN(ok, VerifyPassword("", encoded));
    EXPECT_FALSE(ok);
  }
  EXPECT_FALSE(PasswordNeedsRehash(a, {2, 32, 2}));
  EXPECT_TRUE(PasswordNeedsRehash(a, {3, 32, 2}));
  EXPECT_TRUE(PasswordNeedsRehash(a, kFast));
  EXPECT_TRUE(PasswordNeedsRehash("garbage", kFast));
}

TEST(PasswordTest, EnforcesThePolicyAndSaneParameters) {
  EXPECT_CODE(HashPassword("1234567", kFast), StatusCode::kInvalidArgument);
  ASSERT_OK(HashPassword("12345678", kFast).status());
  EXPECT_CODE(HashPassword(std::string(kMaxPasswordLength + 1, 'x'), kFast),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(HashPassword("long-enough", {0, 8, 1}), StatusCode::kInvalidArgument);
  EXPECT_CODE(HashPassword("long-enough", {1, 4, 1}), StatusCode::kInvalidArgument);
  EXPECT_CODE(HashPassword("long-enough", {1, 8, 2}), StatusCode::kInvalidArgument);
}

TEST(PasswordTest, RejectsStoredHashesItShouldNotTrust) {
  ASSERT_OK_AND_ASSIGN(std::string good, HashPassword("password-1234", kFast));
  const std::string bad[] = {
      "", "plain text",
      // Other argon2 variants and versions are not what this code writes.
      "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      // A tampered cost that would allocate 4 TiB.
      "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      good.substr(0, good.size() - 10),  // truncated hash
      good.substr(0, good.rfind('$')),   // no hash at all
  };
  for (const std::string& encoded : bad) {
    auto verified = VerifyPassword("password-1234", encoded);
    EXPECT_CODE(verified, StatusCode::kCorruption) << encoded;
  }
}

}  // namespace
}  // namespace hearth::platform::testing
