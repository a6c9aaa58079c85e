// JSON in and out of the Jinja value model.
//
// ToJson is Python's json.dumps as transformers' `tojson` filter calls it (ensure_ascii=False,
// sort_keys=False by default): separators ", " / ": " without indent and "," / ": " with one,
// floats as Python repr, non-ASCII text kept as is.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hearth/base/status.h"
#include "hearth/tokenizer/jinja_value.h"

namespace hearth::jinja {

struct JsonOptions {
  std::optional<std::string> indent;  // nullopt: single line; else the per-level indent text
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};

Result<std::string> ToJson(const Value& value, const JsonOptions& options);

// Context JSON to values; objects keep their key order. Fails on nesting deeper than
// `max_depth`.
Result<Value> FromJson(const nlohmann::ordered_json& json, int max_depth = 256);

}  // namespace hearth::jinja
