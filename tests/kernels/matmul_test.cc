// MatMul at every instruction-set level against a double-precision product of dequantized
// weights and activations.
#include "hearth/kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "hearth/base/half.h"
#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;
using internal::ActFormat;
using testing::AllWeightTypes;
using testing::RandomFloats;
using testing::RandomWeights;

// Activations as the kernels see them: quantized to 8 bits and back for the integer types,
// rounded to BF16 for BF16 weights (as llama.cpp does).
std::vector<float> RoundTripActivations(TensorType type, const std::vector<float>& x, int64_t m,
                                        int64_t k) {
  if (type == TensorType::kBF16) {
    std::vector<float> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = Bf16ToFp32(Fp32ToBf16(x[i]));
    return out;
  }
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  std::vector<float> out(x.size());
  for (int64_t t = 0; t < m; ++t) {
    const float* row = &x[t * k];
    float* dst = &out[t * k];
    switch (internal::ActFormatFor(type)) {
      case ActFormat::kF32:
        std::copy(row, row + k, dst);
        break;
      case ActFormat::kQ8: {
        std::vector<internal::ActQ8> blocks(k / 32);
        scalar.quantize_q8(row, blocks.data(), k);
        for (int64_t i = 0; i < k; ++i) dst[i] = blocks[i / 32].d * blocks[i / 32].qs[i % 32];
        break;
      }
      case ActFormat::kQ8K: {
        std::vector<gguf::BlockQ8_K> blocks(k / 256);
        scalar.quantize_q8k(row, blocks.data(), k);
        for (int64_t i = 0; i < k; ++i) dst[i] = blocks[i / 256].d * blocks[i / 256].qs[i % 256];
        break;
      }
    }
  }
  return out;
}

struct Reference {
  std::vector<double> y;    // exact product with the given activations
  std::vector<double> mag;  // sum |w x|, the scale of rounding error
};

Reference ReferenceProduct(TensorType type, const std::vector<uint8_t>& w, int64_t n, int64_t k,
                           const std::vector<float>& x, int64_t m) {
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  const size_t row_bytes = *gguf::RowBytes(type, k);
  std::vector<float> row(k);
  Reference ref{std::vector<double>(m * n), std::vector<double>(m * n)};
  for (int64_t r = 0; r < n; ++r) {
    scalar.dequantize[static_cast<int>(type)](&w[r * row_bytes], row.data(), k);
    for (int64_t t = 0; t < m; ++t) {
      double sum = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        sum += static_cast<double>(row[i]) * x[t * k + i];
        mag += std::fabs(static_cast<double>(row[i]) * x[t * k + i]);
      }
      ref.y[t * n + r] = sum;
      ref.mag[t * n + r] = mag;
    }
  }
  return ref;
}

std::vector<int64_t> ColsFor(TensorType type) {
  const int block = gguf::TraitsOf(type).block_size;
  if (block == 1) return {1, 7, 33, 100, 257};
  if (block == 32) return {32, 96, 160, 288, 896};
  return {256, 768, 1280};
}

class MatMulTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override {
    HEARTH_REQUIRE_ISA(GetParam());
    ASSERT_TRUE(SetIsaLevel(GetParam()).ok());
  }
  testing::ScopedIsaLevel restore_;
};

// Every type, odd shapes and token counts: result equals the exact product of the dequantized
// weights with the activations the kernel actually used (8-bit round trip for integer types).
TEST_P(MatMulTest, MatchesDoublePrecisionReferenceForEveryType) {
  std::mt19937 rng(1234);
  ThreadPool pool(3);
  for (TensorType type : AllWeightTypes()) {
    for (int64_t k : ColsFor(type)) {
      for (int64_t m : {1, 2, 3, 4, 5, 17}) {
        const int64_t n = (k % 3 == 0) ? 37 : 19;  // not a multiple of any tile
        auto w = RandomWeights(rng, type, n, k);
        auto x = RandomFloats(rng, static_cast<size_t>(m * k));
        auto view = WeightView::Make(type, w.data(), n, k);
        ASSERT_TRUE(view.ok()) << view.status().ToString();
        std::vector<float> y(m * n, NAN);
        MatMul(*view, x.data(), m, y.data(), pool);
        const Reference ref = ReferenceProduct(type, w, n, k, RoundTripActivations(type, x, m, k), m);
        // Q4_1/Q5_1 add min * s_a per block, where s_a = d_a * sum(qa) is stored as fp16 (as
        // llama.cpp's Q8_1 does): up to 2^-11 relative error on that term.
        const bool has_min = type == TensorType::kQ4_1 || type == TensorType::kQ5_1;
        const double relative = has_min ? 1e-3 : 2e-5;
        for (int64_t i = 0; i < m * n; ++i) {
          ASSERT_NEAR(y[i], ref.y[i], relative * ref.mag[i] + 1e-6)
              << gguf::TraitsOf(type).name << " k=" << k << " m=" << m << " token " << i / n
              << " row " << i % n;
        }
      }
    }
  }
}

// The 8-bit activation quantization itself stays within its bound of the unquantized product:
// each activation moves by at most half a quantization step (max|x| of its block / 254).
TEST_P(MatMulTest, ActivationQuantizationErrorIsBounded) {
  std::mt19937 rng(99);
  ThreadPool pool(2);
  for (TensorType type : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                          TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ4_K,
                          TensorType::kQ5_K, TensorType::kQ6_K}) {
    const int64_t k = 512, n = 9, m = 2;
    const int64_t block = internal::ActFormatFor(type) == ActFormat::kQ8 ? 32 : 256;
    auto w = RandomWeights(rng, type, n, k);
    auto x = RandomFloats(rng, static_cast<size_t>(m * k));
    auto view = WeightView::Make(type, w.data(), n, k);
    ASSERT_TRUE(view.ok());
    std::vector<float> y(m * n);
    MatMul(*view, x.data(), m, y.data(), pool);
    const Reference exact = ReferenceProduct(type, w, n, k, x, m);
    std::vector<float> row(k);
    const size_t row_bytes = view->row_bytes;
    for (int64_t r = 0; r < n; ++r) {
      internal::KernelsFor(IsaLevel::kScalar)
          ->dequantize[static_cast<int>(type)](&w[r * row_bytes], row.data(), k);
      for (int64_t t = 0; t < m; ++t) {
        double bound = 0;
        for (int64_t b = 0; b < k; b += block) {
          float amax = 0;
          for (int64_t i = b; i < b + block; ++i) amax = std::max(amax, std::fabs(x[t * k + i]));
          for (int64_t i = b; i < b + block; ++i) bound += std::fabs(row[i]) * amax / 254.0;
        }
        EXPECT_NEAR(y[t * n + r], exact.y[t * n + r], bound * 1.01 + 1e-5 * exact.mag[t * n + r])
            << gguf::TraitsOf(type).name;
        // And the product is not trivially zero: it tracks the exact value.
        EXPECT_GT(exact.mag[t * n + r], 0.0);
      }
    }
  }
}

TEST_P(MatMulTest, StridedInputAndOutput) {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  const int64_t k = 256, n = 21, m = 6, ldx = 300, ldy = 50;
  for (TensorType type : {TensorType::kQ4_K, TensorType::kF16, TensorType::kQ3_K}) {
    auto w = RandomWeights(rng, type, n, k);
    auto x = RandomFloats(rng, static_cast<size_t>(m * ldx));
    auto view = WeightView::Make(type, w.data(), n, k);
    ASSERT_TRUE(view.ok());
    std::vector<float> dense_x(m * k);
    for (int64_t t = 0; t < m; ++t) std::copy_n(&x[t * ldx], k, &dense_x[t * k]);
    std::vector<float> expected(m * n), y(m * ldy, -7.0f);
    MatMul(*view, dense_x.data(), m, expected.data(), pool);
    MatMulStrided(*view, x.data(), ldx, m, y.data(), ldy, pool);
    for (int64_t t = 0; t < m; ++t) {
      for (int64_t r = 0; r < ldy; ++r) {
        if (r < n) {
          EXPECT_EQ(y[t * ldy + r], expected[t * n + r]);
        } else {
          EXPECT_EQ(y[t * ldy + r], -7.0f) << "wrote outside the output slice";
        }
      }
    }
  }
}

// Single-token results must not depend on how many tokens share the call (tiling) or on the
// pool size, up to float summation order (identical here: per-row kernels are deterministic).
TEST_P(MatMulTest, TilingAndThreadCountDoNotChangeResults) {
  std::mt19937 rng(5);
  const int64_t k = 768, n = 45, m = 7;
  for (TensorType type : {TensorType::kQ8_0, TensorType::kQ5_0, TensorType::kQ4_0,
                          TensorType::kQ5_1, TensorType::kQ4_K, TensorType::kQ6_K,
                          TensorType::kQ5_K, TensorType::kF16, TensorType::kF32}) {
    auto w = RandomWeights(rng, type, n, k);
    auto x = RandomFloats(rng, static_cast<size_t>(m * k));
    auto view = WeightView::Make(type, w.data(), n, k);
    ASSERT_TRUE(view.ok());
    ThreadPool one(1), three(3);
    std::vector<float> batched(m * n), single(n);
    MatMul(*view, x.data(), m, batched.data(), three);
    for (int64_t t = 0; t < m; ++t) {
      MatMul(*view, &x[t * k], 1, single.data(), one);
      for (int64_t r = 0; r < n; ++r) {
        EXPECT_NEAR(batched[t * n + r], single[r], 1e-5 * (std::fabs(single[r]) + 1))
            << gguf::TraitsOf(type).name;
      }
    }
  }
}

TEST_P(MatMulTest, EmbeddingLookupDequantizesOneRow) {
  std::mt19937 rng(11);
  for (TensorType type : AllWeightTypes()) {
    const int64_t k = gguf::TraitsOf(type).block_size == 1 ? 40 : 512, n = 5;
    auto w = RandomWeights(rng, type, n, k);
    auto view = WeightView::Make(type, w.data(), n, k);
    ASSERT_TRUE(view.ok());
    std::vector<float> row(k), expected(k);
    ASSERT_TRUE(EmbeddingLookup(*view, 3, row.data()).ok());
    internal::KernelsFor(IsaLevel::kScalar)
        ->dequantize[static_cast<int>(type)](&w[3 * view->row_bytes], expected.data(), k);
    for (int64_t i = 0; i < k; ++i) ASSERT_EQ(row[i], expected[i]) << gguf::TraitsOf(type).name;
    EXPECT_EQ(EmbeddingLookup(*view, 5, row.data()).code(), StatusCode::kOutOfRange);
    EXPECT_EQ(EmbeddingLookup(*view, -1, row.data()).code(), StatusCode::kOutOfRange);
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, MatMulTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

TEST(WeightViewTest, RejectsBadGeometry) {
  uint8_t data[64] = {};
  EXPECT_EQ(WeightView::Make(TensorType::kQ4_K, data, 1, 100).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WeightView::Make(TensorType::kQ8_K, data, 1, 256).status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(WeightView::Make(TensorType::kF32, data, 2, 0).status().code(),
            StatusCode::kInvalidArgument);
  auto ok = WeightView::Make(TensorType::kQ8_0, data, 1, 32);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->row_bytes, sizeof(gguf::BlockQ8_0));
}

TEST(WeightViewTest, FromTensorChecksSize) {
  std::vector<uint8_t> data(2 * sizeof(gguf::BlockQ8_0));
  gguf::TensorInfo info;
  info.name = "w";
  info.dims = {32, 3};
  info.type = TensorType::kQ8_0;
  info.element_count = 96;
  info.size_bytes = data.size();
  info.data = data.data();
  EXPECT_EQ(WeightView::FromTensor(info).status().code(), StatusCode::kCorruption);
  info.dims = {32, 2};
  info.element_count = 64;
  auto view = WeightView::FromTensor(info);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->rows, 2);
  EXPECT_EQ(view->cols, 32);
}

}  // namespace
}  // namespace hearth::kernels
