// Password hashing with argon2id (RFC 9106), through libargon2.
//
// Passwords are low-entropy secrets chosen by people, so they are hashed with a deliberately
// slow, memory-hard function: an attacker holding a copy of the database must pay the same cost
// per guess. The stored form is argon2's encoded string,
//   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt base64>$<hash base64>
// which carries its own parameters and random salt, so parameters can be raised later without
// invalidating existing hashes (PasswordNeedsRehash tells when to re-hash on the next login).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::platform {

struct PasswordHashParams {
  // Defaults follow the OWASP recommendation for argon2id (19 MiB, 2 passes, 1 lane):
  // tens of milliseconds per hash on one core. Tests use a tiny memory cost to stay fast.
  uint32_t time_cost = 2;
  uint32_t memory_kib = 19 * 1024;
  uint32_t parallelism = 1;
  bool operator==(const PasswordHashParams&) const = default;
};

inline constexpr size_t kMinPasswordLength = 8;
inline constexpr size_t kMaxPasswordLength = 1024;

// kInvalidArgument when the password is shorter than kMinPasswordLength or longer than
// kMaxPasswordLength bytes.
Status CheckPasswordPolicy(std::string_view password);

// The encoded argon2id hash of `password` with a fresh 16-byte random salt.
Result<std::string> HashPassword(std::string_view password, const PasswordHashParams& params = {});

// True when `password` matches `encoded`, false when it does not; kCorruption when `encoded` is
// not an argon2id hash this code would accept (including absurd costs that would let a tampered
// database exhaust memory).
Result<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// The parameters recorded in an encoded argon2id hash.
Result<PasswordHashParams> ParsePasswordHashParams(std::string_view encoded);

// True when `encoded` was made with parameters other than `params`.
bool PasswordNeedsRehash(std::string_view encoded, const PasswordHashParams& params);

}  // namespace hearth::platform
