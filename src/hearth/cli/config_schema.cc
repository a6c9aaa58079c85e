#include "hearth/base/data_dir.h"
#include "hearth/cli/global_options.h"

namespace hearth::cli {

std::vector<ConfigKey> ConfigSchema() {
  return {
      {"data_dir", ConfigKind::kString, DefaultDataDir().string(),
       "where Hearth keeps its store, models and state"},
      {"log.level", ConfigKind::kString, "info", "trace, debug, info, warn, error or off"},
      {"log.format", ConfigKind::kString, "text", "text or json (one JSON object per line)"},
      {"server.host", ConfigKind::kString, "127.0.0.1", "address the HTTP server listens on"},
      {"server.port", ConfigKind::kInteger, "8080", "port the HTTP server listens on"},
      {"engine.model", ConfigKind::kString, "", "GGUF model served by default"},
      {"engine.threads", ConfigKind::kInteger, "0", "compute threads (0: one per core)"},
      {"engine.ctx", ConfigKind::kInteger, "4096", "context length per sequence"},
      {"engine.parallel", ConfigKind::kInteger, "16", "sequences decoded together"},
      {"engine.kv_budget", ConfigKind::kBytes, "0", "KV cache memory budget (0: automatic)"},
      {"engine.prefix_cache", ConfigKind::kBool, "true",
       "reuse KV blocks of shared prompt prefixes"},
      {"server.max_concurrent_sequences", ConfigKind::kInteger, "256",
       "sequences in flight (running or queued) before requests get 503"},
      {"server.max_connections", ConfigKind::kInteger, "512",
       "open HTTP connections before new ones get 503"},
      {"server.max_body", ConfigKind::kBytes, "8M", "largest accepted request body"},
      {"server.drain_ms", ConfigKind::kInteger, "30000",
       "on shutdown, how long in-flight responses may finish"},
  };
}

std::filesystem::path GlobalOptions::data_dir() const {
  return std::filesystem::path(config->GetString("data_dir"));
}

CLI::Option* AddConfigFlag(CLI::App& app, GlobalOptions& globals, const std::string& flag,
                           const std::string& key, const std::string& help) {
  return app.add_option_function<std::string>(
      flag, [&globals, key](const std::string& value) { globals.flag_values[key] = value; },
      help + " (config key " + key + ")");
}

}  // namespace hearth::cli
