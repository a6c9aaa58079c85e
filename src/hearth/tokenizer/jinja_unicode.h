// UTF-8 helpers for the Jinja interpreter. Python strings index, slice and count by code
// point, so templates that take `content[:100]` or `text|length` need code points, not bytes.
// Invalid UTF-8 bytes are treated as single code points (U+FFFD-like) so nothing reads out of
// bounds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja {

bool IsAscii(std::string_view s);
std::vector<char32_t> DecodeUtf8(std::string_view s);
void AppendUtf8(char32_t cp, std::string* out);
std::string EncodeUtf8(const std::vector<char32_t>& cps);
size_t CodePointCount(std::string_view s);

// Python str.isspace() for one code point.
bool IsPySpace(char32_t cp);
// Python str.upper()/lower() for one code point (ASCII and Latin-1/Greek/Cyrillic letters).
char32_t ToUpper(char32_t cp);
char32_t ToLower(char32_t cp);
bool IsAlpha(char32_t cp);
bool IsDigit(char32_t cp);

// Python str.strip()/lstrip()/rstrip(): whitespace when `chars` is null, else any of `chars`.
std::string PyStrip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace hearth::jinja
