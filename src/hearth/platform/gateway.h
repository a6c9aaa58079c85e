// Gateway: the platform's OpenAI-compatible front door (/v1/*).
//
//   GET  /v1/models, /v1/models/{id}   the deployments the caller's API key may use
//   POST /v1/chat/completions          proxied to a ready replica of the deployment named by
//   POST /v1/completions               "model" (streamed responses pass through as they arrive)
//   POST /v1/embeddings                400: no deployment supports embeddings
//
// Every request needs `Authorization: Bearer hk-...` (Identity::VerifyApiKey); a missing or bad
// key is 401. A deployment the key may not use (another tenant's, or outside the key's
// deployment list) is answered exactly like one that does not exist (404 model_not_found), so
// names cannot be probed. Admission then passes the tenant's and the key's quotas (RateLimiter;
// 429 with Retry-After), and the request goes to the ready replica with the fewest requests in
// flight from this gateway (503 with Retry-After when none is ready).
//
// Usage: the gateway forwards streaming requests with stream_options.include_usage forced on,
// reads the engine's usage (the final chunk, or the "usage" of a whole response), strips the
// usage chunk again when the client did not ask for it, and records a UsageEvent through the
// UsageMeter. The response's last bytes (`data: [DONE]`, or the whole non-streaming body) are
// released only once the event has been committed. A stream that ends early (client gone, replica
// died, engine error) without the engine's usage is billed what was delivered: one completion
// token per content event (a lower bound; the prompt is not billed). Every request answered after
// the key is authenticated is one usage event: a failed one (any 4xx/5xx answer, or a stream
// ended by an error event) has error set and its HTTP status, and tokens only for what a stream
// delivered; its answer, too, goes out once the event is committed. A request refused before
// authentication (401) has no key to charge and is not metered. Errors are also counted in the
// gateway's metrics and written to the audit log (actions gateway.auth, gateway.access,
// gateway.upstream).
//
// Slow clients: a streaming client that reads slower than the engine writes does not make the
// gateway buffer the stream. The upstream call reads at most stream_window_bytes ahead
// (UpstreamRequest::receive_window); the gateway acknowledges what it has read once the client
// connection's queue is down to a quarter of the window (ResponseChannel::OnDrained). So a
// request holds at most about 1.25 windows plus one 16 KiB read, the replica's writes block (TCP
// pushes back; the engine's sequence simply waits), and other requests are unaffected. A client
// that takes no byte for the HTTP server's write_timeout is dropped, which cancels the upstream
// request as any disconnect does.
//
// The engine replicas serve one model each under their own name; the gateway drops "model" from
// the forwarded body and writes the deployment name into the "model" of every response object.
//
// Threading: Handle runs on the client connection's strand; upstream I/O runs on the proxy's
// threads and every event is posted back to that strand, so a request's state is touched by one
// thread at a time. Lifetime: stop the HttpServer's I/O threads (HttpServer::Stop) before
// destroying the Gateway, and destroy the HttpServer after it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hearth/platform/identity.h"
#include "hearth/platform/rate_limiter.h"
#include "hearth/platform/replica_directory.h"
#include "hearth/platform/store.h"
#include "hearth/platform/upstream_proxy.h"
#include "hearth/platform/usage_meter.h"
#include "hearth/server/http_server.h"

namespace hearth::platform {

struct GatewayOptions {
  UpstreamProxyOptions upstream;
  RateLimiterOptions rate_limits;
  UsageMeterOptions usage;
  Clock clock = SystemNowMillis;  // usage event times
  // Retry-After (seconds) when a deployment has no ready replica.
  int no_replica_retry_after_s = 2;
  // Backpressure for streams: at most this many bytes of an engine's stream are read ahead of a
  // client that reads slower than the engine writes (see "Slow clients" above).
  size_t stream_window_bytes = 256u << 10;
};

// What the gateway holds of streams on their way to clients (tests and /metrics).
struct StreamBufferStats {
  int64_t held_bytes = 0;               // read from replicas, not yet taken by the clients
  int64_t peak_held_bytes = 0;          // the most held_bytes of any one request, ever
  int64_t peak_client_queue_bytes = 0;  // the most queued on one client connection, ever
};

class Gateway {
 public:
  // `store`, `identity` and `directory` must outlive the Gateway.
  Gateway(Store& store, Identity& identity, const ReplicaDirectory& directory,
          GatewayOptions options = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The HttpServer handler for /v1/* (runs on the connection's strand).
  void Handle(server::HttpRequest& request,
              const std::shared_ptr<server::ResponseChannel>& channel);

  // Generation requests admitted and not yet finished, and answers waiting for their usage
  // commit.
  int requests_in_flight() const;
  // Waits until no generation request is in flight or the timeout passes; true when none is left.
  bool WaitForRequests(std::chrono::milliseconds timeout);
  // Requests this gateway has in flight on one replica (its routing counter).
  int outstanding(int64_t replica_id) const;

  StreamBufferStats stream_buffer_stats() const;

  // Prometheus text lines (hearth_gateway_*) for the platform's /metrics.
  std::string RenderMetrics() const;

  RateLimiter& rate_limiter();
  UsageMeter& usage_meter();

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace hearth::platform
