// `hearth serve`: the platform — gateway, admin API, registry and supervised engine replicas —
// until SIGINT/SIGTERM (src/hearth/platform/platform_server.h; docs/PLATFORM.md).
#include <cstdio>

#include "hearth/base/data_dir.h"
#include "hearth/cli/commands.h"
#include "hearth/platform/platform_config.h"
#include "hearth/platform/platform_server.h"

namespace hearth::cli {

namespace {

void AddPlatformFlags(CLI::App& command, GlobalOptions& globals) {
  AddConfigFlag(command, globals, "--model", "engine.model",
                "GGUF model to register and deploy for the tenant 'default' (quick start)");
  AddConfigFlag(command, globals, "--host", "server.host", "listen address");
  AddConfigFlag(command, globals, "--port", "server.port", "listen port");
  AddConfigFlag(command, globals, "--tls-cert", "server.tls_cert",
                "PEM certificate file; with --tls-key, serve HTTPS only");
  AddConfigFlag(command, globals, "--tls-key", "server.tls_key", "PEM private key file");
  AddConfigFlag(command, globals, "--database", "platform.database",
                "store: postgres://user:password@host:port/db (default: SQLite in the data dir)");
  AddConfigFlag(command, globals, "--ctx", "engine.ctx", "quick-start deployment: context length");
  AddConfigFlag(command, globals, "--parallel", "engine.parallel",
                "quick-start deployment: sequences decoded together");
  AddConfigFlag(command, globals, "--kv-budget", "engine.kv_budget",
                "quick-start deployment: KV cache budget, e.g. 2G");
  AddConfigFlag(command, globals, "--threads", "engine.threads",
                "quick-start deployment: compute threads");
  command.add_flag_callback(
      "--keep-replicas", [&globals] { globals.flag_values["platform.keep_replicas"] = "true"; },
      "leave engine replicas running on shutdown (config key platform.keep_replicas)");
}

int ServePlatform(GlobalOptions& globals) {
  if (Status s = EnsureDataDir(globals.data_dir()); !s.ok()) {
    std::fprintf(stderr, "hearth: %s\n", s.message().c_str());
    return 1;
  }
  auto options = platform::PlatformOptionsFromConfig(*globals.config);
  if (!options.ok()) {
    std::fprintf(stderr, "hearth: %s\n", options.status().message().c_str());
    return 2;
  }
  return platform::RunPlatform(*options);
}

}  // namespace

void RegisterPlatformServe(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto* serve = app.add_subcommand(
      "serve", "Run the platform: OpenAI API with API keys, admin API, supervised engines");
  AddPlatformFlags(*serve, globals);
  serve->callback([&globals, action] { *action = [&globals] { return ServePlatform(globals); }; });
}

}  // namespace hearth::cli
