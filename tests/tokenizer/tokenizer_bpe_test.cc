// Byte-level BPE merging, checked against a deliberately naive reference: repeatedly find the
// adjacent pair with the lowest merge rank (leftmost on ties) by scanning all pairs, merge it,
// repeat; then look the pieces up.
#include <gtest/gtest.h>

#include <climits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "hearth/tokenizer/bpe.h"
#include "hearth/tokenizer/unicode_bytes.h"
#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

std::string Mapped(std::string_view raw) {
  std::string out;
  AppendByteMapped(raw, out);
  return out;
}

// A vocabulary over the alphabet "abcd " with random merges; every merge result is a token
// except a few left out on purpose (those must fall back to bytes).
struct RandomBpe {
  VocabSpec spec;
  std::map<std::pair<std::string, std::string>, int> ranks;  // mapped texts
  std::map<std::string, int32_t> ids;

  explicit RandomBpe(uint32_t seed) {
    std::mt19937 rng(seed);
    spec.model = "gpt2";
    spec.pre = "gpt-2";
    for (int b = 0; b < 256; ++b) AddToken(ByteToMappedText(static_cast<uint8_t>(b)));
    std::vector<std::string> symbols;
    for (char c : std::string("abcd ")) symbols.push_back(Mapped(std::string(1, c)));
    for (int rank = 0; rank < 60; ++rank) {
      const std::string& left = symbols[rng() % symbols.size()];
      const std::string& right = symbols[rng() % symbols.size()];
      if (ranks.count({left, right}) != 0) continue;
      ranks[{left, right}] = static_cast<int>(spec.merges.size());
      spec.merges.push_back(left + " " + right);
      const std::string merged = left + right;
      if (rng() % 7 != 0) AddToken(merged);
      symbols.push_back(merged);
    }
  }

  void AddToken(const std::string& text) {
    if (ids.count(text) != 0) return;
    ids[text] = static_cast<int32_t>(spec.tokens.size());
    spec.tokens.push_back(text);
  }

  std::vector<int32_t> Reference(std::string_view raw) const {
    std::vector<std::string> pieces;
    for (char c : raw) pieces.push_back(Mapped(std::string(1, c)));
    for (;;) {
      int best_rank = INT_MAX;
      size_t best = 0;
      for (size_t i = 0; i + 1 < pieces.size(); ++i) {
        auto it = ranks.find({pieces[i], pieces[i + 1]});
        if (it != ranks.end() && it->second < best_rank) best_rank = it->second, best = i;
      }
      if (best_rank == INT_MAX) break;
      pieces[best] += pieces[best + 1];
      pieces.erase(pieces.begin() + static_cast<long>(best) + 1);
    }
    std::vector<int32_t> out;
    for (const std::string& piece : pieces) {
      auto it = ids.find(piece);
      if (it != ids.end()) {
        out.push_back(it->second);
        continue;
      }
      // Unknown merge result: one token per byte of the piece.
      for (size_t pos = 0; pos < piece.size();) {
        const size_t len = (static_cast<uint8_t>(piece[pos]) < 0x80) ? 1 : 2;
        out.push_back(ids.at(piece.substr(pos, len)));
        pos += len;
      }
    }
    return out;
  }
};

TEST(BpeModel, ScanAndQueueAgreeWithNaiveReference) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    RandomBpe random(seed);
    auto vocab = Vocab::Create(random.spec);
    ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
    auto model = BpeModel::Create(*vocab, /*ignore_merges=*/false);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    std::mt19937 rng(seed * 7919);
    for (int trial = 0; trial < 200; ++trial) {
      std::string word;
      const size_t length = rng() % 80;
      for (size_t i = 0; i < length; ++i) word.push_back("abcd "[rng() % 5]);
      const auto expected = random.Reference(word);
      std::vector<int32_t> by_scan, by_queue, by_default;
      model->EncodeWordByScan(word, by_scan);
      model->EncodeWordByQueue(word, by_queue);
      model->EncodeWord(word, by_default);
      ASSERT_EQ(by_scan, expected) << "seed " << seed << " word '" << word << "'";
      ASSERT_EQ(by_queue, expected) << "seed " << seed << " word '" << word << "'";
      ASSERT_EQ(by_default, expected);
    }
  }
}

VocabSpec TinySpec() {
  VocabSpec spec;
  spec.model = "gpt2";
  spec.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) spec.tokens.push_back(ByteToMappedText(static_cast<uint8_t>(b)));
  spec.tokens.push_back("ab");   // 256
  spec.tokens.push_back("abc");  // 257, no merge produces it
  spec.merges = {"a b"};
  return spec;
}

TEST(BpeModel, IgnoreMergesTakesAWholeTokenWord) {
  auto vocab = Vocab::Create(TinySpec());
  ASSERT_TRUE(vocab.ok());
  auto plain = BpeModel::Create(*vocab, false);
  auto whole = BpeModel::Create(*vocab, true);
  ASSERT_TRUE(plain.ok() && whole.ok());
  std::vector<int32_t> a, b;
  plain->EncodeWord("abc", a);
  whole->EncodeWord("abc", b);
  EXPECT_EQ(a, (std::vector<int32_t>{256, 'c'}));
  EXPECT_EQ(b, (std::vector<int32_t>{257}));
}

TEST(BpeModel, EveryByteValueIsEncodable) {
  auto vocab = Vocab::Create(TinySpec());
  ASSERT_TRUE(vocab.ok());
  auto model = BpeModel::Create(*vocab, false);
  ASSERT_TRUE(model.ok());
  // Descending byte order, so that the one merge ("a b") never applies.
  std::string all;
  for (int b = 255; b >= 0; --b) all.push_back(static_cast<char>(b));
  std::vector<int32_t> ids;
  model->EncodeWord(all, ids);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(ids[255 - b], vocab->ByteToken(static_cast<uint8_t>(b)));
    EXPECT_EQ(vocab->text(ids[255 - b]), ByteToMappedText(static_cast<uint8_t>(b)));
  }
}

TEST(BpeModel, RejectsMalformedMerges) {
  VocabSpec spec = TinySpec();
  spec.merges.push_back("nospace");
  auto vocab = Vocab::Create(spec);
  ASSERT_TRUE(vocab.ok());
  auto model = BpeModel::Create(*vocab, false);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("merge 1"), std::string::npos);
}

TEST(BpeModel, MergeRankLooksUpPairs) {
  auto vocab = Vocab::Create(TinySpec());
  ASSERT_TRUE(vocab.ok());
  auto model = BpeModel::Create(*vocab, false);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->MergeRank("a", "b"), 0);
  EXPECT_EQ(model->MergeRank("b", "a"), -1);
}

}  // namespace
}  // namespace hearth::tokenizer
