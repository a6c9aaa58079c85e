// Serving-benchmark metrics, defined as the vLLM and SGLang serving benchmarks define them so that
// figures can be set side by side:
//   TTFT  time from sending the request to the first content token;
//   ITL   time between consecutive content chunks of one request;
//   TPOT  (end-to-end latency - TTFT) / (output tokens - 1), per request (first token excluded);
//   E2E   time from sending the request to its last byte.
// Throughputs divide totals by the benchmark's wall time (first send to last completion).
// Goodput counts requests that met every given SLO, per second.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hearth::loadgen {

// What one request did, as measured by the client.
struct RequestRecord {
  bool ok = false;
  std::string error_kind;       // "http_429", "connect", "timeout", "protocol"… when !ok
  double start_s = 0;           // send time, seconds since the benchmark's start
  double ttft_s = 0;            // first content token, relative to start_s
  double latency_s = 0;         // last byte, relative to start_s
  std::vector<double> itl_s;    // gaps between consecutive content chunks
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
};

struct Distribution {
  double mean = 0, median = 0, p90 = 0, p99 = 0, min = 0, max = 0;
  int64_t count = 0;
};

// Linear-interpolated percentiles (numpy's default), q in [0, 100].
double Percentile(std::vector<double> values, double q);
Distribution Summarize(const std::vector<double>& values);

struct Slo {
  std::optional<double> ttft_s;
  std::optional<double> tpot_s;
  std::optional<double> e2e_s;
};

struct BenchmarkSummary {
  int64_t completed = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> errors_by_kind;
  double duration_s = 0;
  int64_t total_input_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0;       // completed requests / s
  double input_token_throughput = 0;   // prompt tokens / s
  double output_token_throughput = 0;  // generated tokens / s
  double goodput = 0;                  // requests meeting every SLO / s (0 when no SLO)
  Distribution ttft_s, tpot_s, itl_s, e2e_s;
};

BenchmarkSummary Summarize(const std::vector<RequestRecord>& records, double duration_s,
                           const Slo& slo);

}  // namespace hearth::loadgen
