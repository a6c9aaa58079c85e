// A small blocking HTTP/1.1 client for the end-to-end tests: one request per connection
// (Connection: close) to 127.0.0.1, with a hard deadline on the whole exchange, so a hung
// platform fails a test instead of hanging it. Responses are parsed by Beast's parser (chunked
// bodies included, so an SSE stream arrives as its concatenated text).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::e2e {

struct HttpReply {
  int status = 0;                              // 0: no status line received
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool complete = false;  // the whole message (headers and body) arrived
  std::string error;      // why not, when !complete
};

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpReply HttpCall(uint16_t port, std::string_view method, std::string_view target,
                   std::string_view body = {}, const Headers& headers = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Headers for a JSON request with `Authorization: Bearer <token>` (none when token is empty).
Headers JsonWithBearer(const std::string& token);

// A free loopback TCP port (bound to 127.0.0.1:0 and released; another process could take it
// before use, which the caller tolerates by retrying).
uint16_t FreeLoopbackPort();

}  // namespace hearth::e2e
