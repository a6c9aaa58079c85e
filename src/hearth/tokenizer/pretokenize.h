// Pre-tokenization for byte-level BPE: splitting text into words with the regular expressions
// the model was trained with (named by tokenizer.ggml.pre).
//
// A pre-tokenizer is a sequence of patterns. Each pattern splits every piece produced so far:
// its matches and the gaps between them both become pieces (the "isolated" split of HF
// tokenizers), so the pieces always concatenate back to the input. Matching uses PCRE2 with
// UTF + UCP (so \p{L}, \s are Unicode-aware) and JIT. Invalid UTF-8 is tolerated
// (PCRE2_MATCH_INVALID_UTF): no pattern matches an invalid byte, so such bytes end up in gap
// pieces and reach the byte-level BPE unchanged.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::tokenizer {

// The pattern list for a tokenizer.ggml.pre name; NotFound for names this build does not know.
Result<std::vector<std::string>> PreTokenizerPatterns(std::string_view pre_name);

class PreTokenizer {
 public:
  static Result<PreTokenizer> ForName(std::string_view pre_name);
  // Compiles `patterns` (errors name the pattern and the offset PCRE2 complains about).
  static Result<PreTokenizer> FromPatterns(std::vector<std::string> patterns);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends to `pieces` views into `text` whose concatenation is `text`; no piece is empty.
  void Split(std::string_view text, std::vector<std::string_view>& pieces) const;

  size_t pattern_count() const;

 private:
  struct Compiled;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

}  // namespace hearth::tokenizer
