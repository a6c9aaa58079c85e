// A minimal blocking HTTP/1.1 client over a raw TCP socket, for tests of the HTTP server, the
// engine API and the platform gateway: it writes exactly the bytes a test gives it and parses
// responses itself (Content-Length or chunked bodies, whole or chunk by chunk as they arrive), so
// the server's framing is checked independently of Beast.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;                            // de-chunked
  bool chunked = false;
  std::vector<std::string> chunks;  // raw chunk payloads, in order

  std::string header(const std::string& name) const;
};

// A TCP socket connected to 127.0.0.1:port, or -1. With `receive_buffer_bytes` > 0 its receive
// buffer is set to that before connecting (so the TCP window is negotiated for it): a test that
// stops reading then holds back the server's writes instead of the kernel absorbing them.
int ConnectLoopback(uint16_t port, int receive_buffer_bytes = 0);

// Writes all of `data` to a socket (no SIGPIPE); false when the peer is gone.
bool SendAll(int fd, std::string_view data);

class TestConnection {
 public:
  // Connects to 127.0.0.1:port; check connected().
  explicit TestConnection(uint16_t port);
  ~TestConnection();
  TestConnection(const TestConnection&) = delete;
  TestConnection& operator=(const TestConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool SendRaw(const std::string& bytes);
  bool SendRequest(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& extra_headers = "");
  // Reads one response; nullopt on EOF/timeout before a complete response.
  std::optional<HttpResponse> ReadResponse(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The rest of a response after ReadHeaders (and any chunks read so far); false on EOF,
  // timeout or bad framing.
  bool ReadBody(HttpResponse* response,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Reads the status line and headers only (for streams read chunk by chunk).
  std::optional<HttpResponse> ReadHeaders(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Reads one chunk of a chunked body; nullopt at the terminating chunk or on error.
  std::optional<std::string> ReadChunk(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Exactly n bytes as they arrive (nullopt on EOF/timeout).
  std::optional<std::string> ReadBytes(size_t n, std::chrono::milliseconds timeout) {
    return ReadExactly(n, std::chrono::steady_clock::now() + timeout);
  }
  // True when the server closed the connection (EOF) within the timeout.
  bool WaitForClose(std::chrono::milliseconds timeout);
  // Abortive close (RST) or plain close.
  void Close(bool reset = false);

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> ReadExactly(size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
// `extra_headers`: header lines, each ending with \r\n.
std::optional<HttpResponse> Fetch(uint16_t port, const std::string& method,
                                  const std::string& target, const std::string& body = "",
                                  const std::string& extra_headers = "");

// "Authorization: Bearer TOKEN\r\n", for `extra_headers`.
std::string Bearer(const std::string& token);

// The `data:` payloads of an SSE body, in order (including "[DONE]"); fails the current test on
// framing errors (lines other than "data: ..." or events not separated by a blank line).
std::vector<std::string> ParseSse(const std::string& body);

}  // namespace hearth::server::testing
