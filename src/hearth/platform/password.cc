#include "hearth/platform/password.h"

#include <argon2.h>

#include <charconv>

#include "hearth/platform/crypto.h"

namespace hearth::platform {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr std::string_view kPrefix = "$argon2id$v=19$";
// Upper bounds accepted when verifying: far above any sane setting, low enough that a tampered
// hash cannot make one login allocate the machine's memory or spin for minutes.
constexpr uint32_t kMaxMemoryKib = 1024 * 1024;  // 1 GiB
constexpr uint32_t kMaxTimeCost = 64;
constexpr uint32_t kMaxParallelism = 64;

Status CheckParams(const PasswordHashParams& p) {
  if (p.time_cost < 1 || p.time_cost > kMaxTimeCost || p.parallelism < 1 ||
      p.parallelism > kMaxParallelism || p.memory_kib < 8 * p.parallelism ||
      p.memory_kib > kMaxMemoryKib) {
    return Status::InvalidArgument(fmt::format(
        "argon2id parameters t={} m={}KiB p={} out of range (t 1..{}, p 1..{}, m 8*p..{})",
        p.time_cost, p.memory_kib, p.parallelism, kMaxTimeCost, kMaxParallelism, kMaxMemoryKib));
  }
  return Status::Ok();
}

// Reads "<key>=<number>" at the front of `text` and the separator after it.
bool ReadField(std::string_view& text, char key, char separator, uint32_t& value) {
  if (text.size() < 3 || text[0] != key || text[1] != '=') return false;
  const char* begin = text.data() + 2;
  const char* end = text.data() + text.size();
  auto [next, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || next == begin || next == end || *next != separator) return false;
  text.remove_prefix(static_cast<size_t>(next - text.data()) + 1);
  return true;
}

}  // namespace

Status CheckPasswordPolicy(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return Status::InvalidArgument(
        fmt::format("password must be at least {} characters", kMinPasswordLength));
  }
  if (password.size() > kMaxPasswordLength) {
    return Status::InvalidArgument(
        fmt::format("password must be at most {} characters", kMaxPasswordLength));
  }
  return Status::Ok();
}

Result<std::string> HashPassword(std::string_view password, const PasswordHashParams& params) {
  HEARTH_RETURN_IF_ERROR(CheckPasswordPolicy(password));
  HEARTH_RETURN_IF_ERROR(CheckParams(params));
  HEARTH_ASSIGN_OR_RETURN(std::string salt, RandomBytes(kSaltBytes));
  std::string encoded(argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                        kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Status::Internal(fmt::format("argon2id: {}", argon2_error_message(rc)));
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

Result<PasswordHashParams> ParsePasswordHashParams(std::string_view encoded) {
  auto bad = [] {
    return Status::Corruption("stored password hash is not an argon2id (v=19) encoded hash");
  };
  if (!encoded.starts_with(kPrefix)) return bad();
  std::string_view rest = encoded.substr(kPrefix.size());
  PasswordHashParams p;
  if (!ReadField(rest, 'm', ',', p.memory_kib) || !ReadField(rest, 't', ',', p.time_cost) ||
      !ReadField(rest, 'p', '$', p.parallelism)) {
    return bad();
  }
  Status range = CheckParams(p);
  if (!range.ok()) return Status::Corruption("stored password hash: " + range.message());
  return p;
}

Result<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  HEARTH_ASSIGN_OR_RETURN(PasswordHashParams params, ParsePasswordHashParams(encoded));
  (void)params;
  std::string encoded_text(encoded);  // libargon2 wants a NUL-terminated string
  // argon2id_verify recomputes the hash and compares in constant time itself.
  int rc = argon2id_verify(encoded_text.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  return Status::Corruption(
      fmt::format("stored password hash cannot be verified: {}", argon2_error_message(rc)));
}

bool PasswordNeedsRehash(std::string_view encoded, const PasswordHashParams& params) {
  auto parsed = ParsePasswordHashParams(encoded);
  return !parsed.ok() || !(*parsed == params);
}

}  // namespace hearth::platform
