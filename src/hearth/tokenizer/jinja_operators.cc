#include "hearth/tokenizer/jinja_operators.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "hearth/tokenizer/jinja_builtins.h"

namespace hearth::jinja {
namespace {

const char* OpSymbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kFloorDiv:
      return "//";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "** or pow()";
    default:
      return "?";
  }
}

Status Unsupported(BinaryOp op, const Value& a, const Value& b) {
  return TypeError(std::string("unsupported operand type(s) for ") + OpSymbol(op) + ": '" +
                   std::string(PyTypeName(a)) + "' and '" + std::string(PyTypeName(b)) + "'");
}

Status Overflow() { return Status::InvalidArgument("OverflowError: integer result too large"); }

Result<Value> IntArithmetic(BinaryOp op, int64_t a, int64_t b) {
  int64_t r = 0;
  switch (op) {
    case BinaryOp::kAdd:
      if (__builtin_add_overflow(a, b, &r)) return Overflow();
      return Value::Int(r);
    case BinaryOp::kSub:
      if (__builtin_sub_overflow(a, b, &r)) return Overflow();
      return Value::Int(r);
    case BinaryOp::kMul:
      if (__builtin_mul_overflow(a, b, &r)) return Overflow();
      return Value::Int(r);
    case BinaryOp::kDiv:
      if (b == 0) return Status::InvalidArgument("ZeroDivisionError: division by zero");
      return Value::Float(static_cast<double>(a) / static_cast<double>(b));
    case BinaryOp::kFloorDiv:
    case BinaryOp::kMod: {
      if (b == 0) {
        return Status::InvalidArgument(
            op == BinaryOp::kMod ? "ZeroDivisionError: integer modulo by zero"
                                 : "ZeroDivisionError: integer division or modulo by zero");
      }
      if (a == std::numeric_limits<int64_t>::min() && b == -1) {
        if (op == BinaryOp::kMod) return Value::Int(0);
        return Overflow();
      }
      int64_t q = a / b;
      int64_t m = a % b;
      if (m != 0 && ((m < 0) != (b < 0))) {
        --q;
        m += b;
      }
      return Value::Int(op == BinaryOp::kFloorDiv ? q : m);
    }
    case BinaryOp::kPow: {
      if (b < 0) return Value::Float(std::pow(static_cast<double>(a), static_cast<double>(b)));
      int64_t result = 1;
      int64_t base = a;
      int64_t e = b;
      while (e > 0) {
        if (e & 1) {
          if (__builtin_mul_overflow(result, base, &result)) return Overflow();
        }
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) return Overflow();
      }
      return Value::Int(result);
    }
    default:
      return Status::Internal("not an arithmetic operator");
  }
}

Result<Value> FloatArithmetic(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::kAdd:
      return Value::Float(a + b);
    case BinaryOp::kSub:
      return Value::Float(a - b);
    case BinaryOp::kMul:
      return Value::Float(a * b);
    case BinaryOp::kDiv:
      if (b == 0) return Status::InvalidArgument("ZeroDivisionError: float division by zero");
      return Value::Float(a / b);
    case BinaryOp::kFloorDiv:
    case BinaryOp::kMod: {
      if (b == 0) {
        return Status::InvalidArgument(op == BinaryOp::kMod
                                           ? "ZeroDivisionError: float modulo"
                                           : "ZeroDivisionError: float floor division by zero");
      }
      // CPython's float_divmod.
      double mod = std::fmod(a, b);
      double div = (a - mod) / b;
      if (mod != 0) {
        if ((b < 0) != (mod < 0)) {
          mod += b;
          div -= 1.0;
        }
      } else {
        mod = std::copysign(0.0, b);
      }
      if (op == BinaryOp::kMod) return Value::Float(mod);
      double floordiv = 0;
      if (div != 0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
      } else {
        floordiv = std::copysign(0.0, a / b);
      }
      return Value::Float(floordiv);
    }
    case BinaryOp::kPow:
      return Value::Float(std::pow(a, b));
    default:
      return Status::Internal("not an arithmetic operator");
  }
}

Result<Value> Repeat(const Value& seq, int64_t times, size_t max_bytes) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > max_bytes / s.size()) {
      return Status::ResourceExhausted("string repetition exceeds the output limit");
    }
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value::String(std::move(out));
  }
  const auto& items = seq.items();
  if (!items.empty() && static_cast<uint64_t>(times) > max_bytes / (items.size() * 16)) {
    return Status::ResourceExhausted("list repetition exceeds the output limit");
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_tuple() ? Value::Tuple(std::move(out)) : Value::List(std::move(out));
}

}  // namespace

// Python's "%" string formatting: %s %r %d %i %f %x %% with optional width/precision.
Result<Value> PercentFormat(const std::string& format, const Value& args, size_t max_bytes) {
  std::vector<Value> values;
  if (args.is_tuple()) {
    values = args.items();
  } else {
    values.push_back(args);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < format.size() &&
           std::string_view("-+ 0#.0123456789").find(format[j]) != std::string_view::npos) {
      spec.push_back(format[j++]);
    }
    if (j >= format.size()) return ValueError("incomplete format");
    char conv = format[j];
    i = j;
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    if (next >= values.size()) return TypeError("not enough arguments for format string");
    const Value& v = values[next++];
    if (spec.size() > 8) return ValueError("format specifier too long");
    char buf[512];
    switch (conv) {
      case 's':
      case 'r': {
        std::string text = conv == 's' ? ToStr(v) : Repr(v);
        if (spec.size() == 1) {
          out += text;
        } else {
          spec += 's';
          int n = std::snprintf(buf, sizeof(buf), spec.c_str(), text.c_str());
          if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return ValueError("format too wide");
          out += buf;
        }
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o': {
        if (!v.is_number()) {
          return TypeError(std::string("%") + conv + " format: a real number is required, not " +
                           std::string(PyTypeName(v)));
        }
        spec += "ll";
        spec += conv == 'i' ? 'd' : conv;
        long long n = v.is_float() ? static_cast<long long>(v.as_float()) : v.as_int();
        int len = std::snprintf(buf, sizeof(buf), spec.c_str(), n);
        if (len < 0 || static_cast<size_t>(len) >= sizeof(buf))
          return ValueError("format too wide");
        out += buf;
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'g': {
        if (!v.is_number()) {
          return TypeError("must be real number, not " + std::string(PyTypeName(v)));
        }
        spec += conv;
        int len = std::snprintf(buf, sizeof(buf), spec.c_str(), v.as_float());
        if (len < 0 || static_cast<size_t>(len) >= sizeof(buf))
          return ValueError("format too wide");
        out += buf;
        break;
      }
      default:
        return ValueError(std::string("unsupported format character '") + conv + "'");
    }
    if (out.size() > max_bytes) return Status::ResourceExhausted("formatted string too large");
  }
  if (next < values.size() && args.is_tuple()) {
    return TypeError("not all arguments converted during string formatting");
  }
  return Value::String(std::move(out));
}

Result<Value> BinaryArithmetic(BinaryOp op, const Value& left, const Value& right,
                               size_t max_bytes) {
  if (left.is_undefined()) return UndefinedError(left);
  if (right.is_undefined()) return UndefinedError(right);
  if (left.is_number() && right.is_number()) {
    if (left.is_float() || right.is_float()) {
      return FloatArithmetic(op, left.as_float(), right.as_float());
    }
    return IntArithmetic(op, left.as_int(), right.as_int());
  }
  switch (op) {
    case BinaryOp::kAdd:
      if (left.is_string()) {
        if (!right.is_string()) {
          return TypeError("can only concatenate str (not \"" + std::string(PyTypeName(right)) +
                           "\") to str");
        }
        if (left.as_string().size() + right.as_string().size() > max_bytes) {
          return Status::ResourceExhausted("string concatenation exceeds the output limit");
        }
        return Value::String(left.as_string() + right.as_string());
      }
      if ((left.is_list() && right.is_list()) || (left.is_tuple() && right.is_tuple())) {
        std::vector<Value> items = left.items();
        items.insert(items.end(), right.items().begin(), right.items().end());
        return left.is_tuple() ? Value::Tuple(std::move(items)) : Value::List(std::move(items));
      }
      if (left.is_list() || left.is_tuple()) {
        return TypeError("can only concatenate " + std::string(PyTypeName(left)) + " (not \"" +
                         std::string(PyTypeName(right)) + "\") to " +
                         std::string(PyTypeName(left)));
      }
      break;
    case BinaryOp::kMul:
      if ((left.is_string() || left.is_list() || left.is_tuple()) &&
          (right.is_int() || right.is_bool())) {
        return Repeat(left, right.as_int(), max_bytes);
      }
      if ((right.is_string() || right.is_list() || right.is_tuple()) &&
          (left.is_int() || left.is_bool())) {
        return Repeat(right, left.as_int(), max_bytes);
      }
      break;
    case BinaryOp::kMod:
      if (left.is_string()) return PercentFormat(left.as_string(), right, max_bytes);
      break;
    default:
      break;
  }
  return Unsupported(op, left, right);
}

Result<Value> UnaryArithmetic(UnaryOp op, const Value& operand) {
  if (operand.is_undefined()) return UndefinedError(operand);
  if (operand.is_float())
    return Value::Float(op == UnaryOp::kNeg ? -operand.as_float() : operand.as_float());
  if (operand.is_int() || operand.is_bool()) {
    if (op == UnaryOp::kPos) return Value::Int(operand.as_int());
    if (operand.as_int() == std::numeric_limits<int64_t>::min()) return Overflow();
    return Value::Int(-operand.as_int());
  }
  return TypeError(std::string("bad operand type for unary ") + (op == UnaryOp::kNeg ? "-" : "+") +
                   ": '" + std::string(PyTypeName(operand)) + "'");
}

Result<bool> CompareValues(CompareOp op, const Value& left, const Value& right) {
  switch (op) {
    case CompareOp::kEq:
      return Equals(left, right);
    case CompareOp::kNe:
      return !Equals(left, right);
    case CompareOp::kIn:
      return Contains(right, left);
    case CompareOp::kNotIn: {
      HEARTH_ASSIGN_OR_RETURN(bool in, Contains(right, left));
      return !in;
    }
    default:
      break;
  }
  if (left.is_undefined()) return UndefinedError(left);
  if (right.is_undefined()) return UndefinedError(right);
  auto c = Compare(left, right);
  if (!c.ok()) {
    const char* sym = op == CompareOp::kLt   ? "<"
                      : op == CompareOp::kLe ? "<="
                      : op == CompareOp::kGt ? ">"
                                             : ">=";
    return TypeError(std::string("'") + sym + "' not supported between instances of '" +
                     std::string(PyTypeName(left)) + "' and '" + std::string(PyTypeName(right)) +
                     "'");
  }
  switch (op) {
    case CompareOp::kLt:
      return *c < 0;
    case CompareOp::kLe:
      return *c <= 0;
    case CompareOp::kGt:
      return *c > 0;
    default:
      return *c >= 0;
  }
}

}  // namespace hearth::jinja
