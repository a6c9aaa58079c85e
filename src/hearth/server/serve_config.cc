#include "hearth/server/serve_config.h"

#include <fmt/format.h>

#include <filesystem>
#include <limits>

namespace hearth::server {
Result<HttpServerOptions> HttpOptionsFromConfig(const Config& config) {
  HttpServerOptions http;
  http.host = config.GetString("server.host");
  HEARTH_ASSIGN_OR_RETURN(const int port, config.GetIntInRange("server.port", 0, 65535));
  http.port = static_cast<uint16_t>(port);
  http.tls_cert_file = config.GetString("server.tls_cert");
  http.tls_key_file = config.GetString("server.tls_key");
  if (http.tls_cert_file.empty() != http.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "TLS needs both server.tls_cert and server.tls_key (--tls-cert and --tls-key)");
  }
  HEARTH_ASSIGN_OR_RETURN(const int write_timeout_ms,
                          config.GetIntInRange("server.write_timeout_ms", 100, 3'600'000));
  http.write_timeout = std::chrono::milliseconds(write_timeout_ms);
  HEARTH_ASSIGN_OR_RETURN(http.max_connections,
                          config.GetIntInRange("server.max_connections", 1, 1 << 20));
  http.max_body_bytes = config.GetBytes("server.max_body");
  if (http.max_body_bytes == 0) {
    return Status::InvalidArgument("server.max_body must be greater than 0");
  }
  return http;
}

Result<ServeOptions> ServeOptionsFromConfig(const Config& config) {
  ServeOptions options;
  const std::string& model = config.GetString("engine.model");
  if (model.empty()) {
    return Status::InvalidArgument("a model is required: hearth engine --model FILE");
  }
  if (!std::filesystem::is_regular_file(model)) {
    return Status::NotFound(fmt::format("model file '{}' does not exist", model));
  }
  options.engine.model_path = model;
  HEARTH_ASSIGN_OR_RETURN(options.engine.threads, config.GetIntInRange("engine.threads", 0, 1024));
  // The default context is the model's own (capped by the engine); a configured value must fit
  // the model, which the engine checks.
  if (config.SourceOf("engine.ctx") != ConfigSource::kDefault) {
    HEARTH_ASSIGN_OR_RETURN(options.engine.context_length,
                            config.GetIntInRange("engine.ctx", 16, 1 << 20));
  }
  HEARTH_ASSIGN_OR_RETURN(options.engine.max_parallel,
                          config.GetIntInRange("engine.parallel", 1, 4096));
  HEARTH_ASSIGN_OR_RETURN(options.engine.step_tokens,
                          config.GetIntInRange("engine.step_tokens", 0, 1 << 16));
  options.engine.kv_budget_bytes = config.GetBytes("engine.kv_budget");
  options.engine.prefix_cache = config.GetBool("engine.prefix_cache");
  options.engine.huge_pages = config.GetBool("engine.huge_pages");

  HEARTH_ASSIGN_OR_RETURN(options.http, HttpOptionsFromConfig(config));
  HEARTH_ASSIGN_OR_RETURN(options.max_live_sequences,
                          config.GetIntInRange("server.max_concurrent_sequences", 1, 1 << 20));
  HEARTH_ASSIGN_OR_RETURN(const int drain_ms,
                          config.GetIntInRange("server.drain_ms", 0, 24 * 3600 * 1000));
  options.drain_timeout = std::chrono::milliseconds(drain_ms);
  return options;
}

}  // namespace hearth::server
