// Python methods templates call on values: str.strip(), str.split(), dict.get(), list.index(),
// ... Methods that mutate a list or dict are refused the way transformers' immutable sandbox
// refuses them: the attribute is an Undefined that raises SecurityError when called.
#include <algorithm>
#include <unordered_map>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_renderer.h"
#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {
namespace {

using Method = Result<Value> (*)(Renderer&, const Value& self, CallArgs& args);

// Byte offset in a UTF-8 string to a Python (code point) index.
int64_t CodePointIndex(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(CodePointCount(std::string_view(s).substr(0, byte_offset)));
}

std::string OptionalChars(const Value& v, bool* has) {
  *has = !Missing(v) && !v.is_none();
  return *has ? ToStr(v) : std::string();
}

Result<Value> StrStrip(const Value& self, CallArgs& args, bool left, bool right, const char* name) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"chars"}));
  bool has = false;
  std::string chars = OptionalChars(a[0], &has);
  return Value::String(PyStrip(self.as_string(), has ? &chars : nullptr, left, right));
}
Result<Value> MStrip(Renderer&, const Value& s, CallArgs& a) {
  return StrStrip(s, a, true, true, "strip");
}
Result<Value> MLstrip(Renderer&, const Value& s, CallArgs& a) {
  return StrStrip(s, a, true, false, "lstrip");
}
Result<Value> MRstrip(Renderer&, const Value& s, CallArgs& a) {
  return StrStrip(s, a, false, true, "rstrip");
}

Result<Value> StrAffix(const Value& self, CallArgs& args, bool prefix, const char* name) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"prefix", "start", "end"}));
  std::string s = self.as_string();
  if (!Missing(a[1]) || !Missing(a[2])) {
    Status error;
    s = SliceValue(self, a[1], Missing(a[2]) ? Value::None() : a[2], Value(), &error).as_string();
    HEARTH_RETURN_IF_ERROR(error);
  }
  std::vector<Value> candidates;
  if (a[0].is_tuple()) {
    candidates = a[0].items();
  } else {
    candidates.push_back(a[0]);
  }
  for (const Value& c : candidates) {
    if (!c.is_string()) {
      return TypeError(std::string(name) + " first arg must be str or a tuple of str, not " +
                       std::string(PyTypeName(c)));
    }
    const std::string& p = c.as_string();
    if (p.size() > s.size()) continue;
    if (prefix ? s.compare(0, p.size(), p) == 0
               : s.compare(s.size() - p.size(), p.size(), p) == 0) {
      return Value::Bool(true);
    }
  }
  return Value::Bool(false);
}
Result<Value> MStartswith(Renderer&, const Value& s, CallArgs& a) {
  return StrAffix(s, a, true, "startswith");
}
Result<Value> MEndswith(Renderer&, const Value& s, CallArgs& a) {
  return StrAffix(s, a, false, "endswith");
}

Result<Value> StrSplit(const Value& self, CallArgs& args, bool from_right, const char* name) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"sep", "maxsplit"}));
  bool has = false;
  std::string sep = OptionalChars(a[0], &has);
  if (has && sep.empty()) return ValueError("empty separator");
  int64_t maxsplit = Missing(a[1]) ? -1 : a[1].as_int();
  std::vector<Value> parts;
  for (std::string& p : PySplit(self.as_string(), has ? &sep : nullptr, maxsplit, from_right)) {
    parts.push_back(Value::String(std::move(p)));
  }
  return Value::List(std::move(parts));
}
Result<Value> MSplit(Renderer&, const Value& s, CallArgs& a) {
  return StrSplit(s, a, false, "split");
}
Result<Value> MRsplit(Renderer&, const Value& s, CallArgs& a) {
  return StrSplit(s, a, true, "rsplit");
}

Result<Value> MSplitlines(Renderer&, const Value& self, CallArgs&) {
  std::vector<Value> lines;
  for (std::string& l : PySplitLines(self.as_string()))
    lines.push_back(Value::String(std::move(l)));
  return Value::List(std::move(lines));
}

Result<Value> MReplace(Renderer& r, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("replace", args, {"old", "new", "count"}));
  if (!a[0].is_string() || !a[1].is_string()) return TypeError("replace() arguments must be str");
  CallArgs filter_args;
  filter_args.positional = {a[0], a[1]};
  if (!Missing(a[2]) && a[2].as_int() >= 0) filter_args.positional.push_back(a[2]);
  return r.ApplyFilter("replace", self, filter_args);
}

Result<Value> MUpper(Renderer&, const Value& s, CallArgs&) {
  return Value::String(PyUpper(s.as_string()));
}
Result<Value> MLower(Renderer&, const Value& s, CallArgs&) {
  return Value::String(PyLower(s.as_string()));
}
Result<Value> MTitle(Renderer&, const Value& s, CallArgs&) {
  return Value::String(PyTitle(s.as_string()));
}
Result<Value> MCapitalize(Renderer&, const Value& s, CallArgs&) {
  return Value::String(PyCapitalize(s.as_string()));
}

Result<Value> StrFind(const Value& self, CallArgs& args, bool reverse, bool raise,
                      const char* name) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"sub", "start", "end"}));
  if (!a[0].is_string()) return TypeError("must be str, not " + std::string(PyTypeName(a[0])));
  const std::string& s = self.as_string();
  int64_t offset = 0;
  std::string window = s;
  if (!Missing(a[1]) || !Missing(a[2])) {
    Status error;
    Value start = Missing(a[1]) ? Value::None() : a[1];
    window =
        SliceValue(self, start, Missing(a[2]) ? Value::None() : a[2], Value(), &error).as_string();
    HEARTH_RETURN_IF_ERROR(error);
    int64_t n = static_cast<int64_t>(CodePointCount(s));
    offset = start.is_int() ? start.as_int() : 0;
    if (offset < 0) offset = std::max<int64_t>(0, offset + n);
    offset = std::min(offset, n);
  }
  size_t p = reverse ? window.rfind(a[0].as_string()) : window.find(a[0].as_string());
  if (p == std::string::npos) {
    if (raise) return ValueError("substring not found");
    return Value::Int(-1);
  }
  return Value::Int(offset + CodePointIndex(window, p));
}
Result<Value> MFind(Renderer&, const Value& s, CallArgs& a) {
  return StrFind(s, a, false, false, "find");
}
Result<Value> MRfind(Renderer&, const Value& s, CallArgs& a) {
  return StrFind(s, a, true, false, "rfind");
}
Result<Value> MIndex(Renderer&, const Value& s, CallArgs& a) {
  return StrFind(s, a, false, true, "index");
}
Result<Value> MRindex(Renderer&, const Value& s, CallArgs& a) {
  return StrFind(s, a, true, true, "rindex");
}

Result<Value> MStrCount(Renderer&, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("count", args, {"sub"}));
  if (!a[0].is_string()) return TypeError("must be str, not " + std::string(PyTypeName(a[0])));
  const std::string& s = self.as_string();
  const std::string& sub = a[0].as_string();
  if (sub.empty()) return Value::Int(static_cast<int64_t>(CodePointCount(s)) + 1);
  int64_t n = 0;
  for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
  return Value::Int(n);
}

Result<Value> MJoin(Renderer& r, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("join", args, {"iterable"}));
  HEARTH_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(a[0]));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) {
      return TypeError("sequence item " + std::to_string(i) + ": expected str instance, " +
                       std::string(PyTypeName(items[i])) + " found");
    }
    if (i > 0) out += self.as_string();
    out += items[i].as_string();
    HEARTH_RETURN_IF_ERROR(r.CheckStringSize(out.size()));
  }
  return Value::String(std::move(out));
}

template <bool (*Pred)(char32_t)>
Result<Value> AllChars(Renderer&, const Value& self, CallArgs&) {
  std::vector<char32_t> cps = DecodeUtf8(self.as_string());
  if (cps.empty()) return Value::Bool(false);
  return Value::Bool(std::all_of(cps.begin(), cps.end(), Pred));
}
bool IsAlnum(char32_t c) { return IsAlpha(c) || IsDigit(c); }

Result<Value> MIsLower(Renderer&, const Value& self, CallArgs&) {
  const std::string& s = self.as_string();
  return Value::Bool(PyLower(s) == s && PyUpper(s) != s);
}
Result<Value> MIsUpper(Renderer&, const Value& self, CallArgs&) {
  const std::string& s = self.as_string();
  return Value::Bool(PyUpper(s) == s && PyLower(s) != s);
}

Result<Value> Pad(Renderer& r, const Value& self, CallArgs& args, int mode, const char* name) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(name, args, {"width", "fillchar"}));
  int64_t width = a[0].is_int() ? a[0].as_int() : 0;
  std::string fill = Missing(a[1]) ? " " : ToStr(a[1]);
  if (CodePointCount(fill) != 1) {
    return TypeError("The fill character must be exactly one character long");
  }
  const std::string& s = self.as_string();
  int64_t length = static_cast<int64_t>(CodePointCount(s));
  if (width <= length) return self;
  HEARTH_RETURN_IF_ERROR(r.CheckStringSize(static_cast<uint64_t>(width) * fill.size()));
  int64_t pad = width - length;
  int64_t left = mode == 0 ? 0 : mode == 1 ? pad : pad / 2 + (pad & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < pad - left; ++i) out += fill;
  return Value::String(std::move(out));
}
Result<Value> MLjust(Renderer& r, const Value& s, CallArgs& a) { return Pad(r, s, a, 0, "ljust"); }
Result<Value> MRjust(Renderer& r, const Value& s, CallArgs& a) { return Pad(r, s, a, 1, "rjust"); }
Result<Value> MCenter(Renderer& r, const Value& s, CallArgs& a) {
  return Pad(r, s, a, 2, "center");
}

Result<Value> MZfill(Renderer& r, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("zfill", args, {"width"}));
  const std::string& s = self.as_string();
  int64_t width = a[0].is_int() ? a[0].as_int() : 0;
  int64_t length = static_cast<int64_t>(CodePointCount(s));
  if (width <= length) return self;
  HEARTH_RETURN_IF_ERROR(r.CheckStringSize(static_cast<uint64_t>(width)));
  size_t sign = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  return Value::String(s.substr(0, sign) + std::string(static_cast<size_t>(width - length), '0') +
                       s.substr(sign));
}

Result<Value> MRemovePrefix(Renderer&, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("removeprefix", args, {"prefix"}));
  std::string p = ToStr(a[0]);
  const std::string& s = self.as_string();
  if (s.compare(0, p.size(), p) == 0 && p.size() <= s.size())
    return Value::String(s.substr(p.size()));
  return self;
}

Result<Value> MRemoveSuffix(Renderer&, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("removesuffix", args, {"suffix"}));
  std::string p = ToStr(a[0]);
  const std::string& s = self.as_string();
  if (!p.empty() && p.size() <= s.size() && s.compare(s.size() - p.size(), p.size(), p) == 0) {
    return Value::String(s.substr(0, s.size() - p.size()));
  }
  return self;
}

// str.format with {} / {0} / {name} fields and an optional `!r`/`!s` conversion. Format specs
// beyond those are not supported (no chat template uses them).
Result<Value> MFormat(Renderer& r, const Value& self, CallArgs& args) {
  const std::string& f = self.as_string();
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') {
      out.push_back('}');
      ++i;
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) return ValueError("Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 's';
    if (size_t bang = field.find('!'); bang != std::string::npos) {
      conversion = bang + 1 < field.size() ? field[bang + 1] : 's';
      field = field.substr(0, bang);
    }
    if (field.find(':') != std::string::npos) {
      return Status::Unimplemented("str.format: format specs are not supported");
    }
    Value v;
    if (field.empty()) {
      if (auto_index >= args.positional.size()) {
        return Status::InvalidArgument("IndexError: Replacement index " +
                                       std::to_string(auto_index) + " out of range");
      }
      v = args.positional[auto_index++];
    } else if (std::all_of(field.begin(), field.end(),
                           [](char d) { return d >= '0' && d <= '9'; })) {
      size_t index = field.size() < 9 ? std::stoul(field) : SIZE_MAX;
      if (index >= args.positional.size()) {
        return Status::InvalidArgument("IndexError: Replacement index " + field + " out of range");
      }
      v = args.positional[index];
    } else {
      bool found = false;
      for (const auto& [k, val] : args.keyword) {
        if (k == field) {
          v = val;
          found = true;
        }
      }
      if (!found) return Status::InvalidArgument("KeyError: '" + field + "'");
    }
    out += conversion == 'r' ? Repr(v) : ToStr(v);
    HEARTH_RETURN_IF_ERROR(r.CheckStringSize(out.size()));
  }
  return Value::String(std::move(out));
}

// ---- list and dict ----

Result<Value> MListIndex(Renderer&, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("index", args, {"value"}));
  const auto& items = self.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (Equals(items[i], a[0])) return Value::Int(static_cast<int64_t>(i));
  }
  return ValueError(Repr(a[0]) + " is not in list");
}

Result<Value> MListCount(Renderer&, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("count", args, {"value"}));
  int64_t n = 0;
  for (const Value& v : self.items()) n += Equals(v, a[0]) ? 1 : 0;
  return Value::Int(n);
}

Result<Value> MCopy(Renderer&, const Value& self, CallArgs&) { return self; }

Result<Value> MDictGet(Renderer&, const Value& self, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("get", args, {"key", "default"}));
  if (const Value* v = self.Find(a[0])) return *v;
  return Missing(a[1]) ? Value::None() : a[1];
}

Result<Value> MDictItems(Renderer&, const Value& self, CallArgs&) {
  std::vector<Value> pairs;
  pairs.reserve(self.entries().size());
  for (const auto& [k, v] : self.entries()) pairs.push_back(Value::Tuple({k, v}));
  return Value::List(std::move(pairs));
}

Result<Value> MDictKeys(Renderer&, const Value& self, CallArgs&) {
  std::vector<Value> keys;
  for (const auto& [k, v] : self.entries()) keys.push_back(k);
  return Value::List(std::move(keys));
}

Result<Value> MDictValues(Renderer&, const Value& self, CallArgs&) {
  std::vector<Value> values;
  for (const auto& [k, v] : self.entries()) values.push_back(v);
  return Value::List(std::move(values));
}

using MethodTable = std::unordered_map<std::string_view, Method>;

const MethodTable& StringMethods() {
  static const MethodTable table = {
      {"strip", MStrip},
      {"lstrip", MLstrip},
      {"rstrip", MRstrip},
      {"startswith", MStartswith},
      {"endswith", MEndswith},
      {"split", MSplit},
      {"rsplit", MRsplit},
      {"splitlines", MSplitlines},
      {"replace", MReplace},
      {"upper", MUpper},
      {"lower", MLower},
      {"title", MTitle},
      {"capitalize", MCapitalize},
      {"find", MFind},
      {"rfind", MRfind},
      {"index", MIndex},
      {"rindex", MRindex},
      {"count", MStrCount},
      {"join", MJoin},
      {"isdigit", AllChars<IsDigit>},
      {"isdecimal", AllChars<IsDigit>},
      {"isnumeric", AllChars<IsDigit>},
      {"isalpha", AllChars<IsAlpha>},
      {"isalnum", AllChars<IsAlnum>},
      {"isspace", AllChars<IsPySpace>},
      {"islower", MIsLower},
      {"isupper", MIsUpper},
      {"ljust", MLjust},
      {"rjust", MRjust},
      {"center", MCenter},
      {"zfill", MZfill},
      {"removeprefix", MRemovePrefix},
      {"removesuffix", MRemoveSuffix},
      {"format", MFormat},
  };
  return table;
}

const MethodTable& ListMethods() {
  static const MethodTable table = {
      {"index", MListIndex},
      {"count", MListCount},
      {"copy", MCopy},
  };
  return table;
}

const MethodTable& DictMethods() {
  static const MethodTable table = {
      {"get", MDictGet},       {"items", MDictItems}, {"keys", MDictKeys},
      {"values", MDictValues}, {"copy", MCopy},
  };
  return table;
}

bool IsUnsafeListMethod(std::string_view name) {
  static constexpr std::string_view kNames[] = {"append", "clear",  "extend",  "insert",
                                                "pop",    "remove", "reverse", "sort"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool IsUnsafeDictMethod(std::string_view name) {
  static constexpr std::string_view kNames[] = {"clear", "pop", "popitem", "setdefault", "update"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

Value Bind(const Value& self, std::string_view name, Method method) {
  return Value::Function(std::string(name), [self, method](Renderer& r, CallArgs& args) {
    return method(r, self, args);
  });
}

Value Unsafe(const Value& self, std::string_view name) {
  return Value::Undefined("access to attribute '" + std::string(name) + "' of '" +
                              std::string(PyTypeName(self)) + "' object is unsafe.",
                          "SecurityError");
}

}  // namespace

Value GetMethod(const Value& self, std::string_view name) {
  const MethodTable* table = nullptr;
  if (self.is_string()) {
    table = &StringMethods();
  } else if (self.is_list() || self.is_tuple()) {
    if (self.is_list() && IsUnsafeListMethod(name)) return Unsafe(self, name);
    table = &ListMethods();
  } else if (self.is_dict()) {
    if (IsUnsafeDictMethod(name)) return Unsafe(self, name);
    table = &DictMethods();
  } else {
    return Value();
  }
  auto it = table->find(name);
  if (it == table->end()) return Value();
  return Bind(self, name, it->second);
}

}  // namespace hearth::jinja
