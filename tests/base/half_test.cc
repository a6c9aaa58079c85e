#include "hearth/base/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace hearth {
namespace {

// Independent reference: the value an fp16 bit pattern denotes, from its fields.
double Fp16Value(uint16_t h) {
  int sign = (h >> 15) ? -1 : 1;
  int exponent = (h >> 10) & 0x1f;
  int mantissa = h & 0x3ff;
  if (exponent == 0x1f) {
    return mantissa ? std::numeric_limits<double>::quiet_NaN()
                    : sign * std::numeric_limits<double>::infinity();
  }
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

TEST(HalfTest, EveryFp16DecodesToItsValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    double expected = Fp16Value(static_cast<uint16_t>(h));
    float got = Fp16ToFp32(static_cast<uint16_t>(h));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(static_cast<double>(got), expected) << "bits " << h;
    }
  }
}

TEST(HalfTest, EveryFp16RoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = Fp16ToFp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(Fp32ToFp16(f), h) << "bits " << h;
  }
}

TEST(HalfTest, RoundsToNearestFp16) {
  // For values between consecutive fp16 numbers, the result must be the nearer one (even on tie).
  for (uint32_t h = 0; h < 0x7bff; h += 7) {
    double lo = Fp16Value(static_cast<uint16_t>(h));
    double hi = Fp16Value(static_cast<uint16_t>(h + 1));
    for (double t : {0.25, 0.5, 0.75}) {
      float x = static_cast<float>(lo + (hi - lo) * t);
      uint16_t got = Fp32ToFp16(x);
      double dlo = std::abs(x - lo), dhi = std::abs(hi - x);
      uint16_t want = dlo < dhi ? h : dhi < dlo ? h + 1 : ((h & 1) ? h + 1 : h);
      ASSERT_EQ(got, want) << "between bits " << h << " and " << h + 1 << " at " << t;
    }
  }
  EXPECT_EQ(Fp32ToFp16(1e6f), 0x7c00);    // overflow to +inf
  EXPECT_EQ(Fp32ToFp16(-1e6f), 0xfc00);   // and -inf
  EXPECT_EQ(Fp32ToFp16(1e-10f), 0x0000);  // underflow to zero
  EXPECT_EQ(Fp32ToFp16(65504.f), 0x7bff);
}

TEST(HalfTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(Bf16ToFp32(Fp32ToBf16(1.0f)), 1.0f);
  EXPECT_EQ(Bf16ToFp32(Fp32ToBf16(-2.5f)), -2.5f);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(Bf16ToFp32(Fp32ToBf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(Bf16ToFp32(Fp32ToBf16(1.0f + 3 * std::ldexp(1.0f, -9))), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(Bf16ToFp32(Fp32ToBf16(std::nanf("")))));
}

}  // namespace
}  // namespace hearth
