// The AVX2 Q5_0 dot kernels (one row and two rows, 1..kMaxTokens tokens) against a scalar
// emulation of the arithmetic they promise: per block, eight 32-bit lanes each holding the exact
// integer dot of four consecutive weights (q = 5-bit value - 16) with their activations, one
// fused multiply-add per lane by fl(d_w * d_a), then the fixed horizontal reduction. Results
// must be bit-identical: the Q5_0 panel GEMM and the reference logits of the model tests depend
// on this order, whichever way the kernel computes the integer dots.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::BlockQ5_0;
using gguf::TensorType;
using internal::ActQ8;
using internal::kMaxTokens;

// The 32 signed quants of a Q5_0 block in weight order: weight i's low four bits are the low
// (i < 16) or high (i >= 16) nibble of qs[i % 16], its fifth bit is bit i of qh.
void BlockQuants(const BlockQ5_0& block, int q[32]) {
  uint32_t high;
  std::memcpy(&high, block.qh, 4);
  for (int i = 0; i < 32; ++i) {
    const int nibble = i < 16 ? block.qs[i] & 0xF : block.qs[i - 16] >> 4;
    q[i] = (nibble | static_cast<int>(((high >> i) & 1) << 4)) - 16;
  }
}

float EmulatedLaneOrderDot(const BlockQ5_0* row, const ActQ8* act, int64_t k) {
  float lanes[8] = {};
  for (int64_t b = 0; b < k / 32; ++b) {
    int q[32];
    BlockQuants(row[b], q);
    const float scale = Fp16ToFp32(row[b].d) * act[b].d;
    for (int lane = 0; lane < 8; ++lane) {
      int dot = 0;
      for (int i = 4 * lane; i < 4 * lane + 4; ++i) dot += q[i] * act[b].qs[i];
      lanes[lane] = std::fma(scale, static_cast<float>(dot), lanes[lane]);
    }
  }
  // 256-bit halves added lane-wise, then lanes (0 + 2) + (1 + 3), then the "+ 0" of the kernels.
  float quad[4];
  for (int i = 0; i < 4; ++i) quad[i] = lanes[i] + lanes[i + 4];
  return ((quad[0] + quad[2]) + (quad[1] + quad[3])) + 0.0f;
}

TEST(Q5_0LaneOrderTest, DotKernelsAreBitIdenticalToTheLaneOrderEmulation) {
  HEARTH_REQUIRE_ISA(IsaLevel::kAvx2);
  const auto& table = *internal::KernelsFor(IsaLevel::kAvx2);
  const int slot = static_cast<int>(TensorType::kQ5_0);
  ASSERT_NE(table.dot[slot], nullptr);
  ASSERT_NE(table.dot2[slot], nullptr);
  std::mt19937 rng(55);
  // Odd block counts and one block exercise the loop ends; 896 and 4864 are qwen2.5-0.5b's.
  for (int64_t k : {32, 96, 224, 896, 4864}) {
    constexpr int kRows = 3;  // so a pair can start at an odd row
    auto w = testing::RandomWeights(rng, TensorType::kQ5_0, kRows, k);
    const size_t row_bytes = *gguf::RowBytes(TensorType::kQ5_0, k);
    // Extreme activations too: full-scale +-127 blocks stress the 16-bit intermediate sums.
    auto x = testing::RandomFloats(rng, kMaxTokens * k);
    for (int64_t i = 0; i < k; ++i) x[static_cast<size_t>(i)] = (i % 3 == 0) ? -1.0f : 1.0f;
    const size_t stride = (k / 32) * sizeof(ActQ8);
    std::vector<uint8_t> act(stride * kMaxTokens);
    for (int t = 0; t < kMaxTokens; ++t) {
      table.quantize_q8(&x[t * k], reinterpret_cast<ActQ8*>(&act[t * stride]), k);
    }
    auto row = [&](int r) { return reinterpret_cast<const BlockQ5_0*>(&w[r * row_bytes]); };
    auto act_row = [&](int t) { return reinterpret_cast<const ActQ8*>(&act[t * stride]); };
    for (int nt = 1; nt <= kMaxTokens; ++nt) {
      for (int r = 0; r < kRows; ++r) {
        float got[kMaxTokens];
        table.dot[slot](k, row(r), act.data(), stride, nt, got);
        for (int t = 0; t < nt; ++t) {
          EXPECT_EQ(got[t], EmulatedLaneOrderDot(row(r), act_row(t), k))
              << "dot k=" << k << " nt=" << nt << " row " << r << " token " << t;
        }
      }
      for (int first : {0, 1}) {
        float got[2 * kMaxTokens];
        table.dot2[slot](k, row(first), row_bytes, act.data(), stride, nt, got);
        for (int r = 0; r < 2; ++r) {
          for (int t = 0; t < nt; ++t) {
            EXPECT_EQ(got[r * kMaxTokens + t], EmulatedLaneOrderDot(row(first + r), act_row(t), k))
                << "dot2 k=" << k << " nt=" << nt << " row " << first + r << " token " << t;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace hearth::kernels
