#include "hearth/platform/memory_fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "hearth/gguf/gguf_file.h"

namespace hearth::platform {
namespace {

uint64_t U(int64_t x) { return x > 0 ? static_cast<uint64_t>(x) : 0; }

}  // namespace

ReplicaMemory ReplicaMemoryNeed(const gguf::ModelInfo& info, int64_t ctx, int64_t parallel,
                                int64_t kv_budget_bytes) {
  const gguf::MemoryEstimate estimate = gguf::EstimateMemory(info, ctx, parallel);
  ReplicaMemory need;
  need.weight_bytes = estimate.weight_bytes;
  if (kv_budget_bytes > 0) {
    need.kv_bytes = U(kv_budget_bytes);
  } else {
    // The engine gives each sequence whole blocks for the full context.
    const uint64_t ctx_tokens =
        (U(estimate.ctx) + kKvBlockTokens - 1) / kKvBlockTokens * kKvBlockTokens;
    need.kv_bytes = estimate.kv_bytes_per_token_f16 * ctx_tokens * U(estimate.parallel);
  }
  need.overhead_bytes = estimate.compute_bytes + U(info.vocab_size) * U(estimate.parallel) * 4;
  return need;
}

Result<ReplicaMemory> ReplicaMemoryForModel(const std::filesystem::path& gguf_path, int64_t ctx,
                                            int64_t parallel, int64_t kv_budget_bytes) {
  HEARTH_ASSIGN_OR_RETURN(const gguf::GgufFile file, gguf::GgufFile::Open(gguf_path));
  HEARTH_ASSIGN_OR_RETURN(const gguf::ModelInfo info, gguf::DescribeModel(file));
  return ReplicaMemoryNeed(info, ctx, parallel, kv_budget_bytes);
}

Result<uint64_t> ParseMemAvailable(std::string_view meminfo) {
  std::istringstream lines{std::string(meminfo)};
  std::string line;
  while (std::getline(lines, line)) {
    constexpr std::string_view kKey = "MemAvailable:";
    if (!line.starts_with(kKey)) continue;
    std::string_view rest = std::string_view(line).substr(kKey.size());
    const size_t digits = rest.find_first_not_of(' ');
    if (digits == std::string_view::npos) break;
    rest = rest.substr(digits);
    uint64_t kib = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
    if (ec != std::errc() || std::string_view(end, rest.data() + rest.size()) != " kB" ||
        kib > (UINT64_MAX >> 10)) {
      return Status::Corruption(fmt::format("meminfo: malformed line '{}'", line));
    }
    return kib << 10;
  }
  return Status::NotFound("meminfo: no MemAvailable line (Linux 3.14 or later reports it)");
}

Result<uint64_t> ReadMemAvailable(const std::filesystem::path& meminfo) {
  std::ifstream in(meminfo);
  if (!in) return Status::IoError(fmt::format("cannot read {}", meminfo.string()));
  std::stringstream text;
  text << in.rdbuf();
  Result<uint64_t> available = ParseMemAvailable(text.str());
  if (!available.ok()) return available.status().WithContext(meminfo.string());
  return available;
}

std::string FormatBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

Status CheckMemoryFit(std::string_view what, const ReplicaMemory& need, int replicas,
                      uint64_t available_bytes) {
  const uint64_t total = need.total() * U(replicas);
  if (total <= available_bytes) return Status::Ok();
  return Status::ResourceExhausted(fmt::format(
      "{} does not fit in memory: needs {} (weights {} + KV {} + overhead {}) × {} replica{}, "
      "node has {} available: {} short",
      what, FormatBytes(need.total()), FormatBytes(need.weight_bytes), FormatBytes(need.kv_bytes),
      FormatBytes(need.overhead_bytes), replicas, replicas == 1 ? "" : "s",
      FormatBytes(available_bytes), FormatBytes(total - available_bytes)));
}

}  // namespace hearth::platform
