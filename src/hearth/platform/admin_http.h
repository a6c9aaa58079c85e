// HTTP plumbing of the admin API: the reply type, OpenAI-style error replies for every status the
// API uses, the request target's path and query, and a reader for JSON request bodies that
// reports the first bad field precisely.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/server/api_error.h"

namespace hearth::platform::admin {

struct Reply {
  int status = 200;
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra ones (Retry-After)
};

Reply JsonReply(const nlohmann::json& body, int status = 200);
Reply ErrorReply(const server::ApiError& error);

server::ApiError Unauthorized(std::string message);  // 401
server::ApiError Forbidden(std::string message);     // 403
server::ApiError NotFound(std::string message);      // 404
server::ApiError Conflict(std::string message);      // 409
// Store and identity failures: invalid argument 400 (with `param`), not found 404, exists and
// failed precondition 409, unauthenticated 401, permission 403, unavailable 503, else 500.
server::ApiError ErrorFromStatus(const Status& status, std::string param = {});

struct RequestTarget {
  std::vector<std::string> path;             // percent-decoded segments
  std::map<std::string, std::string> query;  // percent-decoded; '+' is a space
};
// kInvalidArgument for malformed percent-encoding or a repeated query parameter.
Result<RequestTarget> ParseRequestTarget(std::string_view target);

// Reads a JSON object body field by field. The first problem (body not JSON, not an object, a
// field of the wrong type, a field nobody asked for) is kept and later reads return nothing, so
// a handler reads every field and checks error() once.
class JsonFields {
 public:
  explicit JsonFields(std::string_view body);

  bool Has(const std::string& name) const;
  std::optional<std::string> String(const std::string& name, bool required = false);
  std::optional<bool> Bool(const std::string& name);
  // Absent and null both read as nullopt; otherwise an integer >= min.
  std::optional<int64_t> Int(const std::string& name, int64_t min = 0);
  std::optional<std::vector<std::string>> StringList(const std::string& name);
  // A Unix-ms integer or an ISO-8601 string (admin_time.h).
  std::optional<int64_t> Time(const std::string& name);

  // The first problem, including fields present in the body that were never read.
  std::optional<server::ApiError> error();

 private:
  const nlohmann::json* Field(const std::string& name);
  void Fail(std::string message, std::string param);

  nlohmann::json body_;
  std::set<std::string> read_;
  std::optional<server::ApiError> error_;
};

}  // namespace hearth::platform::admin
