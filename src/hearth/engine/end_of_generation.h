// Which tokens end a generation: the vocabulary's EOS, the end-of-turn / end-of-message ids a
// GGUF may name (tokenizer.ggml.eot_token_id, eom_token_id), and the well-known end-of-turn
// markers of chat formats (ChatML "<|im_end|>", Llama 3 "<|eot_id|>", ...) when the vocabulary
// has them as special tokens. Chat models often leave EOS at the end-of-text token while their
// template closes each turn with another one; without these the model would run on into a
// hallucinated next turn.
#pragma once

#include <cstdint>
#include <vector>

#include "hearth/gguf/gguf_file.h"
#include "hearth/tokenizer/vocab.h"

namespace hearth::engine {

// Sorted, without duplicates.
std::vector<int32_t> EndOfGenerationTokens(const gguf::GgufFile& file,
                                           const tokenizer::Vocab& vocab);

}  // namespace hearth::engine
