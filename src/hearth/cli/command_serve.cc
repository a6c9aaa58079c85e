// `hearth engine`: serves one GGUF model over the OpenAI-compatible HTTP API (docs/API.md) until
// SIGINT/SIGTERM, then drains. The platform (`hearth serve`, command_platform.cc) runs one such
// process per deployment replica.
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
  AddConfigFlag(command, globals, "--tls-cert", "server.tls_cert",
                "PEM certificate file; with --tls-key, serve HTTPS only");
  AddConfigFlag(command, globals, "--tls-key", "server.tls_key", "PEM private key file");
  AddConfigFlag(command, globals, "--ctx", "engine.ctx", "context length per sequence");
  AddConfigFlag(command, globals, "--parallel", "engine.parallel", "sequences decoded together");
  AddConfigFlag(command, globals, "--step-tokens", "engine.step_tokens",
                "tokens per forward step while sequences decode (bounds time between tokens)");
  AddConfigFlag(command, globals, "--kv-budget", "engine.kv_budget",
                "KV cache memory budget, e.g. 2G");
  AddConfigFlag(command, globals, "--threads", "engine.threads", "compute threads");
  AddConfigFlag(command, globals, "--max-concurrent-sequences",
                "server.max_concurrent_sequences", "sequences in flight before 503");
  command.add_flag_callback(
      "--no-prefix-cache", [&globals] { globals.flag_values["engine.prefix_cache"] = "false"; },
      "do not reuse KV blocks of shared prompt prefixes (config key engine.prefix_cache)");
  command.add_flag_callback(
      "--no-huge-pages", [&globals] { globals.flag_values["engine.huge_pages"] = "false"; },
      "map the model file instead of reading it into huge pages (config key engine.huge_pages)");
  // A repeated flag overrides the earlier one (bench/run.sh SCENARIO -- --parallel 1 overrides
  // the scenario's --parallel 16).
  for (CLI::Option* option : command.get_options()) {
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
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

void RegisterEngine(CLI::App& app, GlobalOptions& globals, Action* action) {
  // What the platform runs for each deployment replica; also the way to serve one model without
  // the platform (no API keys), e.g. for benchmarks and debugging.
  auto* engine = app.add_subcommand(
      "engine", "Serve one GGUF model over the OpenAI API without the platform (no API keys)");
  AddServeFlags(*engine, globals);
  engine->callback([&globals, action] { *action = [&globals] { return Serve(globals); }; });
}

}  // namespace hearth::cli
