// The blocked panel GEMM (KernelTable::panel_*) that MatMul uses for many tokens: it must give
// every (row, token) exactly what the level's one-row dot kernel gives on the same quantized
// activations (so a prompt token's logits do not depend on the batch it came in), and stay
// within float rounding of the scalar reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hearth/kernels/matmul.h"
#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;
using internal::ActQ8;
using internal::kPanelRows;
using internal::kPanelTokens;

class PanelGemmTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override { HEARTH_REQUIRE_ISA(GetParam()); }
  const internal::KernelTable& table() const { return *internal::KernelsFor(GetParam()); }
};

TEST_P(PanelGemmTest, TilesMatchTheDotKernelExactly) {
  if (table().panel_gemm == nullptr) GTEST_SKIP() << "no panel kernels at this level";
  std::mt19937 rng(51);
  const auto& scalar = *internal::KernelsFor(IsaLevel::kScalar);
  int checked_types = 0;
  for (TensorType type : testing::AllWeightTypes()) {
    const int slot = static_cast<int>(type);
    const auto pack_rows = table().panel_pack_rows[slot];
    if (pack_rows == nullptr) continue;
    ASSERT_EQ(internal::ActFormatFor(type), internal::ActFormat::kQ8);
    ++checked_types;
    // 1, 3, 8, 9 and 28 blocks: scale groups full, partial and split.
    for (int64_t k : {32, 96, 256, 288, 896}) {
      const int64_t nb = k / 32;
      const size_t row_bytes = *gguf::RowBytes(type, k);
      auto w = testing::RandomWeights(rng, type, kPanelRows, k);
      auto x = testing::RandomFloats(rng, kPanelTokens * k);
      std::vector<ActQ8> act(kPanelTokens * nb);
      for (int t = 0; t < kPanelTokens; ++t) {
        table().quantize_q8(&x[t * k], &act[t * nb], k);
      }
      const size_t s_stride = static_cast<size_t>(internal::PanelScalesPerRow(k));
      std::vector<int8_t> w_panel(kPanelRows * k), a_panel(kPanelTokens * k);
      std::vector<float> w_scales(kPanelRows * s_stride, -1.0f);
      std::vector<float> a_scales(kPanelTokens * s_stride, -1.0f);
      for (int r = 0; r < kPanelRows; ++r) {
        pack_rows(&w[r * row_bytes], k, w_panel.data(), kPanelRows, r, &w_scales[r * s_stride]);
      }
      for (int t = 0; t < kPanelTokens; ++t) {
        table().panel_pack_act(&act[t * nb], k, a_panel.data(), kPanelTokens, t,
                               &a_scales[t * s_stride]);
      }
      // Padding scales are zero: a padded member adds nothing to a real one.
      for (int64_t b = nb; b < static_cast<int64_t>(s_stride); ++b) {
        ASSERT_EQ(w_scales[b], 0.0f);
        ASSERT_EQ(a_scales[b], 0.0f);
      }
      for (int nr = 1; nr <= kPanelRows; ++nr) {
        for (int nt = 1; nt <= kPanelTokens; ++nt) {
          const int64_t ldy = kPanelRows + 3;
          std::vector<float> y(kPanelTokens * ldy, -7.0f);
          table().panel_gemm(k, w_panel.data(), w_scales.data(), a_panel.data(), a_scales.data(),
                             s_stride, nr, nt, y.data(), ldy);
          for (int r = 0; r < kPanelRows; ++r) {
            float direct[internal::kMaxTokens], reference[internal::kMaxTokens];
            table().dot[slot](k, &w[r * row_bytes], act.data(), nb * sizeof(ActQ8), nt, direct);
            scalar.dot[slot](k, &w[r * row_bytes], act.data(), nb * sizeof(ActQ8), nt,
                             reference);
            for (int t = 0; t < kPanelTokens; ++t) {
              const float got = y[t * ldy + r];
              if (r >= nr || t >= nt) {
                EXPECT_EQ(got, -7.0f) << "wrote outside the " << nr << " x " << nt << " tile";
                continue;
              }
              EXPECT_EQ(got, direct[t]) << gguf::TraitsOf(type).name << " k=" << k << " r=" << r
                                        << " t=" << t;
              EXPECT_NEAR(got, reference[t], 1e-4 * (std::fabs(reference[t]) + 1));
            }
          }
        }
      }
    }
  }
  EXPECT_GE(checked_types, 2) << "Q8_0 and Q5_0 have panel kernels";
}

// Through MatMul: a prompt-sized call (panel path, several row blocks and token panels, odd
// counts of both, two threads) gives each token bit for bit what a one-token call gives.
TEST_P(PanelGemmTest, MatMulOfManyTokensEqualsOneTokenAtATime) {
  testing::ScopedIsaLevel restore;
  ASSERT_TRUE(SetIsaLevel(GetParam()).ok());
  std::mt19937 rng(61);
  ThreadPool pool(2);
  for (TensorType type : {TensorType::kQ8_0, TensorType::kQ5_0, TensorType::kQ4_0}) {
    for (auto [n, k, m] : {std::tuple<int64_t, int64_t, int64_t>{133, 96, 11},
                           {7, 288, 5},
                           {64, 32, 9},
                           {130, 896, 6}}) {
      auto data = testing::RandomWeights(rng, type, n, k);
      auto w = *WeightView::Make(type, data.data(), n, k);
      auto x = testing::RandomFloats(rng, m * k);
      std::vector<float> batched(m * n);
      MatMul(w, x.data(), m, batched.data(), pool);
      for (int64_t t = 0; t < m; ++t) {
        std::vector<float> single(n);
        MatMul(w, &x[t * k], 1, single.data(), pool);
        for (int64_t r = 0; r < n; ++r) {
          ASSERT_EQ(batched[t * n + r], single[r])
              << gguf::TraitsOf(type).name << " n=" << n << " k=" << k << " m=" << m
              << " token " << t << " row " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, PanelGemmTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

}  // namespace
}  // namespace hearth::kernels
