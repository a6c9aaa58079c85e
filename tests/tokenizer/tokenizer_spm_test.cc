// SentencePiece-style BPE, checked against a naive reference (scan all adjacent pairs for the
// best-scoring vocabulary token, leftmost on ties, merge, repeat), plus the SPM conventions:
// space prefix, "▁" for spaces, <0xNN> byte fallback.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "hearth/tokenizer/spm.h"
#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/unicode.h"
#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

struct RandomSpm {
  VocabSpec spec;
  std::map<std::string, int32_t> ids;

  explicit RandomSpm(uint32_t seed) {
    std::mt19937 rng(seed);
    spec.model = "llama";
    Add("<unk>", 0.0f, 2);
    Add("<s>", 0.0f, 3);
    Add("</s>", 0.0f, 3);
    for (int b = 0; b < 256; ++b) {
      char text[8];
      std::snprintf(text, sizeof(text), "<0x%02X>", b);
      Add(text, 0.0f, 6);
    }
    // Characters: a, b, é (2 bytes), ▁ ; 'z' is deliberately missing (byte fallback).
    const std::vector<std::string> chars = {"a", "b", "\xC3\xA9", "\xE2\x96\x81"};
    for (const auto& c : chars) Add(c, -100.0f, 1);
    for (int i = 0; i < 40; ++i) {
      std::string piece;
      const int length = 2 + static_cast<int>(rng() % 4);
      for (int j = 0; j < length; ++j) piece += chars[rng() % chars.size()];
      // Few distinct scores so that ties (leftmost wins) are exercised.
      Add(piece, -static_cast<float>(rng() % 5), 1);
    }
  }

  void Add(const std::string& text, float score, int32_t type) {
    if (ids.count(text) != 0) return;
    ids[text] = static_cast<int32_t>(spec.tokens.size());
    spec.tokens.push_back(text);
    spec.scores.push_back(score);
    spec.token_types.push_back(type);
  }

  std::vector<int32_t> Reference(const std::string& text) const {
    std::vector<std::string> pieces;
    for (size_t pos = 0; pos < text.size();) {
      size_t len;
      DecodeUtf8(text, pos, &len);
      pieces.push_back(text.substr(pos, len));
      pos += len;
    }
    for (;;) {
      bool found = false;
      float best_score = 0;
      size_t best = 0;
      for (size_t i = 0; i + 1 < pieces.size(); ++i) {
        auto it = ids.find(pieces[i] + pieces[i + 1]);
        if (it == ids.end() || spec.token_types[it->second] != 1) continue;
        const float score = spec.scores[it->second];
        if (!found || score > best_score) found = true, best_score = score, best = i;
      }
      if (!found) break;
      pieces[best] += pieces[best + 1];
      pieces.erase(pieces.begin() + static_cast<long>(best) + 1);
    }
    std::vector<int32_t> out;
    for (const auto& piece : pieces) {
      auto it = ids.find(piece);
      if (it != ids.end() && spec.token_types[it->second] == 1) {
        out.push_back(it->second);
      } else {
        for (unsigned char c : piece) out.push_back(3 + c);  // <0xNN> tokens start at id 3
      }
    }
    return out;
  }
};

TEST(SpmModel, AgreesWithNaiveReference) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    RandomSpm random(seed);
    auto vocab = Vocab::Create(random.spec);
    ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
    SpmModel model(*vocab);
    std::mt19937 rng(seed * 31);
    const std::vector<std::string> alphabet = {"a", "b", "\xC3\xA9", "\xE2\x96\x81", "z",
                                               "\xFF"};
    for (int trial = 0; trial < 200; ++trial) {
      std::string text;
      const int length = static_cast<int>(rng() % 30);
      for (int i = 0; i < length; ++i) text += alphabet[rng() % alphabet.size()];
      std::vector<int32_t> ids;
      model.Encode(text, ids);
      ASSERT_EQ(ids, random.Reference(text)) << "seed " << seed << " text '" << text << "'";
    }
  }
}

TEST(SpmModel, EscapesSpaces) {
  EXPECT_EQ(EscapeSpmWhitespace(" a b "), "\xE2\x96\x81" "a\xE2\x96\x81" "b\xE2\x96\x81");
}

std::filesystem::path LlamaSpm() {
  return testing::FixturePath("tokenizer/ggml-vocab-llama-spm.gguf");
}

TEST(SpmTokenizer, SpacePrefixBosAndByteFallback) {
  HEARTH_REQUIRE_FIXTURE(LlamaSpm());
  auto tokenizer = Tokenizer::Open(LlamaSpm());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  const Vocab& vocab = tokenizer->vocab();
  EXPECT_TRUE(vocab.add_space_prefix());
  EXPECT_TRUE(vocab.add_bos());

  const auto plain = tokenizer->Encode("Hello", false, false);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(vocab.text(plain[0]), "\xE2\x96\x81Hello");  // the space prefix became ▁

  const auto with_bos = tokenizer->Encode("Hello", true, false);
  EXPECT_EQ(with_bos, (std::vector<int32_t>{vocab.bos_id(), plain[0]}));
  EXPECT_EQ(*tokenizer->Decode(with_bos), "Hello");

  // A character outside the vocabulary comes out as its UTF-8 bytes.
  const std::string rare = "\xF0\x9F\xA6\x99";  // 🦙
  const auto ids = tokenizer->Encode(rare, false, false);
  int byte_tokens = 0;
  for (int32_t id : ids) byte_tokens += vocab.type(id) == TokenType::kByte;
  EXPECT_EQ(byte_tokens, 4);
  EXPECT_EQ(*tokenizer->Decode(ids), rare);

  // "<s>" typed by a user is text; with parse_special it is BOS.
  const auto typed = tokenizer->Encode("<s>", false, false);
  EXPECT_EQ(std::count(typed.begin(), typed.end(), vocab.bos_id()), 0);
  EXPECT_EQ(tokenizer->Encode("<s>", false, true), (std::vector<int32_t>{vocab.bos_id()}));
}

}  // namespace
}  // namespace hearth::tokenizer
