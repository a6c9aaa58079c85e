#include "hearth/tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {
namespace {

const std::string& EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

Value MakeList(std::vector<Value> items, ListData::Flavor flavor) {
  auto data = std::make_shared<ListData>();
  data->items = std::move(items);
  data->flavor = flavor;
  for (const Value& item : data->items) data->depth = std::max(data->depth, ValueDepth(item) + 1);
  return Value::FromHeap(Value::Kind::kList, std::move(data));
}

void AppendStringRepr(std::string_view s, std::string* out) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  out->push_back(quote);
  for (char32_t cp : DecodeUtf8(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out->append("\\n");
    } else if (cp == '\r') {
      out->append("\\r");
    } else if (cp == '\t') {
      out->append("\\t");
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) || cp == 0xAD ||
               (cp >= 0xDC80 && cp <= 0xDCFF)) {
      fmt::format_to(std::back_inserter(*out), "\\x{:02x}", static_cast<unsigned>(cp & 0xFF));
    } else if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
               (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF) {
      fmt::format_to(std::back_inserter(*out), "\\u{:04x}", static_cast<unsigned>(cp));
    } else {
      AppendUtf8(cp, out);
    }
  }
  out->push_back(quote);
}

}  // namespace

Value Value::String(std::string s) {
  auto data = std::make_shared<StringData>();
  data->text = std::move(s);
  return FromHeap(Kind::kString, std::move(data));
}

Value Value::Undefined(std::string hint, std::string error_type) {
  auto data = std::make_shared<UndefinedData>();
  data->hint = std::move(hint);
  data->error_type = std::move(error_type);
  return FromHeap(Kind::kUndefined, std::move(data));
}

Value Value::List(std::vector<Value> items) {
  return MakeList(std::move(items), ListData::Flavor::kList);
}
Value Value::Tuple(std::vector<Value> items) {
  return MakeList(std::move(items), ListData::Flavor::kTuple);
}
Value Value::Generator(std::vector<Value> items) {
  return MakeList(std::move(items), ListData::Flavor::kGenerator);
}

Value Value::Dict(std::vector<std::pair<Value, Value>> entries) {
  auto data = std::make_shared<DictData>();
  data->entries = std::move(entries);
  for (const auto& [k, v] : data->entries) {
    data->depth = std::max(data->depth, std::max(ValueDepth(k), ValueDepth(v)) + 1);
  }
  return FromHeap(Kind::kDict, std::move(data));
}

Value Value::Function(std::string name, NativeFunction fn) {
  auto data = std::make_shared<FunctionData>();
  data->name = std::move(name);
  data->fn = std::move(fn);
  return FromHeap(Kind::kFunction, std::move(data));
}

bool Value::is_list() const {
  return kind_ == Kind::kList && heap_as<ListData>()->flavor == ListData::Flavor::kList;
}
bool Value::is_tuple() const {
  return kind_ == Kind::kList && heap_as<ListData>()->flavor == ListData::Flavor::kTuple;
}
bool Value::is_generator() const {
  return kind_ == Kind::kList && heap_as<ListData>()->flavor == ListData::Flavor::kGenerator;
}

const std::string& Value::as_string() const {
  return kind_ == Kind::kString ? heap_as<StringData>()->text : EmptyString();
}

const std::vector<Value>& Value::items() const {
  static const std::vector<Value> kEmpty;
  return kind_ == Kind::kList ? heap_as<ListData>()->items : kEmpty;
}

const std::vector<std::pair<Value, Value>>& Value::entries() const {
  static const std::vector<std::pair<Value, Value>> kEmpty;
  return kind_ == Kind::kDict ? heap_as<DictData>()->entries : kEmpty;
}

const FunctionData& Value::function() const { return *heap_as<FunctionData>(); }

std::string Value::undefined_hint() const {
  if (kind_ != Kind::kUndefined || !heap_) return "value is undefined";
  return heap_as<UndefinedData>()->hint;
}

std::string Value::undefined_error_type() const {
  if (kind_ != Kind::kUndefined || !heap_) return "UndefinedError";
  return heap_as<UndefinedData>()->error_type;
}

const Value* Value::Find(const Value& key) const {
  if (kind_ != Kind::kDict) return nullptr;
  if (key.is_string()) return Find(std::string_view(key.as_string()));
  for (const auto& [k, v] : heap_as<DictData>()->entries) {
    if (Equals(k, key)) return &v;
  }
  return nullptr;
}

const Value* Value::Find(std::string_view key) const {
  if (kind_ != Kind::kDict) return nullptr;
  for (const auto& [k, v] : heap_as<DictData>()->entries) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

std::string ObjectData::Repr() const { return fmt::format("<{} object>", type_name()); }

Value NamespaceData::GetAttribute(std::string_view name) const {
  for (const auto& [k, v] : attributes_) {
    if (k == name) return v;
  }
  return Value::Undefined("'Namespace' object has no attribute '" + std::string(name) + "'");
}

bool NamespaceData::SetAttribute(std::string_view name, Value value) const {
  for (auto& [k, v] : attributes_) {
    if (k == name) {
      v = std::move(value);
      return true;
    }
  }
  attributes_.emplace_back(std::string(name), std::move(value));
  return true;
}

std::string NamespaceData::Repr() const {
  // A namespace can contain itself (ns.self = ns); Python prints the cycle as "...".
  thread_local int active = 0;
  if (active > 2) return "<Namespace {...}>";
  struct Guard {
    Guard() { ++active; }
    ~Guard() { --active; }
  } guard;
  std::string out = "<Namespace {";
  bool first = true;
  for (const auto& [k, v] : attributes_) {
    if (!first) out += ", ";
    first = false;
    AppendStringRepr(k, &out);
    out += ": ";
    AppendRepr(v, &out);
  }
  out += "}>";
  return out;
}

Value MakeNamespace(std::vector<std::pair<std::string, Value>> attributes) {
  auto data = std::make_shared<NamespaceData>();
  for (auto& [k, v] : attributes) data->SetAttribute(k, std::move(v));
  return Value::FromHeap(Value::Kind::kObject, std::shared_ptr<const ObjectData>(data));
}

uint32_t ValueDepth(const Value& v) {
  if (v.kind() == Value::Kind::kList) return v.heap_as<ListData>()->depth;
  if (v.kind() == Value::Kind::kDict) return v.heap_as<DictData>()->depth;
  return 0;
}

bool Truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kFloat:
      return v.as_float() != 0.0;
    case Value::Kind::kString:
      return !v.as_string().empty();
    case Value::Kind::kList:
      return v.is_generator() || !v.items().empty();
    case Value::Kind::kDict:
      return !v.entries().empty();
    case Value::Kind::kObject:
    case Value::Kind::kFunction:
      return true;
  }
  return false;
}

bool Equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kList: {
      if (a.is_generator() || b.is_generator()) return a.heap() == b.heap();
      if (a.is_tuple() != b.is_tuple()) return false;
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      if (a.entries().size() != b.entries().size()) return false;
      for (const auto& [k, v] : a.entries()) {
        const Value* other = b.Find(k);
        if (other == nullptr || !Equals(v, *other)) return false;
      }
      return true;
    }
    default:
      return a.heap() == b.heap();
  }
}

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci looks like "-1.2345e+05": split into sign, digits and exponent.
  std::string out;
  size_t pos = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    pos = 1;
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < e; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  int exponent = std::stoi(sci.substr(e + 1));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  if (exponent >= -4 && exponent < 16) {
    int point = exponent + 1;  // digits before the decimal point
    if (point <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-point), '0');
      out += digits;
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(point) - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, point);
      out += '.';
      out += digits.substr(point);
    }
    return out;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) {
    out.push_back('.');
    out += digits.substr(1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+',
                exponent < 0 ? -exponent : exponent);
  out += exp_buf;
  return out;
}

void AppendStr(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return;
    case Value::Kind::kString:
      out->append(v.as_string());
      return;
    default:
      AppendRepr(v, out);
  }
}

std::string ToStr(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  AppendStr(v, &out);
  return out;
}

void AppendRepr(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      out->append("Undefined");
      return;
    case Value::Kind::kNone:
      out->append("None");
      return;
    case Value::Kind::kBool:
      out->append(v.as_bool() ? "True" : "False");
      return;
    case Value::Kind::kInt:
      out->append(std::to_string(v.as_int()));
      return;
    case Value::Kind::kFloat:
      out->append(FloatRepr(v.as_float()));
      return;
    case Value::Kind::kString:
      AppendStringRepr(v.as_string(), out);
      return;
    case Value::Kind::kList: {
      if (v.is_generator()) {
        out->append("<generator object>");
        return;
      }
      bool tuple = v.is_tuple();
      out->push_back(tuple ? '(' : '[');
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out->append(", ");
        AppendRepr(items[i], out);
      }
      if (tuple && items.size() == 1) out->push_back(',');
      out->push_back(tuple ? ')' : ']');
      return;
    }
    case Value::Kind::kDict: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, val] : v.entries()) {
        if (!first) out->append(", ");
        first = false;
        AppendRepr(k, out);
        out->append(": ");
        AppendRepr(val, out);
      }
      out->push_back('}');
      return;
    }
    case Value::Kind::kObject:
      out->append(v.heap_as<ObjectData>()->Repr());
      return;
    case Value::Kind::kFunction:
      out->append("<function " + v.function().name + ">");
      return;
  }
}

std::string Repr(const Value& v) {
  std::string out;
  AppendRepr(v, &out);
  return out;
}

std::string_view PyTypeName(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str";
    case Value::Kind::kList:
      return v.is_tuple() ? "tuple" : v.is_generator() ? "generator" : "list";
    case Value::Kind::kDict:
      return "dict";
    case Value::Kind::kObject:
      return v.heap_as<ObjectData>()->type_name();
    case Value::Kind::kFunction:
      return "function";
  }
  return "object";
}

Result<int> Compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_float();
      double y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order equals code point order.
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list_like() && b.is_list_like() && a.is_tuple() == b.is_tuple() && !a.is_generator() &&
      !b.is_generator()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (Equals(x[i], y[i])) continue;
      return Compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return Status::InvalidArgument("TypeError: '<' not supported between instances of '" +
                                 std::string(PyTypeName(a)) + "' and '" +
                                 std::string(PyTypeName(b)) + "'");
}

}  // namespace hearth::jinja
