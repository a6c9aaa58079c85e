#include "hearth/tokenizer/wpm.h"

#include <algorithm>

#include "hearth/tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

constexpr std::string_view kWordPrefix = "\xE2\x96\x81";  // ▁

// BERT splits every ASCII non-alphanumeric printable character off as its own word, as well
// as Unicode punctuation.
bool IsWordPiecePunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return IsPunctuation(cp);
}

}  // namespace

std::vector<std::string> WordPieceWords(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  const auto finish_word = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  std::u32string lowered;
  std::u32string decomposed;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length;
    const char32_t cp = DecodeUtf8(text, pos, &length);
    pos += length;
    // Invalid bytes, NUL, U+FFFD and control/format characters are dropped (BERT's
    // _clean_text); tab and newlines are whitespace, handled below.
    if (cp == kInvalidCodePoint || cp == 0 || cp == kReplacementCharacter) continue;
    if (IsWhitespace(cp)) {
      finish_word();
      continue;
    }
    if (IsControl(cp) || CategoryOf(cp) == GeneralCategory::kCn) continue;
    // Lowercase, then NFD, then drop nonspacing marks (BERT's strip_accents).
    lowered.clear();
    AppendLowercase(cp, lowered);
    decomposed.clear();
    for (char32_t c : lowered) AppendCanonicalDecomposition(c, decomposed);
    for (char32_t c : decomposed) {
      if (IsNonspacingMark(c)) continue;
      if (IsWordPiecePunctuation(c) || IsCjkIdeograph(c)) {
        finish_word();
        AppendUtf8(c, current);
        finish_word();
      } else {
        AppendUtf8(c, current);
      }
    }
  }
  finish_word();
  return words;
}

void WpmModel::EncodeWord(const std::string& word, std::vector<int32_t>& out) const {
  const std::string prefixed = std::string(kWordPrefix) + word;
  const size_t start_size = out.size();
  const size_t max_len = vocab_->max_token_bytes();
  size_t pos = 0;
  while (pos < prefixed.size()) {
    int32_t found = kNoToken;
    size_t found_len = 0;
    for (size_t len = std::min(max_len, prefixed.size() - pos); len > 0; --len) {
      const int32_t id = vocab_->FindMergeable(std::string_view(prefixed).substr(pos, len));
      if (id != kNoToken) {
        found = id;
        found_len = len;
        break;
      }
    }
    if (found == kNoToken) {
      // One uncoverable position spoils the whole word.
      out.resize(start_size);
      if (vocab_->unknown_id() != kNoToken) out.push_back(vocab_->unknown_id());
      return;
    }
    out.push_back(found);
    pos += found_len;
  }
}

void WpmModel::Encode(std::string_view text, std::vector<int32_t>& out) const {
  for (const std::string& word : WordPieceWords(text)) EncodeWord(word, out);
}

}  // namespace hearth::tokenizer
