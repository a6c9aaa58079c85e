// Turning token ids back into text: per-token pieces, whole sequences, and a streaming decoder
// for generation that only ever hands out complete UTF-8.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "hearth/base/status.h"
#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {

class Tokenizer;

// Appends the bytes token `id` stands for (which must be in range):
//   normal tokens   SPM: "▁" -> " "; byte-level BPE: mapped characters -> bytes;
//                   WordPiece: "▁" -> " "
//   byte tokens     the byte (<0x0A> -> "\n")
//   user-defined    their text, verbatim
//   unknown         their text ("<unk>", "[UNK]"): visible, since information was lost
//   control         their text when render_special, else nothing
//   unused          nothing
void AppendTokenPiece(const Vocab& vocab, int32_t id, bool render_special, std::string& out);

// Whole-sequence decoding rules shared by Decode and StreamingDecoder: SentencePiece and
// WordPiece encoders put a space before the first word, which decoding removes again.
class PieceAssembler {
 public:
  PieceAssembler(const Vocab& vocab, bool render_special);
  // Appends the text of `id`; InvalidArgument when it is not in the vocabulary.
  Status Append(int32_t id, std::string& out);

 private:
  const Vocab* vocab_;
  bool render_special_;
  bool strip_leading_space_;
  bool at_start_ = true;
};

// Feed ids one at a time; each call returns the text that is now complete. Bytes of a UTF-8
// sequence that is still unfinished are held back until the token that completes it (or
// Flush). Bytes that can never form valid UTF-8 come out as U+FFFD, one per byte, so every
// returned string is valid UTF-8 and the concatenation of all of them equals
// ReplaceInvalidUtf8(Decode(ids)).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool render_special = false);

  Result<std::string> Push(int32_t id);
  // Emits whatever is held back (an unfinished sequence becomes U+FFFD per byte) and resets.
  std::string Flush();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  PieceAssembler assembler_;
  std::string pending_;
};

}  // namespace hearth::tokenizer
