// `hearth tokenize`, driven as a process: its ids must be what the library's Encode gives.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "hearth/base/file_util.h"
#include "hearth/tokenizer/tokenizer.h"
#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

std::filesystem::path QwenVocab() {
  return testing::FixturePath("tokenizer/ggml-vocab-qwen2.5.gguf");
}

std::string Ids(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "") << ids[i];
  out << "\n";
  return out.str();
}

class TokenizerCli : public ::testing::Test {
 protected:
  void SetUp() override {
    HEARTH_REQUIRE_FIXTURE(QwenVocab());
    if (!std::filesystem::exists(testing::HearthBinary())) {
      GTEST_SKIP() << "hearth binary not built: " << testing::HearthBinary();
    }
    auto tokenizer = Tokenizer::Open(QwenVocab());
    ASSERT_TRUE(tokenizer.ok());
    tokenizer_ = std::make_unique<Tokenizer>(std::move(*tokenizer));
  }
  std::string Hearth(const std::string& args) {
    return testing::HearthBinary().string() + " tokenize " + QwenVocab().string() + " " + args;
  }
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(TokenizerCli, PrintsIdsWithoutSpecials) {
  const auto result = testing::RunCommand(Hearth("'<|im_start|>Hello world'"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, Ids(tokenizer_->Encode("<|im_start|>Hello world", false, false)));
}

TEST_F(TokenizerCli, SpecialParsesControlTokens) {
  const auto result = testing::RunCommand(Hearth("--special '<|im_start|>Hello'"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto expected = tokenizer_->Encode("<|im_start|>Hello", true, true);
  EXPECT_EQ(result.out, Ids(expected));
  EXPECT_EQ(expected.front(), tokenizer_->vocab().Find("<|im_start|>"));
}

TEST_F(TokenizerCli, JsonFromFile) {
  testing::TempDir dir;
  const std::string text = "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87\n";
  ASSERT_TRUE(AtomicWriteFile(dir / "in.txt", text).ok());
  const auto result = testing::RunCommand(Hearth("--json --file " + (dir / "in.txt").string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  const auto ids = tokenizer_->Encode(text, false, false);
  EXPECT_EQ(json["ids"].get<std::vector<int32_t>>(), ids);
  std::string joined;
  for (const auto& piece : json["pieces"]) joined += piece.get<std::string>();
  EXPECT_EQ(joined, text);
}

TEST_F(TokenizerCli, ErrorsAreOneLine) {
  auto result = testing::RunCommand(testing::HearthBinary().string() +
                                    " tokenize /nonexistent.gguf hi");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(result.err.rfind("hearth: ", 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1);

  result = testing::RunCommand(Hearth(""));  // neither TEXT nor --file
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("TEXT or --file"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace hearth::tokenizer
