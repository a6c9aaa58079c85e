// Fuzzes the chat-template engine: arbitrary bytes are parsed as a Jinja template and, when
// that succeeds, rendered against a fixed conversation (messages with tool calls, tools, tokens).
// Any crash, sanitizer report, hang or runaway allocation is a finding; errors are expected.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "hearth/tokenizer/chat_template.h"

namespace {

const nlohmann::ordered_json& Context() {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": true,
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Hi \"there\" 你好\n  spaced  "},
      {"role": "assistant", "content": "<think>hmm</think>Hello", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 2.5}}}]},
      {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"},
      {"role": "user", "content": ["list", "content", 1, null, true]}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather",
      "description": "Weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
  })");
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view source(reinterpret_cast<const char*>(data), size);
  auto tmpl = hearth::tokenizer::ChatTemplate::Parse(source);
  if (!tmpl.ok()) return 0;
  hearth::tokenizer::RenderOptions options;
  options.clock = [] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1736937000));
  };
  // Tight limits keep each input fast; the limits themselves are part of what is tested.
  options.max_output_bytes = 1 << 20;
  options.max_steps = 20000;
  options.max_call_depth = 32;
  auto rendered = tmpl->Render(Context(), options);
  (void)rendered;
  return 0;
}
