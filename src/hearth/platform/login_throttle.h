// LoginThrottle: slows password guessing against POST /admin/v1/login.
//
// Failed logins are counted per user name and per source address. A counter forgets its
// failures once `window` has passed since the last one. When a counter reaches its limit the
// subject is locked out for `initial_backoff`, doubled for every further failure (allowed again
// once a lockout has passed) and capped at `max_backoff`; during a lockout every attempt is
// refused before the password is looked at, even the right one (429 with Retry-After). A
// successful login clears its user name's counter, not the address's (one valid account must not
// reset the count of an address that guesses at others).
//
// Trade-off: the per-name lockout lets anyone delay a known user's logins by up to max_backoff at
// a time; the per-address limit is higher, since many users may share an address (NAT).
//
// State is in memory, per process, and bounded (`max_tracked` subjects; quiet ones are dropped
// first, then the least recently failed). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hearth/platform/store.h"

namespace hearth::platform {

struct LoginThrottleOptions {
  int max_failures_per_user = 5;
  int max_failures_per_address = 20;
  std::chrono::milliseconds window = std::chrono::minutes(15);
  std::chrono::milliseconds initial_backoff = std::chrono::seconds(5);
  std::chrono::milliseconds max_backoff = std::chrono::minutes(15);
  size_t max_tracked = 10'000;
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginThrottleOptions options = {}, Clock clock = SystemNowMillis);

  // How long `user` (normalized by the caller) from `address` (may be empty: unknown) must wait
  // before trying again; nullopt when an attempt may proceed now.
  std::optional<std::chrono::milliseconds> RetryAfter(std::string_view user,
                                                      std::string_view address);
  void RecordFailure(std::string_view user, std::string_view address);
  void RecordSuccess(std::string_view user);

  const LoginThrottleOptions& options() const { return options_; }

 private:
  struct Counter {
    int failures = 0;
    int64_t last_failure_at = 0;
    int64_t locked_until = 0;
  };

  void FailLocked(const std::string& subject, int limit, int64_t now);
  int64_t LockedUntilLocked(const std::string& subject, int64_t now);
  void MakeRoomLocked(int64_t now);

  const LoginThrottleOptions options_;
  const Clock clock_;
  std::mutex mu_;
  // "user:NAME" and "addr:IP".
  std::unordered_map<std::string, Counter> counters_;
};

}  // namespace hearth::platform
