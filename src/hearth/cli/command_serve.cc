// `hearth serve`: starts the platform. Until the engine and server modules land this prepares
// the data directory and says plainly that no inference engine exists yet.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "hearth/base/data_dir.h"
#include "hearth/base/shutdown.h"
#include "hearth/cli/commands.h"

namespace hearth::cli {

void RegisterServe(CLI::App& app, GlobalOptions& globals, Action* action) {
  auto* serve = app.add_subcommand("serve", "Start the Hearth platform (HTTP API)");
  AddConfigFlag(*serve, globals, "--host", "server.host", "listen address");
  AddConfigFlag(*serve, globals, "--port", "server.port", "listen port");
  AddConfigFlag(*serve, globals, "--model", "engine.model", "GGUF model to serve");
  serve->callback([&globals, action] {
    *action = [&globals] {
      if (Status s = EnsureDataDir(globals.data_dir()); !s.ok()) {
        std::fprintf(stderr, "hearth: %s\n", s.message().c_str());
        return 1;
      }
      std::fprintf(stderr,
                   "hearth serve: data directory %s is ready, but this build has no inference "
                   "engine yet, so there is nothing to serve. See README.md for the roadmap.\n",
                   globals.data_dir().c_str());
      return 3;
    };
  });
}

}  // namespace hearth::cli
