// Special tokens: control tokens only with parse_special, user-defined tokens always, BOS/EOS
// only with add_special and only where the vocabulary asks for them.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/tokenizer_special.h"
#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

std::filesystem::path Vocab(const std::string& name) {
  return testing::FixturePath("tokenizer/ggml-vocab-" + name + ".gguf");
}

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST(TokenizerSpecial, QwenControlTokensOnlyWhenParsingSpecials) {
  HEARTH_REQUIRE_FIXTURE(Vocab("qwen2.5"));
  auto tokenizer = Tokenizer::Open(Vocab("qwen2.5"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  const int32_t im_start = tokenizer->vocab().Find("<|im_start|>");
  const int32_t tool_call = tokenizer->vocab().Find("<tool_call>");
  ASSERT_NE(im_start, kNoToken);
  ASSERT_NE(tool_call, kNoToken);
  ASSERT_EQ(tokenizer->vocab().type(im_start), TokenType::kControl);
  ASSERT_EQ(tokenizer->vocab().type(tool_call), TokenType::kUserDefined);

  const std::string text = "<|im_start|>user\nhi<tool_call>";
  const auto plain = tokenizer->Encode(text, false, false);
  EXPECT_FALSE(Contains(plain, im_start));
  EXPECT_TRUE(Contains(plain, tool_call));  // user-defined: matched in plain text
  EXPECT_EQ(*tokenizer->Decode(plain), text);

  const auto parsed = tokenizer->Encode(text, false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), im_start);
  EXPECT_TRUE(Contains(parsed, tool_call));
  EXPECT_EQ(*tokenizer->Decode(parsed), "user\nhi<tool_call>");  // control renders as nothing
  EXPECT_EQ(*tokenizer->Decode(parsed, /*render_special=*/true), text);

  // Qwen2.5 asks for no BOS, so add_special changes nothing here.
  EXPECT_EQ(tokenizer->Encode("hi", true, false), tokenizer->Encode("hi", false, false));
}

TEST(TokenizerSpecial, Llama3AddsBeginOfText) {
  HEARTH_REQUIRE_FIXTURE(Vocab("llama-bpe"));
  auto tokenizer = Tokenizer::Open(Vocab("llama-bpe"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  const auto ids = tokenizer->Encode("Hello", true, false);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], tokenizer->vocab().bos_id());
  EXPECT_EQ(tokenizer->vocab().text(ids[0]), "<|begin_of_text|>");
  EXPECT_EQ(*tokenizer->Decode(ids), "Hello");
}

// The partition on a hand-made vocabulary, where the expected fragments are obvious.
TEST(TokenizerSpecial, PartitionPrefersLongerTokens) {
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = "gpt-2";
  spec.tokens = {"x", "<a>", "<a><b>", "<u>"};
  spec.token_types = {1, 3, 3, 4};
  auto vocab = Vocab::Create(spec);
  ASSERT_TRUE(vocab.ok());
  const auto parsed = PartitionSpecialTokens(*vocab, "1<a><b>2<a>3<u>", true);
  ASSERT_EQ(parsed.size(), 6u);
  EXPECT_EQ(parsed[0].text, "1");
  EXPECT_EQ(parsed[1].token, 2);
  EXPECT_EQ(parsed[2].text, "2");
  EXPECT_EQ(parsed[3].token, 1);
  EXPECT_EQ(parsed[4].text, "3");
  EXPECT_EQ(parsed[5].token, 3);
  const auto plain = PartitionSpecialTokens(*vocab, "1<a>2<u>", false);
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].text, "1<a>2");
  EXPECT_EQ(plain[1].token, 3);
  EXPECT_TRUE(PartitionSpecialTokens(*vocab, "", true).empty());
}

}  // namespace
}  // namespace hearth::tokenizer
