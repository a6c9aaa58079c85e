// Round-trip, exactness and bit-layout tests of the scalar quantizers and dequantizers.
//
// The layout reference here is a per-weight decoder written straight from the byte offsets of
// the GGUF block formats (no structs, no block loops), run against random blocks so that every
// bit of every field is exercised. fixture_dequant_test.cc checks the same decoders against
// files written by llama.cpp.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "hearth/base/half.h"
#include "hearth/gguf/quantize.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::gguf {
namespace {

constexpr TensorType kStorageTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ8_0,
    TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
    TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
    TensorType::kQ6_K,
};

std::string Name(TensorType type) { return std::string(TraitsOf(type).name); }

double NormalizedRmsError(const std::vector<float>& actual, const std::vector<float>& expected) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double d = static_cast<double>(actual[i]) - expected[i];
    diff += d * d;
    norm += static_cast<double>(expected[i]) * expected[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

std::vector<uint8_t> Quantize(TensorType type, const std::vector<float>& x,
                              const float* importance = nullptr) {
  const auto bytes = RowBytes(type, static_cast<int64_t>(x.size()));
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  std::vector<uint8_t> out(bytes.value_or(0));
  const Status status =
      QuantizeRow(type, x.data(), out.data(), static_cast<int64_t>(x.size()), importance);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

std::vector<float> Dequantize(TensorType type, const std::vector<uint8_t>& packed, size_t n) {
  std::vector<float> out(n);
  DequantizeRow(type, packed.data(), out.data(), static_cast<int64_t>(n));
  return out;
}

std::vector<float> RoundTrip(TensorType type, const std::vector<float>& x,
                             const float* importance = nullptr) {
  return Dequantize(type, Quantize(type, x, importance), x.size());
}

enum class Distribution { kNormal, kUniform, kNormalWithOutliers };

std::vector<float> RandomRow(Distribution distribution, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    switch (distribution) {
      case Distribution::kNormal: x[i] = normal(rng); break;
      case Distribution::kUniform: x[i] = uniform(rng); break;
      case Distribution::kNormalWithOutliers:
        // About one weight in 64 is ten times larger than the rest, as in real LLM weights.
        x[i] = normal(rng) * (rng() % 64 == 0 ? 10.0f : 1.0f);
        break;
    }
  }
  return x;
}

// Round-trip normalized RMS error bounds per type, for normal or uniform rows and for rows with
// outliers (which waste levels of the blocks that hold them). Each bound is the largest error
// measured over the rows of RoundTripErrorIsWithinBound (in brackets) plus about 25%.
struct ErrorBound {
  TensorType type;
  double regular;   // normal and uniform rows
  double outliers;  // normal rows with 1/64 of the weights 10x larger
};
constexpr ErrorBound kRoundTripBounds[] = {
    {TensorType::kF32, 0, 0},
    {TensorType::kF16, 3e-4, 3e-4},        // [2.1e-4, 2.4e-4]
    {TensorType::kBF16, 2.5e-3, 2.5e-3},   // [1.7e-3, 1.6e-3]
    {TensorType::kQ8_0, 0.008, 0.013},     // [0.0062, 0.0104]
    {TensorType::kQ6_K, 0.023, 0.039},     // [0.0178, 0.0310]
    {TensorType::kQ5_0, 0.06, 0.103},      // [0.0478, 0.0821]
    {TensorType::kQ5_1, 0.05, 0.067},      // [0.0403, 0.0538]
    {TensorType::kQ5_K, 0.047, 0.063},     // [0.0373, 0.0505]
    {TensorType::kQ4_0, 0.125, 0.213},     // [0.0996, 0.1701]
    {TensorType::kQ4_1, 0.106, 0.144},     // [0.0849, 0.1155]
    {TensorType::kQ4_K, 0.099, 0.135},     // [0.0791, 0.1081]
    {TensorType::kQ3_K, 0.193, 0.237},     // [0.1544, 0.1893]
    {TensorType::kQ2_K, 0.36, 0.36},       // [0.2874, 0.2825]
};

// ---- Per-weight reference decoder, from the byte offsets of each block format. ----

float HalfAt(const uint8_t* p) { return Fp16ToFp32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

// Weight i (0 <= i < block size) of the block at `b`.
float SpecDecode(TensorType type, const uint8_t* b, int i) {
  switch (type) {
    case TensorType::kQ4_0:  // d | 16 bytes: weight i in the low nibble of byte i, i+16 in the high
      return HalfAt(b) * static_cast<float>(((b[2 + i % 16] >> (4 * (i / 16))) & 0xf) - 8);
    case TensorType::kQ4_1:  // d | m | 16 bytes of nibbles
      return HalfAt(b) * static_cast<float>((b[4 + i % 16] >> (4 * (i / 16))) & 0xf) +
             HalfAt(b + 2);
    case TensorType::kQ5_0:
    case TensorType::kQ5_1: {  // d [| m] | 32-bit little-endian high bits | nibbles
      const int qh = type == TensorType::kQ5_0 ? 2 : 4;
      const int high = (b[qh + i / 8] >> (i % 8)) & 1;
      const int level = ((b[qh + 4 + i % 16] >> (4 * (i / 16))) & 0xf) | high << 4;
      return type == TensorType::kQ5_0 ? HalfAt(b) * static_cast<float>(level - 16)
                                       : HalfAt(b) * static_cast<float>(level) + HalfAt(b + 2);
    }
    case TensorType::kQ8_0:  // d | 32 int8
      return HalfAt(b) * static_cast<float>(static_cast<int8_t>(b[2 + i]));
    case TensorType::kQ8_1:  // d | s | 32 int8
      return HalfAt(b) * static_cast<float>(static_cast<int8_t>(b[4 + i]));
    case TensorType::kQ2_K: {  // 16 scale bytes | 64 bytes of 2-bit levels | d | dmin
      const int sc = b[i / 16];
      const int level = (b[16 + (i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 3;
      return HalfAt(b + 80) * static_cast<float>(sc & 0xf) * static_cast<float>(level) -
             HalfAt(b + 82) * static_cast<float>(sc >> 4);
    }
    case TensorType::kQ3_K: {  // 32 hmask bytes | 64 bytes of 2-bit levels | 12 scale bytes | d
      const int s = i / 16;
      const int low_nibble = s < 8 ? b[96 + s] & 0xf : b[96 + s - 8] >> 4;
      const int top = (b[96 + 8 + s % 4] >> (2 * (s / 4))) & 3;
      const int scale = (low_nibble | top << 4) - 32;
      const int low = (b[32 + (i / 128) * 32 + i % 32] >> (2 * ((i % 128) / 32))) & 3;
      const int high = (b[i % 32] >> (i / 32)) & 1;
      return HalfAt(b + 108) * static_cast<float>(scale) *
             static_cast<float>(low - (high ? 0 : 4));
    }
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: {  // d | dmin | 12 scale bytes | [32 qh bytes |] 128 nibble bytes
      const uint8_t* s = b + 4;
      const int j = i / 32;
      const int scale = j < 4 ? s[j] & 63 : (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
      const int min = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4;
      const int nibbles = type == TensorType::kQ4_K ? 16 : 48;
      int level = (b[nibbles + (i / 64) * 32 + i % 32] >> (4 * (j % 2))) & 0xf;
      if (type == TensorType::kQ5_K) level |= ((b[16 + i % 32] >> (i / 32)) & 1) << 4;
      return HalfAt(b) * static_cast<float>(scale) * static_cast<float>(level) -
             HalfAt(b + 2) * static_cast<float>(min);
    }
    case TensorType::kQ6_K: {  // 128 ql bytes | 64 qh bytes | 16 int8 scales | d
      const int half = i / 128, quarter = (i % 128) / 32, l = i % 32;
      const int low = (b[64 * half + 32 * (quarter % 2) + l] >> (4 * (quarter / 2))) & 0xf;
      const int high = (b[128 + 32 * half + l] >> (2 * quarter)) & 3;
      return HalfAt(b + 208) * static_cast<float>(static_cast<int8_t>(b[192 + i / 16])) *
             static_cast<float>((low | high << 4) - 32);
    }
    case TensorType::kQ8_K: {  // float d | 256 int8 | 16 int16 sums
      float d;
      std::memcpy(&d, b, sizeof(d));
      return d * static_cast<float>(static_cast<int8_t>(b[4 + i]));
    }
    default: return std::numeric_limits<float>::quiet_NaN();
  }
}

// Byte offsets of the fp16 scale fields of each block, overwritten with finite values so that
// random blocks decode to finite weights.
std::vector<int> HalfFields(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0: case TensorType::kQ5_0: case TensorType::kQ8_0: return {0};
    case TensorType::kQ4_1: case TensorType::kQ5_1: case TensorType::kQ8_1: return {0, 2};
    case TensorType::kQ2_K: return {80, 82};
    case TensorType::kQ3_K: return {108};
    case TensorType::kQ4_K: case TensorType::kQ5_K: return {0, 2};
    case TensorType::kQ6_K: return {208};
    default: return {};
  }
}

TEST(QuantizeTest, DequantizationMatchesPerWeightSpecDecoderOnRandomBlocks) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (const TensorType type :
       {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
        TensorType::kQ8_0, TensorType::kQ8_1, TensorType::kQ2_K, TensorType::kQ3_K,
        TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_K}) {
    const auto& traits = TraitsOf(type);
    constexpr int kBlocks = 64;
    std::vector<uint8_t> bytes(static_cast<size_t>(traits.block_bytes) * kBlocks);
    for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
    for (int blk = 0; blk < kBlocks; ++blk) {
      uint8_t* block = bytes.data() + blk * traits.block_bytes;
      for (const int offset : HalfFields(type)) {
        const uint16_t h = Fp32ToFp16(scale(rng));
        block[offset] = static_cast<uint8_t>(h);
        block[offset + 1] = static_cast<uint8_t>(h >> 8);
      }
      if (type == TensorType::kQ8_K) {
        const float d = scale(rng);
        std::memcpy(block, &d, sizeof(d));
      }
    }
    const size_t n = static_cast<size_t>(traits.block_size) * kBlocks;
    const auto decoded = Dequantize(type, bytes, n);
    for (size_t w = 0; w < n; ++w) {
      const float expected = SpecDecode(
          type, bytes.data() + (w / traits.block_size) * traits.block_bytes,
          static_cast<int>(w % traits.block_size));
      // The same products in the same order, up to contraction into fused multiply-adds.
      ASSERT_NEAR(decoded[w], expected, 1e-5f * (1 + std::fabs(expected)))
          << Name(type) << " weight " << w;
    }
  }
}

TEST(QuantizeTest, RoundTripErrorIsWithinBound) {
  for (const ErrorBound& bound : kRoundTripBounds) {
    const TensorType type = bound.type;
    const int block = TraitsOf(type).block_size;
    for (const int blocks : {1, 3, 16}) {
      const size_t n = static_cast<size_t>(std::max(block, 256) * blocks);
      for (const Distribution distribution :
           {Distribution::kNormal, Distribution::kUniform, Distribution::kNormalWithOutliers}) {
        const auto x = RandomRow(distribution, n, static_cast<uint32_t>(n) + 7);
        const double error = NormalizedRmsError(RoundTrip(type, x), x);
        EXPECT_LE(error, distribution == Distribution::kNormalWithOutliers ? bound.outliers
                                                                           : bound.regular)
            << Name(type) << " n=" << n << " distribution " << static_cast<int>(distribution);
        // Every format except F32 loses something on random data: an error of exactly zero
        // would mean the round trip never ran through the format.
        if (type != TensorType::kF32) {
          EXPECT_GT(error, 0) << Name(type);
        }
      }
    }
  }
}

TEST(QuantizeTest, SymmetricBlockQuantizersStayWithinOneStepPerWeight) {
  // Q8_0 rounds every weight to the nearest of its levels: off by at most half a step.
  // Q4_0/Q5_0 put the extreme weight at level -8/-16, so a weight
  // of the opposite sign near the extreme is clamped to level 7/15: off by at most one step.
  const auto x = RandomRow(Distribution::kUniform, 1024, 3);
  struct Case {
    TensorType type;
    int extreme_level;
    float max_steps;
  };
  for (const Case& c : {Case{TensorType::kQ8_0, 127, 0.5f}, Case{TensorType::kQ4_0, 8, 1.0f},
                        Case{TensorType::kQ5_0, 16, 1.0f}}) {
    const auto y = RoundTrip(c.type, x);
    double worst_steps = 0;
    for (size_t b = 0; b < x.size(); b += 32) {
      float amax = 0;
      for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
      const float step = amax / static_cast<float>(c.extreme_level);
      for (size_t i = b; i < b + 32; ++i) {
        // The scale is stored as fp16 (relative error up to 2^-11), which moves level L by up to
        // L * 2^-11 steps.
        const float fp16_slack = static_cast<float>(c.extreme_level) / 2048;
        ASSERT_LE(std::fabs(y[i] - x[i]), (c.max_steps + fp16_slack) * step * 1.001f)
            << Name(c.type) << " weight " << i;
        worst_steps = std::max(worst_steps, static_cast<double>(std::fabs(y[i] - x[i]) / step));
      }
    }
    // Uniform data does get close to the bound: the bound is not vacuous.
    EXPECT_GT(worst_steps, 0.45 * c.max_steps) << Name(c.type);
  }
}

TEST(QuantizeTest, F16DequantizationMatchesTheScalarConversionForEveryValue) {
  std::vector<uint16_t> all(65536);
  for (uint32_t h = 0; h < 65536; ++h) all[h] = static_cast<uint16_t>(h);
  std::vector<float> out(all.size());
  DequantizeRow(TensorType::kF16, all.data(), out.data(), static_cast<int64_t>(all.size()));
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(std::bit_cast<uint32_t>(out[h]),
              std::bit_cast<uint32_t>(Fp16ToFp32(static_cast<uint16_t>(h))))
        << "half 0x" << std::hex << h;
  }
}

TEST(QuantizeTest, HalfFormatsRoundTripEveryRepresentableValueExactly) {
  for (const TensorType type : {TensorType::kF16, TensorType::kBF16}) {
    std::vector<uint16_t> all(65536);
    for (uint32_t h = 0; h < 65536; ++h) all[h] = static_cast<uint16_t>(h);
    std::vector<float> values(all.size());
    DequantizeRow(type, all.data(), values.data(), static_cast<int64_t>(all.size()));
    std::vector<uint16_t> again(all.size());
    ASSERT_TRUE(
        QuantizeRow(type, values.data(), again.data(), static_cast<int64_t>(values.size())).ok());
    for (uint32_t h = 0; h < 65536; ++h) {
      if (std::isnan(values[h])) {
        // NaNs stay NaN (a signalling NaN may come back quiet).
        std::vector<float> back(1);
        DequantizeRow(type, &again[h], back.data(), 1);
        ASSERT_TRUE(std::isnan(back[0])) << Name(type) << " 0x" << std::hex << h;
      } else {
        ASSERT_EQ(again[h], all[h]) << Name(type) << " 0x" << std::hex << h;
      }
    }
  }
}

TEST(QuantizeTest, F32RoundTripIsTheIdentity) {
  auto x = RandomRow(Distribution::kNormalWithOutliers, 100, 5);
  x[0] = std::numeric_limits<float>::infinity();
  x[1] = -0.0f;
  x[2] = std::numeric_limits<float>::denorm_min();
  const auto y = RoundTrip(TensorType::kF32, x);
  ASSERT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
}

TEST(QuantizeTest, SymmetricFormatsReproduceTheirOwnOutputExactly) {
  // Requantizing dequantized Q8_0/Q4_0/Q5_0 data recovers the same scale (the extreme weight is
  // exactly scale * extreme level) and therefore the same levels and bytes.
  for (const TensorType type : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ5_0}) {
    for (const Distribution distribution :
         {Distribution::kNormal, Distribution::kUniform, Distribution::kNormalWithOutliers}) {
      const auto x = RandomRow(distribution, 2048, 11);
      const auto packed = Quantize(type, x);
      const auto y = Dequantize(type, packed, x.size());
      const auto repacked = Quantize(type, y);
      EXPECT_EQ(packed, repacked) << Name(type);
      EXPECT_EQ(Dequantize(type, repacked, x.size()), y) << Name(type);
    }
  }
}

TEST(QuantizeTest, RequantizingDequantizedDataLosesLittle) {
  // The other formats search or fit their scales, so requantizing need not be bit-exact, but
  // data already on a grid of the format must come back far closer than fresh data does
  // (measured: exactly for all but Q4_K and Q5_K, at under 3% of the first error for those).
  for (const TensorType type : {TensorType::kQ4_1, TensorType::kQ5_1, TensorType::kQ2_K,
                                TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                                TensorType::kQ6_K}) {
    const auto x = RandomRow(Distribution::kNormal, 2048, 13);
    const auto y = RoundTrip(type, x);
    const double first = NormalizedRmsError(y, x);
    const double second = NormalizedRmsError(RoundTrip(type, y), y);
    EXPECT_LE(second, 0.05 * first) << Name(type);
  }
}

TEST(QuantizeTest, ZeroRowsStayZero) {
  for (const TensorType type : kStorageTypes) {
    const int n = std::max(TraitsOf(type).block_size, 256) * 2;
    const std::vector<float> zeros(n, 0.0f);
    const auto y = RoundTrip(type, zeros);
    for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.0f) << Name(type) << " weight " << i;
  }
}

TEST(QuantizeTest, ConstantRowsComeBackAlmostExactly) {
  for (const TensorType type : kStorageTypes) {
    const int n = std::max(TraitsOf(type).block_size, 256) * 2;
    for (const float c : {0.37f, -1.25f, 0.02f, -3e-4f}) {
      const std::vector<float> x(n, c);
      const auto y = RoundTrip(type, x);
      // Limited by the fp16 scales (BF16: by its 8 mantissa bits). The scales of rows this
      // small are fp16 subnormals (Q8_0: below 7.8e-3; Q6_K: below 0.25), which are coarser.
      const bool subnormal_scales = std::fabs(c) < 0.25f && TraitsOf(type).quantized;
      const float relative =
          type == TensorType::kBF16 ? 4e-3f : subnormal_scales ? 2e-2f : 1e-3f;
      for (int i = 0; i < n; ++i) {
        ASSERT_NEAR(y[i], c, std::fabs(c) * relative)
            << Name(type) << " weight " << i << " of " << c;
      }
    }
  }
}

TEST(QuantizeTest, QuantizingTwiceGivesIdenticalBytes) {
  const auto x = RandomRow(Distribution::kNormalWithOutliers, 1024, 17);
  std::vector<float> importance(x.size());
  for (size_t i = 0; i < x.size(); ++i) importance[i] = 0.5f + x[i] * x[i] * 100;
  for (const TensorType type : kStorageTypes) {
    EXPECT_EQ(Quantize(type, x), Quantize(type, x)) << Name(type);
    EXPECT_EQ(Quantize(type, x, importance.data()), Quantize(type, x, importance.data()))
        << Name(type);
  }
}

TEST(QuantizeTest, ImportanceLowersTheErrorWhereItIsLarge) {
  // Give the first weight of every group of 4 a thousand times the importance of the others.
  const auto x = RandomRow(Distribution::kNormal, 4096, 19);
  std::vector<float> importance(x.size());
  for (size_t i = 0; i < x.size(); ++i) importance[i] = i % 4 == 0 ? 1000.0f : 1.0f;
  const auto weighted_error = [&](const std::vector<float>& y) {
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) sum += importance[i] * (y[i] - x[i]) * (y[i] - x[i]);
    return sum;
  };
  for (const TensorType type : {TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K,
                                TensorType::kQ5_K, TensorType::kQ6_K}) {
    const double plain = weighted_error(RoundTrip(type, x));
    const double guided = weighted_error(RoundTrip(type, x, importance.data()));
    EXPECT_LT(guided, 0.9 * plain) << Name(type);
  }
}

TEST(QuantizeTest, RejectsRowsThatAreNotWholeBlocks) {
  for (const TensorType type : kStorageTypes) {
    const int block = TraitsOf(type).block_size;
    if (block == 1) continue;
    for (const int n : {block - 1, block + 1, block + block / 2}) {
      std::vector<float> x(n, 0.5f);
      std::vector<uint8_t> out(static_cast<size_t>(TraitsOf(type).block_bytes) * 2);
      const Status status = QuantizeRow(type, x.data(), out.data(), n);
      EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << Name(type) << " n=" << n;
      EXPECT_NE(status.message().find(Name(type)), std::string::npos) << status.message();
    }
  }
}

TEST(QuantizeTest, RejectsActivationOnlyTypes) {
  EXPECT_FALSE(CanQuantizeTo(TensorType::kQ8_K));
  EXPECT_FALSE(CanQuantizeTo(TensorType::kQ8_1));
  for (const TensorType type : kStorageTypes) EXPECT_TRUE(CanQuantizeTo(type)) << Name(type);
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(1024);
  EXPECT_EQ(QuantizeRow(TensorType::kQ8_K, x.data(), out.data(), 256).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(QuantizeRow(TensorType::kQ8_1, x.data(), out.data(), 256).code(),
            StatusCode::kInvalidArgument);
}

TEST(QuantizeTest, RejectsWeightsThatNoFp16ScaleCanHold) {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(), 1e6f, -7e4f}) {
    for (const TensorType type : kStorageTypes) {
      if (!TraitsOf(type).quantized) continue;
      std::vector<float> x(256, 0.25f);
      x[77] = bad;
      std::vector<uint8_t> out(RowBytes(type, 256).value());
      const Status status = QuantizeRow(type, x.data(), out.data(), 256);
      EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << Name(type) << " " << bad;
      EXPECT_NE(status.message().find("weight 77"), std::string::npos) << status.message();
    }
  }
  // The float formats store such values as they are.
  std::vector<float> x(4, std::numeric_limits<float>::infinity());
  std::vector<uint16_t> out(4);
  EXPECT_TRUE(QuantizeRow(TensorType::kF16, x.data(), out.data(), 4).ok());
}

TEST(QuantizeTest, RejectsNegativeOrNonFiniteImportance) {
  std::vector<float> x(256, 0.25f);
  std::vector<uint8_t> out(RowBytes(TensorType::kQ4_K, 256).value());
  for (const float bad : {-1.0f, std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity()}) {
    std::vector<float> importance(256, 1.0f);
    importance[9] = bad;
    const Status status =
        QuantizeRow(TensorType::kQ4_K, x.data(), out.data(), 256, importance.data());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("importance 9"), std::string::npos) << status.message();
  }
}

TEST(QuantizeTest, EmptyRowsAreNoOps) {
  std::vector<float> out(4, 7.0f);
  std::vector<uint8_t> packed(4, 0);
  for (const TensorType type : kStorageTypes) {
    DequantizeRow(type, packed.data(), out.data(), 0);
    DequantizeRow(type, packed.data(), out.data(), -32);
    EXPECT_TRUE(QuantizeRow(type, out.data(), packed.data(), 0).ok()) << Name(type);
    EXPECT_EQ(QuantizeRow(type, out.data(), packed.data(), -32).code(),
              StatusCode::kInvalidArgument)
        << Name(type);
  }
  EXPECT_EQ(out, std::vector<float>(4, 7.0f));
  EXPECT_EQ(packed, std::vector<uint8_t>(4, 0));
}

TEST(QuantizeTest, DequantizingAPartialBlockMarksTheTailInvalid) {
  const auto x = RandomRow(Distribution::kNormal, 32, 23);
  const auto packed = Quantize(TensorType::kQ8_0, x);
  std::vector<float> out(40, 1.0f);
  DequantizeRow(TensorType::kQ8_0, packed.data(), out.data(), 40);
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 32),
            Dequantize(TensorType::kQ8_0, packed, 32));
  for (int i = 32; i < 40; ++i) EXPECT_TRUE(std::isnan(out[i])) << i;
}

}  // namespace
}  // namespace hearth::gguf
