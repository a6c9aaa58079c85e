// UnpackKScales (all eight Q4_K/Q5_K sub-block scales and mins at once, as the AVX2 K-quant
// kernels read them) against UnpackKScale, the one-at-a-time definition of the packing.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "hearth/kernels/dispatch.h"

namespace hearth::kernels {
namespace {

TEST(KScalesTest, UnpackKScalesMatchesUnpackKScaleForEverySubBlock) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 20000; ++trial) {
    uint8_t packed[12];
    for (uint8_t& b : packed) b = static_cast<uint8_t>(byte(rng));
    if (trial < 256) std::memset(packed, trial, sizeof(packed));  // every uniform pattern too
    uint64_t scales_word, mins_word;
    internal::UnpackKScales(packed, &scales_word, &mins_word);
    uint8_t scales[8], mins[8];
    std::memcpy(scales, &scales_word, 8);
    std::memcpy(mins, &mins_word, 8);
    for (int j = 0; j < 8; ++j) {
      uint8_t scale, min;
      internal::UnpackKScale(packed, j, &scale, &min);
      ASSERT_EQ(scales[j], scale) << "sub-block " << j << " trial " << trial;
      ASSERT_EQ(mins[j], min) << "sub-block " << j << " trial " << trial;
    }
  }
}

}  // namespace
}  // namespace hearth::kernels
