#include "hearth/tokenizer/jinja_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {
namespace {

void AppendJsonString(std::string_view s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  auto escape_u = [out](unsigned cp) { fmt::format_to(std::back_inserter(*out), "\\u{:04x}", cp); };
  for (char32_t cp : DecodeUtf8(s)) {
    switch (cp) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      case '\b':
        out->append("\\b");
        continue;
      case '\f':
        out->append("\\f");
        continue;
      default:
        break;
    }
    if (cp < 0x20) {
      escape_u(static_cast<unsigned>(cp));
    } else if (ensure_ascii && cp > 0x7E) {
      if (cp >= 0x10000) {
        char32_t v = cp - 0x10000;
        escape_u(static_cast<unsigned>(0xD800 + (v >> 10)));
        escape_u(static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        escape_u(static_cast<unsigned>(cp));
      }
    } else {
      AppendUtf8(cp, out);
    }
  }
  out->push_back('"');
}

std::string JsonFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  return FloatRepr(d);
}

// Python's json converts these dict keys to strings; anything else is a TypeError.
Result<std::string> KeyText(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::kString:
      return key.as_string();
    case Value::Kind::kInt:
      return std::to_string(key.as_int());
    case Value::Kind::kBool:
      return std::string(key.as_bool() ? "true" : "false");
    case Value::Kind::kNone:
      return std::string("null");
    case Value::Kind::kFloat:
      return JsonFloat(key.as_float());
    default:
      return TypeError("keys must be str, int, float, bool or None, not " +
                       std::string(PyTypeName(key)));
  }
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& options) : options_(options) {}

  Status Write(const Value& v, int level, std::string* out) {
    switch (v.kind()) {
      case Value::Kind::kNone:
        out->append("null");
        return Status::Ok();
      case Value::Kind::kBool:
        out->append(v.as_bool() ? "true" : "false");
        return Status::Ok();
      case Value::Kind::kInt:
        out->append(std::to_string(v.as_int()));
        return Status::Ok();
      case Value::Kind::kFloat:
        out->append(JsonFloat(v.as_float()));
        return Status::Ok();
      case Value::Kind::kString:
        AppendJsonString(v.as_string(), options_.ensure_ascii, out);
        return Status::Ok();
      case Value::Kind::kList:
        if (!v.is_generator()) return WriteList(v.items(), level, out);
        break;
      case Value::Kind::kDict:
        return WriteDict(v, level, out);
      default:
        break;
    }
    std::string type = v.is_undefined() ? "Undefined" : std::string(PyTypeName(v));
    return TypeError("Object of type " + type + " is not JSON serializable");
  }

 private:
  void Newline(int level, std::string* out) {
    out->push_back('\n');
    for (int i = 0; i < level; ++i) out->append(*options_.indent);
  }

  Status WriteList(const std::vector<Value>& items, int level, std::string* out) {
    if (items.empty()) {
      out->append("[]");
      return Status::Ok();
    }
    out->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out->append(options_.item_separator);
      if (options_.indent) Newline(level + 1, out);
      HEARTH_RETURN_IF_ERROR(Write(items[i], level + 1, out));
    }
    if (options_.indent) Newline(level, out);
    out->push_back(']');
    return Status::Ok();
  }

  Status WriteDict(const Value& dict, int level, std::string* out) {
    const auto& entries = dict.entries();
    if (entries.empty()) {
      out->append("{}");
      return Status::Ok();
    }
    std::vector<std::pair<std::string, const Value*>> items;
    items.reserve(entries.size());
    for (const auto& [k, v] : entries) {
      HEARTH_ASSIGN_OR_RETURN(std::string key, KeyText(k));
      items.emplace_back(std::move(key), &v);
    }
    if (options_.sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out->push_back('{');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out->append(options_.item_separator);
      if (options_.indent) Newline(level + 1, out);
      AppendJsonString(items[i].first, options_.ensure_ascii, out);
      out->append(options_.key_separator);
      HEARTH_RETURN_IF_ERROR(Write(*items[i].second, level + 1, out));
    }
    if (options_.indent) Newline(level, out);
    out->push_back('}');
    return Status::Ok();
  }

  const JsonOptions& options_;
};

}  // namespace

Result<std::string> ToJson(const Value& value, const JsonOptions& options) {
  std::string out;
  JsonWriter writer(options);
  HEARTH_RETURN_IF_ERROR(writer.Write(value, 0, &out));
  return out;
}

Result<Value> FromJson(const nlohmann::ordered_json& json, int max_depth) {
  if (max_depth < 0) return Status::InvalidArgument("context JSON nested too deeply");
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::None();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::Float(static_cast<double>(u));
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::String(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) {
        HEARTH_ASSIGN_OR_RETURN(Value v, FromJson(item, max_depth - 1));
        items.push_back(std::move(v));
      }
      return Value::List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      std::vector<std::pair<Value, Value>> entries;
      entries.reserve(json.size());
      for (const auto& [key, item] : json.items()) {
        HEARTH_ASSIGN_OR_RETURN(Value v, FromJson(item, max_depth - 1));
        entries.emplace_back(Value::String(key), std::move(v));
      }
      return Value::Dict(std::move(entries));
    }
    default:
      return Status::InvalidArgument("context JSON holds an unsupported value (binary data)");
  }
}

}  // namespace hearth::jinja
