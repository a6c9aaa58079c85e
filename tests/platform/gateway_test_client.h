// A blocking HTTP/1.1 client over a raw TCP socket for the gateway tests: it sends exactly what a
// test asks and parses the response itself (Content-Length or chunked), so the gateway's framing
// is checked independently of Beast. Chunks can be read one at a time, as they arrive.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hearth::platform::testing {

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;                            // de-chunked
  bool chunked = false;
  std::vector<std::string> chunks;

  std::string header(const std::string& name) const;
};

class ClientConnection {
 public:
  explicit ClientConnection(uint16_t port);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // `headers`: extra header lines, each ending with \r\n.
  bool Send(const std::string& method, const std::string& target, const std::string& body,
            const std::string& headers);
  std::optional<ClientResponse> ReadHeaders(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // One chunk of a chunked body; nullopt at the last chunk, on EOF or on timeout.
  std::optional<std::string> ReadChunk(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The rest of the body after ReadHeaders (and any chunks read so far).
  bool ReadBody(ClientResponse* response,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::optional<ClientResponse> ReadResponse(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void Close();

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> ReadExactly(size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

// "Authorization: Bearer KEY\r\n".
std::string Bearer(const std::string& key);

// One request on a fresh connection.
std::optional<ClientResponse> Call(uint16_t port, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   const std::string& headers);

// The `data:` payloads of an SSE body, in order (including "[DONE]").
std::vector<std::string> SsePayloads(const std::string& body);

}  // namespace hearth::platform::testing
