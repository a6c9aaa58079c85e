// Tensor element types of GGUF files and their storage geometry.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::gguf {

// Numeric values are the on-disk type ids (ggml_type).
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;  // "F32", "Q4_K", ... as llama.cpp and Hugging Face print them
  int block_size;         // weights per block (1 for float types)
  int block_bytes;        // bytes per block
  bool quantized;
};

// nullptr when `id` is not a type Hearth knows.
const TensorTypeTraits* FindTensorType(uint32_t id);
const TensorTypeTraits& TraitsOf(TensorType type);
// Case-insensitive lookup by name ("q8_0", "F16").
std::optional<TensorType> TensorTypeFromName(std::string_view name);

// Bytes taken by a row of `n` weights; an error when `n` is not a multiple of the block size or
// the product overflows.
Result<uint64_t> RowBytes(TensorType type, int64_t n);

}  // namespace hearth::gguf
