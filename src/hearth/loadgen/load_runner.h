// Drives a workload against a server: closed loop (N users, each sending its next request when
// the previous one ends) or open loop (Poisson arrivals at a given rate, optionally capped in
// concurrency). Everything runs on one Asio thread; timings use the steady clock at the moment
// bytes arrive.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "hearth/loadgen/request_metrics.h"
#include "hearth/loadgen/sse_client.h"
#include "hearth/loadgen/workload.h"

namespace hearth::loadgen {

struct RunOptions {
  Endpoint endpoint;
  std::string model;
  bool chat = false;
  int concurrency = 16;          // closed loop: users; open loop: cap (0 = none)
  double request_rate = 0;       // requests/s; 0 selects the closed loop
  int num_requests = 48;         // measured requests (after warm-up)
  double max_duration_s = 0;     // stop issuing new requests after this long (0 = no limit)
  int warmup_requests = 0;       // sent first, not measured
  bool ignore_eos = true;
  double temperature = 0;
  uint64_t seed = 0;
  std::chrono::seconds timeout{600};
  // Called after each measured request (completed, total) for a progress display.
  std::function<void(int, int)> progress;
};

struct RunResult {
  std::vector<RequestRecord> records;
  double duration_s = 0;
};

// The JSON body for a planned request (exposed for tests).
std::string BuildRequestBody(const RunOptions& options, const PlannedRequest& planned);

RunResult RunBenchmark(const RunOptions& options, Workload& workload);

}  // namespace hearth::loadgen
