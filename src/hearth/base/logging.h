// Process-wide logging on spdlog: a level and a format (human text or JSON lines).
//
// Modules log through spdlog's default logger (spdlog::info(...)); this file only configures it.
// JSON lines carry {"ts","level","msg"} so that log shippers can ingest them unparsed.
#pragma once

#include <string_view>

#include "hearth/base/status.h"

namespace hearth {

enum class LogFormat { kText, kJson };

struct LogOptions {
  std::string_view level = "info";  // trace, debug, info, warn, error, off
  LogFormat format = LogFormat::kText;
};

Result<LogFormat> ParseLogFormat(std::string_view text);

// Logs go to stderr. Fails on an unknown level or format.
Status InitLogging(const LogOptions& options);

// Escapes `text` for inclusion in a JSON string (without the surrounding quotes).
std::string JsonEscape(std::string_view text);

}  // namespace hearth
