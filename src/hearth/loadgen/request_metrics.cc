#include "hearth/loadgen/request_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hearth::loadgen {

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double rank = q / 100.0 * static_cast<double>(values.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  auto hi = static_cast<size_t>(std::ceil(rank));
  double frac = rank - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

Distribution Summarize(const std::vector<double>& values) {
  Distribution d;
  d.count = static_cast<int64_t>(values.size());
  if (values.empty()) return d;
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  d.median = Percentile(values, 50);
  d.p90 = Percentile(values, 90);
  d.p99 = Percentile(values, 99);
  auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  d.min = *mn;
  d.max = *mx;
  return d;
}

BenchmarkSummary Summarize(const std::vector<RequestRecord>& records, double duration_s,
                           const Slo& slo) {
  BenchmarkSummary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2e;
  int64_t good = 0;
  for (const auto& r : records) {
    if (!r.ok) {
      ++s.failed;
      ++s.errors_by_kind[r.error_kind.empty() ? "unknown" : r.error_kind];
      continue;
    }
    ++s.completed;
    s.total_input_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_s);
    e2e.push_back(r.latency_s);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
    double request_tpot = 0;
    if (r.output_tokens > 1) {
      request_tpot = (r.latency_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1);
      tpot.push_back(request_tpot);
    }
    bool meets = (!slo.ttft_s || r.ttft_s <= *slo.ttft_s) &&
                 (!slo.tpot_s || request_tpot <= *slo.tpot_s) &&
                 (!slo.e2e_s || r.latency_s <= *slo.e2e_s);
    good += meets ? 1 : 0;
  }
  if (duration_s > 0) {
    s.request_throughput = static_cast<double>(s.completed) / duration_s;
    s.input_token_throughput = static_cast<double>(s.total_input_tokens) / duration_s;
    s.output_token_throughput = static_cast<double>(s.total_output_tokens) / duration_s;
    bool any_slo = slo.ttft_s || slo.tpot_s || slo.e2e_s;
    s.goodput = any_slo ? static_cast<double>(good) / duration_s : 0;
  }
  s.ttft_s = Summarize(ttft);
  s.tpot_s = Summarize(tpot);
  s.itl_s = Summarize(itl);
  s.e2e_s = Summarize(e2e);
  return s;
}

}  // namespace hearth::loadgen
