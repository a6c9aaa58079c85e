// TextCodec: what the API layer needs from the served model's tokenizer and chat template.
//
// The HTTP handlers speak text; the engine speaks token ids. This interface is the seam between
// them: the production implementation (MakeEngineTextCodec) wraps the engine's tokenizer and the
// GGUF chat template, tests may substitute their own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/engine/engine.h"
#include "hearth/server/request.h"

namespace hearth::server {

class TextCodec {
 public:
  virtual ~TextCodec() = default;

  // Renders a conversation with the model's chat template, ending with the assistant turn's
  // opening (add_generation_prompt), and tokenizes it.
  virtual Result<std::vector<int32_t>> EncodeChat(
      const std::vector<ChatMessage>& messages) const = 0;
  // Tokenizes a completion prompt (adding BOS when the model wants one).
  virtual Result<std::vector<int32_t>> EncodePrompt(std::string_view text) const = 0;
  // The bytes a token contributes to generated text: its piece for normal and byte tokens,
  // nothing for control tokens (end-of-turn markers are never shown to clients).
  virtual std::string TokenBytes(int32_t token) const = 0;
  virtual int vocab_size() const = 0;
};

// The codec of a real engine: its tokenizer and its GGUF chat template.
Result<std::unique_ptr<TextCodec>> MakeEngineTextCodec(const engine::Engine& engine);

}  // namespace hearth::server
