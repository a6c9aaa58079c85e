// ApiKeyCache: recently verified API keys, so that the gateway's request path usually skips the
// store (a database round trip per inference request otherwise).
//
// Entries are keyed by the SHA-256 of the presented secret (never the plaintext) and hold the
// key's record as the store returned it. An entry serves for `ttl` after it was read from the
// store; the caller still checks the record's expiry against its clock on every hit. Changes made
// through this process (revoke, delete) call Forget and take effect at once; a change made by
// another process that shares the database is seen once the entry's ttl has passed.
//
// Forget also bumps a generation counter: a verification that read the store before the change
// and inserts after it (Insert with the generation taken before the read) is dropped, so a
// revoked key cannot re-enter the cache through a race.
//
// Bounded: at most `max_entries`, least recently used evicted first. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hearth/platform/store.h"

namespace hearth::platform {

struct ApiKeyCacheOptions {
  // How long a verified key is trusted without asking the store; 0 disables the cache.
  std::chrono::milliseconds ttl{5000};
  size_t max_entries = 4096;
};

struct ApiKeyCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t entries = 0;
};

class ApiKeyCache {
 public:
  explicit ApiKeyCache(ApiKeyCacheOptions options = {});

  bool enabled() const { return options_.ttl.count() > 0 && options_.max_entries > 0; }

  // The record cached under `secret_hash` if its prefix is `prefix` and it was read from the
  // store less than ttl before `now`; a stale entry is dropped. Counts a hit or a miss.
  std::optional<ApiKey> Find(const std::string& secret_hash, std::string_view prefix, int64_t now);
  // Take before reading the store; pass to Insert.
  uint64_t generation() const;
  // Caches `key` as read from the store at `read_at`, unless Forget or Clear ran after
  // `generation` was taken.
  void Insert(const std::string& secret_hash, const ApiKey& key, int64_t read_at,
              uint64_t generation);
  // Records a last_used_at written to the store for a cached key.
  void SetLastUsed(const std::string& secret_hash, int64_t at);
  // Drops the key's entries (revoked, deleted, changed).
  void Forget(int64_t key_id);
  void Clear();

  ApiKeyCacheStats stats() const;

 private:
  struct Entry {
    std::string secret_hash;
    ApiKey key;
    int64_t read_at = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first

  void EraseLocked(Lru::iterator it);

  const ApiKeyCacheOptions options_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string, Lru::iterator> index_;
  uint64_t generation_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

}  // namespace hearth::platform
