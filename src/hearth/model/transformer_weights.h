// The weights of a llama-block transformer (llama, qwen2), located in a mapped GGUF file and
// checked against the architecture table.
#pragma once

#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/kernels/matmul.h"
#include "hearth/model/architecture.h"
#include "hearth/model/model.h"

namespace hearth::model {

struct LayerWeights {
  // Norm weights and biases are small; they are widened to F32 once at load.
  std::vector<float> attn_norm;
  std::vector<float> ffn_norm;
  std::vector<float> q_bias;  // empty when the architecture has none
  std::vector<float> k_bias;
  std::vector<float> v_bias;
  // Matrices stay in the mapping, in their GGUF type; rows are output features.
  kernels::WeightView q;
  kernels::WeightView k;
  kernels::WeightView v;
  kernels::WeightView output;
  kernels::WeightView gate;
  kernels::WeightView up;
  kernels::WeightView down;
};

struct TransformerWeights {
  kernels::WeightView token_embedding;  // vocab rows of embedding_dim
  kernels::WeightView output;           // vocab rows; the embedding table when tied
  std::vector<float> output_norm;
  std::vector<float> rope_freq_factors;  // rope_freqs.weight (llama3), empty when absent
  std::vector<LayerWeights> layers;
};

// Finds and shape-checks every tensor `config`'s architecture needs. Errors name the tensor.
Result<TransformerWeights> LoadTransformerWeights(const gguf::GgufFile& file,
                                                  const ModelConfig& config);

}  // namespace hearth::model
