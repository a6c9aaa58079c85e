// Options shared by every subcommand, and the effective configuration they produce.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "hearth/base/config.h"

namespace hearth::cli {

// The schema of every configuration key Hearth understands (see docs/CONFIGURATION in README).
std::vector<ConfigKey> ConfigSchema();

struct GlobalOptions {
  std::string config_file;  // --config or HEARTH_CONFIG; empty: none
  // Flag values given on the command line, by config key. Subcommands bind their flags here
  // (e.g. serve --port writes "server.port"); RunCli applies them as the top layer.
  std::map<std::string, std::string> flag_values;
  std::unique_ptr<Config> config;  // filled by RunCli before the action runs

  // Data directory from the effective configuration.
  std::filesystem::path data_dir() const;
};

// Binds a CLI11 option whose value becomes the config key `key` when given.
CLI::Option* AddConfigFlag(CLI::App& app, GlobalOptions& globals, const std::string& flag,
                           const std::string& key, const std::string& help);

}  // namespace hearth::cli
