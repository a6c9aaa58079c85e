// Attention against a naive double-precision softmax(q·k * scale) v over the same (stored) K/V,
// with grouped-query heads and a paged cache whose pages are scattered in memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "hearth/base/half.h"
#include "hearth/kernels/matmul.h"
#include "hearth/kernels/ops.h"
#include "kernels/kernel_test_util.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;

// A paged cache for one layer: pages allocated separately, in shuffled order.
struct PagedCache {
  std::vector<std::unique_ptr<uint8_t[]>> pages;
  std::vector<const void*> k_blocks, v_blocks;
  KvView view;
};

PagedCache BuildCache(TensorType type, int64_t n_tokens, int n_kv_heads, int64_t head_dim,
                      int64_t block_tokens, const std::vector<float>& k,
                      const std::vector<float>& v, std::mt19937& rng) {
  PagedCache cache;
  const size_t head_bytes = *KvHeadBytes(type, head_dim);
  const size_t token_stride = head_bytes * n_kv_heads + 8;  // padding between rows
  const int64_t n_blocks = (n_tokens + block_tokens - 1) / block_tokens;
  std::vector<int64_t> order(2 * n_blocks);
  for (int64_t i = 0; i < 2 * n_blocks; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  cache.pages.resize(2 * n_blocks);
  for (int64_t i : order) cache.pages[i].reset(new uint8_t[token_stride * block_tokens]());
  for (int64_t b = 0; b < n_blocks; ++b) {
    cache.k_blocks.push_back(cache.pages[2 * b].get());
    cache.v_blocks.push_back(cache.pages[2 * b + 1].get());
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int h = 0; h < n_kv_heads; ++h) {
      const size_t offset = (t % block_tokens) * token_stride + h * head_bytes;
      const size_t src = (t * n_kv_heads + h) * head_dim;
      StoreKvRow(type, &k[src], head_dim, cache.pages[2 * (t / block_tokens)].get() + offset);
      StoreKvRow(type, &v[src], head_dim, cache.pages[2 * (t / block_tokens) + 1].get() + offset);
    }
  }
  cache.view = KvView{type,         cache.k_blocks.data(), cache.v_blocks.data(), block_tokens,
                      token_stride, head_bytes,            head_dim};
  return cache;
}

// Reads one stored row back through the scalar dequantizer (the reference sees exactly the
// values the cache holds, so only the attention arithmetic is under test).
std::vector<double> StoredRow(const KvView& kv, const void* const* blocks, int h, int64_t t) {
  const auto* row = static_cast<const uint8_t*>(blocks[t / kv.block_tokens]) +
                    (t % kv.block_tokens) * kv.token_stride + h * kv.head_stride;
  std::vector<float> f(kv.head_dim);
  internal::KernelsFor(IsaLevel::kScalar)->dequantize[static_cast<int>(kv.type)](row, f.data(),
                                                                                 kv.head_dim);
  return {f.begin(), f.end()};
}

// With an F16 cache the query and the probabilities are rounded to F16 (the reference engine's
// F16 products); everything else in double.
double HalfIf(bool half, double v) {
  return half ? Fp16ToFp32(Fp32ToFp16(static_cast<float>(v))) : v;
}

std::vector<double> NaiveAttention(const float* q, const KvView& kv, int h, int64_t n,
                                   double scale) {
  const bool half = kv.type == TensorType::kF16;
  std::vector<double> scores(n);
  double m = -INFINITY;
  for (int64_t t = 0; t < n; ++t) {
    auto k = StoredRow(kv, kv.k_blocks, h, t);
    double s = 0;
    for (int64_t d = 0; d < kv.head_dim; ++d) s += HalfIf(half, q[d]) * k[d];
    scores[t] = s * scale;
    m = std::max(m, scores[t]);
  }
  double sum = 0;
  for (auto& s : scores) sum += (s = std::exp(s - m));
  std::vector<double> out(kv.head_dim, 0.0);
  for (int64_t t = 0; t < n; ++t) {
    auto v = StoredRow(kv, kv.v_blocks, h, t);
    const double p = HalfIf(half, scores[t] / sum);
    for (int64_t d = 0; d < kv.head_dim; ++d) out[d] += p * v[d];
  }
  return out;
}

class AttentionTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  void SetUp() override {
    HEARTH_REQUIRE_ISA(GetParam());
    ASSERT_TRUE(SetIsaLevel(GetParam()).ok());
  }
  testing::ScopedIsaLevel restore_;
};

TEST_P(AttentionTest, MatchesNaiveSoftmaxWithGqaAndPages) {
  std::mt19937 rng(17);
  ThreadPool pool(3);
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kQ8_0}) {
    for (int64_t block_tokens : {1, 5, 16, 200}) {
      const int n_heads = 6, n_kv_heads = 2;  // groups of 3 query heads
      const int64_t head_dim = 64, n_tokens = 71, m = 4;
      auto k = testing::RandomFloats(rng, n_tokens * n_kv_heads * head_dim);
      auto v = testing::RandomFloats(rng, n_tokens * n_kv_heads * head_dim);
      auto q = testing::RandomFloats(rng, m * n_heads * head_dim, 0.5f);
      q[3] = 40.0f;  // a sharp distribution: scores far apart
      PagedCache cache = BuildCache(type, n_tokens, n_kv_heads, head_dim, block_tokens, k, v, rng);
      const int64_t n_ctx[m] = {1, 33, 64, 71};  // causal prefixes, partial tiles
      const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
      const int64_t ldq = n_heads * head_dim + 3;
      std::vector<float> q_strided(m * ldq, 0.0f), out(m * ldq, -1.0f);
      for (int64_t i = 0; i < m; ++i) {
        std::copy_n(&q[i * n_heads * head_dim], n_heads * head_dim, &q_strided[i * ldq]);
      }
      Attention(q_strided.data(), m, ldq, n_ctx, n_heads, n_kv_heads, cache.view, scale,
                out.data(), ldq, pool);
      for (int64_t i = 0; i < m; ++i) {
        for (int h = 0; h < n_heads; ++h) {
          const float* qh = &q_strided[i * ldq + h * head_dim];
          auto ref = NaiveAttention(qh, cache.view, h / (n_heads / n_kv_heads), n_ctx[i], scale);
          for (int64_t d = 0; d < head_dim; ++d) {
            // F16: the kernel's float probability may round to the neighbouring F16 value.
            ASSERT_NEAR(out[i * ldq + h * head_dim + d], ref[d],
                        type == TensorType::kF16 ? 2e-4 : 2e-5)
                << gguf::TraitsOf(type).name << " block_tokens=" << block_tokens << " query "
                << i << " head " << h << " dim " << d;
          }
        }
        EXPECT_EQ(out[i * ldq + n_heads * head_dim], -1.0f) << "wrote past the heads";
      }
    }
  }
}

TEST_P(AttentionTest, SingleTokenReturnsItsValue) {
  std::mt19937 rng(4);
  const int64_t head_dim = 32;
  auto k = testing::RandomFloats(rng, head_dim);
  auto v = testing::RandomFloats(rng, head_dim);
  auto q = testing::RandomFloats(rng, head_dim);
  PagedCache cache = BuildCache(TensorType::kF32, 1, 1, head_dim, 4, k, v, rng);
  std::vector<float> out(head_dim);
  AttendOneQuery(q.data(), 1, cache.view, 0, 1, 0.1f, out.data());
  for (int64_t d = 0; d < head_dim; ++d) EXPECT_NEAR(out[d], v[d], 1e-6);
}

TEST(KvHeadBytesTest, ValidatesTypeAndDims) {
  EXPECT_EQ(*KvHeadBytes(TensorType::kF16, 64), 128u);
  EXPECT_EQ(*KvHeadBytes(TensorType::kQ8_0, 64), 2 * sizeof(gguf::BlockQ8_0));
  EXPECT_FALSE(KvHeadBytes(TensorType::kQ8_0, 48).ok());
  EXPECT_FALSE(KvHeadBytes(TensorType::kQ4_K, 256).ok());
  EXPECT_FALSE(KvHeadBytes(TensorType::kF16, 0).ok());
}

INSTANTIATE_TEST_SUITE_P(Levels, AttentionTest, ::testing::ValuesIn(testing::AllLevels()),
                         testing::LevelParamName);

}  // namespace
}  // namespace hearth::kernels
