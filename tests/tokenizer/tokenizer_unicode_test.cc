// UTF-8 handling, Unicode property tables and the byte-level alphabet. Category tables are
// checked against PCRE2's own Unicode tables (an independent implementation of the same data).
#include <gtest/gtest.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "hearth/tokenizer/unicode.h"
#include "hearth/tokenizer/unicode_bytes.h"

namespace hearth::tokenizer {
namespace {

TEST(TokenizerUnicode, EveryScalarValueRoundTripsThroughUtf8) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string bytes;
    AppendUtf8(cp, bytes);
    const size_t expected_length = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    ASSERT_EQ(bytes.size(), expected_length) << std::hex << static_cast<uint32_t>(cp);
    size_t length = 0;
    ASSERT_EQ(DecodeUtf8(bytes, 0, &length), cp) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(length, expected_length);
  }
}

TEST(TokenizerUnicode, RejectsMalformedSequencesOneByteAtATime) {
  const std::string bad[] = {
      "\x80",              // lone continuation
      "\xC0\x80",          // overlong NUL
      "\xC1\xBF",          // overlong
      "\xE0\x80\x80",      // overlong 3-byte
      "\xED\xA0\x80",      // surrogate U+D800
      "\xF4\x90\x80\x80",  // beyond U+10FFFF
      "\xF5\x80\x80\x80",  // invalid lead
      "\xFF",
      "\xE2\x82",          // truncated
      "\xE2\x28\xA1",      // bad continuation
  };
  for (const std::string& s : bad) {
    size_t length = 0;
    EXPECT_EQ(DecodeUtf8(s, 0, &length), kInvalidCodePoint) << s;
    EXPECT_EQ(length, 1u);
    EXPECT_FALSE(IsValidUtf8(s));
  }
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9llo \xF0\x9F\x98\x80"));
}

TEST(TokenizerUnicode, ScanUtf8RecognisesUnfinishedTails) {
  EXPECT_TRUE(ScanUtf8("ab\xF0\x9F\x98").incomplete_tail);
  EXPECT_EQ(ScanUtf8("ab\xF0\x9F\x98").valid_bytes, 2u);
  EXPECT_TRUE(ScanUtf8("\xE2").incomplete_tail);
  EXPECT_FALSE(ScanUtf8("\xE2x").incomplete_tail);   // broken, not unfinished
  EXPECT_FALSE(ScanUtf8("\xED\xA0").incomplete_tail);  // would be a surrogate
  EXPECT_FALSE(ScanUtf8("\x80").incomplete_tail);
  EXPECT_FALSE(ScanUtf8("abc").incomplete_tail);
}

TEST(TokenizerUnicode, ReplaceInvalidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(ReplaceInvalidUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ReplaceInvalidUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  size_t held = 0;
  EXPECT_EQ(ReplaceInvalidUtf8("ok\xE2\x82", true, &held), "ok");
  EXPECT_EQ(held, 2u);
  EXPECT_EQ(ReplaceInvalidUtf8("\xE2\x82x", true, &held), "\xEF\xBF\xBD\xEF\xBF\xBDx");
  EXPECT_EQ(held, 0u);
}

// Whether PCRE2 (UTF + UCP) matches `cp` with the one-character class `klass`.
bool PcreMatches(const char* klass, char32_t cp) {
  using CodePtr = std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)>;
  static std::map<std::string, CodePtr> compiled;
  auto it = compiled.find(klass);
  if (it == compiled.end()) {
    int error;
    PCRE2_SIZE offset;
    pcre2_code* fresh =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(klass), PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &error, &offset,
                      nullptr);
    pcre2_jit_compile(fresh, PCRE2_JIT_COMPLETE);
    it = compiled.emplace(klass, CodePtr(fresh, &pcre2_code_free)).first;
  }
  pcre2_code* code = it->second.get();
  std::string subject;
  AppendUtf8(cp, subject);
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                             0, 0, data, nullptr);
  pcre2_match_data_free(data);
  return rc >= 0;
}

TEST(TokenizerUnicode, CategoriesAgreeWithPcre2) {
  int checked = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x30000 ? 1 : 97)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const uint32_t hex = static_cast<uint32_t>(cp);
    ASSERT_EQ(IsLetter(cp), PcreMatches("\\p{L}", cp)) << std::hex << hex;
    ASSERT_EQ(IsNumber(cp), PcreMatches("\\p{N}", cp)) << std::hex << hex;
    ASSERT_EQ(IsPunctuation(cp), PcreMatches("\\p{P}", cp)) << std::hex << hex;
    ASSERT_EQ(IsNonspacingMark(cp), PcreMatches("\\p{Mn}", cp)) << std::hex << hex;
    ASSERT_EQ(IsSymbol(cp), PcreMatches("\\p{S}", cp)) << std::hex << hex;
    ++checked;
  }
  EXPECT_GT(checked, 190000);
}

TEST(TokenizerUnicode, WhitespaceIsTheUnicodeWhiteSpaceProperty) {
  const std::set<char32_t> expected = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,
                                       0x85,   0xA0,   0x1680, 0x2000, 0x2001, 0x2002,
                                       0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008,
                                       0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
                                       0x3000};
  for (char32_t cp = 0; cp < 0x10000; ++cp) {
    EXPECT_EQ(IsWhitespace(cp), expected.count(cp) == 1) << std::hex << static_cast<uint32_t>(cp);
  }
}

TEST(TokenizerUnicode, LowercaseAndDecomposition) {
  std::u32string out;
  AppendLowercase(U'A', out);
  AppendLowercase(U'\u00C4', out);  // Ä
  AppendLowercase(U'\u0411', out);  // Б
  AppendLowercase(U'\u0130', out);  // İ -> i + combining dot above
  AppendLowercase(U'\u4E2D', out);  // 中 has no case
  EXPECT_EQ(out, U"a\u00E4\u0431i\u0307\u4E2D");

  out.clear();
  AppendCanonicalDecomposition(U'\u1EC7', out);  // ệ
  EXPECT_EQ(out, U"e\u0323\u0302");
  out.clear();
  AppendCanonicalDecomposition(U'\uD55C', out);  // 한 (Hangul, algorithmic)
  EXPECT_EQ(out, U"\u1112\u1161\u11AB");
  out.clear();
  AppendCanonicalDecomposition(U'x', out);
  EXPECT_EQ(out, U"x");
}

TEST(TokenizerUnicode, ByteAlphabetIsABijectionOntoPrintableCharacters) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = ByteToMappedCodePoint(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second) << b;
    EXPECT_EQ(MappedCodePointToByte(cp), b);
    EXPECT_FALSE(IsWhitespace(cp) || IsControl(cp)) << b;
    std::string text;
    AppendUtf8(cp, text);
    EXPECT_EQ(ByteToMappedText(static_cast<uint8_t>(b)), text);
  }
  EXPECT_EQ(ByteToMappedCodePoint('A'), U'A');
  EXPECT_EQ(ByteToMappedCodePoint(' '), U'\u0120');  // Ġ
  EXPECT_EQ(ByteToMappedCodePoint('\n'), U'\u010A');  // Ċ
  EXPECT_EQ(MappedCodePointToByte(U'\u4E2D'), -1);
}

}  // namespace
}  // namespace hearth::tokenizer
