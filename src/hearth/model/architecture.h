// Per-architecture table: which GGUF tensors a transformer family has, their shapes, and how
// its hyperparameters are read from metadata.
//
// Adding a family that shares the llama block structure (qwen3, mistral, ...) is one entry in
// the table in architecture.cc plus, where it has them, its extra layers (e.g. Q/K norms) in the
// forward pass. Names follow the GGUF conventions written by llama.cpp's converters:
// "<arch>.block_count", "blk.N.attn_q.weight", and so on. Tensor dims are in ggml order:
// dims[0] is the input (contiguous) dimension, dims[1] the output dimension.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/model/model.h"

namespace hearth::model {

// The size a tensor dimension must have, in terms of the model's hyperparameters.
enum class DimSize {
  kNone,        // the tensor has no such dimension
  kEmbedding,   // embedding_dim
  kQueryWidth,  // heads * head_dim
  kKvWidth,     // kv_heads * head_dim
  kFfn,         // ffn_dim
  kVocab,       // vocab_size
  kRopeHalf,    // rope_dims / 2 (llama3 rope frequency factors)
};

// The per-layer (or global) weights a family uses. `suffix` is the name after "blk.N." for
// layer tensors, the full name for global ones.
enum class LayerWeight {
  kAttnNorm,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnQBias,
  kAttnKBias,
  kAttnVBias,
  kAttnOutput,
  kFfnNorm,
  kFfnGate,
  kFfnUp,
  kFfnDown,
  kCount,
};

struct TensorSpec {
  LayerWeight weight;
  std::string_view suffix;
  DimSize dim0;  // input / contiguous dimension
  DimSize dim1;  // output dimension (kNone for vectors)
};

struct ArchitectureSpec {
  std::string_view name;
  bool rope_neox = false;  // rotate (i, i + d/2) pairs instead of adjacent (2i, 2i + 1)
  bool qkv_bias = false;   // attention Q/K/V projections carry biases
  std::span<const TensorSpec> layer_tensors;
};

// nullptr for an architecture Hearth does not run.
const ArchitectureSpec* FindArchitecture(std::string_view name);
// Names of every supported architecture, for error messages ("llama, qwen2").
std::string SupportedArchitectureNames();

// "blk.<layer>.<suffix>".
std::string LayerTensorName(int layer, std::string_view suffix);

// Global tensor names.
inline constexpr std::string_view kTokenEmbeddingTensor = "token_embd.weight";
inline constexpr std::string_view kOutputNormTensor = "output_norm.weight";
inline constexpr std::string_view kOutputTensor = "output.weight";
inline constexpr std::string_view kRopeFreqsTensor = "rope_freqs.weight";

// Reads and checks the hyperparameters of `file` (architecture, dims, heads, rope settings,
// vocabulary size, tied output). Errors name the missing or inconsistent key.
Result<ModelConfig> ReadModelConfig(const gguf::GgufFile& file);

// The number a DimSize stands for in `config` (0 for kNone).
int64_t DimValue(DimSize size, const ModelConfig& config);

// Checks that `tensor` has the dims `spec` requires; the error names the tensor and both shapes.
Status CheckTensorShape(const gguf::TensorInfo& tensor, DimSize dim0, DimSize dim1,
                        const ModelConfig& config);

}  // namespace hearth::model
