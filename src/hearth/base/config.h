// Layered configuration: built-in defaults < config file (TOML) < environment (HEARTH_*) <
// command-line flags. A later layer overrides an earlier one key by key.
//
// Keys are dotted names ("server.port"). In a TOML file they are tables and keys
// ([server] port = 8080, or the dotted form); in the environment they are upper-cased with
// dots turned into underscores and prefixed with HEARTH_ (HEARTH_SERVER_PORT). The set of keys
// is a schema given by the caller: an unknown key in a file is an error (a typo must not be
// silently ignored), a value of the wrong kind is an error naming the key and where it came from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"

namespace hearth {

enum class ConfigKind { kString, kInteger, kBool, kBytes };  // kBytes accepts "512M", "2GiB"
enum class ConfigSource { kDefault, kFile, kEnvironment, kFlag };
std::string_view ConfigSourceName(ConfigSource source);

struct ConfigKey {
  std::string name;           // "server.port"
  ConfigKind kind = ConfigKind::kString;
  std::string default_value;  // as text, parsed by kind
  std::string help;
};

// "HEARTH_SERVER_PORT" for "server.port".
std::string ConfigEnvName(std::string_view key);

// Parses "123", "4k", "512M", "2G", "2GiB", "1.5G" into bytes (powers of 1024).
Result<uint64_t> ParseByteSize(std::string_view text);

class Config {
 public:
  explicit Config(std::vector<ConfigKey> schema);

  // Reads a TOML file. Errors: unreadable file, TOML syntax (with line and column), unknown
  // keys, values of the wrong kind. On error nothing from the file is applied.
  Status LoadFile(const std::filesystem::path& path);
  // Applies HEARTH_* variables that name schema keys; other HEARTH_* variables are ignored.
  Status LoadEnvironment(char** environ_block);
  Status SetFromFlag(std::string_view key, std::string_view value);

  const std::string& GetString(std::string_view key) const;
  int64_t GetInteger(std::string_view key) const;
  // The integer, or kInvalidArgument "KEY must be between LO and HI (got V)".
  Result<int> GetIntInRange(std::string_view key, int64_t lo, int64_t hi) const;
  bool GetBool(std::string_view key) const;
  uint64_t GetBytes(std::string_view key) const;
  ConfigSource SourceOf(std::string_view key) const;

  const std::vector<ConfigKey>& schema() const { return schema_; }
  // TOML text of every key with its effective value and, as a comment, its source.
  std::string Dump() const;

 private:
  struct Entry {
    std::string value;
    ConfigSource source = ConfigSource::kDefault;
  };
  const ConfigKey* FindKey(std::string_view key) const;
  Status Validate(const ConfigKey& key, std::string_view value) const;
  Status Set(std::string_view key, std::string_view value, ConfigSource source,
             std::string_view origin);
  const Entry& EntryOf(std::string_view key) const;

  std::vector<ConfigKey> schema_;
  std::map<std::string, Entry, std::less<>> values_;
};

}  // namespace hearth
