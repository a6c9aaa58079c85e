// A plain double-precision llama/qwen2 forward pass for tests, written independently of
// hearth::model: it reads the GGUF metadata itself, dequantizes every weight with the scalar
// reference (gguf::DequantizeRow) and evaluates one sequence with textbook loops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hearth/gguf/gguf_file.h"

namespace hearth::model::testing {

class ReferenceModel {
 public:
  // Aborts the test (ADD_FAILURE + empty model) on a file it cannot read.
  explicit ReferenceModel(const gguf::GgufFile& file);

  bool ok() const { return ok_; }
  int vocab_size() const { return vocab_; }

  // Logits (vocab_size each) for every position of `tokens`, evaluated causally from position 0.
  std::vector<std::vector<double>> Forward(const std::vector<int32_t>& tokens) const;

 private:
  struct Layer {
    std::vector<double> attn_norm, ffn_norm, q_bias, k_bias, v_bias;
    std::vector<double> wq, wk, wv, wo, w_gate, w_up, w_down;  // [out][in]
  };

  std::vector<double> Tensor(const gguf::GgufFile& file, const std::string& name) const;

  bool ok_ = true;
  bool neox_ = false;
  int layers_ = 0, dim_ = 0, ffn_ = 0, heads_ = 0, kv_heads_ = 0, head_dim_ = 0, vocab_ = 0;
  int rope_dims_ = 0;
  double eps_ = 1e-5, rope_base_ = 10000;
  std::vector<double> embedding_, output_, output_norm_;
  std::vector<Layer> layer_;
};

}  // namespace hearth::model::testing
