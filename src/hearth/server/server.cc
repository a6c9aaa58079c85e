#include "hearth/server/server.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "hearth/base/shutdown.h"

namespace hearth::server {

Result<std::unique_ptr<Server>> Server::Start(const ServeOptions& options) {
  std::unique_ptr<Server> server(new Server());
  auto engine = engine::Engine::Create(options.engine);
  if (!engine.ok()) return engine.status();
  server->engine_ = std::move(*engine);
  auto codec = MakeEngineTextCodec(*server->engine_);
  if (!codec.ok()) return codec.status();
  server->codec_ = std::move(*codec);
  server->model_name_ =
      options.model_name.empty() ? server->engine_->model_name() : options.model_name;

  ApiServiceOptions api_options;
  api_options.model_name = server->model_name_;
  api_options.max_live_sequences = options.max_live_sequences;
  server->api_ = std::make_unique<ApiService>(*server->engine_, *server->codec_, server->metrics_,
                                              api_options);
  ApiService* api = server->api_.get();
  server->http_ = std::make_unique<HttpServer>(
      options.http,
      [api](HttpRequest& request, const std::shared_ptr<ResponseChannel>& channel) {
        api->Handle(request, channel);
      },
      &server->metrics_);
  HttpServer* http = server->http_.get();
  server->api_->set_connection_count([http] { return http->active_connections(); });
  if (Status s = server->http_->Start(); !s.ok()) {
    server->engine_->Shutdown(0);
    return s;
  }
  return server;
}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

void Server::Shutdown(std::chrono::milliseconds drain) {
  if (shut_down_ || !http_) return;
  shut_down_ = true;
  http_->StopAccepting();
  api_->BeginDrain();
  if (!api_->WaitForJobs(drain)) {
    spdlog::info("server: drain time is up; ending {} responses still in flight",
                 api_->jobs_in_flight());
    api_->AbortAll("the server is shutting down");
    api_->WaitForJobs(std::chrono::seconds(5));
  }
  // Let the last bytes reach the clients and the connections close.
  http_->WaitForIdle(std::chrono::seconds(2));
  // The engine goes before the I/O threads: its last callbacks post into their io_context.
  engine_->Shutdown(0);
  http_->Stop();
}

int RunServer(const ServeOptions& options) {
  // Before any thread starts, so every thread inherits the blocked signals.
  ShutdownSignal::Install();
  auto server = Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "hearth: %s\n", server.status().message().c_str());
    return 1;
  }
  spdlog::info("server: serving '{}' on {}://{}:{} (OpenAI-compatible API under /v1)",
               (*server)->model_name(), options.http.tls_cert_file.empty() ? "http" : "https",
               options.http.host, (*server)->port());
  ShutdownSignal::Wait();
  spdlog::info("server: shutting down (draining for up to {} ms; signal again to exit now)",
               options.drain_timeout.count());
  (*server)->Shutdown(options.drain_timeout);
  spdlog::info("server: stopped");
  return 0;
}

}  // namespace hearth::server
