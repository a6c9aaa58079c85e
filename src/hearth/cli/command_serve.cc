// `hearth serve`: serves a GGUF model over the OpenAI-compatible HTTP API (docs/API.md) until
// SIGINT/SIGTERM, then drains. `hearth engine` is a hidden alias with the same flags, for the
// platform to run as a child process.
#include <cstdio>

#include "hearth/base/data_dir.h"
#include "hearth/cli/commands.h"
#include "hearth/server/serve_config.h"
#include "hearth/server/server.h"

namespace hearth::cli {

namespace {

void AddServeFlags(CLI::App& command, GlobalOptions& globals) {
  AddConfigFlag(command, globals, "--model", "engine.model", "GGUF model to serve");
  AddConfigFlag(command, globals, "--host", "server.host", "listen address");
  AddConfigFlag(command, globals, "--port", "server.port", "listen port");
  AddConfigFlag(command, globals, "--ctx", "engine.ctx", "context length per sequence");
  AddConfigFlag(command, globals, "--parallel", "engine.parallel", "sequences decoded together");
  AddConfigFlag(command, globals, "--kv-budget", "engine.kv_budget",
                "KV cache memory budget, e.g. 2G");
  AddConfigFlag(command, globals, "--threads", "engine.threads", "compute threads");
  AddConfigFlag(command, globals, "--max-concurrent-sequences",
                "server.max_concurrent_sequences", "sequences in flight before 503");
  command.add_flag_callback(
      "--no-prefix-cache", [&globals] { globals.flag_values["engine.prefix_cache"] = "false"; },
      "do not reuse KV blocks of shared prompt prefixes (config key engine.prefix_cache)");
}

int Serve(GlobalOptions& globals) {
  if (Status s = EnsureDataDir(globals.data_dir()); !s.ok()) {
    std::fprintf(stderr, "hearth: %s\n", s.message().c_str());
    return 1;
  }
  auto options = server::ServeOptionsFromConfig(*globals.config);
  if (!options.ok()) {
    std::fprintf(stderr, "hearth: %s\n", options.status().message().c_str());
    return 2;
  }
  return server::RunServer(*options);
}

}  // namespace

void RegisterServe(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto* serve = app.add_subcommand("serve", "Serve a GGUF model over the OpenAI-compatible API");
  AddServeFlags(*serve, globals);
  serve->callback([&globals, action] { *action = [&globals] { return Serve(globals); }; });
  // Hidden (empty group): the platform's way to start an engine process.
  auto* engine = app.add_subcommand("engine", "Run one model's engine and API (internal)");
  engine->group("");
  AddServeFlags(*engine, globals);
  engine->callback([&globals, action] { *action = [&globals] { return Serve(globals); }; });
}

}  // namespace hearth::cli
