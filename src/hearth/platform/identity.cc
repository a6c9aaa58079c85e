#include "hearth/platform/identity.h"

#include <spdlog/spdlog.h>

#include "hearth/platform/crypto.h"

namespace hearth::platform {
namespace {

constexpr int kIssueAttempts = 4;

bool IsBase32(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
}

size_t Base32Length(size_t bytes) { return (bytes * 8 + 4) / 5; }

Status InvalidApiKey() { return Status::Unauthenticated("invalid API key"); }

}  // namespace

Result<ParsedApiKey> ParseApiKey(std::string_view text) {
  auto malformed = [] {
    return Status::InvalidArgument("malformed API key (expected hk-<prefix>-<secret>)");
  };
  std::string scheme = std::string(kApiKeyScheme) + "-";
  if (!text.starts_with(scheme)) return malformed();
  text.remove_prefix(scheme.size());
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return malformed();
  ParsedApiKey parsed{std::string(text.substr(0, dash)), std::string(text.substr(dash + 1))};
  if (parsed.prefix.size() != Base32Length(kApiKeyPrefixBytes) || !IsBase32(parsed.prefix) ||
      parsed.secret.size() != Base32Length(kSecretBytes) || !IsBase32(parsed.secret)) {
    return malformed();
  }
  return parsed;
}

Identity::Identity(Store& store, IdentityOptions options)
    : store_(store),
      options_(std::move(options)),
      key_cache_(options_.api_key_cache),
      login_throttle_(options_.login_throttle, options_.clock ? options_.clock : SystemNowMillis) {
  if (!options_.clock) options_.clock = SystemNowMillis;
}

Result<User> Identity::CreateUser(std::optional<int64_t> tenant_id, std::string_view name,
                                  Role role, std::string_view password) {
  HEARTH_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, options_.password_params));
  NewUser user{tenant_id, std::string(name), role, std::move(hash)};
  return store_.CreateUser(user);
}

Status Identity::SetPassword(int64_t user_id, std::string_view password) {
  HEARTH_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, options_.password_params));
  return store_.SetUserPasswordHash(user_id, hash);
}

Result<std::string> Identity::DummyPasswordHash() {
  std::lock_guard lock(dummy_mu_);
  if (dummy_hash_.empty()) {
    HEARTH_ASSIGN_OR_RETURN(std::string random, RandomBytes(kSecretBytes));
    HEARTH_ASSIGN_OR_RETURN(dummy_hash_,
                            HashPassword(Base32Encode(random), options_.password_params));
  }
  return dummy_hash_;
}

Result<User> Identity::Authenticate(std::string_view name, std::string_view password) {
  const Status rejected = Status::Unauthenticated("invalid user name or password");
  auto user = store_.FindUserByName(name);
  if (!user.ok()) {
    if (user.status().code() != StatusCode::kNotFound) return user.status();
    HEARTH_ASSIGN_OR_RETURN(std::string dummy, DummyPasswordHash());
    HEARTH_ASSIGN_OR_RETURN(bool ignored, VerifyPassword(password, dummy));
    (void)ignored;
    return rejected;
  }
  HEARTH_ASSIGN_OR_RETURN(bool matches, VerifyPassword(password, user->password_hash));
  if (!matches) return rejected;
  if (user->disabled) {
    return Status::PermissionDenied(fmt::format("user '{}' is disabled", user->name));
  }
  if (PasswordNeedsRehash(user->password_hash, options_.password_params)) {
    // Best effort: the login succeeds even if the upgrade cannot be stored now.
    Status upgraded = SetPassword(user->id, password);
    if (!upgraded.ok()) {
      spdlog::warn("could not upgrade the password hash of user '{}': {}", user->name,
                   upgraded.ToString());
    }
  }
  return user;
}

Result<IssuedSession> Identity::CreateSession(int64_t user_id) {
  HEARTH_ASSIGN_OR_RETURN(std::string random, RandomBytes(kSecretBytes));
  std::string token = Base32Encode(random);
  int64_t expires_at = options_.clock() + options_.session_ttl.count();
  HEARTH_ASSIGN_OR_RETURN(Session session,
                          store_.CreateSession(Sha256Hex(token), user_id, expires_at));
  return IssuedSession{std::move(session), std::move(token)};
}

Result<IssuedSession> Identity::Login(std::string_view name, std::string_view password) {
  HEARTH_ASSIGN_OR_RETURN(User user, Authenticate(name, password));
  return CreateSession(user.id);
}

Result<User> Identity::VerifySession(std::string_view token) {
  // The lookup is by SHA-256 of the token, so whatever the index lookup's timing reveals is
  // about the hash, from which the token cannot be recovered.
  std::string token_hash = Sha256Hex(token);
  auto session = store_.FindSession(token_hash);
  if (!session.ok()) {
    if (session.status().code() == StatusCode::kNotFound) {
      return Status::Unauthenticated("invalid session");
    }
    return session.status();
  }
  if (session->expires_at <= options_.clock()) {
    (void)store_.DeleteSession(token_hash);  // the periodic sweep would remove it anyway
    return Status::Unauthenticated("session expired");
  }
  auto user = store_.GetUser(session->user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) {
      return Status::Unauthenticated("invalid session");
    }
    return user.status();
  }
  if (user->disabled) {
    return Status::PermissionDenied(fmt::format("user '{}' is disabled", user->name));
  }
  return user;
}

Status Identity::EndSession(std::string_view token) {
  Status status = store_.DeleteSession(Sha256Hex(token));
  if (status.code() == StatusCode::kNotFound) return Status::Unauthenticated("invalid session");
  return status;
}

Result<IssuedApiKey> Identity::IssueApiKey(int64_t tenant_id, std::string_view name,
                                           std::vector<std::string> deployments,
                                           std::optional<int64_t> expires_at) {
  if (expires_at && *expires_at <= options_.clock()) {
    return Status::InvalidArgument(
        fmt::format("API key '{}': expiry {} is not in the future", name, *expires_at));
  }
  for (int attempt = 1;; ++attempt) {
    HEARTH_ASSIGN_OR_RETURN(std::string prefix_bytes, RandomBytes(kApiKeyPrefixBytes));
    HEARTH_ASSIGN_OR_RETURN(std::string secret_bytes, RandomBytes(kSecretBytes));
    NewApiKey key;
    key.tenant_id = tenant_id;
    key.name = std::string(name);
    key.prefix = Base32Encode(prefix_bytes);
    std::string secret = Base32Encode(secret_bytes);
    key.secret_hash = Sha256Hex(secret);
    key.deployments = deployments;
    key.expires_at = expires_at;
    auto created = store_.CreateApiKey(key);
    if (created.ok()) {
      std::string plaintext = fmt::format("{}-{}-{}", kApiKeyScheme, key.prefix, secret);
      return IssuedApiKey{std::move(created).value(), std::move(plaintext)};
    }
    // 40-bit prefixes collide rarely but not never in a large installation: draw again. Any
    // other error (a duplicate name, a missing tenant) is the caller's to see.
    bool prefix_taken = created.status().code() == StatusCode::kAlreadyExists &&
                        store_.FindApiKeyByPrefix(key.prefix).ok();
    if (!prefix_taken || attempt == kIssueAttempts) return created.status();
  }
}

Result<ApiKey> Identity::VerifyApiKey(std::string_view presented) {
  auto parsed = ParseApiKey(presented);
  if (!parsed.ok()) return Status::Unauthenticated(parsed.status().message());
  std::string presented_hash = Sha256Hex(parsed->secret);
  int64_t now = options_.clock();
  if (key_cache_.enabled()) {
    // The entry's hash equals the presented one (that is how it was found) and so does its
    // prefix; comparing again in constant time keeps every verification on the same comparison.
    if (auto cached = key_cache_.Find(presented_hash, parsed->prefix, now);
        cached && ConstantTimeEquals(presented_hash, cached->secret_hash)) {
      return Admit(std::move(*cached), now, presented_hash);
    }
  }
  const uint64_t generation = key_cache_.generation();
  auto key = store_.FindApiKeyByPrefix(parsed->prefix);
  if (!key.ok()) {
    if (key.status().code() == StatusCode::kNotFound) return InvalidApiKey();
    return key.status();
  }
  if (!ConstantTimeEquals(presented_hash, key->secret_hash)) return InvalidApiKey();
  const bool expired = key->expires_at && *key->expires_at <= now;
  if (!key->revoked_at && !expired) key_cache_.Insert(presented_hash, *key, now, generation);
  return Admit(std::move(*key), now, presented_hash);
}

Result<ApiKey> Identity::Admit(ApiKey key, int64_t now, const std::string& secret_hash) {
  if (key.revoked_at) {
    return Status::Unauthenticated(fmt::format("API key {} has been revoked", key.prefix));
  }
  if (key.expires_at && *key.expires_at <= now) {
    // A cached entry of an expired key stays until its ttl: every hit lands here again.
    return Status::Unauthenticated(fmt::format("API key {} has expired", key.prefix));
  }
  if (!key.last_used_at || now - *key.last_used_at >= options_.last_used_granularity.count()) {
    Status touched = store_.TouchApiKey(key.id, now);
    if (touched.ok()) {
      key.last_used_at = now;
      key_cache_.SetLastUsed(secret_hash, now);
    } else {
      // Bookkeeping only: the request itself must not fail because of it.
      spdlog::warn("could not record use of API key {}: {}", key.prefix, touched.ToString());
    }
  }
  return key;
}

void Identity::ForgetApiKey(int64_t key_id) { key_cache_.Forget(key_id); }

}  // namespace hearth::platform
