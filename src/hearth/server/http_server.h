// HttpServer: a small asynchronous HTTP/1.1 server on Boost.Beast for the API.
//
// N I/O threads run one io_context; each connection lives on its own strand. The server
// enforces the limits that protect it from clients: header and body size (431 / 413), header
// and body read timeouts (slow or stalled senders are dropped), a write timeout (stalled
// readers of a stream are dropped), and a connection cap (503 with Retry-After). While a
// response is pending it watches the socket, so a client that disconnects mid-stream is noticed
// at once and the handler's OnClientGone callback runs (the API cancels the engine sequence).
//
// Responses are either whole (Respond) or streamed with chunked transfer encoding (BeginStream,
// Write..., EndStream); keep-alive connections then read the next request.
//
// Given a certificate and key the server speaks HTTPS only (policy in tls_context.h): every
// connection first completes a TLS handshake within the header timeout, then behaves exactly as
// a plain one. A failed handshake (a plain-HTTP client, say) closes that connection only.
#pragma once

#include <atomic>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/server/metrics.h"

namespace hearth::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port (see HttpServer::port())
  int io_threads = 2;
  uint64_t max_body_bytes = 8u << 20;
  uint32_t max_header_bytes = 16u << 10;
  int max_connections = 512;
  // From the moment the server waits for a request until its header is complete (also the
  // keep-alive idle time between requests).
  std::chrono::milliseconds header_timeout{30'000};
  std::chrono::milliseconds body_timeout{60'000};
  // A response write that makes no progress (the client takes no byte) for this long drops the
  // client: a reader that stops reading a stream is dropped, a slow but steady one is not.
  std::chrono::milliseconds write_timeout{60'000};
  // PEM files; both or neither. When set, the server accepts TLS connections only and Start()
  // fails if a file is missing, unreadable, not PEM, or the key does not match the certificate.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// One request's way back to its client. All methods must run on the connection's strand: the
// handler is called there, and other threads get there with Post(). Calls after the response is
// complete (or after the client went away) are ignored.
class ResponseChannel {
 public:
  virtual ~ResponseChannel() = default;
  virtual void Post(std::function<void()> task) = 0;
  virtual void Respond(int status, std::string_view content_type, std::string body,
                       const HeaderList& extra_headers = {}) = 0;
  virtual void BeginStream(int status, std::string_view content_type) = 0;
  virtual void Write(std::string data) = 0;
  virtual void EndStream() = 0;
  // Runs once, on the strand, if the client disconnects before the response is complete.
  virtual void OnClientGone(std::function<void()> callback) = 0;
  virtual bool client_gone() const = 0;
  // Bytes of this response (head, body, stream chunks with their framing) that the client has
  // not yet taken: queued, or in the socket write in progress. Handlers that relay a stream use it
  // with OnDrained to bound what they queue for a slow reader.
  virtual size_t pending_bytes() const { return 0; }
  // Runs `callback` once, on the strand, as soon as pending_bytes() <= threshold (posted at once
  // when it already is). One callback at a time: a second call replaces the first. Never runs if
  // the client goes away first (OnClientGone's callback does) or the response completes.
  virtual void OnDrained(size_t threshold, std::function<void()> callback) {
    (void)threshold;
    Post(std::move(callback));
  }
  // The client's IP address as text ("127.0.0.1", "2001:db8::1"; an IPv4 client of a dual-stack
  // listener shows as IPv4), for logs and audit records. Empty if unknown.
  virtual std::string remote_address() const { return {}; }
};

using RequestHandler =
    std::function<void(HttpRequest& request, const std::shared_ptr<ResponseChannel>& channel)>;

class HttpServer {
 public:
  // `metrics` (may be null) counts every response by endpoint and status, including the ones
  // the server itself sends (413, 431, 503).
  HttpServer(HttpServerOptions options, RequestHandler handler, ServerMetrics* metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the TLS certificate and key (when configured), binds, listens and starts the I/O
  // threads.
  Status Start();
  uint16_t port() const { return port_; }

  // Graceful shutdown, step one: stop accepting, close idle keep-alive connections, and make
  // every in-flight response the last one on its connection. Returns once the listening socket
  // is closed; call it from outside the I/O threads.
  void StopAccepting();
  // Open connections (rejected over-limit connections not counted).
  int active_connections() const;
  // Waits until no connection is open or the timeout passes; returns true when none is left.
  bool WaitForIdle(std::chrono::milliseconds timeout);
  // Stops the I/O threads (open connections are closed). Idempotent.
  // Lifetime: a ResponseChannel keeps its connection alive, and a connection uses the server's
  // state when it is destroyed; so every channel a handler handed to other threads must be
  // released (their work finished) after Stop() and before the HttpServer is destroyed.
  void Stop();

  struct State;  // the io_context, acceptor and connection registry

 private:
  HttpServerOptions options_;
  std::unique_ptr<State> state_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace hearth::server
