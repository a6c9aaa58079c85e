// SentencePiece-style BPE ("llama" vocabularies): starting from UTF-8 characters, repeatedly
// merge the adjacent pair whose concatenation is the vocabulary token with the highest score
// (leftmost on ties). Characters that end up as no token are emitted as <0xNN> byte tokens.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {

class SpmModel {
 public:
  explicit SpmModel(const Vocab& vocab) : vocab_(&vocab) {}

  // Encodes text whose spaces are already escaped as U+2581 (see EscapeSpmWhitespace).
  void Encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void EmitBytes(std::string_view text, std::vector<int32_t>& out) const;

  const Vocab* vocab_;
};

// " " -> "▁" (U+2581), the way SentencePiece stores spaces in its pieces.
std::string EscapeSpmWhitespace(std::string_view text);

}  // namespace hearth::tokenizer
