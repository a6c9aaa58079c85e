#include "hearth/tokenizer/spm.h"

#include <queue>
#include <string>

#include "hearth/tokenizer/unicode.h"

namespace hearth::tokenizer {

std::string EscapeSpmWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') {
      out += "\xE2\x96\x81";
    } else {
      out += c;
    }
  }
  return out;
}

void SpmModel::EmitBytes(std::string_view text, std::vector<int32_t>& out) const {
  for (char c : text) {
    const int32_t id = vocab_->ByteToken(static_cast<uint8_t>(c));
    if (id != kNoToken) {
      out.push_back(id);
    } else if (vocab_->unknown_id() != kNoToken) {
      out.push_back(vocab_->unknown_id());
    }
  }
}

void SpmModel::Encode(std::string_view text, std::vector<int32_t>& out) const {
  struct Symbol {
    size_t start;
    size_t length;  // 0 once merged into its left neighbour
    int prev;
    int next;
  };
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    // One symbol per character; an invalid byte is a symbol of its own, so it can neither
    // swallow the "▁" after it nor hide it from byte fallback.
    size_t length;
    DecodeUtf8(text, pos, &length);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back(Symbol{pos, length, index - 1, -1});
    if (index > 0) symbols[index - 1].next = index;
    pos += length;
  }

  struct Candidate {
    float score;
    int left;
    int right;
    size_t length;  // bytes of the merged text when queued; a mismatch means stale
  };
  const auto worse = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> queue(worse);
  const auto push = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const int32_t id = vocab_->FindMergeable(text.substr(symbols[left].start, length));
    if (id == kNoToken) return;
    queue.push(Candidate{vocab_->score(id), left, right, length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) push(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != c.length ||
        left.next != c.right) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    push(left.prev, c.left);
    push(c.left, left.next);
  }

  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].start, symbols[i].length);
    const int32_t id = vocab_->FindMergeable(piece);
    if (id != kNoToken) {
      out.push_back(id);
    } else {
      EmitBytes(piece, out);
    }
  }
}

}  // namespace hearth::tokenizer
