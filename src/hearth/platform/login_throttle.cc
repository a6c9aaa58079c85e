#include "hearth/platform/login_throttle.h"

#include <algorithm>
#include <utility>

namespace hearth::platform {
namespace {

std::string UserSubject(std::string_view user) { return "user:" + std::string(user); }
std::string AddressSubject(std::string_view address) { return "addr:" + std::string(address); }

}  // namespace

LoginThrottle::LoginThrottle(LoginThrottleOptions options, Clock clock)
    : options_(options), clock_(clock ? std::move(clock) : Clock(SystemNowMillis)) {}

int64_t LoginThrottle::LockedUntilLocked(const std::string& subject, int64_t now) {
  auto it = counters_.find(subject);
  if (it == counters_.end()) return 0;
  const Counter& c = it->second;
  if (c.locked_until <= now && now - c.last_failure_at >= options_.window.count()) {
    counters_.erase(it);  // quiet for a whole window: forgotten
    return 0;
  }
  return c.locked_until;
}

std::optional<std::chrono::milliseconds> LoginThrottle::RetryAfter(std::string_view user,
                                                                   std::string_view address) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  int64_t until = LockedUntilLocked(UserSubject(user), now);
  if (!address.empty()) until = std::max(until, LockedUntilLocked(AddressSubject(address), now));
  if (until <= now) return std::nullopt;
  return std::chrono::milliseconds(until - now);
}

void LoginThrottle::FailLocked(const std::string& subject, int limit, int64_t now) {
  if (limit <= 0) return;  // this kind of throttling is off
  if (!counters_.contains(subject)) MakeRoomLocked(now);
  Counter& c = counters_[subject];
  if (c.failures > 0 && now - c.last_failure_at >= options_.window.count()) c = Counter{};
  ++c.failures;
  c.last_failure_at = now;
  if (c.failures < limit) return;
  // limit failures: initial_backoff; each one after that doubles it, up to the cap.
  const int doublings = std::min(c.failures - limit, 30);
  const int64_t cap = options_.max_backoff.count();
  const int64_t backoff = std::min(cap, options_.initial_backoff.count() << doublings);
  c.locked_until = std::max(c.locked_until, now + backoff);
}

void LoginThrottle::RecordFailure(std::string_view user, std::string_view address) {
  const int64_t now = clock_();
  std::lock_guard lock(mu_);
  FailLocked(UserSubject(user), options_.max_failures_per_user, now);
  if (!address.empty()) {
    FailLocked(AddressSubject(address), options_.max_failures_per_address, now);
  }
}

void LoginThrottle::RecordSuccess(std::string_view user) {
  std::lock_guard lock(mu_);
  counters_.erase(UserSubject(user));
}

void LoginThrottle::MakeRoomLocked(int64_t now) {
  if (counters_.size() < std::max<size_t>(options_.max_tracked, 1)) return;
  // Drop every counter that is quiet and unlocked; if that frees nothing, the unlocked one whose
  // last failure is oldest (a spray of names pushes out its own entries, not a lockout), and only
  // when every counter is locked, the oldest of those.
  std::erase_if(counters_, [&](const auto& entry) {
    const Counter& c = entry.second;
    return c.locked_until <= now && now - c.last_failure_at >= options_.window.count();
  });
  if (counters_.empty() || counters_.size() < options_.max_tracked) return;
  auto evict = counters_.end();
  for (auto it = counters_.begin(); it != counters_.end(); ++it) {
    if (evict == counters_.end()) {
      evict = it;
      continue;
    }
    const bool it_locked = it->second.locked_until > now;
    const bool evict_locked = evict->second.locked_until > now;
    if (it_locked != evict_locked ? !it_locked
                                  : it->second.last_failure_at < evict->second.last_failure_at) {
      evict = it;
    }
  }
  counters_.erase(evict);
}

}  // namespace hearth::platform
