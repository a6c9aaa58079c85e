// Who is calling: users with passwords, session tokens for the console and admin API, and API
// keys for inference traffic. Built on the Store; every secret is stored only as a hash.
//
// API keys look like `hk-<prefix>-<secret>`:
//   prefix  8 base32 characters (40 random bits): the key's public id, stored in clear, shown in
//           lists and logs, and used to find the key's record;
//   secret  52 base32 characters (256 random bits): stored only as its SHA-256.
// A key is shown once, when it is issued. Verification finds the record by prefix, hashes the
// presented secret and compares the hashes in constant time, then honours revocation and expiry.
//
// Verified keys are cached briefly (api_key_cache.h): a request usually costs one SHA-256 and no
// store round trip. Revocation and deletion through this process take effect at once (the admin
// API calls ForgetApiKey); a change made by another process sharing the database is honoured
// within the cache's ttl (5 s by default). Expiry is checked against the clock on every request.
//
// Failed password logins are throttled per user name and per source address (login_throttle.h);
// the admin API's login route consults login_throttle() around Login.
//
// Session tokens are 256 random bits (base32), stored as their SHA-256, with an expiry.
//
// Why a fast hash for keys and tokens but argon2id for passwords: a slow hash protects secrets
// that can be guessed. A 256-bit random secret cannot be guessed, so SHA-256 loses nothing, and
// keeps per-request verification to microseconds (argon2id would cost tens of milliseconds of CPU
// and megabytes of memory on every inference request).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/platform/api_key_cache.h"
#include "hearth/platform/login_throttle.h"
#include "hearth/platform/password.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

inline constexpr std::string_view kApiKeyScheme = "hk";
inline constexpr size_t kApiKeyPrefixBytes = 5;  // 8 base32 characters
inline constexpr size_t kSecretBytes = 32;       // 52 base32 characters

struct ParsedApiKey {
  std::string prefix;
  std::string secret;
};

// Splits `hk-<prefix>-<secret>`; kInvalidArgument when the text does not have that shape.
Result<ParsedApiKey> ParseApiKey(std::string_view text);

struct IdentityOptions {
  Clock clock = SystemNowMillis;
  PasswordHashParams password_params;
  std::chrono::milliseconds session_ttl = std::chrono::hours(12);
  // last_used_at is written at most this often per key: a database write on every inference
  // request would cost more than the information is worth.
  std::chrono::milliseconds last_used_granularity = std::chrono::minutes(1);
  ApiKeyCacheOptions api_key_cache;
  LoginThrottleOptions login_throttle;  // uses `clock`
};

// A freshly issued key; `plaintext` exists only here and cannot be recovered later.
struct IssuedApiKey {
  ApiKey key;
  std::string plaintext;
};

// A freshly created session; `token` exists only here.
struct IssuedSession {
  Session session;
  std::string token;
};

// Thread-safe when the Store is (the built-in stores are).
class Identity {
 public:
  explicit Identity(Store& store, IdentityOptions options = {});

  // Users --------------------------------------------------------------------------------------
  // Checks the password policy and stores the argon2id hash.
  Result<User> CreateUser(std::optional<int64_t> tenant_id, std::string_view name, Role role,
                          std::string_view password);
  Status SetPassword(int64_t user_id, std::string_view password);

  // kUnauthenticated for an unknown user or a wrong password (the same message for both, and
  // an unknown name still costs one argon2id verification, so neither the answer nor its timing
  // tells which); kPermissionDenied for a disabled user with the right password. A hash made with
  // other parameters than the configured ones is upgraded on success.
  Result<User> Authenticate(std::string_view name, std::string_view password);

  // Sessions -----------------------------------------------------------------------------------
  Result<IssuedSession> CreateSession(int64_t user_id);
  // Authenticate, then CreateSession.
  Result<IssuedSession> Login(std::string_view name, std::string_view password);
  // The session's user; kUnauthenticated for an unknown or expired token (an expired session is
  // deleted), kPermissionDenied when the user has been disabled since.
  Result<User> VerifySession(std::string_view token);
  Status EndSession(std::string_view token);  // logout; unknown tokens are kUnauthenticated

  // API keys -----------------------------------------------------------------------------------
  // `deployments` empty: the key may use every deployment of its tenant. `expires_at` must be in
  // the future when set.
  Result<IssuedApiKey> IssueApiKey(int64_t tenant_id, std::string_view name,
                                   std::vector<std::string> deployments = {},
                                   std::optional<int64_t> expires_at = std::nullopt);
  // The key's record when `presented` is a valid, unrevoked, unexpired key; kUnauthenticated
  // otherwise (the message says which, but only once the secret has been proven: a caller
  // without the secret learns nothing about a key beyond "invalid").
  Result<ApiKey> VerifyApiKey(std::string_view presented);
  // Drops a key from the verification cache; call after revoking, deleting or changing it.
  void ForgetApiKey(int64_t key_id);
  ApiKeyCacheStats api_key_cache_stats() const { return key_cache_.stats(); }

  LoginThrottle& login_throttle() { return login_throttle_; }

  const IdentityOptions& options() const { return options_; }

 private:
  Result<std::string> DummyPasswordHash();
  // Revocation, expiry and last_used_at bookkeeping for a key whose secret has been proven.
  Result<ApiKey> Admit(ApiKey key, int64_t now, const std::string& secret_hash);

  Store& store_;
  IdentityOptions options_;
  std::mutex dummy_mu_;     // Identity is shared by request threads
  std::string dummy_hash_;  // a hash of a random password, for unknown user names
  ApiKeyCache key_cache_;
  LoginThrottle login_throttle_;
};

}  // namespace hearth::platform
