// The validated form of an OpenAI-compatible generation request, and its parser.
//
// ParseApiRequest turns a request body (untrusted bytes) into an ApiRequest or an error naming
// the offending field. It checks syntax, types, ranges and the combinations OpenAI rejects; it
// knows nothing about the served model, so checks that need the vocabulary or the context length
// (token ids, prompt length) happen later, in the handler. It is the fuzzing entry point
// (fuzz/request_fuzz.cc) and must never crash on any input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/engine/engine.h"
#include "hearth/server/api_error.h"

namespace hearth::server {

enum class ApiKind { kChatCompletions, kCompletions };

struct ChatMessage {
  std::string role;  // system, developer, user, assistant, tool
  std::string content;
};

// Limits on what one request may ask for.
inline constexpr int kMaxChoices = 16;  // n
inline constexpr int kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 512;
inline constexpr int kMaxTopLogprobs = 20;

struct ApiRequest {
  ApiKind kind = ApiKind::kChatCompletions;
  std::string model;  // empty: the served model

  // Chat: the conversation. Completions: the prompt, as text or as token ids.
  std::vector<ChatMessage> messages;
  std::optional<std::string> prompt_text;
  std::vector<int32_t> prompt_tokens;

  std::optional<int> max_tokens;  // absent: chat fills the context, completions default to 16
  std::vector<std::string> stop;
  engine::SamplingParams sampling;
  bool seed_given = false;  // otherwise the handler draws a random seed
  int n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool ignore_eos = false;
};

// Parses and validates a request body for `kind`. On failure returns the error a client should
// see (400, with `param` naming the field).
std::optional<ApiError> ParseApiRequest(ApiKind kind, std::string_view body, ApiRequest* out);

}  // namespace hearth::server
