#include "hearth/platform/rate_limiter.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace hearth::platform {
namespace {

using SubjectKey = std::pair<int, int64_t>;  // (QuotaSubject::Kind, id)

SubjectKey KeyOf(QuotaSubject subject) { return {static_cast<int>(subject.kind), subject.id}; }

std::string_view SubjectName(QuotaSubject::Kind kind) {
  return kind == QuotaSubject::Kind::kTenant ? "tenant" : "api_key";
}

struct TokenCharge {
  int64_t at = 0;
  int64_t tokens = 0;
  uint64_t permit = 0;
};

}  // namespace

int64_t RateLimitRejection::retry_after_seconds() const {
  return std::max<int64_t>(1, (retry_after_ms + 999) / 1000);
}

struct RateLimiter::Impl {
  struct Subject {
    std::optional<Quota> quota;  // empty: no row (unlimited)
    bool fetched = false;
    int64_t fetched_at = 0;
    std::deque<int64_t> requests;  // admission times within the window
    std::deque<TokenCharge> tokens;
    int64_t token_sum = 0;
    int64_t in_flight = 0;
  };

  Impl(Store& s, RateLimiterOptions o) : store(s), options(std::move(o)) {}

  Store& store;
  const RateLimiterOptions options;
  mutable std::mutex mutex;
  std::map<SubjectKey, Subject> subjects;
  uint64_t next_permit = 1;
  uint64_t admissions_since_sweep = 0;

  int64_t window() const { return options.window.count(); }

  // Drops what has left the window. Caller holds the mutex.
  void Prune(Subject& s, int64_t now) const {
    const int64_t horizon = now - window();
    while (!s.requests.empty() && s.requests.front() <= horizon) s.requests.pop_front();
    while (!s.tokens.empty() && s.tokens.front().at <= horizon) {
      s.token_sum -= s.tokens.front().tokens;
      s.tokens.pop_front();
    }
  }

  bool QuotaStale(const Subject& s, int64_t now) const {
    return !s.fetched || now - s.fetched_at >= options.quota_ttl.count();
  }

  // Reads the quota rows that are missing or older than the TTL, outside the lock (a store call
  // may take milliseconds; other requests keep flowing meanwhile).
  void RefreshQuotas(const std::vector<QuotaSubject>& wanted, int64_t now) {
    std::vector<QuotaSubject> stale;
    {
      std::lock_guard lock(mutex);
      for (const auto& subject : wanted) {
        auto it = subjects.find(KeyOf(subject));
        if (it == subjects.end() || QuotaStale(it->second, now)) stale.push_back(subject);
      }
    }
    for (const auto& subject : stale) {
      auto quota = store.GetQuota(subject);
      std::lock_guard lock(mutex);
      Subject& s = subjects[KeyOf(subject)];
      if (quota.ok()) {
        s.quota = *quota;
      } else if (quota.status().code() == StatusCode::kNotFound) {
        s.quota.reset();
      } else {
        spdlog::warn("rate limiter: cannot read the quota of {} {} (keeping the last known): {}",
                     SubjectName(subject.kind), subject.id, quota.status().ToString());
        if (s.fetched) {
          s.fetched_at = now;  // retry after another TTL, not on every request
          continue;
        }
      }
      s.fetched = true;
      s.fetched_at = now;
    }
  }

  // Why `s` cannot take one more request of `estimate` tokens now, if it cannot.
  std::optional<RateLimitRejection> Check(const Subject& s, QuotaSubject::Kind kind,
                                          int64_t estimate, int64_t now) const {
    if (!s.quota) return std::nullopt;
    const Quota& q = *s.quota;
    const std::string_view who = SubjectName(kind);
    if (q.requests_per_minute &&
        static_cast<int64_t>(s.requests.size()) >= *q.requests_per_minute) {
      RateLimitRejection r;
      r.limit = "requests_per_minute";
      r.limit_value = *q.requests_per_minute;
      // The oldest admission leaves the window first (a limit of 0 never frees up).
      r.retry_after_ms = s.requests.empty() ? window() : s.requests.front() + window() - now;
      r.message = fmt::format("Rate limit reached for requests per minute ({}): limit {}", who,
                              *q.requests_per_minute);
      r.subject = std::string(who);
      return r;
    }
    if (q.max_concurrent && s.in_flight >= *q.max_concurrent) {
      RateLimitRejection r;
      r.limit = "max_concurrent";
      r.limit_value = *q.max_concurrent;
      r.retry_after_ms = 1000;  // unknowable: when one of the running requests ends
      r.message = fmt::format("Rate limit reached for concurrent requests ({}): limit {}", who,
                              *q.max_concurrent);
      r.subject = std::string(who);
      return r;
    }
    if (q.tokens_per_minute && s.token_sum + estimate > *q.tokens_per_minute) {
      RateLimitRejection r;
      r.limit = "tokens_per_minute";
      r.limit_value = *q.tokens_per_minute;
      r.subject = std::string(who);
      if (estimate > *q.tokens_per_minute) {
        r.retry_after_ms = window();
        r.message = fmt::format(
            "Request too large for tokens per minute ({}): limit {}, this request needs about {}",
            who, *q.tokens_per_minute, estimate);
        return r;
      }
      // The earliest time enough charges have left the window for this request to fit.
      int64_t remaining = s.token_sum;
      int64_t free_at = now;
      for (const auto& charge : s.tokens) {
        if (remaining + estimate <= *q.tokens_per_minute) break;
        remaining -= charge.tokens;
        free_at = charge.at + window();
      }
      r.retry_after_ms = std::max<int64_t>(0, free_at - now);
      r.message = fmt::format(
          "Rate limit reached for tokens per minute ({}): limit {}, used {}, requested about {}",
          who, *q.tokens_per_minute, s.token_sum, estimate);
      return r;
    }
    return std::nullopt;
  }

  // Forgets subjects with nothing in their windows, nothing in flight and a stale quota, so that
  // memory follows the active keys, not every key ever seen. Caller holds the mutex.
  void Sweep(int64_t now) {
    for (auto it = subjects.begin(); it != subjects.end();) {
      Subject& s = it->second;
      Prune(s, now);
      if (s.requests.empty() && s.tokens.empty() && s.in_flight == 0 && QuotaStale(s, now)) {
        it = subjects.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Settle(const Permit& permit, int64_t tokens) {
    const int64_t now = options.clock();
    std::lock_guard lock(mutex);
    auto settle_in = [&](QuotaSubject subject) {
      auto it = subjects.find(KeyOf(subject));
      if (it == subjects.end()) return;
      Subject& s = it->second;
      auto charge = std::find_if(s.tokens.begin(), s.tokens.end(),
                                 [&](const TokenCharge& c) { return c.permit == permit.id_; });
      if (charge != s.tokens.end()) {
        s.token_sum -= charge->tokens;
        s.tokens.erase(charge);
      }
      if (tokens > 0) {
        s.tokens.push_back({now, tokens, permit.id_});
        s.token_sum += tokens;
      }
    };
    settle_in(QuotaSubject::Tenant(permit.tenant_id_));
    if (permit.key_id_) settle_in(QuotaSubject::ApiKey(*permit.key_id_));
  }

  void Release(const Permit& permit) {
    std::lock_guard lock(mutex);
    auto release_in = [&](QuotaSubject subject) {
      auto it = subjects.find(KeyOf(subject));
      if (it != subjects.end() && it->second.in_flight > 0) --it->second.in_flight;
    };
    release_in(QuotaSubject::Tenant(permit.tenant_id_));
    if (permit.key_id_) release_in(QuotaSubject::ApiKey(*permit.key_id_));
  }
};

RateLimiter::Permit::Permit(Permit&& other) noexcept
    : impl_(std::move(other.impl_)),
      id_(other.id_),
      tenant_id_(other.tenant_id_),
      key_id_(other.key_id_),
      settled_(other.settled_) {
  other.impl_.reset();
}

RateLimiter::Permit& RateLimiter::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release();
    impl_ = std::move(other.impl_);
    other.impl_.reset();
    id_ = other.id_;
    tenant_id_ = other.tenant_id_;
    key_id_ = other.key_id_;
    settled_ = other.settled_;
  }
  return *this;
}

RateLimiter::Permit::~Permit() { Release(); }

void RateLimiter::Permit::Settle(int64_t tokens) {
  if (!impl_ || settled_) return;
  settled_ = true;
  impl_->Settle(*this, std::max<int64_t>(0, tokens));
}

void RateLimiter::Permit::Release() {
  if (!impl_) return;
  impl_->Release(*this);
  impl_.reset();
}

RateLimiter::RateLimiter(Store& store, RateLimiterOptions options)
    : impl_(std::make_shared<Impl>(store, std::move(options))) {}

RateLimiter::~RateLimiter() = default;

RateLimiter::Decision RateLimiter::Admit(int64_t tenant_id, std::optional<int64_t> key_id,
                                         int64_t estimated_tokens) {
  estimated_tokens = std::max<int64_t>(0, estimated_tokens);
  std::vector<QuotaSubject> wanted = {QuotaSubject::Tenant(tenant_id)};
  if (key_id) wanted.push_back(QuotaSubject::ApiKey(*key_id));
  impl_->RefreshQuotas(wanted, impl_->options.clock());

  Decision decision;
  std::lock_guard lock(impl_->mutex);
  // Read under the lock: admissions are then recorded in time order, so no recorded admission
  // is later than `now` and a Retry-After never exceeds the window (reading the clock before
  // the lock, a thread could find a later admission of another thread and answer 61 s).
  const int64_t now = impl_->options.clock();
  std::vector<Impl::Subject*> states;
  for (const auto& subject : wanted) {
    Impl::Subject& s = impl_->subjects[KeyOf(subject)];
    impl_->Prune(s, now);
    if (auto rejection = impl_->Check(s, subject.kind, estimated_tokens, now)) {
      decision.rejection = std::move(rejection);
      return decision;
    }
    states.push_back(&s);
  }
  Permit permit;
  permit.impl_ = impl_;
  permit.id_ = impl_->next_permit++;
  permit.tenant_id_ = tenant_id;
  permit.key_id_ = key_id;
  for (Impl::Subject* s : states) {
    s->requests.push_back(now);
    if (estimated_tokens > 0) {
      s->tokens.push_back({now, estimated_tokens, permit.id_});
      s->token_sum += estimated_tokens;
    }
    ++s->in_flight;
  }
  if (++impl_->admissions_since_sweep >= 4096) {
    impl_->admissions_since_sweep = 0;
    impl_->Sweep(now);
  }
  decision.permit.emplace(std::move(permit));
  return decision;
}

int64_t RateLimiter::InFlight(QuotaSubject subject) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->subjects.find(KeyOf(subject));
  return it == impl_->subjects.end() ? 0 : it->second.in_flight;
}

}  // namespace hearth::platform
