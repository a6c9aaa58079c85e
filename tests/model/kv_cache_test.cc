#include "hearth/model/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

namespace hearth::model {
namespace {

KvCacheGeometry Geometry(gguf::TensorType type) {
  KvCacheGeometry g;
  g.layers = 3;
  g.kv_heads = 2;
  g.head_dim = 64;
  g.block_tokens = 16;
  g.type = type;
  return g;
}

TEST(KvCacheTest, GeometryBytes) {
  EXPECT_EQ(Geometry(gguf::TensorType::kF16).RowBytes(), 2u * 64 * 2);
  EXPECT_EQ(Geometry(gguf::TensorType::kF32).RowBytes(), 2u * 64 * 4);
  EXPECT_EQ(Geometry(gguf::TensorType::kQ8_0).RowBytes(), 2u * 2 * 34);  // 2 blocks per head
  const KvCacheGeometry g = Geometry(gguf::TensorType::kF16);
  EXPECT_EQ(g.BytesPerToken(), g.RowBytes() * 2 * 3);
  EXPECT_EQ(g.BytesPerBlock(), g.BytesPerToken() * 16);
}

TEST(KvCacheTest, AllocatesWholeBlocksWithinBudget) {
  const KvCacheGeometry g = Geometry(gguf::TensorType::kF16);
  auto kv = KvCacheStorage::Create(g, g.BytesPerBlock() * 10 + g.BytesPerBlock() / 2, 4);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  EXPECT_EQ((*kv)->num_blocks(), 10);
  EXPECT_EQ((*kv)->bytes(), g.BytesPerBlock() * 10);

  auto small = KvCacheStorage::Create(g, g.BytesPerBlock() * 3, 4);
  EXPECT_EQ(small.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(small.status().message().find("need at least 4"), std::string::npos)
      << small.status().message();
}

TEST(KvCacheTest, RejectsBadGeometry) {
  KvCacheGeometry g = Geometry(gguf::TensorType::kQ8_0);
  g.head_dim = 48;  // Q8_0 blocks of 32 would straddle heads
  EXPECT_EQ(KvCacheStorage::Create(g, 1 << 24, 1).status().code(),
            StatusCode::kInvalidArgument);
  g = Geometry(gguf::TensorType::kQ4_0);
  EXPECT_EQ(KvCacheStorage::Create(g, 1 << 24, 1).status().code(),
            StatusCode::kInvalidArgument);
  g = Geometry(gguf::TensorType::kF16);
  g.block_tokens = 0;
  EXPECT_EQ(KvCacheStorage::Create(g, 1 << 24, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(KvCacheTest, RegionsAreDisjointAndCopyBlockCopiesEveryLayer) {
  const KvCacheGeometry g = Geometry(gguf::TensorType::kF16);
  auto kv = KvCacheStorage::Create(g, g.BytesPerBlock() * 4, 4);
  ASSERT_TRUE(kv.ok());
  KvCacheStorage& s = **kv;
  const size_t region = g.RowBytes() * static_cast<size_t>(g.block_tokens);
  // Every (layer, block, K/V) region is distinct, aligned to rows and inside the allocation.
  std::set<const uint8_t*> starts;
  const uint8_t* base = s.KeyBlock(0, 0);
  for (int64_t b = 0; b < 4; ++b) {
    for (int l = 0; l < g.layers; ++l) {
      for (const uint8_t* p : {s.KeyBlock(l, b), s.ValueBlock(l, b)}) {
        EXPECT_TRUE(starts.insert(p).second);
        EXPECT_EQ(static_cast<size_t>(p - base) % region, 0u);
        EXPECT_LE(static_cast<uint64_t>(p - base) + region, s.bytes());
      }
    }
  }
  // Fill block 1 with a pattern per (layer, K/V), copy to block 3.
  for (int l = 0; l < g.layers; ++l) {
    std::memset(s.KeyBlock(l, 1), 0x10 + l, region);
    std::memset(s.ValueBlock(l, 1), 0x20 + l, region);
    std::memset(s.KeyBlock(l, 3), 0, region);
    std::memset(s.ValueBlock(l, 3), 0, region);
    std::memset(s.KeyBlock(l, 2), 0x7f, region);
  }
  s.CopyBlock(1, 3);
  for (int l = 0; l < g.layers; ++l) {
    EXPECT_EQ(std::memcmp(s.KeyBlock(l, 3), s.KeyBlock(l, 1), region), 0) << l;
    EXPECT_EQ(std::memcmp(s.ValueBlock(l, 3), s.ValueBlock(l, 1), region), 0) << l;
    EXPECT_EQ(s.KeyBlock(l, 2)[0], 0x7f);  // neighbours untouched
  }
}

}  // namespace
}  // namespace hearth::model
