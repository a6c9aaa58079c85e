// Fuzzes the API request parser (JSON body -> validated ApiRequest or a 400 error) for both
// endpoints, and the streaming text pipeline on the same bytes. Any crash, sanitizer report,
// uncaught exception, or an invariant below failing is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hearth/server/request.h"
#include "hearth/server/stop_matcher.h"
#include "hearth/server/utf8_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hearth::server;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (ApiKind kind : {ApiKind::kChatCompletions, ApiKind::kCompletions}) {
    ApiRequest request;
    if (auto error = ParseApiRequest(kind, body, &request)) {
      if (error->http_status != 400 || error->message.empty()) std::abort();
      (void)error->ToJson();
      continue;
    }
    // Accepted requests honour the documented limits.
    if (request.n < 1 || request.n > kMaxChoices) std::abort();
    if (request.max_tokens && *request.max_tokens < 1) std::abort();
    if (request.stop.size() > static_cast<size_t>(kMaxStopStrings)) std::abort();
    if (kind == ApiKind::kChatCompletions && request.messages.empty()) std::abort();
    if (kind == ApiKind::kCompletions && !request.prompt_text && request.prompt_tokens.empty()) {
      std::abort();
    }
    // Stream the body's bytes as "generated text" through the request's stop strings.
    StreamingDetokenizer detokenizer;
    StopMatcher matcher(request.stop);
    for (size_t i = 0; i < body.size(); i += 3) {
      matcher.Push(detokenizer.Push(body.substr(i, 3)));
    }
    matcher.Push(detokenizer.Flush());
    (void)matcher.Flush();
  }
  return 0;
}
