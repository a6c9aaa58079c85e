// UsageMeter: durable usage records with group commit.
//
// The gateway records a request (a failed one too) before it completes the response: it hands
// the UsageEvent to Record() and releases the response's final bytes from the callback, which
// runs only once the transaction holding the event has committed. One meter thread collects
// whatever is pending, waits at most `commit_interval` for more to arrive, and commits it all
// with one Store::RecordUsageBatch (one transaction, one fsync), so throughput is bounded by
// requests per commit, not commits per second.
//
// Failures: a batch that fails with kUnavailable (database busy or unreachable) is retried with
// backoff for up to `max_retry_time`; any other failure (one event the database rejects, say a
// deleted tenant) makes the meter commit that batch's events one by one, so only the bad event
// fails. Every callback runs exactly once, with the commit's status.
//
// The meter also writes audit entries off the request path (AppendAudit on its thread), best
// effort: a bounded queue, counted drops.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "hearth/platform/store.h"

namespace hearth::platform {

struct UsageMeterOptions {
  std::chrono::milliseconds commit_interval{5};
  size_t max_batch = 2000;
  std::chrono::milliseconds max_retry_time{2000};
  size_t max_pending_audit = 10'000;
};

struct UsageMeterStats {
  int64_t events_committed = 0;
  int64_t events_failed = 0;
  int64_t batches_committed = 0;
  int64_t audit_written = 0;
  int64_t audit_dropped = 0;
};

class UsageMeter {
 public:
  // Runs on the meter thread; must be quick (post elsewhere for real work).
  using Committed = std::function<void(const Status& status)>;

  explicit UsageMeter(Store& store, UsageMeterOptions options = {});
  // Commits everything still pending (callbacks run), then stops the thread.
  ~UsageMeter();
  UsageMeter(const UsageMeter&) = delete;
  UsageMeter& operator=(const UsageMeter&) = delete;

  // Queues `event`; `on_committed` (may be null) runs once its batch committed or failed.
  void Record(UsageEvent event, Committed on_committed);
  // Queues an audit entry (dropped, and counted, when the queue is full).
  void Audit(AuditEntry entry);
  // Blocks until everything queued before the call has been written.
  void Flush();

  UsageMeterStats stats() const;

 private:
  struct Pending {
    UsageEvent event;
    Committed on_committed;
  };

  void Run();
  void CommitBatch(std::vector<Pending>& batch);
  Status CommitWithRetry(std::span<const UsageEvent> events);

  Store& store_;
  const UsageMeterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::vector<Pending> pending_;
  std::vector<AuditEntry> pending_audit_;
  uint64_t queued_ = 0;   // items ever queued
  uint64_t written_ = 0;  // items ever written (or failed)
  bool stopping_ = false;
  UsageMeterStats stats_;
  std::thread thread_;
};

}  // namespace hearth::platform
