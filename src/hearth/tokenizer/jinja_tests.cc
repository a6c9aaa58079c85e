// Jinja tests (`x is defined`, `x is divisibleby 3`, ...), with Python's type checks.
#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_operators.h"
#include "hearth/tokenizer/jinja_renderer.h"
#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {
namespace {

Result<bool> TestDefined(Renderer&, const Value& v, CallArgs&) { return !v.is_undefined(); }
Result<bool> TestUndefined(Renderer&, const Value& v, CallArgs&) { return v.is_undefined(); }
Result<bool> TestNone(Renderer&, const Value& v, CallArgs&) { return v.is_none(); }
Result<bool> TestBoolean(Renderer&, const Value& v, CallArgs&) { return v.is_bool(); }
Result<bool> TestTrue(Renderer&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
Result<bool> TestFalse(Renderer&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
Result<bool> TestInteger(Renderer&, const Value& v, CallArgs&) { return v.is_int(); }
Result<bool> TestFloat(Renderer&, const Value& v, CallArgs&) { return v.is_float(); }
Result<bool> TestNumber(Renderer&, const Value& v, CallArgs&) { return v.is_number(); }
Result<bool> TestString(Renderer&, const Value& v, CallArgs&) { return v.is_string(); }
Result<bool> TestMapping(Renderer&, const Value& v, CallArgs&) { return v.is_dict(); }
// Python's iter() works on Undefined (it iterates as empty) and on generators.
Result<bool> TestIterable(Renderer&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_string() || v.is_list_like() || v.is_dict();
}
// Jinja's sequence test: has len() and __getitem__.
Result<bool> TestSequence(Renderer&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_string() || (v.is_list_like() && !v.is_generator()) ||
         v.is_dict();
}
// Undefined has __call__ (it raises when called), so Python's callable() says True.
Result<bool> TestCallable(Renderer&, const Value& v, CallArgs&) {
  return v.is_function() || v.is_undefined();
}
Result<bool> TestEscaped(Renderer&, const Value&, CallArgs&) { return false; }

Result<Value> OneArg(std::string_view test, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(test, args, {"other"}));
  if (Missing(a[0]) && args.positional.empty() && args.keyword.empty()) {
    return TypeError(std::string(test) + "() missing 1 required positional argument");
  }
  return a[0];
}

Result<bool> CompareTest(std::string_view name, CompareOp op, const Value& v, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(Value other, OneArg(name, args));
  return CompareValues(op, v, other);
}

Result<bool> TestEq(Renderer&, const Value& v, CallArgs& a) {
  return CompareTest("eq", CompareOp::kEq, v, a);
}
Result<bool> TestNe(Renderer&, const Value& v, CallArgs& a) {
  return CompareTest("ne", CompareOp::kNe, v, a);
}
Result<bool> TestLt(Renderer&, const Value& v, CallArgs& a) {
  return CompareTest("lt", CompareOp::kLt, v, a);
}
Result<bool> TestLe(Renderer&, const Value& v, CallArgs& a) {
  return CompareTest("le", CompareOp::kLe, v, a);
}
Result<bool> TestGt(Renderer&, const Value& v, CallArgs& a) {
  return CompareTest("gt", CompareOp::kGt, v, a);
}
Result<bool> TestGe(Renderer&, const Value& v, CallArgs& a) {
  return CompareTest("ge", CompareOp::kGe, v, a);
}

Result<bool> TestIn(Renderer&, const Value& v, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(Value seq, OneArg("in", args));
  return Contains(seq, v);
}

Result<bool> TestSameAs(Renderer&, const Value& v, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(Value other, OneArg("sameas", args));
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::kNone:
    case Value::Kind::kUndefined:
      return v.heap() == other.heap();
    case Value::Kind::kBool:
    case Value::Kind::kInt:
      return v.as_int() == other.as_int();
    case Value::Kind::kFloat:
      return false;
    default:
      return v.heap() == other.heap();
  }
}

Result<int64_t> IntegerOf(const Value& v, std::string_view test) {
  if (v.is_undefined()) return UndefinedError(v);
  if (!v.is_int() && !v.is_bool()) {
    if (v.is_float()) return static_cast<int64_t>(v.as_float());
    return TypeError("not all arguments converted during string formatting in '" +
                     std::string(test) + "'");
  }
  return v.as_int();
}

Result<bool> TestOdd(Renderer&, const Value& v, CallArgs&) {
  HEARTH_ASSIGN_OR_RETURN(int64_t n, IntegerOf(v, "odd"));
  return n % 2 != 0;
}
Result<bool> TestEven(Renderer&, const Value& v, CallArgs&) {
  HEARTH_ASSIGN_OR_RETURN(int64_t n, IntegerOf(v, "even"));
  return n % 2 == 0;
}
Result<bool> TestDivisibleBy(Renderer&, const Value& v, CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(Value other, OneArg("divisibleby", args));
  HEARTH_ASSIGN_OR_RETURN(int64_t n, IntegerOf(v, "divisibleby"));
  HEARTH_ASSIGN_OR_RETURN(int64_t d, IntegerOf(other, "divisibleby"));
  if (d == 0) return Status::InvalidArgument("ZeroDivisionError: integer modulo by zero");
  if (d == -1) return true;
  return n % d == 0;
}

Result<bool> TestLower(Renderer&, const Value& v, CallArgs&) {
  std::string s = ToStr(v);
  return PyLower(s) == s && PyUpper(s) != s;
}
Result<bool> TestUpper(Renderer&, const Value& v, CallArgs&) {
  std::string s = ToStr(v);
  return PyUpper(s) == s && PyLower(s) != s;
}

Result<bool> TestFilter(Renderer&, const Value& v, CallArgs&) {
  return v.is_string() && FindFilter(v.as_string()) != nullptr;
}
Result<bool> TestTest(Renderer&, const Value& v, CallArgs&) {
  return v.is_string() && FindTest(v.as_string()) != nullptr;
}

}  // namespace

const TestTable& BuiltinTests() {
  static const TestTable table = {
      {"defined", TestDefined},
      {"undefined", TestUndefined},
      {"none", TestNone},
      {"boolean", TestBoolean},
      {"true", TestTrue},
      {"false", TestFalse},
      {"integer", TestInteger},
      {"float", TestFloat},
      {"number", TestNumber},
      {"string", TestString},
      {"mapping", TestMapping},
      {"iterable", TestIterable},
      {"sequence", TestSequence},
      {"callable", TestCallable},
      {"escaped", TestEscaped},
      {"eq", TestEq},
      {"equalto", TestEq},
      {"==", TestEq},
      {"ne", TestNe},
      {"!=", TestNe},
      {"lt", TestLt},
      {"lessthan", TestLt},
      {"<", TestLt},
      {"le", TestLe},
      {"<=", TestLe},
      {"gt", TestGt},
      {"greaterthan", TestGt},
      {">", TestGt},
      {"ge", TestGe},
      {">=", TestGe},
      {"in", TestIn},
      {"sameas", TestSameAs},
      {"odd", TestOdd},
      {"even", TestEven},
      {"divisibleby", TestDivisibleBy},
      {"lower", TestLower},
      {"upper", TestUpper},
      {"filter", TestFilter},
      {"test", TestTest},
  };
  return table;
}

}  // namespace hearth::jinja
