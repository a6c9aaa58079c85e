// Tokenizer: text <-> token ids for the vocabularies GGUF models carry (tokenizer.ggml.*):
// SentencePiece-style BPE ("llama"), byte-level BPE ("gpt2") and WordPiece ("bert").
//
// Encode(text, add_special, parse_special):
//   add_special    prepend BOS / append EOS where the vocabulary asks for them
//                  (tokenizer.ggml.add_bos_token / add_eos_token).
//   parse_special  recognise control-token texts such as "<|im_start|>" in the input. Without
//                  it those texts are tokenized as ordinary characters. User-defined (added)
//                  tokens are recognised either way.
// Decode(ids) is the exact inverse for byte-level BPE and SentencePiece vocabularies (control
// tokens render as nothing unless asked); WordPiece decoding is lossy (lowercase, accents and
// spacing around punctuation are gone).
//
// A Tokenizer is immutable after construction and safe to use from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/tokenizer/vocab.h"

namespace hearth::gguf {
class GgufFile;
}

namespace hearth::tokenizer {

class Tokenizer {
 public:
  static Result<Tokenizer> FromGguf(const gguf::GgufFile& file);
  // Opens a GGUF model or vocabulary file and reads its tokenizer.
  static Result<Tokenizer> Open(const std::filesystem::path& path);
  static Result<Tokenizer> FromSpec(VocabSpec spec);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const;

  // The bytes `ids` stand for. InvalidArgument names the first id outside the vocabulary.
  // `render_special`: control tokens contribute their text instead of nothing.
  Result<std::string> Decode(std::span<const int32_t> ids, bool render_special = false) const;

  // The bytes one token contributes on its own (no leading-space removal); empty for an id
  // outside the vocabulary. May be a fragment of a UTF-8 sequence.
  std::string TokenToPiece(int32_t id, bool render_special = false) const;

  const Vocab& vocab() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::tokenizer
