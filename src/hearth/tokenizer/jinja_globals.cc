// Global functions of the chat-template environment: Jinja's range/dict/namespace and
// transformers' raise_exception and strftime_now.
#include <ctime>
#include <unordered_map>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_renderer.h"

namespace hearth::jinja {
namespace {

// The sandbox's MAX_RANGE.
constexpr int64_t kMaxRange = 100000;

Result<Value> Range(Renderer&, CallArgs& args) {
  if (!args.keyword.empty()) return TypeError("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) {
    return TypeError("range expected at most 3 arguments, got " + std::to_string(p.size()));
  }
  for (const Value& v : p) {
    if (!v.is_int() && !v.is_bool()) {
      return TypeError(
          fmt::format("'{}' object cannot be interpreted as an integer", PyTypeName(v)));
    }
  }
  int64_t start = p.size() == 1 ? 0 : p[0].as_int();
  int64_t stop = p.size() == 1 ? p[0].as_int() : p[1].as_int();
  int64_t step = p.size() == 3 ? p[2].as_int() : 1;
  if (step == 0) return ValueError("range() arg 3 must not be zero");
  // Count without overflow: values are bounded by int64 but differences may not be.
  __int128 span = static_cast<__int128>(stop) - start;
  __int128 count = 0;
  if (step > 0 && span > 0) count = (span + step - 1) / step;
  if (step < 0 && span < 0)
    count = (-span + (-static_cast<__int128>(step)) - 1) / -static_cast<__int128>(step);
  if (count > kMaxRange) {
    return Status::InvalidArgument(
        "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  for (__int128 i = 0; i < count; ++i)
    items.push_back(Value::Int(static_cast<int64_t>(start + i * step)));
  return Value::List(std::move(items));
}

Result<Value> Dict(Renderer&, CallArgs& args) {
  std::vector<std::pair<Value, Value>> entries;
  auto put = [&entries](Value k, Value v) {
    for (auto& [ek, ev] : entries) {
      if (Equals(ek, k)) {
        ev = std::move(v);
        return;
      }
    }
    entries.emplace_back(std::move(k), std::move(v));
  };
  if (args.positional.size() > 1) return TypeError("dict expected at most 1 argument");
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.entries()) put(k, v);
    } else {
      HEARTH_ASSIGN_OR_RETURN(std::vector<Value> pairs, Iterate(src));
      for (const Value& pair : pairs) {
        if (!pair.is_list_like() || pair.items().size() != 2) {
          return ValueError("dictionary update sequence element has wrong length");
        }
        put(pair.items()[0], pair.items()[1]);
      }
    }
  }
  for (const auto& [k, v] : args.keyword) put(Value::String(k), v);
  return Value::Dict(std::move(entries));
}

Result<Value> Namespace(Renderer& r, CallArgs& args) {
  std::vector<std::pair<std::string, Value>> attributes;
  if (args.positional.size() > 1) return TypeError("namespace expected at most 1 argument");
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (!src.is_dict()) return TypeError("namespace() argument must be a mapping");
    for (const auto& [k, v] : src.entries()) attributes.emplace_back(ToStr(k), v);
  }
  for (const auto& [k, v] : args.keyword) attributes.emplace_back(k, v);
  Value ns = MakeNamespace(std::move(attributes));
  r.TrackNamespace(ns);
  return ns;
}

Result<Value> RaiseException(Renderer&, CallArgs& args) {
  std::string message = args.positional.empty() ? "" : ToStr(args.positional[0]);
  return Status::InvalidArgument("TemplateError: " + message);
}

Result<Value> StrftimeNow(Renderer& r, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("strftime_now", args, {"format"}));
  if (!a[0].is_string()) return TypeError("strftime() argument 1 must be str");
  const std::string& format = a[0].as_string();
  if (format.size() > 256) return ValueError("strftime format too long");
  auto now = r.env().clock ? r.env().clock() : std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&t, &local);
  if (format.empty()) return Value::String("");
  std::string buffer(4096, '\0');
  size_t n = std::strftime(buffer.data(), buffer.size(), format.c_str(), &local);
  buffer.resize(n);  // 0 for formats that expand to nothing
  return Value::String(std::move(buffer));
}

}  // namespace

Value GetGlobal(std::string_view name) {
  static const auto* globals = [] {
    auto* map = new std::unordered_map<std::string_view, Value>();
    map->emplace("range", Value::Function("range", Range));
    map->emplace("dict", Value::Function("dict", Dict));
    map->emplace("namespace", Value::Function("namespace", Namespace));
    map->emplace("raise_exception", Value::Function("raise_exception", RaiseException));
    map->emplace("strftime_now", Value::Function("strftime_now", StrftimeNow));
    return map;
  }();
  auto it = globals->find(name);
  return it == globals->end() ? Value() : it->second;
}

}  // namespace hearth::jinja
