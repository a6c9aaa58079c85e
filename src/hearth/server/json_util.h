// JSON output helpers shared by the server's response builders.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hearth::server {

// Compact dump that never throws: invalid UTF-8 (a client's bytes echoed in an error, a token
// piece that is half a character) becomes U+FFFD instead of an exception.
inline std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace hearth::server
