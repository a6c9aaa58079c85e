#include "hearth/platform/api_key_cache.h"

namespace hearth::platform {

ApiKeyCache::ApiKeyCache(ApiKeyCacheOptions options) : options_(options) {}

std::optional<ApiKey> ApiKeyCache::Find(const std::string& secret_hash, std::string_view prefix,
                                        int64_t now) {
  std::lock_guard lock(mu_);
  auto it = index_.find(secret_hash);
  if (it == index_.end() || it->second->key.prefix != prefix) {
    ++misses_;
    return std::nullopt;
  }
  const Lru::iterator entry = it->second;
  // A clock that went backwards also ends the entry: its age is unknown.
  if (now < entry->read_at || now - entry->read_at >= options_.ttl.count()) {
    EraseLocked(entry);
    ++misses_;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, entry);
  ++hits_;
  return entry->key;
}

uint64_t ApiKeyCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void ApiKeyCache::Insert(const std::string& secret_hash, const ApiKey& key, int64_t read_at,
                         uint64_t generation) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  if (generation != generation_) return;  // the key may have changed since it was read
  if (auto it = index_.find(secret_hash); it != index_.end()) EraseLocked(it->second);
  while (lru_.size() >= options_.max_entries) EraseLocked(std::prev(lru_.end()));
  lru_.push_front(Entry{secret_hash, key, read_at});
  index_.emplace(secret_hash, lru_.begin());
}

void ApiKeyCache::SetLastUsed(const std::string& secret_hash, int64_t at) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(secret_hash); it != index_.end()) it->second->key.last_used_at = at;
}

void ApiKeyCache::Forget(int64_t key_id) {
  std::lock_guard lock(mu_);
  ++generation_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->key.id == key_id) EraseLocked(it);
    it = next;
  }
}

void ApiKeyCache::Clear() {
  std::lock_guard lock(mu_);
  ++generation_;
  index_.clear();
  lru_.clear();
}

ApiKeyCacheStats ApiKeyCache::stats() const {
  std::lock_guard lock(mu_);
  return {hits_, misses_, static_cast<int64_t>(lru_.size())};
}

void ApiKeyCache::EraseLocked(Lru::iterator it) {
  index_.erase(it->secret_hash);
  lru_.erase(it);
}

}  // namespace hearth::platform
