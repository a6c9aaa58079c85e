// The two-row dot kernels (KernelTable::dot2) against the scalar one-row reference, for every
// token count, on the same quantized activations: the M > 1 matmul path relies on them giving
// each row exactly what the one-row kernel of their level gives, within float rounding of the
// scalar order.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;

class DotPairTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override { HEARTH_REQUIRE_ISA(GetParam()); }
  const internal::KernelTable& table() const { return *internal::KernelsFor(GetParam()); }
};

TEST_P(DotPairTest, PairKernelsMatchScalarRowsForEveryTokenCount) {
  std::mt19937 rng(21);
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  int checked_types = 0;
  for (TensorType type : testing::AllWeightTypes()) {
    const int slot = static_cast<int>(type);
    const internal::RowPairDotFn pair = table().dot2[slot];
    if (pair == nullptr) continue;
    ASSERT_EQ(internal::ActFormatFor(type), internal::ActFormat::kQ8)
        << "pair kernels consume 32-value activation blocks";
    ++checked_types;
    for (int64_t k : {32, 64, 96, 896, 4864}) {
      // Three rows so the pair can start at an odd row (row stride is the dense row size).
      auto w = testing::RandomWeights(rng, type, 3, k);
      const size_t row_bytes = *gguf::RowBytes(type, k);
      auto x = testing::RandomFloats(rng, internal::kMaxTokens * k);
      const size_t stride = (k / 32) * sizeof(internal::ActQ8);
      std::vector<uint8_t> act(stride * internal::kMaxTokens);
      for (int t = 0; t < internal::kMaxTokens; ++t) {
        scalar.quantize_q8(&x[t * k], reinterpret_cast<internal::ActQ8*>(&act[t * stride]), k);
      }
      for (int first : {0, 1}) {
        for (int nt = 1; nt <= internal::kMaxTokens; ++nt) {
          float got[2 * internal::kMaxTokens];
          pair(k, &w[first * row_bytes], row_bytes, act.data(), stride, nt, got);
          for (int r = 0; r < 2; ++r) {
            float want[internal::kMaxTokens], one_row[internal::kMaxTokens];
            scalar.dot[slot](k, &w[(first + r) * row_bytes], act.data(), stride, nt, want);
            table().dot[slot](k, &w[(first + r) * row_bytes], act.data(), stride, nt, one_row);
            for (int t = 0; t < nt; ++t) {
              const float g = got[r * internal::kMaxTokens + t];
              EXPECT_NEAR(g, want[t], 1e-4 * (std::fabs(want[t]) + 1))
                  << gguf::TraitsOf(type).name << " k=" << k << " nt=" << nt << " row " << r;
              // Same level, same per-(row, token) arithmetic: tiling must not change results.
              EXPECT_EQ(g, one_row[t]) << gguf::TraitsOf(type).name << " k=" << k;
            }
          }
        }
      }
    }
  }
  if (GetParam() == IsaLevel::kAvx2) {
    EXPECT_GE(checked_types, 3) << "Q8_0, Q4_0 and Q5_0 have AVX2 pair kernels";
  }
}

// Integer dot kernels exist for every 32-block type at every level, so no such weight type
// falls back to widening rows to F32.
TEST_P(DotPairTest, Every32BlockTypeHasAnIntegerDot) {
  for (TensorType type : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                          TensorType::kQ5_0, TensorType::kQ5_1}) {
    EXPECT_NE(table().dot[static_cast<int>(type)], nullptr) << gguf::TraitsOf(type).name;
    EXPECT_EQ(internal::ActFormatFor(type), internal::ActFormat::kQ8);
  }
}

// Q4_0/Q5_0 -> Q8_0 rewriting (used by MatMul for many tokens) must keep every weight exactly.
TEST_P(DotPairTest, ToQ8_0KeepsEveryWeightExactly) {
  std::mt19937 rng(31);
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  int converted = 0;
  for (TensorType type : testing::AllWeightTypes()) {
    const auto convert = table().to_q8_0[static_cast<int>(type)];
    if (convert == nullptr) continue;
    ++converted;
    for (int64_t k : {32, 96, 896}) {
      auto w = testing::RandomWeights(rng, type, 1, k);
      std::vector<gguf::BlockQ8_0> q8(k / 32);
      convert(w.data(), q8.data(), k);
      std::vector<float> want(k), got(k);
      scalar.dequantize[static_cast<int>(type)](w.data(), want.data(), k);
      scalar.dequantize[static_cast<int>(TensorType::kQ8_0)](q8.data(), got.data(), k);
      for (int64_t i = 0; i < k; ++i) {
        ASSERT_EQ(got[i], want[i]) << gguf::TraitsOf(type).name << " k=" << k << " i=" << i;
      }
    }
  }
  EXPECT_EQ(converted, 2) << "Q4_0 and Q5_0 convert at every level";
}

// MatMul multiplies Q4_0/Q5_0 rows unpacked to Q8_0 when many tokens share a call; a token's
// result must not depend on that: the unpacked kernels (unpacked_dot/unpacked_dot2, or the Q8_0
// ones when a type has none) must give exactly what the type's own dot gives.
TEST_P(DotPairTest, UnpackedRowsGiveExactlyTheDirectResults) {
  std::mt19937 rng(41);
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  const int q8_slot = static_cast<int>(TensorType::kQ8_0);
  for (TensorType type : testing::AllWeightTypes()) {
    const int slot = static_cast<int>(type);
    const auto convert = table().to_q8_0[slot];
    if (convert == nullptr) continue;
    const bool own = table().unpacked_dot[slot] != nullptr;
    const internal::RowDotFn dot = own ? table().unpacked_dot[slot] : table().dot[q8_slot];
    const internal::RowPairDotFn pair = own ? table().unpacked_dot2[slot] : table().dot2[q8_slot];
    for (int64_t k : {32, 96, 896, 4864}) {
      auto w = testing::RandomWeights(rng, type, 2, k);
      const size_t row_bytes = *gguf::RowBytes(type, k);
      std::vector<gguf::BlockQ8_0> q8(2 * (k / 32));
      convert(&w[0], &q8[0], k);
      convert(&w[row_bytes], &q8[k / 32], k);
      auto x = testing::RandomFloats(rng, internal::kMaxTokens * k);
      const size_t stride = (k / 32) * sizeof(internal::ActQ8);
      std::vector<uint8_t> act(stride * internal::kMaxTokens);
      for (int t = 0; t < internal::kMaxTokens; ++t) {
        scalar.quantize_q8(&x[t * k], reinterpret_cast<internal::ActQ8*>(&act[t * stride]), k);
      }
      for (int nt = 1; nt <= internal::kMaxTokens; ++nt) {
        float paired[2 * internal::kMaxTokens];
        if (pair != nullptr) {
          pair(k, q8.data(), (k / 32) * sizeof(gguf::BlockQ8_0), act.data(), stride, nt, paired);
        }
        for (int r = 0; r < 2; ++r) {
          float direct[internal::kMaxTokens], unpacked[internal::kMaxTokens];
          table().dot[slot](k, &w[r * row_bytes], act.data(), stride, nt, direct);
          dot(k, &q8[r * (k / 32)], act.data(), stride, nt, unpacked);
          for (int t = 0; t < nt; ++t) {
            EXPECT_EQ(unpacked[t], direct[t]) << gguf::TraitsOf(type).name << " k=" << k;
            if (pair != nullptr) {
              EXPECT_EQ(paired[r * internal::kMaxTokens + t], direct[t])
                  << gguf::TraitsOf(type).name << " k=" << k << " nt=" << nt;
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, DotPairTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

}  // namespace
}  // namespace hearth::kernels
