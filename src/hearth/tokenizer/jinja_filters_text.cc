// Jinja filters on strings and scalars: trim, upper, lower, title, capitalize, replace, indent,
// center, wordcount, escape, safe, string, int, float, abs, round, default, tojson, format.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_json.h"
#include "hearth/tokenizer/jinja_operators.h"
#include "hearth/tokenizer/jinja_renderer.h"
#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {
namespace {

Result<Value> FilterTrim(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("trim", args, {"chars"}));
  std::string chars = Missing(a[0]) || a[0].is_none() ? "" : ToStr(a[0]);
  bool custom = !Missing(a[0]) && !a[0].is_none();
  return Value::String(PyStrip(ToStr(input), custom ? &chars : nullptr, true, true));
}

Result<Value> FilterUpper(Renderer&, const Value& input, CallArgs&) {
  return Value::String(PyUpper(ToStr(input)));
}

Result<Value> FilterLower(Renderer&, const Value& input, CallArgs&) {
  return Value::String(PyLower(ToStr(input)));
}

Result<Value> FilterCapitalize(Renderer&, const Value& input, CallArgs&) {
  return Value::String(PyCapitalize(ToStr(input)));
}

// Jinja's title: capitalizes each piece after whitespace, '-', and opening brackets.
Result<Value> FilterTitle(Renderer&, const Value& input, CallArgs&) {
  std::string out;
  bool at_word_start = true;
  for (char32_t cp : DecodeUtf8(ToStr(input))) {
    bool separator = IsPySpace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (separator) {
      AppendUtf8(cp, &out);
      at_word_start = true;
      continue;
    }
    AppendUtf8(at_word_start ? ToUpper(cp) : ToLower(cp), &out);
    at_word_start = false;
  }
  return Value::String(std::move(out));
}

Result<Value> FilterReplace(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("replace", args, {"old", "new", "count"}));
  std::string s = ToStr(input);
  std::string old_text = ToStr(a[0]);
  std::string new_text = ToStr(a[1]);
  int64_t count = (Missing(a[2]) || a[2].is_none()) ? -1 : a[2].as_int();
  std::string out;
  int64_t done = 0;
  if (old_text.empty()) {
    // Python inserts `new` between every character (and at both ends).
    std::vector<char32_t> cps = DecodeUtf8(s);
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      if (i < cps.size()) AppendUtf8(cps[i], &out);
      HEARTH_RETURN_IF_ERROR(r.CheckStringSize(out.size()));
    }
    return Value::String(std::move(out));
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(old_text, pos);
    if (p == std::string::npos) break;
    out.append(s, pos, p - pos);
    out += new_text;
    HEARTH_RETURN_IF_ERROR(r.CheckStringSize(out.size()));
    pos = p + old_text.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return Value::String(std::move(out));
}

Result<Value> FilterIndent(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("indent", args, {"width", "first", "blank"}));
  if (input.is_undefined()) return UndefinedError(input);
  std::string indention;
  if (a[0].is_string()) {
    indention = a[0].as_string();
  } else {
    int64_t width = Missing(a[0]) ? 4 : a[0].as_int();
    if (width > 0) {
      HEARTH_RETURN_IF_ERROR(r.CheckStringSize(static_cast<uint64_t>(width)));
      indention.assign(static_cast<size_t>(width), ' ');
    }
  }
  bool first = Truthy(a[1]);
  bool blank = Truthy(a[2]);
  std::vector<std::string> lines = PySplitLines(ToStr(input) + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (blank || !lines[i].empty()) out += indention;
    }
    out += lines[i];
    HEARTH_RETURN_IF_ERROR(r.CheckStringSize(out.size()));
  }
  if (first) out = indention + out;
  return Value::String(std::move(out));
}

Result<Value> FilterCenter(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("center", args, {"width"}));
  std::string s = ToStr(input);
  int64_t width = Missing(a[0]) ? 80 : a[0].as_int();
  int64_t length = static_cast<int64_t>(CodePointCount(s));
  if (width <= length) return Value::String(std::move(s));
  HEARTH_RETURN_IF_ERROR(r.CheckStringSize(static_cast<uint64_t>(width)));
  int64_t pad = width - length;
  // CPython: left = pad / 2 + (pad & width & 1).
  int64_t left = pad / 2 + (pad & width & 1);
  return Value::String(std::string(static_cast<size_t>(left), ' ') + s +
                       std::string(static_cast<size_t>(pad - left), ' '));
}

Result<Value> FilterWordcount(Renderer&, const Value& input, CallArgs&) {
  int64_t words = 0;
  bool in_word = false;
  for (char32_t cp : DecodeUtf8(ToStr(input))) {
    bool word_char = IsAlpha(cp) || IsDigit(cp) || cp == '_';
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::Int(words);
}

Result<Value> FilterEscape(Renderer&, const Value& input, CallArgs&) {
  std::string out;
  for (char c : ToStr(input)) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return Value::String(std::move(out));
}

Result<Value> FilterSafe(Renderer&, const Value& input, CallArgs&) { return input; }

Result<Value> FilterString(Renderer&, const Value& input, CallArgs&) {
  return Value::String(ToStr(input));
}

// Python int(str): optional sign, digits with single underscores, surrounding whitespace.
bool ParseInt(const std::string& text, int base, int64_t* out) {
  std::string s = PyStrip(text, nullptr, true, true);
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_') continue;
    digits.push_back(s[i]);
  }
  if (digits.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, base);
  if (errno != 0 || end != digits.c_str() + digits.size()) return false;
  if (!std::isdigit(static_cast<unsigned char>(digits.back())) && base <= 10) return false;
  *out = v;
  return true;
}

bool ParseFloat(const std::string& text, double* out) {
  std::string s = PyStrip(text, nullptr, true, true);
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

Result<Value> FilterInt(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("int", args, {"default", "base"}));
  Value fallback = Missing(a[0]) ? Value::Int(0) : a[0];
  int base = Missing(a[1]) ? 10 : static_cast<int>(a[1].as_int());
  if (input.is_int() || input.is_bool()) return Value::Int(input.as_int());
  if (input.is_float()) {
    double d = input.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value::Int(static_cast<int64_t>(d));
  }
  if (input.is_string()) {
    int64_t v = 0;
    if (base >= 2 && base <= 36 && ParseInt(input.as_string(), base, &v)) return Value::Int(v);
    double d = 0;
    if (ParseFloat(input.as_string(), &d) && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value::Int(static_cast<int64_t>(d));
    }
  }
  return fallback;
}

Result<Value> FilterFloat(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("float", args, {"default"}));
  Value fallback = Missing(a[0]) ? Value::Float(0.0) : a[0];
  if (input.is_number()) return Value::Float(input.as_float());
  double d = 0;
  if (input.is_string() && ParseFloat(input.as_string(), &d)) return Value::Float(d);
  return fallback;
}

Result<Value> FilterAbs(Renderer&, const Value& input, CallArgs&) {
  if (input.is_float()) return Value::Float(std::fabs(input.as_float()));
  if (input.is_int() || input.is_bool()) {
    if (input.as_int() == INT64_MIN) return Status::InvalidArgument("OverflowError: abs overflow");
    return Value::Int(input.as_int() < 0 ? -input.as_int() : input.as_int());
  }
  if (input.is_undefined()) return UndefinedError(input);
  return TypeError("bad operand type for abs(): '" + std::string(PyTypeName(input)) + "'");
}

// Python's round(x, n): correctly rounded, ties to even on the exact binary value (which is
// what printf's %.*f does in glibc).
double PyRound(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits > 300) return x;
  if (digits < -300) return 0.0 * x;
  if (digits >= 0) {
    char buf[512];
    int n = std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(digits), x);
    if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return x;
    return std::strtod(buf, nullptr);
  }
  double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

Result<Value> FilterRound(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("round", args, {"precision", "method"}));
  int64_t precision = Missing(a[0]) ? 0 : a[0].as_int();
  std::string method = Missing(a[1]) ? "common" : ToStr(a[1]);
  if (method != "common" && method != "ceil" && method != "floor") {
    return RuntimeError("method must be common, ceil or floor");
  }
  if (input.is_undefined()) return UndefinedError(input);
  if (!input.is_number()) {
    return TypeError("type " + std::string(PyTypeName(input)) + " doesn't define __round__ method");
  }
  if (method == "common") {
    if (!input.is_float()) return Value::Int(input.as_int());
    return Value::Float(PyRound(input.as_float(), precision));
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double v = input.as_float() * scale;
  v = method == "ceil" ? std::ceil(v) : std::floor(v);
  return Value::Float(v / scale);
}

Result<Value> FilterDefault(Renderer&, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs("default", args, {"default_value", "boolean"}));
  Value fallback = Missing(a[0]) ? Value::String("") : a[0];
  bool boolean = Truthy(a[1]);
  if (input.is_undefined() || (boolean && !Truthy(input))) return fallback;
  return input;
}

// transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False), with that positional order.
Result<Value> FilterToJson(Renderer& r, const Value& input, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(
      auto a, BindArgs("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonOptions options;
  options.ensure_ascii = Truthy(a[0]);
  if (!Missing(a[1]) && !a[1].is_none()) {
    if (a[1].is_string()) {
      options.indent = a[1].as_string();
    } else if (a[1].is_int() || a[1].is_bool()) {
      int64_t n = a[1].as_int();
      HEARTH_RETURN_IF_ERROR(r.CheckStringSize(n > 0 ? static_cast<uint64_t>(n) : 0));
      options.indent = std::string(n > 0 ? static_cast<size_t>(n) : 0, ' ');
    } else {
      return TypeError("indent must be an int or a string");
    }
    options.item_separator = std::string(",");
  }
  if (!Missing(a[2]) && !a[2].is_none()) {
    if (!a[2].is_list_like() || a[2].items().size() != 2) {
      return ValueError("separators must be a (item_separator, key_separator) pair");
    }
    options.item_separator = ToStr(a[2].items()[0]);
    options.key_separator = ToStr(a[2].items()[1]);
  }
  options.sort_keys = Truthy(a[3]);
  HEARTH_ASSIGN_OR_RETURN(std::string text, ToJson(input, options));
  HEARTH_RETURN_IF_ERROR(r.CheckStringSize(text.size()));
  return Value::String(std::move(text));
}

// `"%s and %s" | format(a, b)`.
Result<Value> FilterFormat(Renderer& r, const Value& input, CallArgs& args) {
  if (!args.keyword.empty() && !args.positional.empty()) {
    return RuntimeError("can't handle positional and keyword arguments at the same time");
  }
  Value packed = Value::Tuple(args.positional);
  std::string format = ToStr(input);
  return PercentFormat(format, packed, r.env().limits.max_output_bytes);
}

}  // namespace

const FilterTable& TextFilters() {
  static const FilterTable table = {
      {"trim", FilterTrim},
      {"upper", FilterUpper},
      {"lower", FilterLower},
      {"capitalize", FilterCapitalize},
      {"title", FilterTitle},
      {"replace", FilterReplace},
      {"indent", FilterIndent},
      {"center", FilterCenter},
      {"wordcount", FilterWordcount},
      {"escape", FilterEscape},
      {"e", FilterEscape},
      {"forceescape", FilterEscape},
      {"safe", FilterSafe},
      {"string", FilterString},
      {"int", FilterInt},
      {"float", FilterFloat},
      {"abs", FilterAbs},
      {"round", FilterRound},
      {"default", FilterDefault},
      {"d", FilterDefault},
      {"tojson", FilterToJson},
      {"format", FilterFormat},
  };
  return table;
}

}  // namespace hearth::jinja
