#include "hearth/server/api_error.h"

#include <nlohmann/json.hpp>

#include "hearth/server/json_util.h"

namespace hearth::server {

ApiError ApiError::BadRequest(std::string message, std::string param, std::string code) {
  return {400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
}

ApiError ApiError::ModelNotFound(const std::string& model) {
  return {404, "The model '" + model + "' does not exist", "invalid_request_error", "model",
          "model_not_found"};
}

ApiError ApiError::NotFound(std::string message) {
  return {404, std::move(message), "invalid_request_error", "", "not_found"};
}

ApiError ApiError::MethodNotAllowed(std::string message) {
  return {405, std::move(message), "invalid_request_error", "", "method_not_allowed"};
}

ApiError ApiError::PayloadTooLarge(std::string message) {
  return {413, std::move(message), "invalid_request_error", "", "request_too_large"};
}

ApiError ApiError::Overloaded(std::string message) {
  return {503, std::move(message), "server_error", "", "overloaded"};
}

ApiError ApiError::Internal(std::string message) {
  return {500, std::move(message), "server_error", "", "internal_error"};
}

std::string ApiError::ToJson() const {
  nlohmann::json body;
  body["message"] = message;
  body["type"] = type;
  body["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
  body["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
  return DumpJson(nlohmann::json{{"error", std::move(body)}});
}

ApiError ApiErrorFromStatus(const Status& status, std::string param) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return ApiError::BadRequest(status.message(), std::move(param));
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
      return ApiError::Overloaded(status.message());
    default:
      return ApiError::Internal(status.message());
  }
}

}  // namespace hearth::server
