// KvBlockPool: who owns which KV cache block, and which blocks hold a reusable prompt prefix.
//
// The pool hands out block ids of a KvCacheStorage (model/kv_cache.h); it never touches the
// K/V bytes. Every block is in exactly one state:
//   free    — holds nothing useful; on the free list.
//   in use  — referenced by one or more live sequences (ref > 0). Private unless registered.
//   cached  — ref == 0 but registered in the prefix index: its contents can be reused by a later
//             sequence with the same prefix; sits in the LRU list.
// Transitions: Allocate() takes a free block, or evicts the least recently used cached block
// (free list first, so cached prefixes survive as long as memory allows); Acquire() revives a
// cached block (or shares an in-use one); Release() drops a reference and sends an
// unreferenced block to the LRU (registered) or the free list (private).
//
// Prefix index: a block is registered only when it is full and its K/V are computed, keyed by a
// hash of (its parent's registration, its token ids). Its registration id (`content id`, unique
// and never reused) names "this exact token prefix": a child records its parent's content id,
// so a chain of matches from the root verifies the whole prefix token by token — a hash
// collision costs a comparison, never a wrong answer, and a block id recycled after eviction
// cannot be mistaken for the prefix it used to hold. Only full, immutable blocks are shared;
// a sequence's last, partial block is always private, so no copy-on-write is needed.
//
// Not thread-safe: owned by the engine's scheduler thread.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace hearth::engine {

using BlockId = int32_t;

class KvBlockPool {
 public:
  // Hash of (parent content id, block tokens). Replaceable so tests can force collisions.
  using HashFn = std::function<uint64_t(uint64_t parent_content, std::span<const int32_t>)>;
  static uint64_t DefaultHash(uint64_t parent_content, std::span<const int32_t> tokens);

  // Content id of the empty prefix (the parent of a sequence's first block).
  static constexpr uint64_t kRootContent = 0;

  KvBlockPool(int64_t num_blocks, int block_tokens, HashFn hash = DefaultHash);

  int block_tokens() const { return block_tokens_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t free_blocks() const { return static_cast<int64_t>(free_list_.size()); }
  int64_t cached_blocks() const { return static_cast<int64_t>(lru_.size()); }
  int64_t used_blocks() const { return num_blocks() - free_blocks() - cached_blocks(); }
  // Blocks Allocate() can still hand out (free + evictable).
  int64_t available_blocks() const { return free_blocks() + cached_blocks(); }
  uint64_t evictions() const { return evictions_; }

  // The longest chain of registered blocks holding tokens' leading full blocks (at most
  // `max_blocks`). Takes no references: call Acquire on what you keep.
  std::vector<BlockId> MatchPrefix(std::span<const int32_t> tokens, int64_t max_blocks) const;
  // How many of `blocks` are cached (ref 0): acquiring them lowers available_blocks().
  int64_t CountCached(std::span<const BlockId> blocks) const;
  // Adds a reference to a registered block (in use or cached).
  void Acquire(BlockId block);

  // A private block with one reference, or nullopt when every block is in use.
  std::optional<BlockId> Allocate();

  // Drops one reference. The block goes to the LRU (registered) or the free list (private)
  // when none are left.
  void Release(BlockId block);

  // Registers `block` (in use, full, computed, holding `tokens`) as the child of the prefix
  // `parent_content`. Returns the content id for this prefix and the block the caller holds from
  // now on: when an identical block is registered already, the pool moves the caller's
  // reference to that one (releasing `block`), so equal prefixes share one copy.
  struct Registration {
    uint64_t content_id = 0;
    BlockId block = -1;
  };
  Registration Register(BlockId block, uint64_t parent_content, std::span<const int32_t> tokens);

  // Content id of a registered block (kRootContent if not registered).
  uint64_t ContentId(BlockId block) const;
  int ref_count(BlockId block) const { return blocks_[block].ref; }
  bool is_registered(BlockId block) const { return blocks_[block].content_id != kRootContent; }

  // Unregisters every cached block (they become free). In-use blocks are left alone.
  void DropCache();

 private:
  struct Block {
    int ref = 0;
    uint64_t content_id = kRootContent;  // kRootContent: not registered
    uint64_t parent_content = kRootContent;
    uint64_t hash = 0;
    std::vector<int32_t> tokens;  // set while registered
    std::list<BlockId>::iterator lru_position;
  };

  // Finds the registered block for (parent_content, tokens), or -1.
  BlockId Find(uint64_t hash, uint64_t parent_content, std::span<const int32_t> tokens) const;
  void Unregister(BlockId block);

  int block_tokens_;
  HashFn hash_;
  std::vector<Block> blocks_;
  std::vector<BlockId> free_list_;  // LIFO
  std::list<BlockId> lru_;          // cached blocks, least recently used first
  std::unordered_multimap<uint64_t, BlockId> index_;
  uint64_t next_content_id_ = 1;
  uint64_t evictions_ = 0;
};

}  // namespace hearth::engine
