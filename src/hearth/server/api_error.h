// OpenAI-style API errors: {"error": {"message", "type", "param", "code"}} with an HTTP status.
#pragma once

#include <string>

#include "hearth/base/status.h"

namespace hearth::server {

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending request field, empty: null
  std::string code;   // machine-readable reason, empty: null

  static ApiError BadRequest(std::string message, std::string param = {}, std::string code = {});
  static ApiError ModelNotFound(const std::string& model);
  static ApiError NotFound(std::string message);
  static ApiError MethodNotAllowed(std::string message);
  static ApiError PayloadTooLarge(std::string message);
  static ApiError Overloaded(std::string message);
  static ApiError Internal(std::string message);

  // The JSON body (no trailing newline).
  std::string ToJson() const;
};

// Maps an engine Status to the API error a client should see: invalid input → 400, exhausted
// capacity → 503, anything else → 500.
ApiError ApiErrorFromStatus(const Status& status, std::string param = {});

}  // namespace hearth::server
