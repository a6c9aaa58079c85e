#include "hearth/tokenizer/tokenizer_special.h"

namespace hearth::tokenizer {

std::vector<TextFragment> PartitionSpecialTokens(const Vocab& vocab, std::string_view text,
                                                 bool parse_special) {
  std::vector<TextFragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back(TextFragment{kNoToken, text});
  std::vector<TextFragment> next;
  for (const int32_t id : vocab.special_tokens()) {
    const TokenType type = vocab.type(id);
    if (!parse_special && type != TokenType::kUserDefined) continue;
    const std::string_view needle = vocab.text(id);
    bool split_any = false;
    next.clear();
    for (const TextFragment& fragment : fragments) {
      if (fragment.token != kNoToken || fragment.text.size() < needle.size()) {
        next.push_back(fragment);
        continue;
      }
      std::string_view rest = fragment.text;
      for (size_t at = rest.find(needle); at != std::string_view::npos; at = rest.find(needle)) {
        split_any = true;
        if (at > 0) next.push_back(TextFragment{kNoToken, rest.substr(0, at)});
        next.push_back(TextFragment{id, {}});
        rest.remove_prefix(at + needle.size());
      }
      if (!rest.empty()) next.push_back(TextFragment{kNoToken, rest});
    }
    if (split_any) fragments.swap(next);
  }
  return fragments;
}

}  // namespace hearth::tokenizer
