#include "hearth/tokenizer/detokenizer.h"

#include <fmt/format.h>

#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/unicode.h"
#include "hearth/tokenizer/unicode_bytes.h"

namespace hearth::tokenizer {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // ▁

void AppendUnescapingSpaceMarks(std::string_view text, std::string& out) {
  size_t pos = 0;
  for (size_t at = text.find(kSpaceMark); at != std::string_view::npos;
       at = text.find(kSpaceMark, pos)) {
    out.append(text.substr(pos, at - pos));
    out.push_back(' ');
    pos = at + kSpaceMark.size();
  }
  out.append(text.substr(pos));
}

void AppendByteLevelDecoded(std::string_view text, std::string& out) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length;
    const char32_t cp = DecodeUtf8(text, pos, &length);
    const int byte = cp == kInvalidCodePoint ? -1 : MappedCodePointToByte(cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      // Not part of the byte alphabet: keep the text as written.
      out.append(text.substr(pos, length));
    }
    pos += length;
  }
}

}  // namespace

void AppendTokenPiece(const Vocab& vocab, int32_t id, bool render_special, std::string& out) {
  const std::string_view text = vocab.text(id);
  switch (vocab.type(id)) {
    case TokenType::kUndefined:
    case TokenType::kNormal:
      if (vocab.model() == VocabModel::kBpe) {
        AppendByteLevelDecoded(text, out);
      } else {
        AppendUnescapingSpaceMarks(text, out);
      }
      return;
    case TokenType::kByte: {
      const int byte = vocab.ByteOfToken(id);
      if (byte >= 0) {
        out.push_back(static_cast<char>(byte));
      } else {
        out.append(text);
      }
      return;
    }
    case TokenType::kUserDefined:
    case TokenType::kUnknown:
      out.append(text);
      return;
    case TokenType::kControl:
      if (render_special) out.append(text);
      return;
    case TokenType::kUnused:
      return;
  }
}

PieceAssembler::PieceAssembler(const Vocab& vocab, bool render_special)
    : vocab_(&vocab),
      render_special_(render_special),
      strip_leading_space_(vocab.model() == VocabModel::kWpm ||
                           (vocab.model() == VocabModel::kSpm && vocab.add_space_prefix())) {}

Status PieceAssembler::Append(int32_t id, std::string& out) {
  if (!vocab_->Contains(id)) {
    return Status::InvalidArgument(fmt::format(
        "tokenizer: token id {} is outside the vocabulary (0..{})", id, vocab_->size() - 1));
  }
  // Control tokens (BOS and friends) do not end the start of the text: the space the encoder
  // put before the first word comes after them.
  if (vocab_->type(id) == TokenType::kControl) {
    AppendTokenPiece(*vocab_, id, render_special_, out);
    return Status::Ok();
  }
  const size_t before = out.size();
  AppendTokenPiece(*vocab_, id, render_special_, out);
  if (at_start_ && strip_leading_space_ && out.size() > before && out[before] == ' ') {
    out.erase(before, 1);
  }
  at_start_ = false;
  return Status::Ok();
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(&tokenizer),
      render_special_(render_special),
      assembler_(tokenizer.vocab(), render_special) {}

Result<std::string> StreamingDecoder::Push(int32_t id) {
  HEARTH_RETURN_IF_ERROR(assembler_.Append(id, pending_));
  size_t held = 0;
  std::string ready = ReplaceInvalidUtf8(pending_, /*hold_incomplete_tail=*/true, &held);
  pending_.erase(0, pending_.size() - held);
  return ready;
}

std::string StreamingDecoder::Flush() {
  std::string rest = ReplaceInvalidUtf8(pending_);
  pending_.clear();
  assembler_ = PieceAssembler(tokenizer_->vocab(), render_special_);
  return rest;
}

}  // namespace hearth::tokenizer
