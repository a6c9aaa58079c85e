// Server metrics in the Prometheus text exposition format (GET /metrics).
//
// The server counts what it sees (requests by endpoint and status, latencies); engine-side
// numbers (sequences, KV blocks, token totals, prefix-cache hits) are read from
// Engine::Stats() at scrape time so they are never stale copies. Metric names are listed in
// docs/API.md.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/engine/engine.h"

namespace hearth::server {

// A fixed-bucket histogram (cumulative buckets are computed when rendered).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> counts;  // per bucket, not cumulative; last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct ServerGauges {
  int connections_active = 0;
  int requests_in_flight = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  // `endpoint` is a route ("/v1/chat/completions"); unknown paths are counted as "other" so a
  // scanner cannot blow up the label set.
  void CountRequest(std::string_view endpoint, int http_status);
  void ObserveTimeToFirstToken(double seconds) { ttft_.Observe(seconds); }
  void ObserveInterTokenLatency(double seconds) { itl_.Observe(seconds); }
  void ObserveRequestDuration(double seconds) { duration_.Observe(seconds); }
  void CountStreamsCancelled() { streams_cancelled_.fetch_add(1); }

  uint64_t RequestCount(std::string_view endpoint, int http_status) const;

  std::string Render(const engine::EngineStats& stats, const ServerGauges& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram ttft_;
  Histogram itl_;
  Histogram duration_;
  std::atomic<uint64_t> streams_cancelled_{0};
};

// The endpoint label for a request target (query string removed).
std::string_view EndpointLabel(std::string_view target);

}  // namespace hearth::server
