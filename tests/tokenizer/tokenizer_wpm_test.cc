// WordPiece: BERT-style normalisation and greedy longest-match over a small vocabulary.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/wpm.h"
#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

using Words = std::vector<std::string>;

TEST(WpmWords, LowercasesStripsAccentsAndSplitsPunctuation) {
  EXPECT_EQ(WordPieceWords("Hello, World!"), (Words{"hello", ",", "world", "!"}));
  EXPECT_EQ(WordPieceWords("\xC3\x84pfel"), (Words{"apfel"}));              // Äpfel
  EXPECT_EQ(WordPieceWords("C\xE1\xBB\xAD" "a"), (Words{"cua"}));             // Cửa
  EXPECT_EQ(WordPieceWords("\xE4\xBD\xA0\xE5\xA5\xBD!"),                      // 你好!
            (Words{"\xE4\xBD\xA0", "\xE5\xA5\xBD", "!"}));
  EXPECT_EQ(WordPieceWords("  a\t\nb  "), (Words{"a", "b"}));
  EXPECT_EQ(WordPieceWords("a\x01" "b\xE2\x80\x8D" "c"), (Words{"abc"}));  // controls dropped
  EXPECT_EQ(WordPieceWords("x\xFFy"), (Words{"xy"}));                        // invalid byte
  EXPECT_EQ(WordPieceWords("$5+3=8"), (Words{"$", "5", "+", "3", "=", "8"}));
  EXPECT_TRUE(WordPieceWords("").empty());
}

VocabSpec TinyBert() {
  VocabSpec spec;
  spec.model = "bert";
  spec.tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81un", "\xE2\x96\x81unaff",
                 "able", "aff", "\xE2\x96\x81,", "\xE2\x96\x81the", "\xE2\x96\x81" "a"};
  spec.token_types = {3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  spec.unknown_id = 1;
  spec.bos_id = 2;
  spec.separator_id = 3;
  return spec;
}

TEST(WpmModel, GreedyLongestMatchAndUnknownWords) {
  auto tokenizer = Tokenizer::FromSpec(TinyBert());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  // "unaffable" -> ▁unaff + able (longest first piece wins over ▁un + aff + able).
  EXPECT_EQ(tokenizer->Encode("Unaffable", false, false), (std::vector<int32_t>{5, 6}));
  // "the, xyz": xyz cannot be covered -> [UNK]; the comma is its own word.
  EXPECT_EQ(tokenizer->Encode("the, xyz", false, false), (std::vector<int32_t>{9, 8, 1}));
  // add_special: [CLS] ... [SEP].
  EXPECT_EQ(tokenizer->Encode("a", true, false), (std::vector<int32_t>{2, 10, 3}));
  EXPECT_EQ(*tokenizer->Decode(std::vector<int32_t>{2, 5, 6, 9, 3}), "unaffable the");
}

TEST(WpmTokenizer, BgeVocabularyRoundTripsNormalisedText) {
  const auto path = testing::FixturePath("tokenizer/ggml-vocab-bert-bge.gguf");
  HEARTH_REQUIRE_FIXTURE(path);
  auto tokenizer = Tokenizer::Open(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  const auto ids = tokenizer->Encode("Hello World, this is BERT.", false, false);
  EXPECT_EQ(*tokenizer->Decode(ids), "hello world , this is bert .");
  const auto special = tokenizer->Encode("hi", true, false);
  ASSERT_EQ(special.size(), 3u);
  EXPECT_EQ(tokenizer->vocab().text(special.front()), "[CLS]");
  EXPECT_EQ(tokenizer->vocab().text(special.back()), "[SEP]");
}

}  // namespace
}  // namespace hearth::tokenizer
