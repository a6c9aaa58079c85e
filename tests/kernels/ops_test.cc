// Row operations and rope at every level against direct double-precision formulas.
#include "hearth/kernels/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using testing::RandomFloats;

class OpsTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override {
    HEARTH_REQUIRE_ISA(GetParam());
    ASSERT_TRUE(SetIsaLevel(GetParam()).ok());
  }
  testing::ScopedIsaLevel restore_;
};

constexpr int64_t kSizes[] = {1, 7, 8, 31, 64, 257, 4099};

TEST_P(OpsTest, RmsNorm) {
  std::mt19937 rng(1);
  for (int64_t n : kSizes) {
    auto x = RandomFloats(rng, n, 2.0f);
    auto w = RandomFloats(rng, n);
    std::vector<float> out(n), out_plain(n);
    RmsNorm(x.data(), w.data(), n, 1e-5f, out.data());
    RmsNorm(x.data(), nullptr, n, 1e-5f, out_plain.data());
    double ss = 0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(out[i], x[i] * inv * w[i], 1e-5 * (std::fabs(x[i] * inv * w[i]) + 1e-3));
      ASSERT_NEAR(out_plain[i], x[i] * inv, 1e-5 * (std::fabs(x[i] * inv) + 1e-3));
    }
  }
}

TEST_P(OpsTest, SoftmaxIsStableAndNormalized) {
  std::mt19937 rng(2);
  for (int64_t n : kSizes) {
    auto x = RandomFloats(rng, n, 10.0f);
    x[0] = 1000.0f;  // would overflow a naive exp
    auto ref = x;
    Softmax(x.data(), n);
    double m = -INFINITY, sum = 0;
    for (float v : ref) m = std::max(m, static_cast<double>(v));
    for (float v : ref) sum += std::exp(v - m);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(x[i], std::exp(ref[i] - m) / sum, 2e-6) << "n=" << n << " i=" << i;
      total += x[i];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST_P(OpsTest, SiluMulAddScaleDot) {
  std::mt19937 rng(3);
  for (int64_t n : kSizes) {
    auto g = RandomFloats(rng, n, 4.0f);
    auto u = RandomFloats(rng, n);
    g[0] = -100.0f;  // exp overflow territory for silu's exp(-g)
    std::vector<float> out(n), sum(n);
    SiluMul(g.data(), u.data(), n, out.data());
    Add(g.data(), u.data(), n, sum.data());
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double silu = g[i] / (1.0 + std::exp(-static_cast<double>(g[i])));
      ASSERT_NEAR(out[i], silu * u[i], 1e-6 * (std::fabs(silu * u[i]) + 1e-3)) << g[i];
      ASSERT_EQ(sum[i], g[i] + u[i]);
      dot += static_cast<double>(g[i]) * u[i];
    }
    EXPECT_NEAR(Dot(g.data(), u.data(), n), dot, 1e-5 * n);
    auto scaled = u;
    Scale(scaled.data(), n, -0.5f);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(scaled[i], u[i] * -0.5f);
  }
}

TEST_P(OpsTest, HalfConversionsMatchReference) {
  std::mt19937 rng(4);
  for (int64_t n : kSizes) {
    auto x = RandomFloats(rng, n, 100.0f);
    if (n > 4) {
      x[1] = 1e-7f;  // subnormal in half
      x[2] = 70000.0f;  // overflows to inf
      x[3] = -0.0f;
    }
    std::vector<uint16_t> h(n);
    std::vector<float> back(n);
    F32ToF16Row(x.data(), h.data(), n);
    F16ToF32Row(h.data(), back.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(h[i], Fp32ToFp16(x[i])) << x[i];
      ASSERT_EQ(back[i], Fp16ToFp32(h[i]));
    }
  }
}

double DirectInvFreq(const RopeConfig& c, int64_t i, int64_t rot) {
  const double freq = 1.0 / std::pow(c.freq_base, static_cast<double>(2 * i) / rot);
  if (c.scaling == RopeScaling::kLinear) return freq / c.scaling_factor;
  if (c.scaling != RopeScaling::kLlama3) return freq;
  const double wavelen = 2 * std::numbers::pi / freq;
  if (wavelen < c.original_context / c.high_freq_factor) return freq;
  if (wavelen > c.original_context / c.low_freq_factor) return freq / c.scaling_factor;
  const double smooth = (c.original_context / wavelen - c.low_freq_factor) /
                        (c.high_freq_factor - c.low_freq_factor);
  return (1 - smooth) * freq / c.scaling_factor + smooth * freq;
}

TEST_P(OpsTest, RopeMatchesDirectRotation) {
  std::mt19937 rng(5);
  std::vector<RopeConfig> configs;
  configs.push_back({64, 0, 10000.0, RopeMode::kNormal});
  configs.push_back({64, 0, 1000000.0, RopeMode::kNeox});
  configs.push_back({80, 32, 10000.0, RopeMode::kNeox});  // partial rotary
  RopeConfig linear{64, 0, 10000.0, RopeMode::kNormal, RopeScaling::kLinear, 4.0};
  configs.push_back(linear);
  RopeConfig llama3{128, 0, 500000.0, RopeMode::kNormal, RopeScaling::kLlama3, 8.0, 1.0, 4.0,
                    8192};
  configs.push_back(llama3);
  for (const RopeConfig& config : configs) {
    auto table = RopeTable::Make(config, 64);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    const int64_t d = config.head_dim;
    const int64_t rot = config.rotary_dims == 0 ? d : config.rotary_dims;
    const int64_t heads = 3, stride = d + 5;
    for (int64_t pos : {0, 1, 17, 63, 64, 5000}) {  // in and beyond the table
      auto x = RandomFloats(rng, heads * stride);
      auto y = x;
      table->Apply(y.data(), heads, stride, pos);
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t i = 0; i < rot / 2; ++i) {
          const int64_t a = config.mode == RopeMode::kNeox ? i : 2 * i;
          const int64_t b = config.mode == RopeMode::kNeox ? i + rot / 2 : 2 * i + 1;
          const double theta = pos * DirectInvFreq(config, i, rot);
          const double x0 = x[h * stride + a], x1 = x[h * stride + b];
          ASSERT_NEAR(y[h * stride + a], x0 * std::cos(theta) - x1 * std::sin(theta), 2e-5);
          ASSERT_NEAR(y[h * stride + b], x0 * std::sin(theta) + x1 * std::cos(theta), 2e-5);
        }
        for (int64_t j = rot; j < stride; ++j) ASSERT_EQ(y[h * stride + j], x[h * stride + j]);
      }
    }
  }
}

TEST(RopeTest, Llama3ScalingKeepsHighAndStretchesLowFrequencies) {
  RopeConfig c{128, 0, 500000.0, RopeMode::kNormal, RopeScaling::kLlama3, 8.0, 1.0, 4.0, 8192};
  auto table = RopeTable::Make(c, 0);
  ASSERT_TRUE(table.ok());
  const auto& f = table->inv_freq();
  EXPECT_DOUBLE_EQ(f[0], 1.0);  // wavelength 2π, far below 8192/4
  EXPECT_NEAR(f.back(), std::pow(500000.0, -126.0 / 128) / 8.0, 1e-12);
}

TEST(RopeTest, RejectsBadConfigs) {
  EXPECT_FALSE(RopeTable::Make({64, 63, 10000.0}, 1).ok());
  EXPECT_FALSE(RopeTable::Make({64, 128, 10000.0}, 1).ok());
  EXPECT_FALSE(RopeTable::Make({0, 0, 10000.0}, 1).ok());
  EXPECT_FALSE(RopeTable::Make({64, 0, -1.0}, 1).ok());
  RopeConfig bad{64, 0, 10000.0, RopeMode::kNormal, RopeScaling::kLlama3, 8.0, 4.0, 1.0, 8192};
  EXPECT_FALSE(RopeTable::Make(bad, 1).ok());
}

INSTANTIATE_TEST_SUITE_P(Levels, OpsTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

TEST(CpuFeaturesTest, LevelsParseAndReport) {
  EXPECT_EQ(*ParseIsaLevel("AVX2"), IsaLevel::kAvx2);
  EXPECT_EQ(*ParseIsaLevel("scalar"), IsaLevel::kScalar);
  EXPECT_FALSE(ParseIsaLevel("sse9").ok());
  EXPECT_TRUE(IsaLevelSupported(IsaLevel::kScalar));
  const CpuFeatures f = DetectCpuFeatures();
  EXPECT_EQ(IsaLevelSupported(IsaLevel::kAvx2), f.avx2 && f.fma && f.f16c);
  EXPECT_FALSE(f.ToString().empty());
}

TEST(CpuFeaturesTest, SetIsaLevelRefusesUnsupportedLevels) {
  testing::ScopedIsaLevel restore;
  for (IsaLevel level : testing::AllLevels()) {
    const Status status = SetIsaLevel(level);
    EXPECT_EQ(status.ok(), IsaLevelSupported(level));
    if (status.ok()) {
      EXPECT_EQ(ActiveIsaLevel(), level);
    }
  }
}

// HEARTH_CPU caps the level chosen at start-up; checked in a fresh process.
TEST(CpuFeaturesTest, EnvironmentForcesScalar) {
  if (!::testing::internal::GetArgvs().empty()) {
    const std::string self = ::testing::internal::GetArgvs()[0];
    const std::string cmd = "HEARTH_CPU=scalar " + self +
                            " --gtest_filter=CpuFeaturesTest.ReportActiveLevel 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[256];
    while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
    pclose(pipe);
    EXPECT_NE(output.find("active level: scalar"), std::string::npos) << output;
  }
}

TEST(CpuFeaturesTest, ReportActiveLevel) {
  std::printf("active level: %s\n", std::string(IsaLevelName(ActiveIsaLevel())).c_str());
}

}  // namespace
}  // namespace hearth::kernels
