// Registration of `hearth` subcommands. Each command family lives in its own command_*.cc file
// and adds itself to the CLI11 app here; main() only parses and dispatches.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "hearth/cli/global_options.h"

namespace hearth::cli {

// A subcommand's action runs after parsing; its return value is the process exit code.
using Action = std::function<int()>;

// Each Register* function adds a subcommand to `app` and stores its action in `*action` when
// that subcommand is chosen on the command line.
void RegisterPlatformServe(CLI::App& app, GlobalOptions& globals, Action* action);  // serve
void RegisterEngine(CLI::App& app, GlobalOptions& globals, Action* action);
void RegisterConfigCommands(CLI::App& app, GlobalOptions& globals, Action* action);
void RegisterBench(CLI::App& app, GlobalOptions& globals, Action* action);
void RegisterModelCommands(CLI::App& app, GlobalOptions& globals, Action* action);
// `hearth model eval` (command_eval.cc); called by RegisterModelCommands on its `model` app.
void RegisterModelEval(CLI::App& model_subcommand, GlobalOptions& globals, Action* action);
void RegisterTokenize(CLI::App& app, GlobalOptions& globals, Action* action);
void RegisterRun(CLI::App& app, GlobalOptions& globals, Action* action);
void RegisterTemplate(CLI::App& app, GlobalOptions& globals, Action* action);
void RegisterUsage(CLI::App& app, GlobalOptions& globals, Action* action);

// Builds the whole command tree. Returned app is owned by the caller.
std::unique_ptr<CLI::App> BuildApp(GlobalOptions& globals, Action* action);

// Runs the CLI: parse, set up logging/config/data dir, dispatch. Returns the exit code.
int RunCli(int argc, char** argv);

}  // namespace hearth::cli
