#include "hearth/platform/platform_config.h"

#include <fmt/format.h>

#include <filesystem>

namespace hearth::platform {
Result<PlatformOptions> PlatformOptionsFromConfig(const Config& config) {
  PlatformOptions options;
  options.data_dir = config.GetString("data_dir");
  options.database = config.GetString("platform.database");

  options.http.host = config.GetString("server.host");
  HEARTH_ASSIGN_OR_RETURN(const int port, config.GetIntInRange("server.port", 0, 65535));
  options.http.port = static_cast<uint16_t>(port);
  options.http.tls_cert_file = config.GetString("server.tls_cert");
  options.http.tls_key_file = config.GetString("server.tls_key");
  if (options.http.tls_cert_file.empty() != options.http.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "TLS needs both server.tls_cert and server.tls_key (--tls-cert and --tls-key)");
  }
  HEARTH_ASSIGN_OR_RETURN(options.http.max_connections,
                          config.GetIntInRange("server.max_connections", 1, 1 << 20));
  options.http.max_body_bytes = config.GetBytes("server.max_body");
  HEARTH_ASSIGN_OR_RETURN(const int drain_ms,
                          config.GetIntInRange("server.drain_ms", 0, 3'600'000));
  options.drain_timeout = std::chrono::milliseconds(drain_ms);

  const std::string& model = config.GetString("engine.model");
  if (!model.empty()) {
    if (!std::filesystem::is_regular_file(model)) {
      return Status::NotFound(fmt::format("model file '{}' does not exist", model));
    }
    options.default_model = std::filesystem::absolute(model);
  }
  // The quick-start deployment: a context left at its default becomes the model's own, capped
  // at 4096 (PlatformOptions::ctx 0).
  if (config.SourceOf("engine.ctx") != ConfigSource::kDefault) {
    HEARTH_ASSIGN_OR_RETURN(options.ctx, config.GetIntInRange("engine.ctx", 16, 1 << 20));
  } else {
    options.ctx = 0;
  }
  HEARTH_ASSIGN_OR_RETURN(options.parallel, config.GetIntInRange("engine.parallel", 1, 4096));
  HEARTH_ASSIGN_OR_RETURN(options.threads, config.GetIntInRange("engine.threads", 0, 1024));
  options.kv_budget_bytes = static_cast<int64_t>(config.GetBytes("engine.kv_budget"));
  options.keep_replicas = config.GetBool("platform.keep_replicas");

  HEARTH_ASSIGN_OR_RETURN(const int cache_ms,
                          config.GetIntInRange("platform.api_key_cache_ms", 0, 3'600'000));
  options.api_key_cache_ttl = std::chrono::milliseconds(cache_ms);
  HEARTH_ASSIGN_OR_RETURN(options.login_max_failures,
                          config.GetIntInRange("platform.login_max_failures", 1, 1'000'000));
  options.stream_window_bytes = config.GetBytes("platform.stream_window");
  if (options.stream_window_bytes < 4096 || options.stream_window_bytes > (uint64_t{1} << 30)) {
    return Status::InvalidArgument(
        fmt::format("platform.stream_window must be between 4K and 1G (got {} bytes)",
                    options.stream_window_bytes));
  }
  HEARTH_ASSIGN_OR_RETURN(const int write_timeout_ms,
                          config.GetIntInRange("server.write_timeout_ms", 100, 3'600'000));
  options.http.write_timeout = std::chrono::milliseconds(write_timeout_ms);
  return options;
}

}  // namespace hearth::platform
