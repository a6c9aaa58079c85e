// Server-sent events framing as OpenAI clients parse it: `data: <payload>\n\n` per event and a
// final `data: [DONE]\n\n`.
#pragma once

#include <string>
#include <string_view>

namespace hearth::server {

inline std::string SseEvent(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out.append("data: ").append(payload).append("\n\n");
  return out;
}

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace hearth::server
