#include "hearth/engine/kv_block_pool.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace hearth::engine {
namespace {

uint64_t Mix(uint64_t h, uint64_t v) {
  // One round of a multiply-xorshift mixer per value: cheap and avalanching enough for a
  // hash-table key (collisions are verified by comparison anyway).
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

[[noreturn]] void Bug(const std::string& what) { throw std::logic_error("KvBlockPool: " + what); }

}  // namespace

uint64_t KvBlockPool::DefaultHash(uint64_t parent_content, std::span<const int32_t> tokens) {
  uint64_t h = Mix(0x5bd1e9955bd1e995ULL, parent_content);
  for (int32_t t : tokens) h = Mix(h, static_cast<uint32_t>(t));
  return h;
}

KvBlockPool::KvBlockPool(int64_t num_blocks, int block_tokens, HashFn hash)
    : block_tokens_(block_tokens), hash_(std::move(hash)), blocks_(num_blocks) {
  free_list_.reserve(num_blocks);
  // Hand out low ids first (pop from the back).
  for (int64_t i = num_blocks - 1; i >= 0; --i) free_list_.push_back(static_cast<BlockId>(i));
}

BlockId KvBlockPool::Find(uint64_t hash, uint64_t parent_content,
                          std::span<const int32_t> tokens) const {
  auto [begin, end] = index_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    const Block& b = blocks_[it->second];
    if (b.parent_content == parent_content &&
        std::equal(b.tokens.begin(), b.tokens.end(), tokens.begin(), tokens.end())) {
      return it->second;
    }
  }
  return -1;
}

std::vector<BlockId> KvBlockPool::MatchPrefix(std::span<const int32_t> tokens,
                                              int64_t max_blocks) const {
  std::vector<BlockId> matched;
  const int64_t full_blocks =
      std::min<int64_t>(max_blocks, static_cast<int64_t>(tokens.size()) / block_tokens_);
  uint64_t parent = kRootContent;
  for (int64_t i = 0; i < full_blocks; ++i) {
    auto chunk = tokens.subspan(static_cast<size_t>(i * block_tokens_), block_tokens_);
    BlockId found = Find(hash_(parent, chunk), parent, chunk);
    if (found < 0) break;
    matched.push_back(found);
    parent = blocks_[found].content_id;
  }
  return matched;
}

int64_t KvBlockPool::CountCached(std::span<const BlockId> blocks) const {
  int64_t n = 0;
  for (BlockId b : blocks) n += blocks_[b].ref == 0 ? 1 : 0;
  return n;
}

void KvBlockPool::Acquire(BlockId block) {
  Block& b = blocks_[block];
  if (b.content_id == kRootContent) Bug("Acquire of unregistered block " + std::to_string(block));
  if (b.ref == 0) lru_.erase(b.lru_position);
  ++b.ref;
}

std::optional<BlockId> KvBlockPool::Allocate() {
  BlockId id;
  if (!free_list_.empty()) {
    id = free_list_.back();
    free_list_.pop_back();
  } else if (!lru_.empty()) {
    id = lru_.front();
    lru_.pop_front();
    Unregister(id);
    ++evictions_;
  } else {
    return std::nullopt;
  }
  blocks_[id].ref = 1;
  return id;
}

void KvBlockPool::Release(BlockId block) {
  Block& b = blocks_[block];
  if (b.ref <= 0) Bug("Release of unreferenced block " + std::to_string(block));
  if (--b.ref > 0) return;
  if (b.content_id != kRootContent) {
    b.lru_position = lru_.insert(lru_.end(), block);
  } else {
    free_list_.push_back(block);
  }
}

KvBlockPool::Registration KvBlockPool::Register(BlockId block, uint64_t parent_content,
                                                std::span<const int32_t> tokens) {
  Block& b = blocks_[block];
  if (b.ref <= 0) Bug("Register of unreferenced block " + std::to_string(block));
  if (static_cast<int>(tokens.size()) != block_tokens_) Bug("Register of a partial block");
  if (b.content_id != kRootContent) return {b.content_id, block};  // registered already
  const uint64_t hash = hash_(parent_content, tokens);
  if (BlockId existing = Find(hash, parent_content, tokens); existing >= 0) {
    Acquire(existing);
    Release(block);
    return {blocks_[existing].content_id, existing};
  }
  b.content_id = next_content_id_++;
  b.parent_content = parent_content;
  b.hash = hash;
  b.tokens.assign(tokens.begin(), tokens.end());
  index_.emplace(hash, block);
  return {b.content_id, block};
}

uint64_t KvBlockPool::ContentId(BlockId block) const { return blocks_[block].content_id; }

void KvBlockPool::Unregister(BlockId block) {
  Block& b = blocks_[block];
  auto [begin, end] = index_.equal_range(b.hash);
  for (auto it = begin; it != end; ++it) {
    if (it->second == block) {
      index_.erase(it);
      break;
    }
  }
  b.content_id = kRootContent;
  b.parent_content = kRootContent;
  b.tokens.clear();
  b.tokens.shrink_to_fit();
}

void KvBlockPool::DropCache() {
  while (!lru_.empty()) {
    BlockId id = lru_.front();
    lru_.pop_front();
    Unregister(id);
    free_list_.push_back(id);
  }
}

}  // namespace hearth::engine
