#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "hearth/base/data_dir.h"
#include "hearth/base/logging.h"
#include "hearth/cli/commands.h"

extern char** environ;

namespace hearth::cli {
namespace {

// Builds the effective configuration: defaults < file < environment < flags.
Status LoadConfig(GlobalOptions& globals) {
  globals.config = std::make_unique<Config>(ConfigSchema());
  std::string file = globals.config_file;
  if (file.empty()) {
    if (const char* env = std::getenv("HEARTH_CONFIG")) file = env;
  }
  if (!file.empty()) HEARTH_RETURN_IF_ERROR(globals.config->LoadFile(file));
  HEARTH_RETURN_IF_ERROR(globals.config->LoadEnvironment(environ));
  for (const auto& [key, value] : globals.flag_values) {
    HEARTH_RETURN_IF_ERROR(globals.config->SetFromFlag(key, value));
  }
  return Status::Ok();
}

int Fail(const Status& status) {
  std::fprintf(stderr, "hearth: %s\n", status.message().c_str());
  return 1;
}

}  // namespace

std::unique_ptr<CLI::App> BuildApp(GlobalOptions& globals, Action* action) {
  auto app = std::make_unique<CLI::App>(
      "Hearth: private AI compute — GGUF inference engine, OpenAI-compatible serving and a "
      "multi-tenant platform on your own hardware.",
      "hearth");
  app->set_version_flag("--version", std::string("hearth ") + HEARTH_VERSION);
  app->require_subcommand(1);
  app->fallthrough();
  app->add_option("--config", globals.config_file,
                  "TOML configuration file (also HEARTH_CONFIG)");
  AddConfigFlag(*app, globals, "--data-dir", "data_dir", "data directory");
  AddConfigFlag(*app, globals, "--log-level", "log.level", "log level");
  AddConfigFlag(*app, globals, "--log-format", "log.format", "log format: text or json");

  RegisterPlatformServe(*app, globals, action);
  RegisterEngine(*app, globals, action);
  RegisterConfigCommands(*app, globals, action);
  RegisterBench(*app, globals, action);
  RegisterModelCommands(*app, globals, action);
  RegisterTokenize(*app, globals, action);
  RegisterRun(*app, globals, action);
  RegisterTemplate(*app, globals, action);
  RegisterUsage(*app, globals, action);
  return app;
}

int RunCli(int argc, char** argv) {
  GlobalOptions globals;
  Action action;
  auto app = BuildApp(globals, &action);
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app->exit(e);
  } catch (const CLI::ParseError& e) {
    // One clear line, not a help dump.
    std::fprintf(stderr, "hearth: %s (see hearth --help)\n", e.what());
    return e.get_exit_code() == 0 ? 2 : e.get_exit_code();
  }
  if (Status s = LoadConfig(globals); !s.ok()) return Fail(s);
  auto format = ParseLogFormat(globals.config->GetString("log.format"));
  if (!format.ok()) return Fail(format.status());
  if (Status s = InitLogging({globals.config->GetString("log.level"), *format}); !s.ok()) {
    return Fail(s);
  }
  if (!action) return Fail(Status::InvalidArgument("no command given (see hearth --help)"));
  return action();
}

}  // namespace hearth::cli
