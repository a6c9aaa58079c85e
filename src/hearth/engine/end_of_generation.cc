#include "hearth/engine/end_of_generation.h"

#include <algorithm>
#include <string_view>

namespace hearth::engine {

std::vector<int32_t> EndOfGenerationTokens(const gguf::GgufFile& file,
                                           const tokenizer::Vocab& vocab) {
  std::vector<int32_t> ids;
  auto add = [&](int64_t id) {
    if (id >= 0 && id < vocab.size()) ids.push_back(static_cast<int32_t>(id));
  };
  add(vocab.eos_id());
  for (std::string_view key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (auto id = file.GetInt(key); id.ok()) add(*id);
  }
  static constexpr std::string_view kEndOfTurnMarkers[] = {
      "<|im_end|>",     "<|eot_id|>",  "<|eom_id|>",    "<|end|>",
      "<|endoftext|>",  "<end_of_turn>", "<|end_of_text|>", "<｜end▁of▁sentence｜>",
  };
  for (std::string_view marker : kEndOfTurnMarkers) {
    const int32_t id = vocab.Find(marker);
    if (id == tokenizer::kNoToken) continue;
    // Only as special tokens: a vocabulary where the text is an ordinary word keeps it.
    const tokenizer::TokenType type = vocab.type(id);
    if (type == tokenizer::TokenType::kControl || type == tokenizer::TokenType::kUserDefined) {
      add(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace hearth::engine
