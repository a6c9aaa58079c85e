#include "hearth/server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace hearth::server {
namespace {

constexpr std::array<std::string_view, 6> kEndpoints = {
    "/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics", "/"};

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <typename T>
void Sample(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            T value) {
  Header(out, name, type, help);
  fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

void RenderHistogram(std::string& out, std::string_view name, std::string_view help,
                     const Histogram::Snapshot& h) {
  Header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
    cumulative += h.counts[i];
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name, h.upper_bounds[i],
                   cumulative);
  }
  cumulative += h.counts.back();
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  fmt::format_to(std::back_inserter(out), "{}_sum {}\n{}_count {}\n", name, h.sum, name, h.count);
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::Read() const {
  std::lock_guard lock(mutex_);
  return {bounds_, counts_, sum_, count_};
}

std::string_view EndpointLabel(std::string_view target) {
  target = target.substr(0, target.find('?'));
  for (std::string_view e : kEndpoints) {
    if (target == e) return e;
  }
  return "other";
}

ServerMetrics::ServerMetrics()
    : ttft_(LatencyBuckets()), itl_(LatencyBuckets()), duration_(LatencyBuckets()) {}

void ServerMetrics::CountRequest(std::string_view endpoint, int http_status) {
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(EndpointLabel(endpoint)), http_status}];
}

uint64_t ServerMetrics::RequestCount(std::string_view endpoint, int http_status) const {
  std::lock_guard lock(mutex_);
  auto it = requests_.find({std::string(EndpointLabel(endpoint)), http_status});
  return it == requests_.end() ? 0 : it->second;
}

std::string ServerMetrics::Render(const engine::EngineStats& stats,
                                  const ServerGauges& gauges) const {
  std::string out;
  Header(out, "hearth_http_requests_total", "counter", "HTTP requests by endpoint and status.");
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, count] : requests_) {
      fmt::format_to(std::back_inserter(out),
                     "hearth_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first,
                     key.second, count);
    }
  }
  Sample(out, "hearth_http_connections_active", "gauge", "Open client connections.",
         gauges.connections_active);
  Sample(out, "hearth_requests_in_flight", "gauge", "Generation requests being served.",
         gauges.requests_in_flight);
  Sample(out, "hearth_streams_cancelled_total", "counter",
         "Generations cancelled because the client went away or the server shut down.",
         streams_cancelled_.load());
  Sample(out, "hearth_prompt_tokens_total", "counter", "Prompt tokens processed.",
         stats.prompt_tokens);
  Sample(out, "hearth_generation_tokens_total", "counter", "Tokens generated.",
         stats.generated_tokens);
  Sample(out, "hearth_prefix_cache_hit_tokens_total", "counter",
         "Prompt tokens served from the prefix cache.", stats.cached_prompt_tokens);
  const double hit_rate = stats.prompt_tokens == 0
                              ? 0.0
                              : static_cast<double>(stats.cached_prompt_tokens) /
                                    static_cast<double>(stats.prompt_tokens);
  Sample(out, "hearth_prefix_cache_hit_rate", "gauge",
         "Fraction of prompt tokens served from the prefix cache since start.", hit_rate);
  Sample(out, "hearth_sequences_running", "gauge", "Sequences being decoded.", stats.running);
  Sample(out, "hearth_sequences_waiting", "gauge", "Sequences queued for admission.",
         stats.waiting);
  Sample(out, "hearth_kv_blocks_total", "gauge", "KV cache blocks in the pool.",
         stats.kv_blocks_total);
  Sample(out, "hearth_kv_blocks_used", "gauge", "KV cache blocks referenced by live sequences.",
         stats.kv_blocks_used);
  Sample(out, "hearth_kv_blocks_cached", "gauge",
         "KV cache blocks holding a reusable prefix but unreferenced.", stats.kv_blocks_cached);
  Sample(out, "hearth_preemptions_total", "counter", "Sequences preempted for KV space.",
         stats.preemptions);
  RenderHistogram(out, "hearth_time_to_first_token_seconds",
                  "Time from request arrival to the first generated token.", ttft_.Read());
  RenderHistogram(out, "hearth_inter_token_latency_seconds",
                  "Time between consecutive generated tokens of a sequence.", itl_.Read());
  RenderHistogram(out, "hearth_request_duration_seconds",
                  "Time from request arrival to the end of its response.", duration_.Read());
  return out;
}

}  // namespace hearth::server
