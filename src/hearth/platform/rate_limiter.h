// RateLimiter: per-tenant and per-API-key quotas on inference traffic (Store::GetQuota).
//
// Three limits, each optional (an absent field or an absent quota row means unlimited):
//   requests_per_minute  a sliding window: a request is admitted when fewer than the limit were
//                        admitted in the last 60 s (exact, so N concurrent callers against a
//                        limit of L see exactly min(N, L) admissions);
//   tokens_per_minute    a sliding window over tokens. At admission a request is charged an
//                        estimate (the caller's: the gateway uses body bytes / 4); when its real
//                        usage is known, Permit::Settle replaces the estimate with the real count,
//                        charged at the time of settlement. A request is admitted while the
//                        window's tokens plus its estimate stay within the limit;
//   max_concurrent       admitted and not yet released (Permit's destructor releases).
// A request must pass its tenant's and its key's quota; when either refuses, nothing is charged.
// A refusal says which limit and when capacity returns (retry_after), never drops silently.
//
// Quota rows are cached for `quota_ttl` (default 5 s), so the request path reads the store at
// most once per subject per TTL; a changed quota takes effect within that time. When the store
// cannot be read the last known quota stays in force (unlimited if none was ever read): quotas
// protect capacity and must not turn a database hiccup into an outage.
//
// Thread-safe. The clock is injectable for tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "hearth/platform/store.h"

namespace hearth::platform {

struct RateLimiterOptions {
  Clock clock = SystemNowMillis;  // Unix ms (only differences matter)
  std::chrono::milliseconds quota_ttl{5000};
  std::chrono::milliseconds window{60'000};  // "per minute"
};

// What a refused request is told.
struct RateLimitRejection {
  std::string limit;    // "requests_per_minute", "tokens_per_minute" or "max_concurrent"
  std::string subject;  // "tenant" or "api_key"
  int64_t limit_value = 0;
  int64_t retry_after_ms = 0;  // until capacity returns (an estimate for max_concurrent)
  std::string message;         // for the client, e.g. "Rate limit reached for ..."

  // The Retry-After header value: whole seconds, at least 1.
  int64_t retry_after_seconds() const;
};

class RateLimiter {
  struct Impl;

 public:
  // An admitted request's hold on the limits. Move-only; destruction releases its concurrency
  // slot (its token and request charges stay in their windows).
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    ~Permit();

    // Replaces the admission estimate with the real token count (prompt + completion). Only the
    // first call counts.
    void Settle(int64_t tokens);
    // Releases the concurrency slot now (idempotent).
    void Release();
    bool valid() const { return impl_ != nullptr; }

   private:
    friend class RateLimiter;
    std::shared_ptr<Impl> impl_;
    uint64_t id_ = 0;
    int64_t tenant_id_ = 0;
    std::optional<int64_t> key_id_;
    bool settled_ = false;
  };

  struct Decision {
    std::optional<Permit> permit;                 // set when admitted
    std::optional<RateLimitRejection> rejection;  // set when refused
    bool admitted() const { return permit.has_value(); }
  };

  explicit RateLimiter(Store& store, RateLimiterOptions options = {});
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Admits a request of `tenant_id` (and `key_id`, for API-key traffic) estimated at
  // `estimated_tokens`, or says why not.
  Decision Admit(int64_t tenant_id, std::optional<int64_t> key_id, int64_t estimated_tokens);

  // Requests currently holding a permit of the subject (for tests and metrics).
  int64_t InFlight(QuotaSubject subject) const;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace hearth::platform
