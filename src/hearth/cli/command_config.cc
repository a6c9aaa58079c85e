// `hearth config show`: prints the effective configuration and where each value came from.
#include <cstdio>

#include "hearth/cli/commands.h"

namespace hearth::cli {

void RegisterConfigCommands(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto* config = app.add_subcommand("config", "Inspect the configuration");
  config->require_subcommand(1);
  auto* show = config->add_subcommand(
      "show", "Print the effective configuration (defaults < file < HEARTH_* < flags)");
  show->callback([&globals, action] {
    *action = [&globals] {
      std::fputs(globals.config->Dump().c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace hearth::cli
