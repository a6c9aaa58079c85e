#include "hearth/platform/admin_http.h"

#include <fmt/format.h>

#include "hearth/platform/admin_time.h"
#include "hearth/server/json_util.h"

namespace hearth::platform::admin {

using server::ApiError;

Reply JsonReply(const nlohmann::json& body, int status) { return {status, server::DumpJson(body)}; }

Reply ErrorReply(const ApiError& error) { return {error.http_status, error.ToJson()}; }

ApiError Unauthorized(std::string message) {
  return {401, std::move(message), "authentication_error", "", "unauthorized"};
}

ApiError Forbidden(std::string message) {
  return {403, std::move(message), "permission_error", "", "forbidden"};
}

ApiError NotFound(std::string message) { return ApiError::NotFound(std::move(message)); }

ApiError Conflict(std::string message) {
  return {409, std::move(message), "invalid_request_error", "", "conflict"};
}

ApiError ErrorFromStatus(const Status& status, std::string param) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return ApiError::BadRequest(status.message(), std::move(param));
    case StatusCode::kNotFound: {
      ApiError error = NotFound(status.message());
      error.param = std::move(param);
      return error;
    }
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return Conflict(status.message());
    case StatusCode::kUnauthenticated:
      return Unauthorized(status.message());
    case StatusCode::kPermissionDenied:
      return Forbidden(status.message());
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
      return ApiError::Overloaded(status.message());
    default:
      return ApiError::Internal(status.message());
  }
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument(
            fmt::format("malformed percent-encoding at offset {} of the request target", i));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Result<RequestTarget> ParseRequestTarget(std::string_view target) {
  RequestTarget out;
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (!segment.empty()) {
      HEARTH_ASSIGN_OR_RETURN(std::string decoded, PercentDecode(segment, false));
      out.path.push_back(std::move(decoded));
    }
    start = slash + 1;
  }
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    HEARTH_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, equals), true));
    std::string value;
    if (equals != std::string_view::npos) {
      HEARTH_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(equals + 1), true));
    }
    if (!out.query.emplace(name, std::move(value)).second) {
      return Status::InvalidArgument(fmt::format("query parameter '{}' given twice", name));
    }
  }
  return out;
}

JsonFields::JsonFields(std::string_view body) {
  if (body.empty()) {
    body_ = nlohmann::json::object();
    return;
  }
  body_ = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (body_.is_discarded()) {
    Fail("request body is not valid JSON", "");
  } else if (!body_.is_object()) {
    Fail("request body must be a JSON object", "");
  }
}

void JsonFields::Fail(std::string message, std::string param) {
  if (!error_) error_ = ApiError::BadRequest(std::move(message), std::move(param));
}

bool JsonFields::Has(const std::string& name) const {
  return !error_ && body_.is_object() && body_.contains(name);
}

const nlohmann::json* JsonFields::Field(const std::string& name) {
  read_.insert(name);
  if (error_ || !body_.is_object()) return nullptr;
  auto it = body_.find(name);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> JsonFields::String(const std::string& name, bool required) {
  const nlohmann::json* value = Field(name);
  if (value == nullptr) {
    if (required) Fail(fmt::format("'{}' is required", name), name);
    return std::nullopt;
  }
  if (!value->is_string()) {
    Fail(fmt::format("'{}' must be a string", name), name);
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<bool> JsonFields::Bool(const std::string& name) {
  const nlohmann::json* value = Field(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    Fail(fmt::format("'{}' must be true or false", name), name);
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<int64_t> JsonFields::Int(const std::string& name, int64_t min) {
  const nlohmann::json* value = Field(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer()) {
    Fail(fmt::format("'{}' must be an integer", name), name);
    return std::nullopt;
  }
  if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t{INT64_MAX}) {
    Fail(fmt::format("'{}' is too large", name), name);
    return std::nullopt;
  }
  const int64_t number = value->get<int64_t>();
  if (number < min) {
    Fail(fmt::format("'{}' must be at least {}", name, min), name);
    return std::nullopt;
  }
  return number;
}

std::optional<std::vector<std::string>> JsonFields::StringList(const std::string& name) {
  const nlohmann::json* value = Field(name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_array()) {
    Fail(fmt::format("'{}' must be an array of strings", name), name);
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *value) {
    if (!item.is_string()) {
      Fail(fmt::format("'{}' must be an array of strings", name), name);
      return std::nullopt;
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<int64_t> JsonFields::Time(const std::string& name) {
  const nlohmann::json* value = Field(name);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) return Int(name, 0);
  if (!value->is_string()) {
    Fail(fmt::format("'{}' must be Unix milliseconds or an ISO-8601 string", name), name);
    return std::nullopt;
  }
  auto parsed = ParseTimestamp(value->get<std::string>());
  if (!parsed.ok()) {
    Fail(fmt::format("'{}': {}", name, parsed.status().message()), name);
    return std::nullopt;
  }
  return *parsed;
}

std::optional<ApiError> JsonFields::error() {
  if (!error_ && body_.is_object()) {
    for (const auto& [key, value] : body_.items()) {
      if (!read_.contains(key)) {
        Fail(fmt::format("unknown field '{}'", key), key);
        break;
      }
    }
  }
  return error_;
}

}  // namespace hearth::platform::admin
