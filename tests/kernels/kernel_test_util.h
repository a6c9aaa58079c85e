// Helpers shared by the kernel tests: random weights in every GGUF type, double-precision
// references, and a fixture that runs a test body at every instruction-set level the CPU has.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "hearth/base/half.h"
#include "hearth/gguf/quant_blocks.h"
#include "hearth/gguf/tensor_type.h"
#include "hearth/kernels/cpu_features.h"
#include "hearth/kernels/dispatch.h"

namespace hearth::kernels::testing {

inline std::vector<float> RandomFloats(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> out(n);
  for (auto& v : out) v = dist(rng);
  return out;
}

// Offsets of the fp16 scale fields inside one block of `type` (random bytes elsewhere are all
// valid quants, but random fp16 scales could be inf/NaN).
inline std::vector<int> HalfFieldOffsets(gguf::TensorType type) {
  using gguf::TensorType;
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0:
      return {0};
    case TensorType::kQ4_1:
    case TensorType::kQ5_1:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
      return {0, 2};
    case TensorType::kQ2_K:
      return {offsetof(gguf::BlockQ2_K, d), offsetof(gguf::BlockQ2_K, dmin)};
    case TensorType::kQ3_K:
      return {offsetof(gguf::BlockQ3_K, d)};
    case TensorType::kQ6_K:
      return {offsetof(gguf::BlockQ6_K, d)};
    default:
      return {};
  }
}

// `rows` rows of `cols` random weights of `type`, dense.
inline std::vector<uint8_t> RandomWeights(std::mt19937& rng, gguf::TensorType type, int64_t rows,
                                          int64_t cols) {
  const auto& traits = gguf::TraitsOf(type);
  const size_t row_bytes = static_cast<size_t>(cols / traits.block_size) * traits.block_bytes;
  std::vector<uint8_t> out(row_bytes * rows);
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  if (type == gguf::TensorType::kF32 || type == gguf::TensorType::kF16 ||
      type == gguf::TensorType::kBF16) {
    std::vector<float> values = RandomFloats(rng, static_cast<size_t>(rows * cols), 0.5f);
    for (size_t i = 0; i < values.size(); ++i) {
      if (type == gguf::TensorType::kF32) {
        std::memcpy(&out[4 * i], &values[i], 4);
      } else {
        const uint16_t h = type == gguf::TensorType::kF16 ? Fp32ToFp16(values[i])
                                                          : Fp32ToBf16(values[i]);
        std::memcpy(&out[2 * i], &h, 2);
      }
    }
    return out;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : out) b = static_cast<uint8_t>(byte(rng));
  const auto offsets = HalfFieldOffsets(type);
  for (size_t block = 0; block < out.size() / traits.block_bytes; ++block) {
    for (int offset : offsets) {
      const uint16_t h = Fp32ToFp16(scale(rng));
      std::memcpy(&out[block * traits.block_bytes + offset], &h, 2);
    }
  }
  return out;
}

inline const std::vector<gguf::TensorType>& AllWeightTypes() {
  using gguf::TensorType;
  static const std::vector<TensorType> types = {
      TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ4_0,
      TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ8_0,
      TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
      TensorType::kQ6_K};
  return types;
}

inline std::vector<IsaLevel> AllLevels() {
  return {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512};
}

// Restores the active level when a test that switched it ends.
class ScopedIsaLevel {
 public:
  ScopedIsaLevel() : saved_(ActiveIsaLevel()) {}
  ~ScopedIsaLevel() { (void)SetIsaLevel(saved_); }

 private:
  IsaLevel saved_;
};

// Skips the current test when the CPU lacks `level`.
#define HEARTH_REQUIRE_ISA(level)                                                       \
  do {                                                                                  \
    if (!::hearth::kernels::IsaLevelSupported(level)) {                                 \
      GTEST_SKIP() << "CPU lacks " << ::hearth::kernels::IsaLevelName(level)            \
                   << " (detected: " << ::hearth::kernels::DetectCpuFeatures().ToString() \
                   << ")";                                                              \
    }                                                                                   \
  } while (0)

inline std::string LevelParamName(const ::testing::TestParamInfo<IsaLevel>& info) {
  return std::string(IsaLevelName(info.param));
}

}  // namespace hearth::kernels::testing
