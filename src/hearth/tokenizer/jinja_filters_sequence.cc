// Jinja filters on sequences and mappings: length, first, last, join, list, items, dictsort,
// map, select, reject, selectattr, rejectattr, unique, batch, sort, reverse, sum, min, max, attr.
// map/select/reject/selectattr/rejectattr/unique/reverse return generators, as in Jinja2.
#include <algorithm>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_renderer.h"

namespace hearth::jinja {
namespace {

Result<Value> FilterLength(Renderer&, const Value& input, CallArgs&) {
  HEARTH_ASSIGN_OR_RETURN(int64_t n, Length(input));
  return Value::Int(n);
}

Result<Value> FilterFirst(Renderer&, const Value& input, CallArgs&) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> FilterLast(Renderer&, const Value& input, CallArgs&) {
  if (input.is_generator()) return TypeError("'generator' object is not reversible");
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> FilterList(Renderer&, const Value& input, CallArgs&) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  return Value::List(std::move(items));
}

Result<Value> FilterItems(Renderer&, const Value& input, CallArgs&) {
  if (input.is_undefined()) return Value::Generator({});
  if (!input.is_dict()) return RuntimeError("Can only get item pairs from a mapping.");
  std::vector<Value> pairs;
  for (const auto& [k, v] : input.entries()) pairs.push_back(Value::Tuple({k, v}));
  return Value::Generator(std::move(pairs));
}

// Jinja's attribute paths: "a.b.0" walks getitem with integer parts.
Result<Value> GetAttributePath(Renderer& r, const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(),
                                                [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && part.size() < 18) {
      HEARTH_ASSIGN_OR_RETURN(current, r.GetItem(current, Value::Int(std::stoll(part))));
    } else {
      HEARTH_ASSIGN_OR_RETURN(current, r.GetItem(current, Value::String(part)));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

// A key function for sort/unique/min/max: optional attribute, optional case folding.
Result<Value> SortKey(Renderer& r, const Value& item, const Value& attribute, bool case_sensitive) {
  Value key = item;
  if (!Missing(attribute) && !attribute.is_none()) {
    HEARTH_ASSIGN_OR_RETURN(key, GetAttributePath(r, item, ToStr(attribute)));
  }
  if (!case_sensitive && key.is_string()) return Value::String(PyLower(key.as_string()));
  return key;
}

Result<Value> FilterJoin(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("join", args, {"d", "attribute"}));
  std::string separator = Missing(a[0]) ? "" : ToStr(a[0]);
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    Value item = items[i];
    if (!Missing(a[1]) && !a[1].is_none()) {
      HEARTH_ASSIGN_OR_RETURN(item, GetAttributePath(r, item, ToStr(a[1])));
    }
    AppendStr(item, &out);
    HEARTH_RETURN_IF_ERROR(r.CheckStringSize(out.size()));
  }
  return Value::String(std::move(out));
}

Result<Value> FilterMap(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::vector<Value> out;
  const Value* attribute = nullptr;
  const Value* fallback = nullptr;
  for (const auto& [k, v] : args.keyword) {
    if (k == "attribute")
      attribute = &v;
    else if (k == "default")
      fallback = &v;
  }
  if (attribute != nullptr) {
    for (const Value& item : items) {
      HEARTH_ASSIGN_OR_RETURN(Value v, GetAttributePath(r, item, ToStr(*attribute)));
      if (v.is_undefined() && fallback != nullptr) v = *fallback;
      out.push_back(std::move(v));
    }
    return Value::Generator(std::move(out));
  }
  if (args.positional.empty()) return Value::Generator(std::move(items));
  std::string filter = ToStr(args.positional[0]);
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    CallArgs call = rest;
    HEARTH_ASSIGN_OR_RETURN(Value v, r.ApplyFilter(filter, item, call));
    out.push_back(std::move(v));
  }
  return Value::Generator(std::move(out));
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...).
Result<Value> SelectOrReject(Renderer& r, const Value& input, CallArgs& args, bool with_attribute,
                             bool keep_when) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  size_t next = 0;
  std::string attribute;
  if (with_attribute) {
    if (args.positional.empty()) return TypeError("selectattr/rejectattr need an attribute");
    attribute = ToStr(args.positional[next++]);
  }
  std::string test;
  if (next < args.positional.size()) test = ToStr(args.positional[next++]);
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next),
                              args.positional.end());
  test_args.keyword = args.keyword;
  std::vector<Value> out;
  for (const Value& item : items) {
    Value subject = item;
    if (with_attribute) {
      HEARTH_ASSIGN_OR_RETURN(subject, GetAttributePath(r, item, attribute));
    }
    bool passed = false;
    if (test.empty()) {
      passed = Truthy(subject);
    } else {
      CallArgs call = test_args;
      HEARTH_ASSIGN_OR_RETURN(passed, r.ApplyTest(test, subject, call));
    }
    if (passed == keep_when) out.push_back(item);
  }
  return Value::Generator(std::move(out));
}

Result<Value> FilterSelect(Renderer& r, const Value& input, CallArgs& args) {
  return SelectOrReject(r, input, args, false, true);
}
Result<Value> FilterReject(Renderer& r, const Value& input, CallArgs& args) {
  return SelectOrReject(r, input, args, false, false);
}
Result<Value> FilterSelectAttr(Renderer& r, const Value& input, CallArgs& args) {
  return SelectOrReject(r, input, args, true, true);
}
Result<Value> FilterRejectAttr(Renderer& r, const Value& input, CallArgs& args) {
  return SelectOrReject(r, input, args, true, false);
}

Result<Value> FilterUnique(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("unique", args, {"case_sensitive", "attribute"}));
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::vector<Value> seen;
  std::vector<Value> out;
  for (const Value& item : items) {
    HEARTH_ASSIGN_OR_RETURN(Value key, SortKey(r, item, a[1], Truthy(a[0])));
    bool duplicate = false;
    for (const Value& s : seen) {
      if (Equals(s, key)) {
        duplicate = true;
        break;
      }
    }
    if (duplicate) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::Generator(std::move(out));
}

Result<Value> FilterBatch(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("batch", args, {"linecount", "fill_with"}));
  if (!a[0].is_int() || a[0].as_int() <= 0) return ValueError("batch size must be positive");
  size_t size = static_cast<size_t>(a[0].as_int());
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::vector<Value> out;
  std::vector<Value> current;
  for (const Value& item : items) {
    current.push_back(item);
    if (current.size() == size) {
      out.push_back(Value::List(std::move(current)));
      current.clear();
    }
  }
  if (!current.empty()) {
    if (!Missing(a[1]) && !a[1].is_none()) {
      while (current.size() < size) current.push_back(a[1]);
    }
    out.push_back(Value::List(std::move(current)));
  }
  return Value::Generator(std::move(out));
}

// Stable sort by key with Python ordering; unorderable keys are a TypeError.
Status SortByKeys(std::vector<std::pair<Value, Value>>* keyed, bool reverse) {
  Status error;
  std::stable_sort(keyed->begin(), keyed->end(), [&](const auto& x, const auto& y) {
    if (!error.ok()) return false;
    auto c = reverse ? Compare(y.first, x.first) : Compare(x.first, y.first);
    if (!c.ok()) {
      error = c.status();
      return false;
    }
    return *c < 0;
  });
  return error;
}

Result<Value> FilterSort(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a,
                          BindArgs("sort", args, {"reverse", "case_sensitive", "attribute"}));
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items) {
    HEARTH_ASSIGN_OR_RETURN(Value key, SortKey(r, item, a[2], Truthy(a[1])));
    keyed.emplace_back(std::move(key), item);
  }
  HEARTH_RETURN_IF_ERROR(SortByKeys(&keyed, Truthy(a[0])));
  std::vector<Value> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return Value::List(std::move(out));
}

Result<Value> FilterDictSort(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("dictsort", args, {"case_sensitive", "by", "reverse"}));
  if (input.is_undefined()) return UndefinedError(input);
  if (!input.is_dict()) return TypeError("dictsort expects a mapping");
  std::string by = Missing(a[1]) ? "key" : ToStr(a[1]);
  if (by != "key" && by != "value")
    return RuntimeError("You can only sort by either \"key\" or \"value\"");
  bool case_sensitive = Truthy(a[0]);
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, v] : input.entries()) {
    Value key = by == "key" ? k : v;
    if (!case_sensitive && key.is_string()) key = Value::String(PyLower(key.as_string()));
    keyed.emplace_back(std::move(key), Value::Tuple({k, v}));
  }
  HEARTH_RETURN_IF_ERROR(SortByKeys(&keyed, Truthy(a[2])));
  std::vector<Value> out;
  for (auto& [k, v] : keyed) out.push_back(std::move(v));
  return Value::List(std::move(out));
}

Result<Value> FilterReverse(Renderer&, const Value& input, CallArgs&) {
  if (input.is_string()) {
    Status error;
    return SliceValue(input, Value(), Value(), Value::Int(-1), &error);
  }
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  std::reverse(items.begin(), items.end());
  return Value::Generator(std::move(items));
}

Result<Value> FilterSum(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("sum", args, {"attribute", "start"}));
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  Value total = Missing(a[1]) ? Value::Int(0) : a[1];
  for (const Value& item : items) {
    Value v = item;
    if (!Missing(a[0]) && !a[0].is_none()) {
      HEARTH_ASSIGN_OR_RETURN(v, GetAttributePath(r, item, ToStr(a[0])));
    }
    if (!total.is_number() || !v.is_number()) {
      return TypeError("unsupported operand type(s) for +: '" + std::string(PyTypeName(total)) +
                       "' and '" + std::string(PyTypeName(v)) + "'");
    }
    if (total.is_float() || v.is_float()) {
      total = Value::Float(total.as_float() + v.as_float());
    } else {
      int64_t s = 0;
      if (__builtin_add_overflow(total.as_int(), v.as_int(), &s)) {
        return Status::InvalidArgument("OverflowError: integer result too large");
      }
      total = Value::Int(s);
    }
  }
  return total;
}

Result<Value> MinOrMax(Renderer& r, const Value& input, CallArgs& args, bool want_max) {
  HEARTH_ASSIGN_OR_RETURN(
      auto a, BindArgs(want_max ? "max" : "min", args, {"case_sensitive", "attribute"}));
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(input));
  if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  HEARTH_ASSIGN_OR_RETURN(Value best_key, SortKey(r, items[0], a[1], Truthy(a[0])));
  for (size_t i = 1; i < items.size(); ++i) {
    HEARTH_ASSIGN_OR_RETURN(Value key, SortKey(r, items[i], a[1], Truthy(a[0])));
    HEARTH_ASSIGN_OR_RETURN(int c, Compare(key, best_key));
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}

Result<Value> FilterMin(Renderer& r, const Value& input, CallArgs& args) {
  return MinOrMax(r, input, args, false);
}
Result<Value> FilterMax(Renderer& r, const Value& input, CallArgs& args) {
  return MinOrMax(r, input, args, true);
}

Result<Value> FilterAttr(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("attr", args, {"name"}));
  return r.GetAttribute(input, ToStr(a[0]));
}

}  // namespace

const FilterTable& SequenceFilters() {
  static const FilterTable table = {
      {"length", FilterLength},
      {"count", FilterLength},
      {"first", FilterFirst},
      {"last", FilterLast},
      {"list", FilterList},
      {"items", FilterItems},
      {"join", FilterJoin},
      {"map", FilterMap},
      {"select", FilterSelect},
      {"reject", FilterReject},
      {"selectattr", FilterSelectAttr},
      {"rejectattr", FilterRejectAttr},
      {"unique", FilterUnique},
      {"batch", FilterBatch},
      {"sort", FilterSort},
      {"dictsort", FilterDictSort},
      {"reverse", FilterReverse},
      {"sum", FilterSum},
      {"min", FilterMin},
      {"max", FilterMax},
      {"attr", FilterAttr},
  };
  return table;
}

}  // namespace hearth::jinja
