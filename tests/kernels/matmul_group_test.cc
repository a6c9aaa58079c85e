// MatMulGroup (several matrices over one input in one pool round trip) must give every matrix
// bit for bit what a MatMul of its own gives: for the fused decode path (few tokens, matching
// activation formats, mixed weight types), for the fused panel path (many tokens, Q8_0/Q5_0)
// and for the fallbacks (mixed formats, F32).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hearth/kernels/matmul.h"
#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;

class MatMulGroupTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override { HEARTH_REQUIRE_ISA(GetParam()); }
};

TEST_P(MatMulGroupTest, EachMatrixEqualsItsOwnMatMul) {
  testing::ScopedIsaLevel restore;
  ASSERT_TRUE(SetIsaLevel(GetParam()).ok());
  std::mt19937 rng(71);
  ThreadPool pool(2);
  const int64_t k = 256;
  // Q5_0 + Q8_0 (a Q4_K_M attention block), Q4_K + Q6_K (both Q8_K activations), a mixed
  // group that cannot share activations, and F32 (no quantization at all).
  const std::vector<std::vector<TensorType>> groups = {
      {TensorType::kQ5_0, TensorType::kQ5_0, TensorType::kQ8_0},
      {TensorType::kQ4_K, TensorType::kQ6_K},
      {TensorType::kQ8_0, TensorType::kQ4_K},
      {TensorType::kF32, TensorType::kF32}};
  const std::vector<int64_t> rows = {67, 16, 5};
  for (const auto& types : groups) {
    std::vector<std::vector<uint8_t>> data;
    std::vector<WeightView> views;
    for (size_t j = 0; j < types.size(); ++j) {
      const int64_t n = rows[j % rows.size()];
      data.push_back(testing::RandomWeights(rng, types[j], n, k));
      views.push_back(*WeightView::Make(types[j], data.back().data(), n, k));
    }
    for (int64_t m : {1, 2, 4, 6, 9}) {
      auto x = testing::RandomFloats(rng, m * k);
      std::vector<std::vector<float>> grouped(types.size());
      std::vector<MatMulTarget> targets;
      for (size_t j = 0; j < types.size(); ++j) {
        grouped[j].assign(m * views[j].rows, -7.0f);
        targets.push_back({&views[j], grouped[j].data()});
      }
      MatMulGroup(targets, x.data(), m, pool);
      for (size_t j = 0; j < types.size(); ++j) {
        std::vector<float> alone(m * views[j].rows);
        MatMul(views[j], x.data(), m, alone.data(), pool);
        for (size_t i = 0; i < alone.size(); ++i) {
          ASSERT_EQ(grouped[j][i], alone[i]) << gguf::TraitsOf(types[j]).name << " matrix " << j
                                             << " m=" << m << " element " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, MatMulGroupTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

}  // namespace
}  // namespace hearth::kernels
