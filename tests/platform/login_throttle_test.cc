// Login throttling: LoginThrottle's arithmetic with a controlled clock, and POST /admin/v1/login
// over a real socket (429 with Retry-After, audit entries, recovery after the backoff).
#include "hearth/platform/login_throttle.h"

#include <gtest/gtest.h>

#include "admin_test_support.h"
#include "support/http_test_client.h"

namespace hearth::platform::testing {
namespace {

using std::chrono::milliseconds;

class ThrottleClockTest : public ::testing::Test {
 protected:
  LoginThrottle Make(LoginThrottleOptions options = {}) {
    return LoginThrottle(options, [this] { return now; });
  }
  int64_t now = 1'000'000;
};

TEST_F(ThrottleClockTest, LocksAfterTheLimitWithADoublingCappedBackoff) {
  LoginThrottleOptions o;
  o.max_failures_per_user = 3;
  o.initial_backoff = milliseconds(1000);
  o.max_backoff = milliseconds(5000);
  LoginThrottle t = Make(o);
  for (int i = 0; i < 2; ++i) {
    t.RecordFailure("alice", "");
    EXPECT_FALSE(t.RetryAfter("alice", "").has_value()) << i;
  }
  t.RecordFailure("alice", "");  // the third: 1 s
  EXPECT_EQ(t.RetryAfter("alice", ""), milliseconds(1000));
  now += 400;
  EXPECT_EQ(t.RetryAfter("alice", ""), milliseconds(600));
  now += 600;
  EXPECT_FALSE(t.RetryAfter("alice", "").has_value());
  // Each further failure doubles it: 2 s, 4 s, then the 5 s cap.
  for (int64_t expected : {2000, 4000, 5000, 5000}) {
    t.RecordFailure("alice", "");
    EXPECT_EQ(t.RetryAfter("alice", ""), milliseconds(expected));
    now += expected;
  }
  EXPECT_FALSE(t.RetryAfter("bob", "").has_value()) << "another user is unaffected";
}

TEST_F(ThrottleClockTest, SuccessClearsTheUserAndAQuietWindowForgets) {
  LoginThrottleOptions o;
  o.max_failures_per_user = 3;
  o.window = milliseconds(60'000);
  LoginThrottle t = Make(o);
  t.RecordFailure("alice", "");
  t.RecordFailure("alice", "");
  t.RecordSuccess("alice");
  t.RecordFailure("alice", "");
  t.RecordFailure("alice", "");
  EXPECT_FALSE(t.RetryAfter("alice", "").has_value()) << "the count restarted at the success";
  now += 60'000;  // a whole window without failures
  t.RecordFailure("alice", "");
  EXPECT_FALSE(t.RetryAfter("alice", "").has_value()) << "the old failures were forgotten";
  t.RecordFailure("alice", "");
  t.RecordFailure("alice", "");
  EXPECT_TRUE(t.RetryAfter("alice", "").has_value());
}

TEST_F(ThrottleClockTest, AnAddressIsCountedAcrossUserNamesAndNotClearedBySuccess) {
  LoginThrottleOptions o;
  o.max_failures_per_user = 5;
  o.max_failures_per_address = 4;
  o.initial_backoff = milliseconds(3000);
  LoginThrottle t = Make(o);
  for (int i = 0; i < 4; ++i) t.RecordFailure("user" + std::to_string(i), "10.0.0.1");
  EXPECT_EQ(t.RetryAfter("anyone", "10.0.0.1"), milliseconds(3000));
  EXPECT_FALSE(t.RetryAfter("anyone", "10.0.0.2").has_value()) << "another address";
  EXPECT_FALSE(t.RetryAfter("anyone", "").has_value());
  t.RecordSuccess("user0");
  EXPECT_TRUE(t.RetryAfter("user0", "10.0.0.1").has_value());
}

TEST_F(ThrottleClockTest, TrackedSubjectsAreBounded) {
  LoginThrottleOptions o;
  o.max_failures_per_user = 2;
  o.max_failures_per_address = 0;  // off
  o.max_tracked = 4;
  LoginThrottle t = Make(o);
  t.RecordFailure("victim", "");
  t.RecordFailure("victim", "");
  ASSERT_TRUE(t.RetryAfter("victim", "").has_value());
  // A spray of names pushes out the oldest counters but memory stays at max_tracked.
  for (int i = 0; i < 100; ++i) {
    now += 1;
    t.RecordFailure("spray" + std::to_string(i), "");
  }
  // The lockout survived the spray; the newest names are still tracked (one more failure locks
  // the last one) and the oldest were dropped.
  EXPECT_TRUE(t.RetryAfter("victim", "").has_value());
  t.RecordFailure("spray99", "");
  EXPECT_TRUE(t.RetryAfter("spray99", "").has_value());
  t.RecordFailure("spray0", "");
  EXPECT_FALSE(t.RetryAfter("spray0", "").has_value());
}

// Over the admin API ----------------------------------------------------------------------------

class LoginThrottleApiTest : public AdminApiTest {
 protected:
  server::testing::HttpResponse Login(const std::string& user, const std::string& password) {
    const std::string body = nlohmann::json{{"username", user}, {"password", password}}.dump();
    auto response = server::testing::Fetch(port(), "POST", "/admin/v1/login", body,
                                           "Content-Type: application/json\r\n");
    EXPECT_TRUE(response.has_value());
    return response.value_or(server::testing::HttpResponse{});
  }
};
HEARTH_INSTANTIATE_FOR_BACKENDS(LoginThrottleApiTest);

TEST_P(LoginThrottleApiTest, FiveFailuresLockTheUserEvenWithTheRightPassword) {
  const LoginThrottleOptions& o = identity().login_throttle().options();
  ASSERT_EQ(o.max_failures_per_user, 5);
  const int64_t backoff_s = o.initial_backoff.count() / 1000;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Login("alice", "wrong-password").status, 401) << i;

  int64_t before = LastAuditId();
  auto locked = Login("alice", kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(locked.header("retry-after"), std::to_string(backoff_s));
  auto error = nlohmann::json::parse(locked.body, nullptr, false);
  ASSERT_TRUE(error.is_object()) << locked.body;
  EXPECT_EQ(error["error"]["code"], "login_throttled");
  ExpectOneAudit(before, "login", "user:alice", "throttled", "tenant:acme/user:alice");

  // Case does not get around it; another user on the same address is unaffected.
  EXPECT_EQ(Login("ALICE", kPassword).status, 429);
  EXPECT_EQ(Login("carol", kPassword).status, 200);

  now_ms += backoff_s * 1000 - 1;
  EXPECT_EQ(Login("alice", kPassword).status, 429);
  now_ms += 1;
  before = LastAuditId();
  EXPECT_EQ(Login("alice", kPassword).status, 200);
  ExpectOneAudit(before, "login", "user:alice", "ok", "tenant:acme/user:alice");

  // The success reset the count: four more failures are only failures.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Login("alice", "wrong-password").status, 401) << i;
  EXPECT_EQ(Login("alice", kPassword).status, 200);
}

TEST_P(LoginThrottleApiTest, FailuresAfterALockoutDoubleTheWait) {
  const int64_t backoff_ms = identity().login_throttle().options().initial_backoff.count();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Login("bob", "wrong-password").status, 401);
  now_ms += backoff_ms;
  EXPECT_EQ(Login("bob", "wrong-password").status, 401);
  auto locked = Login("bob", kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(locked.header("retry-after"), std::to_string(2 * backoff_ms / 1000));
}

TEST_P(LoginThrottleApiTest, OneAddressGuessingManyNamesIsThrottled) {
  const int limit = identity().login_throttle().options().max_failures_per_address;
  for (int i = 0; i < limit; ++i) {
    ASSERT_EQ(Login("nobody-" + std::to_string(i), "wrong-password").status, 401) << i;
  }
  const int64_t before = LastAuditId();
  auto locked = Login("carol", kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_FALSE(locked.header("retry-after").empty());
  ExpectOneAudit(before, "login", "user:carol", "throttled", "tenant:acme/user:carol");
}

}  // namespace
}  // namespace hearth::platform::testing
