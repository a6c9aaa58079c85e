// Pre-tokenizer regular expressions: known splits, and the invariant that pieces always
// concatenate back to the input (any bytes, invalid UTF-8 included).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "hearth/tokenizer/pretokenize.h"

namespace hearth::tokenizer {
namespace {

using Pieces = std::vector<std::string>;

Pieces SplitWith(std::string_view name, std::string_view text) {
  auto pre = PreTokenizer::ForName(name);
  EXPECT_TRUE(pre.ok()) << pre.status().ToString();
  if (!pre.ok()) return {};
  std::vector<std::string_view> views;
  pre->Split(text, views);
  return Pieces(views.begin(), views.end());
}

const char* const kNames[] = {"default", "llama-bpe", "qwen2", "deepseek-r1-qwen",
                              "deepseek-llm", "deepseek-coder", "gpt-2", "starcoder",
                              "falcon", "mpt", "refact"};

TEST(TokenizerPreTokenize, KnownSplits) {
  EXPECT_EQ(SplitWith("qwen2", "Hello world 123"),
            (Pieces{"Hello", " world", " ", "1", "2", "3"}));
  EXPECT_EQ(SplitWith("llama-bpe", "Hello world 12345"),
            (Pieces{"Hello", " world", " ", "123", "45"}));
  EXPECT_EQ(SplitWith("llama-bpe", "I've  done\n\n it"),
            (Pieces{"I", "'ve", " ", " done", "\n\n", " it"}));
  EXPECT_EQ(SplitWith("gpt-2", "I've 42 apples!!"),
            (Pieces{"I", "'ve", " 42", " apples", "!!"}));
  EXPECT_EQ(SplitWith("starcoder", "x 123"), (Pieces{"x", " ", "1", "2", "3"}));
  EXPECT_EQ(SplitWith("deepseek-coder", "ab\ncd 12"), (Pieces{"ab", "\n", "cd", " ", "1", "2"}));
  EXPECT_EQ(SplitWith("falcon", "a 1234"), (Pieces{"a", " ", "123", "4"}));
}

TEST(TokenizerPreTokenize, PiecesConcatenateToAnyInput) {
  std::mt19937 rng(1234);
  const std::vector<std::string> atoms = {"a", "Z", " ", "  ", "\n", "\r\n", "\t", "1", "99",
                                          "'s", "'LL", "!", "...", "\xC3\xA9", "\xE4\xB8\xAD",
                                          "\xF0\x9F\x98\x80", "\xFF", "\x80", "\xE2\x82",
                                          "\xC2\xA0", "$", "\xEF\xBC\x81"};
  for (const char* name : kNames) {
    auto pre = PreTokenizer::ForName(name);
    ASSERT_TRUE(pre.ok()) << name << ": " << pre.status().ToString();
    for (int trial = 0; trial < 300; ++trial) {
      std::string text;
      const int n = static_cast<int>(rng() % 25);
      for (int i = 0; i < n; ++i) text += atoms[rng() % atoms.size()];
      std::vector<std::string_view> pieces;
      pre->Split(text, pieces);
      std::string joined;
      for (auto piece : pieces) {
        ASSERT_FALSE(piece.empty()) << name;
        joined += piece;
      }
      ASSERT_EQ(joined, text) << name;
    }
  }
}

TEST(TokenizerPreTokenize, LongWhitespaceRunsDoNotExhaustTheMatcher) {
  const std::string spaces(200000, ' ');
  const Pieces pieces = SplitWith("qwen2", spaces + "x");
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].size(), spaces.size() - 1);
  EXPECT_EQ(pieces[1], " x");
}

TEST(TokenizerPreTokenize, UnknownNamesAndBadPatternsAreErrors) {
  auto unknown = PreTokenizer::ForName("no-such-tokenizer");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("no-such-tokenizer"), std::string::npos);
  auto bad = PreTokenizer::FromPatterns({"(unclosed"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("(unclosed"), std::string::npos);
}

}  // namespace
}  // namespace hearth::tokenizer
