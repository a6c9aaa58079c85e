// PlatformServer: the whole control plane in one process — `hearth serve`.
//
// It opens the Store (SQLite in the data directory, or PostgreSQL), creates the first platform
// admin on a fresh store, starts the DeploymentManager (which re-adopts or restarts the engine
// replicas the store remembers), and serves one HTTP(S) listener:
//   /v1/*        Gateway   (API keys, quotas, usage, proxied to engine replicas)
//   /admin/v1/*  AdminApi  (session tokens, tenants, users, keys, quotas, deployments, usage,
//                           audit)
//   /health      200 while serving, 503 while draining
//   /metrics     Prometheus text: HTTP responses, the gateway's counters, replica states
//
// Quick start: with `default_model` set, the model is registered (once) and deployed for the
// tenant "default" under the model's registry name, and a fresh API key of that tenant is
// printed (the key named "quickstart" of the previous start is deleted first, so one such key
// exists at a time).
//
// Shutdown order matters: stop accepting, let in-flight requests finish (bounded), stop the I/O
// threads, then the gateway and admin API, then the replicas (SIGTERM, drained), then the store.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "hearth/base/status.h"
#include "hearth/server/http_server.h"

namespace hearth::platform {

struct PlatformOptions {
  std::filesystem::path data_dir;
  std::string database;  // empty: SQLite at DefaultStorePath(data_dir)
  server::HttpServerOptions http;
  // The hearth executable started for engine replicas.
  std::filesystem::path engine_binary = "/proc/self/exe";
  // Quick start: a GGUF to register and deploy for the default tenant.
  std::optional<std::filesystem::path> default_model;
  int ctx = 0;  // 0: the model's own context, capped at 4096
  int parallel = 16;
  int64_t kv_budget_bytes = 0;
  int threads = 0;
  // On shutdown, how long in-flight requests may finish before they are ended.
  std::chrono::milliseconds drain_timeout{30'000};
  // Leave replicas running on shutdown (a restart re-adopts them) instead of stopping them.
  bool keep_replicas = false;
  // Front-door limits (platform.api_key_cache_ms, platform.login_max_failures,
  // platform.stream_window; server.write_timeout_ms is in `http`).
  std::chrono::milliseconds api_key_cache_ttl{5000};
  int login_max_failures = 5;
  size_t stream_window_bytes = 256u << 10;
};

class PlatformServer {
 public:
  // Starts everything; `announce` receives the one-time secrets (bootstrap password, quick-start
  // API key) and the addresses.
  static Result<std::unique_ptr<PlatformServer>> Start(const PlatformOptions& options,
                                                       std::ostream& announce);
  ~PlatformServer();
  PlatformServer(const PlatformServer&) = delete;
  PlatformServer& operator=(const PlatformServer&) = delete;

  uint16_t port() const;
  // Graceful shutdown (see above). Idempotent.
  void Shutdown(std::chrono::milliseconds drain);

  struct Parts;

 private:
  PlatformServer() = default;
  std::unique_ptr<Parts> parts_;
};

// Runs the platform until SIGINT or SIGTERM; returns the exit code. Failures print one line
// "hearth: <message>" to stderr.
int RunPlatform(const PlatformOptions& options);

}  // namespace hearth::platform
