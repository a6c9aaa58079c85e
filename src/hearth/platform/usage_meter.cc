#include "hearth/platform/usage_meter.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace hearth::platform {

UsageMeter::UsageMeter(Store& store, UsageMeterOptions options) : store_(store), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

UsageMeter::~UsageMeter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void UsageMeter::Record(UsageEvent event, Committed on_committed) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({std::move(event), std::move(on_committed)});
    ++queued_;
  }
  wake_.notify_one();
}

void UsageMeter::Audit(AuditEntry entry) {
  {
    std::lock_guard lock(mutex_);
    if (pending_audit_.size() >= options_.max_pending_audit) {
      ++stats_.audit_dropped;
      return;
    }
    pending_audit_.push_back(std::move(entry));
    ++queued_;
  }
  wake_.notify_one();
}

void UsageMeter::Flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return written_ >= target; });
}

UsageMeterStats UsageMeter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void UsageMeter::Run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty() || !pending_audit_.empty(); });
    if (pending_.empty() && pending_audit_.empty()) {
      if (stopping_) return;
      continue;
    }
    // Group commit: give requests finishing at about the same time a moment to join the batch.
    if (!stopping_ && pending_.size() < options_.max_batch && !pending_.empty()) {
      wake_.wait_for(lock, options_.commit_interval,
                     [&] { return stopping_ || pending_.size() >= options_.max_batch; });
    }
    std::vector<Pending> batch;
    if (pending_.size() <= options_.max_batch) {
      batch.swap(pending_);
    } else {
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + options_.max_batch));
      pending_.erase(pending_.begin(), pending_.begin() + options_.max_batch);
    }
    std::vector<AuditEntry> audit;
    audit.swap(pending_audit_);
    lock.unlock();

    if (!batch.empty()) CommitBatch(batch);
    int64_t audit_written = 0;
    for (const auto& entry : audit) {
      auto appended = store_.AppendAudit(entry);
      if (appended.ok()) {
        ++audit_written;
      } else {
        spdlog::warn("usage meter: audit entry {} not written: {}", entry.action,
                     appended.status().ToString());
      }
    }

    lock.lock();
    stats_.audit_written += audit_written;
    stats_.audit_dropped += static_cast<int64_t>(audit.size()) - audit_written;
    written_ += batch.size() + audit.size();
    flushed_.notify_all();
  }
}

Status UsageMeter::CommitWithRetry(std::span<const UsageEvent> events) {
  const auto deadline = std::chrono::steady_clock::now() + options_.max_retry_time;
  auto backoff = std::chrono::milliseconds(10);
  for (;;) {
    Status status = store_.RecordUsageBatch(events);
    if (status.ok() || status.code() != StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() + backoff > deadline) {
      return status;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(250));
  }
}

void UsageMeter::CommitBatch(std::vector<Pending>& batch) {
  std::vector<UsageEvent> events;
  events.reserve(batch.size());
  for (const auto& p : batch) events.push_back(p.event);
  std::vector<Status> results(batch.size());
  Status status = CommitWithRetry(events);
  if (status.ok() || status.code() == StatusCode::kUnavailable || batch.size() == 1) {
    std::fill(results.begin(), results.end(), status);
  } else {
    // One event the database refuses must not cost the others their records.
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i] = CommitWithRetry(std::span<const UsageEvent>(&events[i], 1));
    }
  }
  int64_t ok = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i].ok()) {
      ++ok;
    } else {
      spdlog::error("usage meter: usage of tenant {} on '{}' not recorded: {}", events[i].tenant_id,
                    events[i].deployment, results[i].ToString());
    }
  }
  {
    std::lock_guard lock(mutex_);
    stats_.events_committed += ok;
    stats_.events_failed += static_cast<int64_t>(batch.size()) - ok;
    if (ok > 0) ++stats_.batches_committed;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].on_committed) batch[i].on_committed(results[i]);
  }
}

}  // namespace hearth::platform
