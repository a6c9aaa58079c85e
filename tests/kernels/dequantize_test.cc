// Kernel dequantization and activation quantization against independent references: the gguf
// module's scalar DequantizeRow (written separately from the kernels) and the exact format
// definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "hearth/base/half.h"
#include "hearth/gguf/quantize.h"
#include "hearth/kernels/matmul.h"
#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;
using testing::AllWeightTypes;
using testing::RandomWeights;

class DequantizeTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override { HEARTH_REQUIRE_ISA(GetParam()); }
  const internal::KernelTable& table() const { return *internal::KernelsFor(GetParam()); }
};

TEST_P(DequantizeTest, MatchesGgufReferenceBitForBit) {
  std::mt19937 rng(21);
  for (TensorType type : AllWeightTypes()) {
    const int64_t n = gguf::TraitsOf(type).block_size == 1 ? 77 : 1024;
    auto w = RandomWeights(rng, type, 1, n);
    std::vector<float> ours(n), reference(n);
    table().dequantize[static_cast<int>(type)](w.data(), ours.data(), n);
    gguf::DequantizeRow(type, w.data(), reference.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(ours[i], reference[i]) << gguf::TraitsOf(type).name << " weight " << i;
    }
  }
}

// Weights quantized by the gguf reference quantizer come back close to the originals, so the
// kernels read real (not just random-byte) rows the way they were written.
TEST_P(DequantizeTest, RoundTripsRowsQuantizedByGguf) {
  std::mt19937 rng(3);
  for (TensorType type : AllWeightTypes()) {
    if (!gguf::CanQuantizeTo(type)) continue;
    const int64_t n = 512;
    auto x = testing::RandomFloats(rng, n);
    std::vector<uint8_t> q(*gguf::RowBytes(type, n));
    ASSERT_TRUE(gguf::QuantizeRow(type, x.data(), q.data(), n).ok()) << gguf::TraitsOf(type).name;
    std::vector<float> back(n);
    table().dequantize[static_cast<int>(type)](q.data(), back.data(), n);
    double err = 0, norm = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += (back[i] - x[i]) * (back[i] - x[i]);
      norm += x[i] * x[i];
    }
    // Even 2-bit quantization keeps the relative RMS error well under 1.
    EXPECT_LT(std::sqrt(err / norm), 0.6) << gguf::TraitsOf(type).name;
  }
}

TEST_P(DequantizeTest, ActivationQuantizationMatchesScalarAndDefinition) {
  std::mt19937 rng(8);
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  const int64_t k = 1024;
  auto x = testing::RandomFloats(rng, k, 3.0f);
  x[5] = 0;
  std::fill(x.begin() + 256, x.begin() + 512, 0.0f);  // an all-zero block
  std::vector<internal::ActQ8> q8(k / 32), q8_ref(k / 32);
  table().quantize_q8(x.data(), q8.data(), k);
  scalar.quantize_q8(x.data(), q8_ref.data(), k);
  // The reference engine's (llama.cpp, x86) Q8_0/Q8_1 definition: quants round(x * 127 / amax)
  // to nearest even, d = amax / 127 and s = d * sum(quants) both stored as fp16 values.
  auto half = [](float v) { return Fp16ToFp32(Fp32ToFp16(v)); };
  for (int64_t b = 0; b < k / 32; ++b) {
    ASSERT_EQ(q8[b].d, q8_ref[b].d);
    ASSERT_EQ(q8[b].s, q8_ref[b].s);
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      ASSERT_EQ(q8[b].qs[j], q8_ref[b].qs[j]) << "block " << b << " index " << j;
      const float expected = amax == 0 ? 0.0f : std::nearbyint(x[32 * b + j] * (127.0f / amax));
      EXPECT_EQ(q8[b].qs[j], expected) << "block " << b << " index " << j;
      sum += q8[b].qs[j];
    }
    EXPECT_EQ(q8[b].d, half(amax / 127.0f));
    EXPECT_EQ(q8[b].s, half(amax / 127.0f * static_cast<float>(sum)));
  }
  std::vector<gguf::BlockQ8_K> qk(k / 256), qk_ref(k / 256);
  table().quantize_q8k(x.data(), qk.data(), k);
  scalar.quantize_q8k(x.data(), qk_ref.data(), k);
  // Q8_K: the first element of largest magnitude, with its sign, sets iscale = -127 / max;
  // quants min(127, round(iscale * x)) to nearest even, d = 1 / iscale as a float.
  for (int64_t b = 0; b < k / 256; ++b) {
    ASSERT_EQ(qk[b].d, qk_ref[b].d);
    float max = 0;
    for (int j = 0; j < 256; ++j) {
      if (std::fabs(x[256 * b + j]) > std::fabs(max)) max = x[256 * b + j];
    }
    const float iscale = max == 0 ? 0.0f : -127.0f / max;
    EXPECT_EQ(qk[b].d, max == 0 ? 0.0f : 1.0f / iscale);
    for (int j = 0; j < 256; ++j) {
      ASSERT_EQ(qk[b].qs[j], qk_ref[b].qs[j]);
      EXPECT_EQ(qk[b].qs[j], std::min(127.0f, std::nearbyint(iscale * x[256 * b + j])));
      EXPECT_LE(std::fabs(qk[b].d * qk[b].qs[j] - x[256 * b + j]),
                std::fabs(qk[b].d) * 0.5f + 1e-6f);
    }
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += qk[b].qs[16 * g + j];
      ASSERT_EQ(qk[b].bsums[g], sum);
    }
  }
}

// Each direct dot kernel against the scalar one on the same quantized activations, for every
// token count a tile can have.
TEST_P(DequantizeTest, DotKernelsMatchScalar) {
  std::mt19937 rng(13);
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  for (TensorType type : AllWeightTypes()) {
    const int slot = static_cast<int>(type);
    if (table().dot[slot] == nullptr) continue;
    for (int64_t k : {256, 512, 2304}) {
      if (gguf::TraitsOf(type).block_size == 1) k += 13;  // float rows: odd tails
      auto w = RandomWeights(rng, type, 1, k);
      auto x = testing::RandomFloats(rng, internal::kMaxTokens * k);
      std::vector<uint8_t> act;
      size_t stride = k * sizeof(float);
      switch (internal::ActFormatFor(type)) {
        case internal::ActFormat::kF32:
          act.assign(reinterpret_cast<uint8_t*>(x.data()),
                     reinterpret_cast<uint8_t*>(x.data() + x.size()));
          break;
        case internal::ActFormat::kQ8:
          stride = (k / 32) * sizeof(internal::ActQ8);
          act.resize(stride * internal::kMaxTokens);
          for (int t = 0; t < internal::kMaxTokens; ++t) {
            scalar.quantize_q8(&x[t * k], reinterpret_cast<internal::ActQ8*>(&act[t * stride]), k);
          }
          break;
        case internal::ActFormat::kQ8K:
          stride = (k / 256) * sizeof(gguf::BlockQ8_K);
          act.resize(stride * internal::kMaxTokens);
          for (int t = 0; t < internal::kMaxTokens; ++t) {
            scalar.quantize_q8k(&x[t * k], reinterpret_cast<gguf::BlockQ8_K*>(&act[t * stride]),
                                k);
          }
          break;
      }
      for (int nt = 1; nt <= internal::kMaxTokens; ++nt) {
        float got[internal::kMaxTokens], want[internal::kMaxTokens];
        table().dot[slot](k, w.data(), act.data(), stride, nt, got);
        scalar.dot[slot](k, w.data(), act.data(), stride, nt, want);
        for (int t = 0; t < nt; ++t) {
          EXPECT_NEAR(got[t], want[t], 1e-4 * (std::fabs(want[t]) + 1))
              << gguf::TraitsOf(type).name << " k=" << k << " nt=" << nt << " t=" << t;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, DequantizeTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

}  // namespace
}  // namespace hearth::kernels
