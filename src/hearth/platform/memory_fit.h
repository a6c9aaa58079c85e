// Memory fit: how much memory one engine replica of a deployment needs, how much the node has,
// and whether a deployment's replicas fit beside the ones already committed.
//
// One replica needs
//   weights   the GGUF's tensor bytes (the engine maps them; they become resident as used)
//   KV cache  the deployment's kv_budget_bytes, or else what the engine derives: every one of
//             `parallel` sequences gets the whole context, rounded up to whole 16-token KV
//             blocks, at F16 (2 × layers × kv_heads × head_dim × 2 bytes per token)
//   overhead  the compute buffer of gguf::EstimateMemory (one 512-token batch's activations,
//             logits and attention scores, plus its fixed 64 MiB margin) and the per-sequence
//             logits the sampler keeps: vocab × parallel × 4 bytes
// The node's memory is MemAvailable from /proc/meminfo (the kernel's estimate of what can be
// allocated without swapping), or a configured figure.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "hearth/base/status.h"
#include "hearth/gguf/model_info.h"

namespace hearth::platform {

struct ReplicaMemory {
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes = 0;
  uint64_t overhead_bytes = 0;
  uint64_t total() const { return weight_bytes + kv_bytes + overhead_bytes; }
};

// The engine's KV block size in tokens (engine::EngineOptions::kv_block_tokens default).
inline constexpr int64_t kKvBlockTokens = 16;

// What one replica of `info` serving `ctx` tokens × `parallel` sequences needs. A positive
// `kv_budget_bytes` replaces the derived KV size.
ReplicaMemory ReplicaMemoryNeed(const gguf::ModelInfo& info, int64_t ctx, int64_t parallel,
                                int64_t kv_budget_bytes);

// Reads the GGUF's metadata (never its tensor data) and computes the above.
Result<ReplicaMemory> ReplicaMemoryForModel(const std::filesystem::path& gguf_path, int64_t ctx,
                                            int64_t parallel, int64_t kv_budget_bytes);

// MemAvailable of a /proc/meminfo text, in bytes.
Result<uint64_t> ParseMemAvailable(std::string_view meminfo);
// MemAvailable of this node (/proc/meminfo, or another file for tests).
Result<uint64_t> ReadMemAvailable(const std::filesystem::path& meminfo = "/proc/meminfo");

// "3.2 GiB", "512.0 MiB", "48.0 KiB", "100 B": one decimal, binary units.
std::string FormatBytes(uint64_t bytes);

// OK when `replicas` × `need` fits into `available_bytes`; otherwise kResourceExhausted with
// the numbers: "needs 3.2 GiB (weights 2.1 GiB + KV 1.0 GiB + overhead 0.1 GiB) × 2 replicas,
// node has 2.5 GiB available: 3.9 GiB short". `what` prefixes the message ("deployment 'x'").
Status CheckMemoryFit(std::string_view what, const ReplicaMemory& need, int replicas,
                      uint64_t available_bytes);

}  // namespace hearth::platform
