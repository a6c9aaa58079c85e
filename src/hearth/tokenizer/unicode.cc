#include "hearth/tokenizer/unicode.h"

#include <algorithm>

#include "hearth/tokenizer/unicode_tables.h"

namespace hearth::tokenizer {
namespace {

using unicode_tables::kCategoryRangeCount;
using unicode_tables::kCategoryRanges;

// Hangul syllable composition constants (Unicode chapter 3.12).
constexpr char32_t kHangulBase = 0xAC00;
constexpr char32_t kHangulLast = 0xD7A3;
constexpr char32_t kLeadBase = 0x1100;
constexpr char32_t kVowelBase = 0x1161;
constexpr char32_t kTrailBase = 0x11A7;
constexpr int kVowelCount = 21;
constexpr int kTrailCount = 28;

uint8_t CategoryIndex(char32_t cp) {
  const auto* end = kCategoryRanges + kCategoryRangeCount;
  const auto* it = std::upper_bound(
      kCategoryRanges, end, cp,
      [](char32_t value, const unicode_tables::CategoryRange& r) { return value < r.first; });
  if (it == kCategoryRanges) return 0;
  --it;
  return cp <= it->last ? it->category : 0;
}

}  // namespace

GeneralCategory CategoryOf(char32_t cp) {
  return static_cast<GeneralCategory>(CategoryIndex(cp));
}

bool IsLetter(char32_t cp) {
  auto c = CategoryOf(cp);
  return c >= GeneralCategory::kLu && c <= GeneralCategory::kLo;
}
bool IsNumber(char32_t cp) {
  auto c = CategoryOf(cp);
  return c >= GeneralCategory::kNd && c <= GeneralCategory::kNo;
}
bool IsMark(char32_t cp) {
  auto c = CategoryOf(cp);
  return c >= GeneralCategory::kMn && c <= GeneralCategory::kMe;
}
bool IsNonspacingMark(char32_t cp) { return CategoryOf(cp) == GeneralCategory::kMn; }
bool IsPunctuation(char32_t cp) {
  auto c = CategoryOf(cp);
  return c >= GeneralCategory::kPc && c <= GeneralCategory::kPo;
}
bool IsSymbol(char32_t cp) {
  auto c = CategoryOf(cp);
  return c >= GeneralCategory::kSm && c <= GeneralCategory::kSo;
}
bool IsControl(char32_t cp) {
  auto c = CategoryOf(cp);
  return c >= GeneralCategory::kCc && c <= GeneralCategory::kCo;
}

bool IsWhitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool IsCjkIdeograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

void AppendLowercase(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  const auto* begin = unicode_tables::kLowercaseMap;
  const auto* end = begin + unicode_tables::kLowercaseCount;
  const auto* it = std::lower_bound(
      begin, end, cp,
      [](const unicode_tables::LowercaseEntry& e, char32_t value) { return e.code_point < value; });
  if (it == end || it->code_point != cp) {
    out.push_back(cp);
    return;
  }
  out.push_back(it->lower);
  if (it->lower_second != 0) out.push_back(it->lower_second);
}

char32_t SimpleLowercase(char32_t cp) {
  std::u32string lower;
  AppendLowercase(cp, lower);
  return lower[0];
}

void AppendCanonicalDecomposition(char32_t cp, std::u32string& out) {
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  if (cp >= kHangulBase && cp <= kHangulLast) {
    const char32_t index = cp - kHangulBase;
    out.push_back(kLeadBase + index / (kVowelCount * kTrailCount));
    out.push_back(kVowelBase + (index % (kVowelCount * kTrailCount)) / kTrailCount);
    if (index % kTrailCount != 0) out.push_back(kTrailBase + index % kTrailCount);
    return;
  }
  const auto* begin = unicode_tables::kDecompositions;
  const auto* end = begin + unicode_tables::kDecompositionCount;
  const auto* it = std::lower_bound(
      begin, end, cp, [](const unicode_tables::DecompositionEntry& e, char32_t value) {
        return e.code_point < value;
      });
  if (it == end || it->code_point != cp) {
    out.push_back(cp);
    return;
  }
  out.append(unicode_tables::kDecompositionData + it->offset, it->length);
}

char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* length) {
  *length = 1;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t b0 = byte(pos);
  if (b0 < 0x80) return b0;
  size_t need;
  char32_t cp;
  char32_t min_value;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F, min_value = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F, min_value = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07, min_value = 0x10000;
  } else {
    return kInvalidCodePoint;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (pos + i >= text.size()) return kInvalidCodePoint;
    const uint8_t b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return kInvalidCodePoint;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalidCodePoint;
  *length = need + 1;
  return cp;
}

Utf8Prefix ScanUtf8(std::string_view text) {
  Utf8Prefix result;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length;
    if (DecodeUtf8(text, pos, &length) == kInvalidCodePoint) break;
    pos += length;
  }
  result.valid_bytes = pos;
  if (pos < text.size()) {
    // A valid-but-unfinished sequence: a proper lead byte followed only by continuation bytes,
    // fewer than it announces, running to the end of the text (and not already out of range).
    const auto tail = text.substr(pos);
    const uint8_t lead = static_cast<uint8_t>(tail[0]);
    const size_t announced = (lead >= 0xC2 && lead <= 0xF4) ? Utf8LengthFromLeadByte(lead) : 0;
    bool prefix_ok = announced > tail.size();
    for (size_t i = 1; prefix_ok && i < tail.size(); ++i) {
      const uint8_t b = static_cast<uint8_t>(tail[i]);
      if ((b & 0xC0) != 0x80) prefix_ok = false;
      // The second byte constrains overlongs, surrogates and the upper bound.
      if (i == 1 && ((lead == 0xE0 && b < 0xA0) || (lead == 0xED && b > 0x9F) ||
                     (lead == 0xF0 && b < 0x90) || (lead == 0xF4 && b > 0x8F))) {
        prefix_ok = false;
      }
    }
    result.incomplete_tail = prefix_ok;
  }
  return result;
}

bool IsValidUtf8(std::string_view text) { return ScanUtf8(text).valid_bytes == text.size(); }

std::string ReplaceInvalidUtf8(std::string_view text, bool hold_incomplete_tail, size_t* held) {
  std::string out;
  out.reserve(text.size());
  if (held != nullptr) *held = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length;
    if (DecodeUtf8(text, pos, &length) != kInvalidCodePoint) {
      out.append(text.substr(pos, length));
    } else if (hold_incomplete_tail && text.size() - pos < 4 &&
               ScanUtf8(text.substr(pos)).incomplete_tail) {
      if (held != nullptr) *held = text.size() - pos;
      break;
    } else {
      AppendUtf8(kReplacementCharacter, out);
    }
    pos += length;
  }
  return out;
}

std::u32string DecodeUtf8Lossy(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length;
    const char32_t cp = DecodeUtf8(text, pos, &length);
    out.push_back(cp == kInvalidCodePoint ? kReplacementCharacter : cp);
    pos += length;
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) AppendUtf8(cp, out);
  return out;
}

}  // namespace hearth::tokenizer
