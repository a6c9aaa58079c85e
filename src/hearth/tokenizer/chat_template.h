// Chat templates: the Jinja2 programs model publishers ship (GGUF `tokenizer.chat_template`,
// tokenizer_config.json) that turn a conversation into the model's prompt text.
//
// Rendering is byte-exact to Hugging Face transformers' apply_chat_template, which runs Jinja2 in
// an ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False, the loopcontrols extension ({% break %}, {% continue %}), the
// {% generation %} block, a `tojson` filter equal to json.dumps(ensure_ascii=False), and the
// globals raise_exception(message) and strftime_now(format). Those settings are fixed here:
// they are what every published template was written against.
//
//   auto tmpl = ChatTemplate::Parse(source);           // syntax errors: "line L, column C: ..."
//   auto text = tmpl->Render(context, options);       // context: {"messages": [...], ...}
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::jinja {
struct Program;
}

namespace hearth::tokenizer {

struct RenderOptions {
  // The time strftime_now() formats, in the local time zone. Unset: the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
  // Bounds that make hostile templates fail cleanly instead of exhausting the machine.
  size_t max_output_bytes = 64u << 20;
  uint64_t max_steps = 50'000'000;  // statements + loop iterations + calls
  int max_call_depth = 96;          // nested macro calls / recursive loops
};

class ChatTemplate {
 public:
  // Parses (and fully checks the syntax of) a template.
  static Result<ChatTemplate> Parse(std::string_view source);

  // Renders with `context`'s keys as template variables (messages, add_generation_prompt,
  // tools, bos_token, eos_token, ...). Objects keep their key order, which `tojson` shows.
  // Failures — the template's raise_exception(), undefined values used in arithmetic, unknown
  // filters, exceeded limits — read "line L, column C: ErrorType: message".
  Result<std::string> Render(const nlohmann::ordered_json& context,
                             const RenderOptions& options = {}) const;

  const std::string& source() const { return *source_; }

 private:
  ChatTemplate() = default;
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const jinja::Program> program_;  // immutable; shared by copies
};

// A template for GGUF files that carry none, chosen by the model family:
//   tokenizer_pre "llama-bpe" (Llama 3 vocabulary)       -> Llama 3 header format
//   tokenizer_pre "deepseek-r1-qwen", "deepseek-llm", "deepseek-v3"
//                                                         -> DeepSeek-R1 format
//   architecture "llama" with a SentencePiece vocabulary (any other tokenizer_pre)
//                                                         -> Llama 2 [INST] format
//   architecture "qwen2" and everything else              -> ChatML (<|im_start|>role ...)
std::string_view FallbackTemplateFor(std::string_view architecture, std::string_view tokenizer_pre);

}  // namespace hearth::tokenizer
