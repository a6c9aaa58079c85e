// Shared helpers of the built-ins: Python-style errors, argument binding, iteration, len(),
// `in`, and slicing.
#include <algorithm>
#include <unordered_map>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {

Status TypeError(std::string message) {
  return Status::InvalidArgument("TypeError: " + std::move(message));
}
Status ValueError(std::string message) {
  return Status::InvalidArgument("ValueError: " + std::move(message));
}
Status RuntimeError(std::string message) {
  return Status::InvalidArgument("TemplateRuntimeError: " + std::move(message));
}
Status UndefinedError(const Value& undefined) {
  return Status::InvalidArgument(undefined.undefined_error_type() + ": " +
                                 undefined.undefined_hint());
}

FilterFn FindFilter(std::string_view name) {
  static const auto* table = [] {
    auto* map = new std::unordered_map<std::string_view, FilterFn>();
    for (const auto& [n, fn] : TextFilters()) map->emplace(n, fn);
    for (const auto& [n, fn] : SequenceFilters()) map->emplace(n, fn);
    return map;
  }();
  auto it = table->find(name);
  return it == table->end() ? nullptr : it->second;
}

TestFn FindTest(std::string_view name) {
  static const auto* table = [] {
    auto* map = new std::unordered_map<std::string_view, TestFn>();
    for (const auto& [n, fn] : BuiltinTests()) map->emplace(n, fn);
    return map;
  }();
  auto it = table->find(name);
  return it == table->end() ? nullptr : it->second;
}

std::vector<std::string> PySplit(const std::string& s, const std::string* sep, int64_t maxsplit,
                                 bool from_right) {
  std::vector<std::string> parts;
  if (sep == nullptr) {
    std::vector<char32_t> cps = DecodeUtf8(s);
    std::vector<std::pair<size_t, size_t>> words;  // [begin, end) in code points
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && IsPySpace(cps[i])) ++i;
      if (i >= cps.size()) break;
      size_t begin = i;
      while (i < cps.size() && !IsPySpace(cps[i])) ++i;
      words.emplace_back(begin, i);
    }
    auto text = [&](size_t b, size_t e) {
      std::string out;
      for (size_t k = b; k < e; ++k) AppendUtf8(cps[k], &out);
      return out;
    };
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= words.size()) {
      for (const auto& [b, e] : words) parts.push_back(text(b, e));
      return parts;
    }
    size_t keep = static_cast<size_t>(maxsplit);
    if (!from_right) {
      for (size_t w = 0; w < keep; ++w) parts.push_back(text(words[w].first, words[w].second));
      // The remainder keeps all its whitespace except the run before it.
      parts.push_back(text(words[keep].first, cps.size()));
    } else {
      size_t first_kept = words.size() - keep;
      parts.push_back(text(0, words[first_kept - 1].second));
      for (size_t w = first_kept; w < words.size(); ++w) {
        parts.push_back(text(words[w].first, words[w].second));
      }
    }
    return parts;
  }
  const std::string& d = *sep;
  if (!from_right) {
    size_t start = 0;
    int64_t splits = 0;
    while (maxsplit < 0 || splits < maxsplit) {
      size_t p = s.find(d, start);
      if (p == std::string::npos) break;
      parts.push_back(s.substr(start, p - start));
      start = p + d.size();
      ++splits;
    }
    parts.push_back(s.substr(start));
    return parts;
  }
  size_t end = s.size();
  int64_t splits = 0;
  std::vector<std::string> reversed;
  while (maxsplit < 0 || splits < maxsplit) {
    if (end < d.size()) break;
    size_t p = s.rfind(d, end - d.size());
    if (p == std::string::npos) break;
    reversed.push_back(s.substr(p + d.size(), end - p - d.size()));
    end = p;
    ++splits;
  }
  reversed.push_back(s.substr(0, end));
  parts.assign(reversed.rbegin(), reversed.rend());
  return parts;
}

std::vector<std::string> PySplitLines(const std::string& s) {
  std::vector<std::string> lines;
  std::vector<char32_t> cps = DecodeUtf8(s);
  std::string current;
  for (size_t i = 0; i < cps.size(); ++i) {
    char32_t c = cps[i];
    bool is_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                    c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) {
      AppendUtf8(c, &current);
      continue;
    }
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    lines.push_back(std::move(current));
    current.clear();
  }
  if (!current.empty()) lines.push_back(std::move(current));
  return lines;
}

std::string PyLower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  if (IsAscii(s)) {
    for (char c : s) out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
    return out;
  }
  for (char32_t cp : DecodeUtf8(s)) AppendUtf8(ToLower(cp), &out);
  return out;
}

std::string PyUpper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  if (IsAscii(s)) {
    for (char c : s) out.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    return out;
  }
  for (char32_t cp : DecodeUtf8(s)) AppendUtf8(ToUpper(cp), &out);
  return out;
}

std::string PyCapitalize(std::string_view s) {
  std::vector<char32_t> cps = DecodeUtf8(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i)
    AppendUtf8(i == 0 ? ToUpper(cps[i]) : ToLower(cps[i]), &out);
  return out;
}

std::string PyTitle(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (char32_t cp : DecodeUtf8(s)) {
    bool cased = IsAlpha(cp);
    AppendUtf8(cased ? (previous_cased ? ToLower(cp) : ToUpper(cp)) : cp, &out);
    previous_cased = cased;
  }
  return out;
}

bool Missing(const Value& v) { return v.is_undefined() && v.heap() == nullptr; }

Result<std::vector<Value>> BindArgs(std::string_view function, const CallArgs& args,
                                    std::initializer_list<std::string_view> params) {
  std::vector<Value> bound(params.size());
  if (args.positional.size() > params.size()) {
    return TypeError(std::string(function) + "() takes at most " + std::to_string(params.size()) +
                     " argument(s) (" + std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t index = 0;
    bool found = false;
    for (std::string_view p : params) {
      if (p == key) {
        found = true;
        break;
      }
      ++index;
    }
    if (!found) {
      return TypeError(std::string(function) + "() got an unexpected keyword argument '" + key +
                       "'");
    }
    if (index < args.positional.size()) {
      return TypeError(std::string(function) + "() got multiple values for argument '" + key + "'");
    }
    bound[index] = value;
  }
  return bound;
}

Result<std::vector<Value>> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::vector<Value>{};
    case Value::Kind::kList:
      return v.items();
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.entries().size());
      for (const auto& [k, val] : v.entries()) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      std::string buf;
      for (char32_t cp : DecodeUtf8(v.as_string())) {
        buf.clear();
        AppendUtf8(cp, &buf);
        chars.push_back(Value::String(buf));
      }
      return chars;
    }
    default:
      return TypeError(fmt::format("'{}' object is not iterable", PyTypeName(v)));
  }
}

Result<int64_t> Length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return int64_t{0};
    case Value::Kind::kString:
      return static_cast<int64_t>(CodePointCount(v.as_string()));
    case Value::Kind::kList:
      if (v.is_generator()) return TypeError("object of type 'generator' has no len()");
      return static_cast<int64_t>(v.items().size());
    case Value::Kind::kDict:
      return static_cast<int64_t>(v.entries().size());
    default:
      return TypeError("object of type '" + std::string(PyTypeName(v)) + "' has no len()");
  }
}

Result<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!item.is_string()) {
        return TypeError("'in <string>' requires string as left operand, not " +
                         std::string(PyTypeName(item)));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      for (const Value& v : container.items()) {
        if (Equals(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      return container.Find(item) != nullptr;
    default:
      return TypeError("argument of type '" + std::string(PyTypeName(container)) +
                       "' is not iterable");
  }
}

namespace {

// Python's slice.indices(): clamps start/stop for the given length and step.
bool SliceIndices(int64_t length, const Value& start_v, const Value& stop_v, const Value& step_v,
                  int64_t* start, int64_t* stop, int64_t* step, Status* error) {
  auto as_index = [&](const Value& v, int64_t* out) {
    if (v.is_none() || v.is_undefined()) return false;
    if (!v.is_int() && !v.is_bool()) {
      *error = TypeError("slice indices must be integers or None");
      return false;
    }
    *out = v.as_int();
    return true;
  };
  *step = 1;
  if (as_index(step_v, step) && *step == 0) {
    *error = ValueError("slice step cannot be zero");
    return false;
  }
  if (!error->ok()) return false;
  int64_t lower = *step < 0 ? -1 : 0;
  int64_t upper = *step < 0 ? length - 1 : length;
  auto clamp = [&](int64_t v) {
    if (v < 0) {
      v += length;
      return v < lower ? lower : v;
    }
    return v > upper ? upper : v;
  };
  int64_t v = 0;
  *start = as_index(start_v, &v) ? clamp(v) : (*step < 0 ? upper : lower);
  *stop = as_index(stop_v, &v) ? clamp(v) : (*step < 0 ? lower : upper);
  return error->ok();
}

}  // namespace

Value SliceValue(const Value& v, const Value& start_v, const Value& stop_v, const Value& step_v,
                 Status* error) {
  *error = Status::Ok();
  int64_t start = 0;
  int64_t stop = 0;
  int64_t step = 1;
  if (v.is_string()) {
    std::vector<char32_t> cps = DecodeUtf8(v.as_string());
    if (!SliceIndices(static_cast<int64_t>(cps.size()), start_v, stop_v, step_v, &start, &stop,
                      &step, error)) {
      return Value();
    }
    std::string out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      AppendUtf8(cps[static_cast<size_t>(i)], &out);
    }
    return Value::String(std::move(out));
  }
  if (v.is_list_like() && !v.is_generator()) {
    const auto& items = v.items();
    if (!SliceIndices(static_cast<int64_t>(items.size()), start_v, stop_v, step_v, &start, &stop,
                      &step, error)) {
      return Value();
    }
    std::vector<Value> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.push_back(items[static_cast<size_t>(i)]);
    }
    return v.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
  }
  if (v.is_undefined()) {
    *error = UndefinedError(v);
    return Value();
  }
  *error = TypeError(fmt::format("'{}' object is not subscriptable", PyTypeName(v)));
  return Value();
}

}  // namespace hearth::jinja
