#include "hearth/loadgen/report.h"

#include <fmt/format.h>

namespace hearth::loadgen {
namespace {

nlohmann::json DistributionMs(const Distribution& d) {
  return {{"mean", d.mean * 1e3}, {"median", d.median * 1e3}, {"p90", d.p90 * 1e3},
          {"p99", d.p99 * 1e3},   {"min", d.min * 1e3},       {"max", d.max * 1e3},
          {"count", d.count}};
}

void AddDistributionRows(std::string& out, const char* name, const Distribution& d) {
  out += fmt::format("{:<28}{:>12.1f}{:>12.1f}{:>12.1f}{:>12.1f}\n", name, d.mean * 1e3,
                     d.median * 1e3, d.p90 * 1e3, d.p99 * 1e3);
}

}  // namespace

nlohmann::json SummaryToJson(const BenchmarkSummary& s) {
  return {{"completed", s.completed},
          {"failed", s.failed},
          {"errors", s.errors_by_kind},
          {"duration_s", s.duration_s},
          {"total_input_tokens", s.total_input_tokens},
          {"total_output_tokens", s.total_output_tokens},
          {"request_throughput", s.request_throughput},
          {"input_token_throughput", s.input_token_throughput},
          {"output_token_throughput", s.output_token_throughput},
          {"goodput", s.goodput},
          {"ttft_ms", DistributionMs(s.ttft_s)},
          {"tpot_ms", DistributionMs(s.tpot_s)},
          {"itl_ms", DistributionMs(s.itl_s)},
          {"e2e_latency_ms", DistributionMs(s.e2e_s)}};
}

std::string SummaryToTable(const BenchmarkSummary& s) {
  std::string out;
  out += fmt::format("{:<28}{:>12}\n", "Successful requests", s.completed);
  out += fmt::format("{:<28}{:>12}\n", "Failed requests", s.failed);
  for (const auto& [kind, n] : s.errors_by_kind) {
    out += fmt::format("  {:<26}{:>12}\n", kind, n);
  }
  out += fmt::format("{:<28}{:>12.2f}\n", "Duration (s)", s.duration_s);
  out += fmt::format("{:<28}{:>12}\n", "Input tokens", s.total_input_tokens);
  out += fmt::format("{:<28}{:>12}\n", "Output tokens", s.total_output_tokens);
  out += fmt::format("{:<28}{:>12.2f}\n", "Request throughput (req/s)", s.request_throughput);
  out += fmt::format("{:<28}{:>12.2f}\n", "Input throughput (tok/s)", s.input_token_throughput);
  out += fmt::format("{:<28}{:>12.2f}\n", "Output throughput (tok/s)", s.output_token_throughput);
  if (s.goodput > 0) out += fmt::format("{:<28}{:>12.2f}\n", "Goodput (req/s)", s.goodput);
  out += fmt::format("{:<28}{:>12}{:>12}{:>12}{:>12}\n", "Latency (ms)", "mean", "median", "p90",
                     "p99");
  AddDistributionRows(out, "  Time to first token", s.ttft_s);
  AddDistributionRows(out, "  Time per output token", s.tpot_s);
  AddDistributionRows(out, "  Inter-token latency", s.itl_s);
  AddDistributionRows(out, "  End-to-end latency", s.e2e_s);
  return out;
}

}  // namespace hearth::loadgen
