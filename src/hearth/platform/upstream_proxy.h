// UpstreamProxy: an asynchronous HTTP/1.1 client (Boost.Beast) that forwards a request to an
// engine replica and hands the response back piece by piece as it arrives.
//
// The proxy runs its own small io_context (the platform's HttpServer does not expose its own);
// every call lives on a strand of it, and the gateway hops back to the client connection's strand
// with ResponseChannel::Post. Body bytes are delivered as soon as one socket read has produced
// them (chunked transfer decoding is Beast's), so server-sent events pass through unbuffered.
//
// Flow control (UpstreamRequest::receive_window): the call stops reading the replica's socket
// while `receive_window` or more delivered body bytes are unacknowledged (UpstreamCall::
// Acknowledge), and resumes when acknowledgements bring that below the window. TCP then pushes
// back on the engine, so a client that reads slowly costs the platform at most about a window
// (plus one read) per request, instead of the whole stream. The idle timeout does not run while
// the call waits for acknowledgements (the silence is the client's, not the replica's).
//
// One upstream connection per request ("Connection: close"): on loopback a connect costs tens of
// microseconds, and a closed socket is also how a cancelled request reaches the engine (it
// watches for the client going away and cancels the sequence).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/server/http_server.h"

namespace hearth::platform {

struct UpstreamProxyOptions {
  int io_threads = 2;
  std::chrono::milliseconds connect_timeout{5000};
  // Longest silence allowed while waiting for the response or between two pieces of its body
  // (a long prefill or a queued request is silent too, so this is generous).
  std::chrono::milliseconds idle_timeout{300'000};
  std::chrono::milliseconds write_timeout{30'000};
};

struct UpstreamRequest {
  std::string host;
  uint16_t port = 0;
  std::string method = "POST";
  std::string target;  // "/v1/chat/completions"
  std::string content_type = "application/json";
  std::string body;
  // 0: read as fast as the replica sends; else see "Flow control" above.
  size_t receive_window = 0;
};

// Callbacks of one call; they run one at a time, on the proxy's threads, in this order:
// on_headers (at most once), on_data*, on_complete (once), unless the call is cancelled, after
// which none runs.
struct UpstreamHandler {
  std::function<void(int status, server::HeaderList headers)> on_headers;
  std::function<void(std::string data)> on_data;
  // Ok: the whole response arrived. kUnavailable: the replica could not be reached (nothing was
  // sent). kIoError / kDeadlineExceeded: the connection failed or went silent after the request
  // was sent.
  std::function<void(Status status)> on_complete;
};

class UpstreamCall {
 public:
  virtual ~UpstreamCall() = default;
  // Closes the upstream connection; thread-safe, idempotent. No callback runs afterwards.
  virtual void Cancel() = 0;
  // The consumer is done with `bytes` more of the delivered body (flow control; thread-safe).
  virtual void Acknowledge(size_t bytes) = 0;
};

class UpstreamProxy {
 public:
  explicit UpstreamProxy(UpstreamProxyOptions options = {});
  // Cancels every call still running and stops the threads.
  ~UpstreamProxy();
  UpstreamProxy(const UpstreamProxy&) = delete;
  UpstreamProxy& operator=(const UpstreamProxy&) = delete;

  std::shared_ptr<UpstreamCall> Start(UpstreamRequest request, UpstreamHandler handler);

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
};

}  // namespace hearth::platform
