// Splitting input text at special-token texts before any other processing.
//
// User-defined tokens (added tokens such as Qwen's "<tool_call>") are always matched in the
// text; control and unknown tokens ("<|im_start|>", "<s>") only when the caller asks to parse
// specials, so that user text can never smuggle in control tokens. Tokens are tried longest
// first: each one splits every remaining raw-text fragment at all of its occurrences (the
// reference engine's order, which decides overlaps).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {

struct TextFragment {
  int32_t token = kNoToken;  // a matched special token, or kNoToken for raw text
  std::string_view text;     // the raw text (empty for tokens)
};

std::vector<TextFragment> PartitionSpecialTokens(const Vocab& vocab, std::string_view text,
                                                 bool parse_special);

}  // namespace hearth::tokenizer
