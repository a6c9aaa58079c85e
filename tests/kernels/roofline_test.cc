// The ceilings `hearth bench roofline` reports are measured, finite and labelled with the
// instruction they used. (Their size depends on the machine and its load: no figure is asserted.)
#include "hearth/kernels/roofline.h"

#include <gtest/gtest.h>

#include <cmath>

#include "hearth/kernels/cpu_features.h"

namespace hearth::kernels {
namespace {

TEST(RooflineTest, EveryCeilingThisCpuCanRunIsMeasured) {
  RooflineOptions options;
  options.threads = 1;
  options.triad_bytes_per_array = 8u << 20;
  options.repetitions = 1;
  const Roofline r = MeasureRoofline(options);
  EXPECT_EQ(r.threads, 1);
  EXPECT_TRUE(std::isfinite(r.triad_gb_per_s));
  EXPECT_GT(r.triad_gb_per_s, 0);
  const CpuFeatures cpu = DetectCpuFeatures();
  if (!cpu.avx2) GTEST_SKIP() << "no AVX2: the compute ceilings are not measured";
  EXPECT_GT(r.fma_gflops, 0);
  EXPECT_GT(r.int8_gops, 0);
  EXPECT_FALSE(r.int8_instruction.empty());
  if (cpu.avx512f && cpu.avx512_vnni) {
    EXPECT_EQ(r.int8_instruction, "avx512-vnni");
    EXPECT_EQ(r.int8_block_gops, 0);  // measured for the AVX2 kernels only
  } else if (cpu.fma) {
    EXPECT_EQ(r.int8_instruction, "avx2-maddubs");
    EXPECT_GT(r.int8_block_gops, 0);
    EXPECT_TRUE(std::isfinite(r.int8_block_gops));
  }
}

}  // namespace
}  // namespace hearth::kernels
