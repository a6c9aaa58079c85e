// Server: the whole serving stack — engine, text codec, API routes and HTTP server — with its
// start-up and its graceful shutdown; RunServer is `hearth serve` / `hearth engine`.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hearth/base/status.h"
#include "hearth/engine/engine.h"
#include "hearth/server/api_service.h"
#include "hearth/server/http_server.h"
#include "hearth/server/metrics.h"
#include "hearth/server/text_codec.h"

namespace hearth::server {

struct ServeOptions {
  engine::EngineOptions engine;
  HttpServerOptions http;
  std::string model_name;        // the id clients use; empty: the engine's model name
  int max_live_sequences = 256;  // more concurrent sequences than this get 503
  // How long in-flight responses may run on after shutdown starts before they are ended.
  std::chrono::milliseconds drain_timeout{30'000};
};

class Server {
 public:
  // Loads the model and starts listening.
  static Result<std::unique_ptr<Server>> Start(const ServeOptions& options);
  ~Server();

  uint16_t port() const { return http_->port(); }
  const std::string& model_name() const { return model_name_; }
  engine::Engine& engine() { return *engine_; }
  ServerMetrics& metrics() { return metrics_; }

  // Stops accepting, lets in-flight responses finish for up to `drain`, ends the rest cleanly
  // (an error event and [DONE] for streams, 503 otherwise), then stops the engine and the I/O
  // threads. Idempotent.
  void Shutdown(std::chrono::milliseconds drain);

 private:
  Server() = default;

  std::string model_name_;
  ServerMetrics metrics_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<TextCodec> codec_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<HttpServer> http_;
  bool shut_down_ = false;
};

// Runs a server until SIGINT or SIGTERM, then shuts it down gracefully. Returns the process exit
// code; failures print one line "hearth: <message>" to stderr.
int RunServer(const ServeOptions& options);

}  // namespace hearth::server
