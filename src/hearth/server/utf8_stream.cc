#include "hearth/server/utf8_stream.h"

namespace hearth::server {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

int Utf8CharLength(std::string_view bytes) {
  if (bytes.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(bytes[0]);
  if (b0 < 0x80) return 1;
  int length = 0;
  // Allowed range of the second byte (excludes overlongs, surrogates and > U+10FFFF).
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return -1;  // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  for (int i = 1; i < length; ++i) {
    if (static_cast<size_t>(i) >= bytes.size()) return 0;
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (i == 1 ? (b < lo || b > hi) : !IsContinuation(b)) return -1;
  }
  return length;
}

std::string StreamingDetokenizer::Push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const int length = Utf8CharLength(std::string_view(pending_).substr(pos));
    if (length == 0) break;  // wait for the rest of this character
    if (length < 0) {
      out.append(kReplacement);
      ++pos;
    } else {
      out.append(pending_, pos, static_cast<size_t>(length));
      pos += static_cast<size_t>(length);
    }
  }
  pending_.erase(0, pos);
  return out;
}

std::string StreamingDetokenizer::Flush() {
  std::string out;
  if (!pending_.empty()) out.append(kReplacement);
  pending_.clear();
  return out;
}

}  // namespace hearth::server
