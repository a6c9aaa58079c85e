#include "hearth/engine/kv_block_pool.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

namespace hearth::engine {
namespace {

constexpr int kBt = 4;  // tokens per block

std::vector<int32_t> Range(int32_t begin, int32_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), begin);
  return v;
}

// Allocates and registers blocks for all full blocks of `tokens`, as a sequence would after
// computing them; returns its block table (references held).
std::vector<BlockId> ComputeAndRegister(KvBlockPool& pool, const std::vector<int32_t>& tokens) {
  std::vector<BlockId> table;
  uint64_t parent = KvBlockPool::kRootContent;
  const size_t full = tokens.size() / kBt;
  for (size_t i = 0; i < full; ++i) {
    auto b = pool.Allocate();
    EXPECT_TRUE(b.has_value());
    auto reg = pool.Register(
        *b, parent, std::span<const int32_t>(tokens).subspan(i * kBt, kBt));
    table.push_back(reg.block);
    parent = reg.content_id;
  }
  return table;
}

void ReleaseAll(KvBlockPool& pool, const std::vector<BlockId>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) pool.Release(*it);
}

TEST(KvBlockPoolTest, AllocateAndFreeAccounting) {
  KvBlockPool pool(5, kBt);
  EXPECT_EQ(pool.free_blocks(), 5);
  std::set<BlockId> got;
  for (int i = 0; i < 5; ++i) {
    auto b = pool.Allocate();
    ASSERT_TRUE(b.has_value());
    EXPECT_TRUE(got.insert(*b).second) << "block handed out twice";
    EXPECT_GE(*b, 0);
    EXPECT_LT(*b, 5);
  }
  EXPECT_EQ(pool.used_blocks(), 5);
  EXPECT_FALSE(pool.Allocate().has_value());
  for (BlockId b : got) pool.Release(b);
  EXPECT_EQ(pool.free_blocks(), 5);
  EXPECT_EQ(pool.cached_blocks(), 0);
  EXPECT_THROW(pool.Release(0), std::logic_error);  // a double free is a bug, loudly
}

TEST(KvBlockPoolTest, IdenticalPrefixesShareBlocks) {
  KvBlockPool pool(10, kBt);
  std::vector<int32_t> prompt = Range(100, 10);  // 2 full blocks + 2 tokens
  auto first = ComputeAndRegister(pool, prompt);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(pool.used_blocks(), 2);

  auto match = pool.MatchPrefix(prompt, 100);
  EXPECT_EQ(match, first);
  for (BlockId b : match) pool.Acquire(b);
  EXPECT_EQ(pool.ref_count(first[0]), 2);
  EXPECT_EQ(pool.used_blocks(), 2);  // shared, not copied

  // A prompt diverging in its second block shares only the first.
  std::vector<int32_t> other = prompt;
  other[5] = 7;
  EXPECT_EQ(pool.MatchPrefix(other, 100), std::vector<BlockId>{first[0]});
  // A prompt diverging in its first block shares nothing, even with an equal second block.
  std::vector<int32_t> third = prompt;
  third[0] = 7;
  EXPECT_TRUE(pool.MatchPrefix(third, 100).empty());
  // max_blocks caps the match.
  EXPECT_EQ(pool.MatchPrefix(prompt, 1).size(), 1u);

  ReleaseAll(pool, match);
  ReleaseAll(pool, first);
  EXPECT_EQ(pool.used_blocks(), 0);
  EXPECT_EQ(pool.cached_blocks(), 2);
  EXPECT_EQ(pool.available_blocks(), 10);
  // Cached blocks are still found and revived by Acquire.
  auto again = pool.MatchPrefix(prompt, 100);
  EXPECT_EQ(again, first);
  EXPECT_EQ(pool.CountCached(again), 2);
  for (BlockId b : again) pool.Acquire(b);
  EXPECT_EQ(pool.cached_blocks(), 0);
  EXPECT_EQ(pool.used_blocks(), 2);
  ReleaseAll(pool, again);
}

TEST(KvBlockPoolTest, DuplicateRegistrationMovesReferenceToExistingBlock) {
  KvBlockPool pool(6, kBt);
  std::vector<int32_t> tokens = Range(1, 4);
  auto a = pool.Allocate();
  auto b = pool.Allocate();
  auto ra = pool.Register(*a, KvBlockPool::kRootContent, tokens);
  EXPECT_EQ(ra.block, *a);
  // A second sequence computed the same block concurrently: it is switched to the first copy.
  auto rb = pool.Register(*b, KvBlockPool::kRootContent, tokens);
  EXPECT_EQ(rb.block, *a);
  EXPECT_EQ(rb.content_id, ra.content_id);
  EXPECT_EQ(pool.ref_count(*a), 2);
  EXPECT_EQ(pool.free_blocks(), 5);  // *b went back to the free list
  pool.Release(*a);
  pool.Release(*a);
  EXPECT_EQ(pool.cached_blocks(), 1);
}

TEST(KvBlockPoolTest, FreeBlocksGoFirstThenLeastRecentlyUsedCachedBlock) {
  KvBlockPool pool(4, kBt);
  auto a = ComputeAndRegister(pool, Range(0, 4));
  auto b = ComputeAndRegister(pool, Range(10, 4));
  auto c = ComputeAndRegister(pool, Range(20, 4));
  ReleaseAll(pool, b);  // released first: least recently used
  ReleaseAll(pool, a);
  ReleaseAll(pool, c);
  EXPECT_EQ(pool.cached_blocks(), 3);
  EXPECT_EQ(pool.free_blocks(), 1);

  // Touching b (a cache hit) makes it the most recently used.
  auto hit = pool.MatchPrefix(Range(10, 4), 1);
  ASSERT_EQ(hit, b);
  pool.Acquire(hit[0]);
  pool.Release(hit[0]);

  auto x = pool.Allocate();  // the free block, no eviction
  EXPECT_EQ(pool.evictions(), 0u);
  auto y = pool.Allocate();  // evicts a (LRU order is now a, c, b)
  EXPECT_EQ(*y, a[0]);
  EXPECT_EQ(pool.evictions(), 1u);
  EXPECT_TRUE(pool.MatchPrefix(Range(0, 4), 1).empty());
  EXPECT_EQ(pool.MatchPrefix(Range(20, 4), 1), c);
  auto z = pool.Allocate();  // evicts c
  EXPECT_EQ(*z, c[0]);
  EXPECT_EQ(pool.MatchPrefix(Range(10, 4), 1), b);
  pool.Release(*x);
  pool.Release(*y);
  pool.Release(*z);
  EXPECT_EQ(pool.available_blocks(), 4);
}

TEST(KvBlockPoolTest, HashCollisionsAreResolvedByComparingTokens) {
  // Every block hashes to the same value: correctness must come from the comparisons.
  KvBlockPool pool(16, kBt, [](uint64_t, std::span<const int32_t>) { return uint64_t{42}; });
  std::vector<int32_t> p1 = Range(0, 8);
  std::vector<int32_t> p2 = Range(50, 8);
  std::vector<int32_t> p3 = {0, 1, 2, 3, 50, 51, 52, 53};  // p1's first block, p2's second
  auto t1 = ComputeAndRegister(pool, p1);
  auto t2 = ComputeAndRegister(pool, p2);
  EXPECT_EQ(pool.MatchPrefix(p1, 100), t1);
  EXPECT_EQ(pool.MatchPrefix(p2, 100), t2);
  // p3's second block has p2's second block's tokens but a different parent: not a match.
  EXPECT_EQ(pool.MatchPrefix(p3, 100), std::vector<BlockId>{t1[0]});
  std::vector<int32_t> unknown = Range(200, 4);
  EXPECT_TRUE(pool.MatchPrefix(unknown, 100).empty());
  ReleaseAll(pool, t1);
  ReleaseAll(pool, t2);
}

TEST(KvBlockPoolTest, RecycledBlockIdIsNotMistakenForItsOldPrefix) {
  // Parent P is evicted and its block id reused for a different root block Q; P's cached child
  // must not become reachable through Q even though it records the same block id as parent.
  KvBlockPool pool(2, kBt);
  std::vector<int32_t> prefix = Range(0, 8);
  auto t = ComputeAndRegister(pool, prefix);  // blocks {0: P, 1: child}
  pool.Release(t[0]);                         // P first: LRU order P, child
  pool.Release(t[1]);
  auto q = pool.Allocate();                   // evicts P
  ASSERT_EQ(*q, t[0]);
  std::vector<int32_t> q_tokens = Range(90, 4);
  auto reg = pool.Register(*q, KvBlockPool::kRootContent, q_tokens);
  std::vector<int32_t> probe = q_tokens;
  probe.insert(probe.end(), prefix.begin() + 4, prefix.end());  // Q's tokens + child's tokens
  EXPECT_EQ(pool.MatchPrefix(probe, 100), std::vector<BlockId>{reg.block});
  EXPECT_TRUE(pool.MatchPrefix(prefix, 100).empty());
  pool.Release(reg.block);
}

TEST(KvBlockPoolTest, DropCacheFreesOnlyUnreferencedBlocks) {
  KvBlockPool pool(4, kBt);
  auto a = ComputeAndRegister(pool, Range(0, 4));
  auto b = ComputeAndRegister(pool, Range(4, 4));
  ReleaseAll(pool, a);
  pool.DropCache();
  EXPECT_EQ(pool.free_blocks(), 3);
  EXPECT_EQ(pool.cached_blocks(), 0);
  EXPECT_TRUE(pool.MatchPrefix(Range(0, 4), 1).empty());
  EXPECT_EQ(pool.MatchPrefix(Range(4, 4), 1), b);
  ReleaseAll(pool, b);
}

TEST(KvBlockPoolTest, RandomizedOperationsKeepInvariants) {
  // Many sequences with overlapping prompts come and go; the accounting must always add up and
  // every block a sequence holds must be referenced at least by it.
  KvBlockPool pool(24, kBt);
  std::vector<std::vector<BlockId>> live;
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  };
  for (int step = 0; step < 2000; ++step) {
    if (live.empty() || (next() % 3 != 0 && pool.available_blocks() >= 6)) {
      // A prompt from a small family so that prefixes repeat.
      std::vector<int32_t> prompt;
      const int blocks = 1 + static_cast<int>(next() % 4);
      for (int i = 0; i < blocks * kBt; ++i) prompt.push_back(static_cast<int32_t>(next() % 2));
      auto hit = pool.MatchPrefix(prompt, blocks);
      for (BlockId b : hit) pool.Acquire(b);
      std::vector<BlockId> table = hit;
      uint64_t parent = hit.empty() ? KvBlockPool::kRootContent : pool.ContentId(hit.back());
      for (size_t i = hit.size(); i < static_cast<size_t>(blocks); ++i) {
        auto b = pool.Allocate();
        ASSERT_TRUE(b.has_value());
        auto reg = pool.Register(*b, parent,
                                 std::span<const int32_t>(prompt).subspan(i * kBt, kBt));
        table.push_back(reg.block);
        parent = reg.content_id;
      }
      live.push_back(table);
    } else {
      size_t victim = next() % live.size();
      ReleaseAll(pool, live[victim]);
      live.erase(live.begin() + static_cast<long>(victim));
    }
    int64_t refs = 0;
    std::set<BlockId> distinct;
    for (const auto& t : live) {
      for (BlockId b : t) {
        ASSERT_GE(pool.ref_count(b), 1);
        ++refs;
        distinct.insert(b);
      }
    }
    ASSERT_EQ(pool.used_blocks(), static_cast<int64_t>(distinct.size()));
    ASSERT_EQ(pool.free_blocks() + pool.cached_blocks() + pool.used_blocks(), 24);
    int64_t ref_sum = 0;
    for (BlockId b : distinct) ref_sum += pool.ref_count(b);
    ASSERT_EQ(ref_sum, refs);
  }
  for (const auto& t : live) ReleaseAll(pool, t);
  EXPECT_EQ(pool.used_blocks(), 0);
  EXPECT_EQ(pool.available_blocks(), 24);
}

}  // namespace
}  // namespace hearth::engine
