// ModelInfo: what `hearth model inspect` reports about a GGUF model — hyperparameters, tensor
// type mix, tokenizer — and a memory estimate for serving it. Reads metadata and tensor infos
// only, never tensor data, so its cost does not depend on the file's size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/gguf_file.h"

namespace hearth::gguf {

struct TensorTypeUsage {
  std::string type;  // "Q4_K"
  int64_t tensors = 0;
  uint64_t bytes = 0;
  int64_t elements = 0;
};

struct ModelInfo {
  std::string architecture;
  std::string name;  // general.name (may be empty)
  uint32_t version = 0;
  uint64_t file_bytes = 0;
  int64_t tensor_count = 0;
  int64_t parameters = 0;  // total elements of every tensor
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t embedding_dim = 0;
  int64_t ffn_dim = 0;
  int64_t head_dim = 0;
  int64_t context_length = 0;
  double rms_eps = 0;
  double rope_freq_base = 0;
  int64_t rope_dimension_count = 0;
  std::string rope_scaling_type;  // empty when absent
  double rope_scaling_factor = 0;
  int64_t rope_original_context = 0;
  bool tied_output = false;  // no output.weight
  std::optional<uint32_t> file_type;
  std::vector<TensorTypeUsage> type_mix;  // by bytes, largest first
  uint64_t weight_bytes = 0;
  std::string tokenizer_model;  // tokenizer.ggml.model
  std::string tokenizer_pre;    // tokenizer.ggml.pre
  int64_t vocab_size = 0;
  bool has_chat_template = false;
};

// Fails only when the file is not a model at all (no general.architecture).
Result<ModelInfo> DescribeModel(const GgufFile& file);

struct MemoryEstimate {
  int64_t ctx = 0;
  int64_t parallel = 0;
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes_per_token_f16 = 0;
  uint64_t kv_bytes_per_token_q8_0 = 0;
  uint64_t kv_bytes_f16 = 0;  // for ctx × parallel tokens
  uint64_t kv_bytes_q8_0 = 0;
  uint64_t compute_bytes = 0;  // see EstimateMemory
  uint64_t total_f16 = 0;      // weights + F16 KV + compute
  uint64_t total_q8_0 = 0;
};

// KV cache: 2 (K and V) × layers × kv_heads × head_dim × bytes per element (2 for F16, 34/32
// for Q8_0). Compute buffer, a stated approximation of what one forward pass of a 512-token
// batch needs: activations 512 × (4 × embedding + 2 × ffn) floats, logits 512 × vocab floats,
// attention scores 512 × heads × ctx floats for one layer, plus 64 MiB of slack.
MemoryEstimate EstimateMemory(const ModelInfo& info, int64_t ctx, int64_t parallel);

}  // namespace hearth::gguf
