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
      {"server.tls_cert", ConfigKind::kString, "",
       "PEM certificate (chain) file; with server.tls_key the server speaks HTTPS only"},
      {"server.tls_key", ConfigKind::kString, "", "PEM private key file of server.tls_cert"},
      {"platform.database", ConfigKind::kString, "",
       "store location: postgres://user:password@host:port/db, or empty for SQLite in data_dir"},
      {"platform.keep_replicas", ConfigKind::kBool, "false",
       "leave engine replicas running on shutdown (the next start re-adopts them)"},
      {"platform.api_key_cache_ms", ConfigKind::kInteger, "5000",
       "how long a verified API key is trusted without asking the store (0: always ask); "
       "revocations through this process apply at once, through another within this time"},
      {"platform.login_max_failures", ConfigKind::kInteger, "5",
       "failed logins per user before further attempts get 429 (backoff from 5 s to 15 min)"},
      {"platform.stream_window", ConfigKind::kBytes, "256K",
       "streamed bytes the gateway holds per request for a client that reads slowly"},
      {"server.write_timeout_ms", ConfigKind::kInteger, "60000",
       "a client that takes no response byte for this long is disconnected"},
      {"engine.model", ConfigKind::kString, "", "GGUF model served by default"},
      {"engine.threads", ConfigKind::kInteger, "0", "compute threads (0: one per core)"},
      {"engine.ctx", ConfigKind::kInteger, "4096", "context length per sequence"},
      {"engine.parallel", ConfigKind::kInteger, "16", "sequences decoded together"},
      {"engine.step_tokens", ConfigKind::kInteger, "128",
       "tokens per forward step while sequences decode (bounds time between tokens; 0: 512)"},
      {"engine.kv_budget", ConfigKind::kBytes, "0", "KV cache memory budget (0: automatic)"},
      {"engine.prefix_cache", ConfigKind::kBool, "true",
       "reuse KV blocks of shared prompt prefixes"},
      {"engine.huge_pages", ConfigKind::kBool, "true",
       "read the weights into huge-page memory (false: map the file; shared between processes)"},
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
