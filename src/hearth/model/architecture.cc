#include "hearth/model/architecture.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace hearth::model {
namespace {

using D = DimSize;
using W = LayerWeight;

// The llama block: pre-norm attention and SwiGLU FFN, no biases.
constexpr std::array kLlamaLayer = {
    TensorSpec{W::kAttnNorm, "attn_norm.weight", D::kEmbedding, D::kNone},
    TensorSpec{W::kAttnQ, "attn_q.weight", D::kEmbedding, D::kQueryWidth},
    TensorSpec{W::kAttnK, "attn_k.weight", D::kEmbedding, D::kKvWidth},
    TensorSpec{W::kAttnV, "attn_v.weight", D::kEmbedding, D::kKvWidth},
    TensorSpec{W::kAttnOutput, "attn_output.weight", D::kQueryWidth, D::kEmbedding},
    TensorSpec{W::kFfnNorm, "ffn_norm.weight", D::kEmbedding, D::kNone},
    TensorSpec{W::kFfnGate, "ffn_gate.weight", D::kEmbedding, D::kFfn},
    TensorSpec{W::kFfnUp, "ffn_up.weight", D::kEmbedding, D::kFfn},
    TensorSpec{W::kFfnDown, "ffn_down.weight", D::kFfn, D::kEmbedding},
};

// qwen2: the llama block plus Q/K/V biases.
constexpr std::array kQwen2Layer = {
    TensorSpec{W::kAttnNorm, "attn_norm.weight", D::kEmbedding, D::kNone},
    TensorSpec{W::kAttnQ, "attn_q.weight", D::kEmbedding, D::kQueryWidth},
    TensorSpec{W::kAttnK, "attn_k.weight", D::kEmbedding, D::kKvWidth},
    TensorSpec{W::kAttnV, "attn_v.weight", D::kEmbedding, D::kKvWidth},
    TensorSpec{W::kAttnQBias, "attn_q.bias", D::kQueryWidth, D::kNone},
    TensorSpec{W::kAttnKBias, "attn_k.bias", D::kKvWidth, D::kNone},
    TensorSpec{W::kAttnVBias, "attn_v.bias", D::kKvWidth, D::kNone},
    TensorSpec{W::kAttnOutput, "attn_output.weight", D::kQueryWidth, D::kEmbedding},
    TensorSpec{W::kFfnNorm, "ffn_norm.weight", D::kEmbedding, D::kNone},
    TensorSpec{W::kFfnGate, "ffn_gate.weight", D::kEmbedding, D::kFfn},
    TensorSpec{W::kFfnUp, "ffn_up.weight", D::kEmbedding, D::kFfn},
    TensorSpec{W::kFfnDown, "ffn_down.weight", D::kFfn, D::kEmbedding},
};

constexpr std::array kArchitectures = {
    ArchitectureSpec{"llama", /*rope_neox=*/false, /*qkv_bias=*/false, kLlamaLayer},
    ArchitectureSpec{"qwen2", /*rope_neox=*/true, /*qkv_bias=*/true, kQwen2Layer},
};

// Reads "<arch>.<suffix>" as a positive int, or `fallback` (when >= 0) if absent.
Result<int> PositiveInt(const gguf::GgufFile& file, std::string_view suffix, int fallback = -1) {
  const std::string key = fmt::format("{}.{}", file.architecture(), suffix);
  if (file.Find(key) == nullptr) {
    if (fallback >= 0) return fallback;
    return Status::NotFound(fmt::format("model: metadata key '{}' is missing", key));
  }
  auto value = file.GetUint(key);
  if (!value.ok()) return value.status().WithContext("model");
  if (*value == 0 || *value > (1u << 30)) {
    return Status::OutOfRange(fmt::format("model: metadata '{}' = {} is out of range", key, *value));
  }
  return static_cast<int>(*value);
}

Result<float> PositiveFloat(const gguf::GgufFile& file, std::string_view suffix, float fallback,
                            bool required) {
  const std::string key = fmt::format("{}.{}", file.architecture(), suffix);
  if (file.Find(key) == nullptr) {
    if (!required) return fallback;
    return Status::NotFound(fmt::format("model: metadata key '{}' is missing", key));
  }
  auto value = file.GetFloat(key);
  if (!value.ok()) return value.status().WithContext("model");
  if (!std::isfinite(*value) || *value <= 0) {
    return Status::OutOfRange(fmt::format("model: metadata '{}' = {} must be positive", key, *value));
  }
  return static_cast<float>(*value);
}

Result<int> ReadVocabSize(const gguf::GgufFile& file) {
  const std::string key = fmt::format("{}.vocab_size", file.architecture());
  if (file.Find(key) != nullptr) return PositiveInt(file, "vocab_size");
  if (const gguf::Value* tokens = file.Find("tokenizer.ggml.tokens");
      tokens != nullptr && tokens->type == gguf::ValueType::kArray && !tokens->elements.empty()) {
    return static_cast<int>(tokens->elements.size());
  }
  // Last resort: the embedding table's row count.
  if (const gguf::TensorInfo* embd = file.FindTensor(kTokenEmbeddingTensor);
      embd != nullptr && embd->dims.size() == 2) {
    return static_cast<int>(embd->dims[1]);
  }
  return Status::NotFound(
      fmt::format("model: cannot tell the vocabulary size (no '{}', no tokenizer.ggml.tokens)", key));
}

Status ReadRopeScaling(const gguf::GgufFile& file, ModelConfig& config) {
  const std::string type_key = fmt::format("{}.rope.scaling.type", file.architecture());
  if (file.Find(type_key) == nullptr) return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(std::string_view type, file.GetString(type_key));
  if (type == "none") return Status::Ok();
  if (type == "linear") {
    HEARTH_ASSIGN_OR_RETURN(float factor, PositiveFloat(file, "rope.scaling.factor", 1.f, true));
    config.rope_freq_scale = 1.f / factor;
    return Status::Ok();
  }
  if (type == "llama3") {
    // llama.cpp's converters store llama3 scaling as the rope_freqs.weight tensor instead; these
    // keys are the explicit form some writers use.
    HEARTH_ASSIGN_OR_RETURN(config.rope_scaling_factor,
                            PositiveFloat(file, "rope.scaling.factor", 8.f, true));
    HEARTH_ASSIGN_OR_RETURN(config.rope_low_freq_factor,
                            PositiveFloat(file, "rope.scaling.low_freq_factor", 1.f, false));
    HEARTH_ASSIGN_OR_RETURN(config.rope_high_freq_factor,
                            PositiveFloat(file, "rope.scaling.high_freq_factor", 4.f, false));
    HEARTH_ASSIGN_OR_RETURN(config.rope_original_context,
                            PositiveInt(file, "rope.scaling.original_context_length", 8192));
    if (config.rope_high_freq_factor <= config.rope_low_freq_factor) {
      return Status::InvalidArgument(
          "model: llama3 rope scaling needs high_freq_factor > low_freq_factor");
    }
    return Status::Ok();
  }
  return Status::Unimplemented(
      fmt::format("model: rope scaling type '{}' is not supported (none, linear, llama3)", type));
}

}  // namespace

const ArchitectureSpec* FindArchitecture(std::string_view name) {
  for (const ArchitectureSpec& spec : kArchitectures) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string SupportedArchitectureNames() {
  std::string names;
  for (const ArchitectureSpec& spec : kArchitectures) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}

std::string LayerTensorName(int layer, std::string_view suffix) {
  return fmt::format("blk.{}.{}", layer, suffix);
}

int64_t DimValue(DimSize size, const ModelConfig& config) {
  switch (size) {
    case DimSize::kNone: return 0;
    case DimSize::kEmbedding: return config.embedding_dim;
    case DimSize::kQueryWidth: return int64_t{config.heads} * config.head_dim;
    case DimSize::kKvWidth: return int64_t{config.kv_heads} * config.head_dim;
    case DimSize::kFfn: return config.ffn_dim;
    case DimSize::kVocab: return config.vocab_size;
    case DimSize::kRopeHalf: return config.rope_dims / 2;
  }
  return 0;
}

Status CheckTensorShape(const gguf::TensorInfo& tensor, DimSize dim0, DimSize dim1,
                        const ModelConfig& config) {
  std::vector<int64_t> want = {DimValue(dim0, config)};
  if (dim1 != DimSize::kNone) want.push_back(DimValue(dim1, config));
  // GGUF writers may append trailing dims of 1; they do not change the shape.
  std::vector<int64_t> have = tensor.dims;
  while (have.size() > want.size() && have.back() == 1) have.pop_back();
  if (have != want) {
    return Status::InvalidArgument(fmt::format("model: tensor '{}' has shape [{}], expected [{}]",
                                               tensor.name, fmt::join(tensor.dims, ", "),
                                               fmt::join(want, ", ")));
  }
  return Status::Ok();
}

Result<ModelConfig> ReadModelConfig(const gguf::GgufFile& file) {
  ModelConfig config;
  config.architecture = std::string(file.architecture());
  if (config.architecture.empty()) {
    return Status::InvalidArgument("model: general.architecture is missing");
  }
  const ArchitectureSpec* spec = FindArchitecture(config.architecture);
  if (spec == nullptr) {
    return Status::Unimplemented(fmt::format("model: architecture '{}' is not supported ({})",
                                             config.architecture, SupportedArchitectureNames()));
  }
  HEARTH_ASSIGN_OR_RETURN(config.layers, PositiveInt(file, "block_count"));
  HEARTH_ASSIGN_OR_RETURN(config.context_length, PositiveInt(file, "context_length"));
  HEARTH_ASSIGN_OR_RETURN(config.embedding_dim, PositiveInt(file, "embedding_length"));
  HEARTH_ASSIGN_OR_RETURN(config.ffn_dim, PositiveInt(file, "feed_forward_length"));
  HEARTH_ASSIGN_OR_RETURN(config.heads, PositiveInt(file, "attention.head_count"));
  HEARTH_ASSIGN_OR_RETURN(config.kv_heads,
                          PositiveInt(file, "attention.head_count_kv", config.heads));
  if (config.heads % config.kv_heads != 0) {
    return Status::InvalidArgument(
        fmt::format("model: head_count {} is not a multiple of head_count_kv {}", config.heads,
                    config.kv_heads));
  }
  const int default_head_dim = config.embedding_dim / config.heads;
  HEARTH_ASSIGN_OR_RETURN(config.head_dim,
                          PositiveInt(file, "attention.key_length", default_head_dim));
  HEARTH_ASSIGN_OR_RETURN(int value_dim,
                          PositiveInt(file, "attention.value_length", config.head_dim));
  if (value_dim != config.head_dim) {
    return Status::Unimplemented(fmt::format(
        "model: key_length {} != value_length {} is not supported", config.head_dim, value_dim));
  }
  if (config.head_dim % 2 != 0) {
    return Status::InvalidArgument(fmt::format("model: head_dim {} is odd", config.head_dim));
  }
  HEARTH_ASSIGN_OR_RETURN(config.rms_eps,
                          PositiveFloat(file, "attention.layer_norm_rms_epsilon", 1e-5f, true));
  HEARTH_ASSIGN_OR_RETURN(config.rope_freq_base,
                          PositiveFloat(file, "rope.freq_base", 10000.f, false));
  HEARTH_ASSIGN_OR_RETURN(config.rope_dims,
                          PositiveInt(file, "rope.dimension_count", config.head_dim));
  if (config.rope_dims > config.head_dim || config.rope_dims % 2 != 0) {
    return Status::InvalidArgument(fmt::format(
        "model: rope.dimension_count {} must be even and at most head_dim {}", config.rope_dims,
        config.head_dim));
  }
  config.rope_neox = spec->rope_neox;
  config.qkv_bias = spec->qkv_bias;
  HEARTH_RETURN_IF_ERROR(ReadRopeScaling(file, config));
  HEARTH_ASSIGN_OR_RETURN(config.vocab_size, ReadVocabSize(file));
  config.tied_output = file.FindTensor(kOutputTensor) == nullptr;
  return config;
}

}  // namespace hearth::model
