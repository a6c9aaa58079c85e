// The tile kernels attention uses (KernelTable::dot_rows, accumulate_rows) at every level
// against double-precision sums, for head sizes with and without vector tails and every tile
// length.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

class AttentionRowsTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override { HEARTH_REQUIRE_ISA(GetParam()); }
  const internal::KernelTable& table() const { return *internal::KernelsFor(GetParam()); }
};

TEST_P(AttentionRowsTest, DotRowsAndAccumulateRowsMatchDoubleSums) {
  std::mt19937 rng(41);
  for (int64_t d : {1, 7, 8, 32, 45, 64, 128}) {
    for (int64_t n : {1, 2, 5, 32}) {
      auto q = testing::RandomFloats(rng, d);
      auto rows = testing::RandomFloats(rng, n * d);
      auto p = testing::RandomFloats(rng, n);
      auto start = testing::RandomFloats(rng, d);

      std::vector<float> dots(n + 1, -3.0f);
      table().dot_rows(q.data(), rows.data(), n, d, dots.data());
      for (int64_t j = 0; j < n; ++j) {
        double want = 0, mag = 0;
        for (int64_t i = 0; i < d; ++i) {
          want += static_cast<double>(q[i]) * rows[j * d + i];
          mag += std::fabs(static_cast<double>(q[i]) * rows[j * d + i]);
        }
        EXPECT_NEAR(dots[j], want, 1e-6 * mag + 1e-7) << "d=" << d << " n=" << n << " row " << j;
      }
      EXPECT_EQ(dots[n], -3.0f) << "wrote past n outputs";

      std::vector<float> out = start;
      out.push_back(-5.0f);
      table().accumulate_rows(p.data(), rows.data(), n, d, out.data());
      for (int64_t i = 0; i < d; ++i) {
        double want = start[i], mag = std::fabs(start[i]);
        for (int64_t j = 0; j < n; ++j) {
          want += static_cast<double>(p[j]) * rows[j * d + i];
          mag += std::fabs(static_cast<double>(p[j]) * rows[j * d + i]);
        }
        EXPECT_NEAR(out[i], want, 1e-6 * mag + 1e-7) << "d=" << d << " n=" << n << " dim " << i;
      }
      EXPECT_EQ(out[d], -5.0f) << "wrote past d outputs";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, AttentionRowsTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

}  // namespace
}  // namespace hearth::kernels
