#include "hearth/model/transformer_weights.h"

#include <fmt/format.h>

#include <string>

#include "hearth/gguf/quantize.h"

namespace hearth::model {
namespace {

Result<const gguf::TensorInfo*> FindShaped(const gguf::GgufFile& file, const std::string& name,
                                           DimSize dim0, DimSize dim1,
                                           const ModelConfig& config) {
  const gguf::TensorInfo* tensor = file.FindTensor(name);
  if (tensor == nullptr) {
    return Status::NotFound(fmt::format("model: tensor '{}' is missing ({} needs it)", name,
                                        config.architecture));
  }
  HEARTH_RETURN_IF_ERROR(CheckTensorShape(*tensor, dim0, dim1, config));
  return tensor;
}

Result<kernels::WeightView> MatrixOf(const gguf::TensorInfo& tensor) {
  if (!kernels::IsSupportedWeightType(tensor.type)) {
    return Status::Unimplemented(fmt::format("model: tensor '{}' has unsupported type {}",
                                             tensor.name, gguf::TraitsOf(tensor.type).name));
  }
  auto view = kernels::WeightView::FromTensor(tensor);
  if (!view.ok()) return view.status().WithContext(fmt::format("model: tensor '{}'", tensor.name));
  return *view;
}

Result<std::vector<float>> VectorOf(const gguf::TensorInfo& tensor) {
  const gguf::TensorType type = tensor.type;
  auto bytes = gguf::RowBytes(type, tensor.element_count);
  if (!bytes.ok() || *bytes != tensor.size_bytes || !kernels::IsSupportedWeightType(type)) {
    return Status::InvalidArgument(fmt::format("model: tensor '{}' of type {} cannot be read as a "
                                               "vector of {} floats",
                                               tensor.name, gguf::TraitsOf(type).name,
                                               tensor.element_count));
  }
  std::vector<float> values(static_cast<size_t>(tensor.element_count));
  gguf::DequantizeRow(type, tensor.data, values.data(), tensor.element_count);
  return values;
}

std::vector<float>* VectorField(LayerWeights& lw, LayerWeight weight) {
  switch (weight) {
    case LayerWeight::kAttnNorm: return &lw.attn_norm;
    case LayerWeight::kFfnNorm: return &lw.ffn_norm;
    case LayerWeight::kAttnQBias: return &lw.q_bias;
    case LayerWeight::kAttnKBias: return &lw.k_bias;
    case LayerWeight::kAttnVBias: return &lw.v_bias;
    default: return nullptr;
  }
}

kernels::WeightView* MatrixField(LayerWeights& lw, LayerWeight weight) {
  switch (weight) {
    case LayerWeight::kAttnQ: return &lw.q;
    case LayerWeight::kAttnK: return &lw.k;
    case LayerWeight::kAttnV: return &lw.v;
    case LayerWeight::kAttnOutput: return &lw.output;
    case LayerWeight::kFfnGate: return &lw.gate;
    case LayerWeight::kFfnUp: return &lw.up;
    case LayerWeight::kFfnDown: return &lw.down;
    default: return nullptr;
  }
}

}  // namespace

Result<TransformerWeights> LoadTransformerWeights(const gguf::GgufFile& file,
                                                  const ModelConfig& config) {
  const ArchitectureSpec* spec = FindArchitecture(config.architecture);
  if (spec == nullptr) {
    return Status::Unimplemented(
        fmt::format("model: architecture '{}' is not supported", config.architecture));
  }
  TransformerWeights weights;
  HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* embd,
                          FindShaped(file, std::string(kTokenEmbeddingTensor), DimSize::kEmbedding,
                                     DimSize::kVocab, config));
  HEARTH_ASSIGN_OR_RETURN(weights.token_embedding, MatrixOf(*embd));
  if (config.tied_output) {
    weights.output = weights.token_embedding;
  } else {
    HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* output,
                            FindShaped(file, std::string(kOutputTensor), DimSize::kEmbedding,
                                       DimSize::kVocab, config));
    HEARTH_ASSIGN_OR_RETURN(weights.output, MatrixOf(*output));
  }
  HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* output_norm,
                          FindShaped(file, std::string(kOutputNormTensor), DimSize::kEmbedding,
                                     DimSize::kNone, config));
  HEARTH_ASSIGN_OR_RETURN(weights.output_norm, VectorOf(*output_norm));
  if (file.FindTensor(kRopeFreqsTensor) != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(const gguf::TensorInfo* freqs,
                            FindShaped(file, std::string(kRopeFreqsTensor), DimSize::kRopeHalf,
                                       DimSize::kNone, config));
    HEARTH_ASSIGN_OR_RETURN(weights.rope_freq_factors, VectorOf(*freqs));
  }

  weights.layers.resize(static_cast<size_t>(config.layers));
  for (int layer = 0; layer < config.layers; ++layer) {
    LayerWeights& lw = weights.layers[static_cast<size_t>(layer)];
    for (const TensorSpec& ts : spec->layer_tensors) {
      HEARTH_ASSIGN_OR_RETURN(
          const gguf::TensorInfo* tensor,
          FindShaped(file, LayerTensorName(layer, ts.suffix), ts.dim0, ts.dim1, config));
      if (std::vector<float>* vector = VectorField(lw, ts.weight)) {
        HEARTH_ASSIGN_OR_RETURN(*vector, VectorOf(*tensor));
      } else if (kernels::WeightView* matrix = MatrixField(lw, ts.weight)) {
        HEARTH_ASSIGN_OR_RETURN(*matrix, MatrixOf(*tensor));
      }
    }
  }
  return weights;
}

}  // namespace hearth::model
