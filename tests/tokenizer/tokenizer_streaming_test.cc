// StreamingDecoder: only complete UTF-8 comes out, nothing is lost, and the concatenation of
// its outputs equals the (sanitised) whole-sequence decode.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "hearth/tokenizer/detokenizer.h"
#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/unicode.h"
#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

std::filesystem::path Vocab(const std::string& name) {
  return testing::FixturePath("tokenizer/ggml-vocab-" + name + ".gguf");
}

TEST(TokenizerStreaming, HoldsBackSplitCharacters) {
  HEARTH_REQUIRE_FIXTURE(Vocab("llama-spm"));
  auto tokenizer = Tokenizer::Open(Vocab("llama-spm"));
  ASSERT_TRUE(tokenizer.ok());
  // 🦙 is not in the Llama 2 vocabulary: it is encoded as four <0xNN> byte tokens.
  const std::string text = "a \xF0\x9F\xA6\x99!";
  const auto ids = tokenizer->Encode(text, false, false);
  StreamingDecoder stream(*tokenizer);
  std::vector<std::string> parts;
  for (int32_t id : ids) {
    auto part = stream.Push(id);
    ASSERT_TRUE(part.ok());
    EXPECT_TRUE(IsValidUtf8(*part));
    parts.push_back(*part);
  }
  std::string joined;
  for (const auto& p : parts) joined += p;
  joined += stream.Flush();
  EXPECT_EQ(joined, text);
  // The emoji arrives whole in one part: never as fragments.
  EXPECT_NE(std::find(parts.begin(), parts.end(), "\xF0\x9F\xA6\x99"), parts.end());
}

TEST(TokenizerStreaming, RandomIdsMatchTheSanitisedWholeDecode) {
  for (const char* name : {"qwen2.5", "llama-spm", "bert-bge"}) {
    HEARTH_REQUIRE_FIXTURE(Vocab(name));
    auto tokenizer = Tokenizer::Open(Vocab(name));
    ASSERT_TRUE(tokenizer.ok());
    std::mt19937 rng(99);
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<int32_t> ids;
      const int n = 1 + static_cast<int>(rng() % 20);
      for (int i = 0; i < n; ++i) {
        ids.push_back(static_cast<int32_t>(rng() % tokenizer->vocab().size()));
      }
      StreamingDecoder stream(*tokenizer, trial % 2 == 0);
      std::string streamed;
      for (int32_t id : ids) {
        auto part = stream.Push(id);
        ASSERT_TRUE(part.ok());
        ASSERT_TRUE(IsValidUtf8(*part));
        streamed += *part;
      }
      streamed += stream.Flush();
      auto whole = tokenizer->Decode(ids, trial % 2 == 0);
      ASSERT_TRUE(whole.ok());
      ASSERT_EQ(streamed, ReplaceInvalidUtf8(*whole)) << name;
    }
  }
}

TEST(TokenizerStreaming, RejectsIdsOutsideTheVocabulary) {
  HEARTH_REQUIRE_FIXTURE(Vocab("gpt-2"));
  auto tokenizer = Tokenizer::Open(Vocab("gpt-2"));
  ASSERT_TRUE(tokenizer.ok());
  StreamingDecoder stream(*tokenizer);
  EXPECT_FALSE(stream.Push(-1).ok());
  auto bad = stream.Push(tokenizer->vocab().size());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("outside the vocabulary"), std::string::npos);
  EXPECT_FALSE(tokenizer->Decode(std::vector<int32_t>{1, 999999}).ok());
}

}  // namespace
}  // namespace hearth::tokenizer
