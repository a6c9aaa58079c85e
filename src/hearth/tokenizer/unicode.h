// Unicode helpers for the tokenizers: UTF-8 decoding that never fails (invalid bytes are
// reported, not thrown), general categories, full lowercase mapping and canonical
// decomposition. Regular-expression classes (\p{L} etc.) are PCRE2's business; these tables
// serve WordPiece normalisation and the streaming decoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer {

// Same order as the generator's CATEGORIES list.
enum class GeneralCategory : uint8_t {
  kCn, kLu, kLl, kLt, kLm, kLo, kMn, kMc, kMe, kNd, kNl, kNo, kPc, kPd, kPs, kPe, kPi, kPf, kPo,
  kSm, kSc, kSk, kSo, kZs, kZl, kZp, kCc, kCf, kCs, kCo,
};

GeneralCategory CategoryOf(char32_t cp);
bool IsLetter(char32_t cp);
bool IsNumber(char32_t cp);
bool IsMark(char32_t cp);
bool IsNonspacingMark(char32_t cp);  // Mn: what accent stripping removes
bool IsPunctuation(char32_t cp);
bool IsSymbol(char32_t cp);
bool IsControl(char32_t cp);  // any C* category except unassigned
// Unicode White_Space property (tab, newlines, space, NBSP, U+2000..200A, ...).
bool IsWhitespace(char32_t cp);
// CJK Unified Ideographs blocks, as BERT's tokenize_chinese_chars defines them.
bool IsCjkIdeograph(char32_t cp);

// Full lowercase mapping appended to `out` (one code point, two for U+0130).
void AppendLowercase(char32_t cp, std::u32string& out);
char32_t SimpleLowercase(char32_t cp);
// Canonical decomposition (NFD) of one code point appended to `out`. Combining marks of
// neighbouring code points are not reordered; callers only strip marks afterwards.
void AppendCanonicalDecomposition(char32_t cp, std::u32string& out);

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Length of the UTF-8 sequence announced by lead byte `b` (1 for continuation and invalid
// bytes, so that walking a string always advances).
inline size_t Utf8LengthFromLeadByte(uint8_t b) {
  if (b < 0xC0) return 1;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  return 4;
}

// Decodes one code point at `text[pos]`. On success sets *length to its byte length and
// returns the code point. On an invalid or truncated sequence returns kInvalidCodePoint with
// *length = 1 (the offending byte), so callers can resynchronise byte by byte.
inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;
char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* length);

// Number of bytes at the start of `text` that form complete, valid UTF-8, and whether the
// remainder is a truncated (but so far valid) prefix of a sequence.
struct Utf8Prefix {
  size_t valid_bytes = 0;  // bytes of complete valid sequences from the start
  bool incomplete_tail = false;  // text[valid_bytes..] is a valid but unfinished sequence
};
Utf8Prefix ScanUtf8(std::string_view text);
bool IsValidUtf8(std::string_view text);

// `text` with every byte that is not part of a valid sequence replaced by U+FFFD (one per byte).
// With `hold_incomplete_tail`, a valid but unfinished sequence at the very end is not replaced
// but left out, and its length reported in *held (streaming decoders emit it later).
std::string ReplaceInvalidUtf8(std::string_view text, bool hold_incomplete_tail = false,
                               size_t* held = nullptr);

// Decodes `text`; every invalid byte becomes U+FFFD.
std::u32string DecodeUtf8Lossy(std::string_view text);
void AppendUtf8(char32_t cp, std::string& out);
std::string EncodeUtf8(std::u32string_view cps);

}  // namespace hearth::tokenizer
