// WordPiece (BERT vocabularies as stored in GGUF): text is normalised the way BERT's basic
// tokenizer does (drop control characters, lowercase, strip accents, split on whitespace,
// punctuation and CJK ideographs), then each word is covered greedily by the longest
// vocabulary tokens. GGUF stores word-initial pieces with a "▁" prefix and continuation pieces
// bare (the "##" of the original vocab.txt removed); a word that cannot be covered becomes
// the unknown token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {

// The normalised words of `text` (lowercased, accents stripped), in order.
std::vector<std::string> WordPieceWords(std::string_view text);

class WpmModel {
 public:
  explicit WpmModel(const Vocab& vocab) : vocab_(&vocab) {}
  void Encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void EncodeWord(const std::string& word, std::vector<int32_t>& out) const;
  const Vocab* vocab_;
};

}  // namespace hearth::tokenizer
