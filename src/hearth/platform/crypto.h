// The few cryptographic primitives identity needs, on OpenSSL: random bytes, SHA-256, a
// constant-time comparison, and the encodings used for keys and tokens.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::platform {

// `size` bytes from OpenSSL's CSPRNG (seeded from the OS).
Result<std::string> RandomBytes(size_t size);

using Sha256Digest = std::array<uint8_t, 32>;
Sha256Digest Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);  // lower-case hex

// Equality of two byte strings in time that depends only on their lengths, not on where they
// differ (CRYPTO_memcmp), so a network attacker cannot learn a stored hash byte by byte from
// response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// How many times ConstantTimeEquals has run in this process: lets tests prove that secret
// comparisons go through it.
uint64_t ConstantTimeEqualsCallCount();

// Lower-case hex, and its inverse (which fails on odd length or a non-hex digit).
std::string HexEncode(std::span<const uint8_t> bytes);
std::string HexEncode(std::string_view bytes);
Result<std::string> HexDecode(std::string_view hex);

// RFC 4648 base32 in lower case without padding (a-z, 2-7): case-insensitive to read aloud,
// no characters that need escaping in URLs or headers, and no '-' (the API key separator).
std::string Base32Encode(std::string_view bytes);

}  // namespace hearth::platform
