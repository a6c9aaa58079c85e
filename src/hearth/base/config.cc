#include "hearth/base/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace hearth {
namespace {

Result<int64_t> ParseInteger(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return Status::InvalidArgument(fmt::format("'{}' is not an integer", text));
  }
  return v;
}

Result<bool> ParseBool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return Status::InvalidArgument(fmt::format("'{}' is not a boolean (true/false)", text));
}

// Flattens a TOML table into dotted keys; values become their text form.
Status Flatten(const toml::table& table, const std::string& prefix,
               std::vector<std::pair<std::string, std::string>>* out) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      HEARTH_RETURN_IF_ERROR(Flatten(*sub, key, out));
    } else if (const auto* s = node.as_string()) {
      out->emplace_back(key, s->get());
    } else if (const auto* i = node.as_integer()) {
      out->emplace_back(key, std::to_string(i->get()));
    } else if (const auto* b = node.as_boolean()) {
      out->emplace_back(key, b->get() ? "true" : "false");
    } else if (const auto* f = node.as_floating_point()) {
      out->emplace_back(key, fmt::format("{}", f->get()));
    } else {
      const auto& src = node.source().begin;
      return Status::InvalidArgument(fmt::format("line {}: key '{}' must be a string, number or "
                                                 "boolean",
                                                 src.line, key));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view ConfigSourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kDefault: return "default";
    case ConfigSource::kFile: return "file";
    case ConfigSource::kEnvironment: return "environment";
    case ConfigSource::kFlag: return "flag";
  }
  return "unknown";
}

std::string ConfigEnvName(std::string_view key) {
  std::string env = "HEARTH_";
  for (char c : key) env.push_back(c == '.' || c == '-' ? '_' : static_cast<char>(::toupper(c)));
  return env;
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  std::string t(text);
  t.erase(std::remove_if(t.begin(), t.end(), ::isspace), t.end());
  size_t pos = 0;
  while (pos < t.size() && (std::isdigit(static_cast<unsigned char>(t[pos])) || t[pos] == '.')) ++pos;
  if (pos == 0) return Status::InvalidArgument(fmt::format("'{}' is not a byte size", text));
  double number = 0;
  try {
    size_t used = 0;
    number = std::stod(t.substr(0, pos), &used);
    if (used != pos) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return Status::InvalidArgument(fmt::format("'{}' is not a byte size", text));
  }
  std::string unit = t.substr(pos);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  if (unit.ends_with("ib")) unit.erase(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("b")) unit.pop_back();
  double scale;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k") scale = 1024.0;
  else if (unit == "m") scale = 1024.0 * 1024;
  else if (unit == "g") scale = 1024.0 * 1024 * 1024;
  else if (unit == "t") scale = 1024.0 * 1024 * 1024 * 1024;
  else return Status::InvalidArgument(fmt::format("'{}' has an unknown unit (use K, M, G, T)", text));
  double bytes = number * scale;
  if (!std::isfinite(bytes) || bytes >= 1.8e19) {
    return Status::OutOfRange(fmt::format("'{}' is too large", text));
  }
  return static_cast<uint64_t>(bytes);
}

Config::Config(std::vector<ConfigKey> schema) : schema_(std::move(schema)) {
  for (const auto& key : schema_) values_[key.name] = Entry{key.default_value, ConfigSource::kDefault};
}

const ConfigKey* Config::FindKey(std::string_view key) const {
  for (const auto& k : schema_) {
    if (k.name == key) return &k;
  }
  return nullptr;
}

Status Config::Validate(const ConfigKey& key, std::string_view value) const {
  switch (key.kind) {
    case ConfigKind::kString: return Status::Ok();
    case ConfigKind::kInteger: return ParseInteger(value).status();
    case ConfigKind::kBool: return ParseBool(value).status();
    case ConfigKind::kBytes: return ParseByteSize(value).status();
  }
  return Status::Ok();
}

Status Config::Set(std::string_view key, std::string_view value, ConfigSource source,
                   std::string_view origin) {
  const ConfigKey* k = FindKey(key);
  if (k == nullptr) {
    return Status::InvalidArgument(fmt::format("{}: unknown key '{}'", origin, key));
  }
  Status s = Validate(*k, value);
  if (!s.ok()) {
    return Status::InvalidArgument(fmt::format("{}: key '{}': {}", origin, key, s.message()));
  }
  values_.find(key)->second = Entry{std::string(value), source};
  return Status::Ok();
}

Status Config::LoadFile(const std::filesystem::path& path) {
  std::string origin = "config file " + path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound(origin + ": no such file");
  }
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    const auto& src = e.source().begin;
    return Status::InvalidArgument(fmt::format("{}: line {}, column {}: {}", origin, src.line,
                                               src.column, e.description()));
  }
  std::vector<std::pair<std::string, std::string>> flat;
  Status s = Flatten(table, "", &flat);
  if (!s.ok()) return s.WithContext(origin);
  // Validate everything first so that a bad file changes nothing.
  for (const auto& [key, value] : flat) {
    const ConfigKey* k = FindKey(key);
    if (k == nullptr) return Status::InvalidArgument(fmt::format("{}: unknown key '{}'", origin, key));
    Status v = Validate(*k, value);
    if (!v.ok()) {
      return Status::InvalidArgument(fmt::format("{}: key '{}': {}", origin, key, v.message()));
    }
  }
  for (const auto& [key, value] : flat) HEARTH_RETURN_IF_ERROR(Set(key, value, ConfigSource::kFile, origin));
  return Status::Ok();
}

Status Config::LoadEnvironment(char** environ_block) {
  if (environ_block == nullptr) return Status::Ok();
  std::map<std::string, std::string> env;
  for (char** e = environ_block; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  for (const auto& key : schema_) {
    auto it = env.find(ConfigEnvName(key.name));
    if (it == env.end()) continue;
    HEARTH_RETURN_IF_ERROR(
        Set(key.name, it->second, ConfigSource::kEnvironment, "environment " + it->first));
  }
  return Status::Ok();
}

Status Config::SetFromFlag(std::string_view key, std::string_view value) {
  return Set(key, value, ConfigSource::kFlag, fmt::format("flag for '{}'", key));
}

const Config::Entry& Config::EntryOf(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("config key not in schema: " + std::string(key));
  return it->second;
}

const std::string& Config::GetString(std::string_view key) const { return EntryOf(key).value; }
int64_t Config::GetInteger(std::string_view key) const {
  return ParseInteger(EntryOf(key).value).value();
}
Result<int> Config::GetIntInRange(std::string_view key, int64_t lo, int64_t hi) const {
  const int64_t value = GetInteger(key);
  if (value < lo || value > hi) {
    return Status::InvalidArgument(
        fmt::format("{} must be between {} and {} (got {})", key, lo, hi, value));
  }
  return static_cast<int>(value);
}
bool Config::GetBool(std::string_view key) const { return ParseBool(EntryOf(key).value).value(); }
uint64_t Config::GetBytes(std::string_view key) const {
  return ParseByteSize(EntryOf(key).value).value();
}
ConfigSource Config::SourceOf(std::string_view key) const { return EntryOf(key).source; }

std::string Config::Dump() const {
  std::ostringstream out;
  for (const auto& key : schema_) {
    const Entry& e = EntryOf(key.name);
    bool quoted = key.kind == ConfigKind::kString || key.kind == ConfigKind::kBytes;
    out << key.name << " = ";
    if (quoted) {
      out << toml::value<std::string>(e.value);
    } else {
      out << e.value;
    }
    out << "  # " << ConfigSourceName(e.source) << "\n";
  }
  return out.str();
}

}  // namespace hearth
