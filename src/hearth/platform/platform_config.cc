#include "hearth/platform/platform_config.h"

#include <fmt/format.h>

#include <filesystem>

#include "hearth/server/serve_config.h"

namespace hearth::platform {
Result<PlatformOptions> PlatformOptionsFromConfig(const Config& config) {
  PlatformOptions options;
  options.data_dir = config.GetString("data_dir");
  options.database = config.GetString("platform.database");

  HEARTH_ASSIGN_OR_RETURN(options.http, server::HttpOptionsFromConfig(config));
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
  return options;
}

}  // namespace hearth::platform
