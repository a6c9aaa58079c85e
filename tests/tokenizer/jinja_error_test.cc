// Jinja failures: syntax errors and run-time errors carry "line L, column C:" and the Python
// error Jinja2 raises for the same template; resource limits turn hostile templates into clean
// errors instead of crashes or runaway memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "hearth/tokenizer/chat_template.h"

namespace hearth::tokenizer {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Parses and renders; returns the error message ("" on success).
std::string RenderError(const std::string& source, const std::string& context = "{}",
                        RenderOptions options = {}) {
  auto tmpl = ChatTemplate::Parse(source);
  if (!tmpl.ok()) return tmpl.status().message();
  auto out = tmpl->Render(nlohmann::ordered_json::parse(context), options);
  return out.ok() ? std::string() : out.status().message();
}

std::string ParseError(const std::string& source) {
  auto tmpl = ChatTemplate::Parse(source);
  return tmpl.ok() ? std::string() : tmpl.status().message();
}

TEST(JinjaErrorTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(ParseError("{% if %}"), "line 1, column 7: unexpected '%}'");
  EXPECT_EQ(ParseError("ok\n  {{ 1 + }}"), "line 2, column 10: unexpected '}}'");
  EXPECT_THAT(ParseError("a\nb\n{% for x in %}"), StartsWith("line 3, column 13:"));
  EXPECT_THAT(ParseError("{% if x %}never closed"),
              HasSubstr("unexpected end of template, expected 'elif' or 'else' or 'endif'"));
  EXPECT_EQ(ParseError("{% endfor %}"), "line 1, column 4: unexpected 'endfor'");
  EXPECT_EQ(ParseError("{% frobnicate %}"),
            "line 1, column 4: encountered unknown tag 'frobnicate'");
  EXPECT_THAT(ParseError("{{ 'abc }}"), HasSubstr("unterminated string literal"));
  EXPECT_THAT(ParseError("x {# never closed"), HasSubstr("missing end of comment tag"));
  EXPECT_THAT(ParseError("{% break %}"), HasSubstr("'break' outside of a loop"));
  EXPECT_THAT(ParseError("{{ (1 }}"), HasSubstr("expected ')'"));
  EXPECT_THAT(ParseError("{{ 1 ]] }}"), HasSubstr("unexpected ']'"));
  EXPECT_THAT(ParseError("{{ a $ b }}"), HasSubstr("unexpected char '$'"));
  EXPECT_THAT(ParseError("{% raw %}no end"), HasSubstr("missing end of raw directive"));
  EXPECT_THAT(ParseError("{{ x"), HasSubstr("expected '}}'"));
}

TEST(JinjaErrorTest, RaiseExceptionFailsWithItsMessageAndPosition) {
  EXPECT_EQ(RenderError("line one\n  {{ raise_exception('Only user and assistant roles!') }}"),
            "line 2, column 6: TemplateError: Only user and assistant roles!");
}

TEST(JinjaErrorTest, RuntimeErrorsMatchJinja2) {
  EXPECT_THAT(RenderError("{{ 1 | nope }}"), HasSubstr("No filter named 'nope'"));
  EXPECT_THAT(RenderError("{{ 1 is nope }}"), HasSubstr("No test named 'nope'"));
  // Unknown filters only fail when reached (Jinja2 defers them in untaken branches).
  EXPECT_EQ(RenderError("{% if false %}{{ 1 | nope }}{% endif %}"), "");
  EXPECT_THAT(RenderError("{{ 'a'() }}"), HasSubstr("TypeError: 'str' object is not callable"));
  EXPECT_THAT(RenderError("{{ x + 1 }}"), HasSubstr("UndefinedError: 'x' is undefined"));
  EXPECT_THAT(RenderError("{{ x.y }}"), HasSubstr("UndefinedError: 'x' is undefined"));
  EXPECT_THAT(RenderError("{{ d.missing.x }}", R"({"d": {}})"),
              HasSubstr("UndefinedError: 'dict object' has no attribute 'missing'"));
  EXPECT_THAT(RenderError("{{ [].append(1) }}"),
              HasSubstr("SecurityError: access to attribute 'append' of 'list' object is unsafe."));
  EXPECT_THAT(RenderError("{{ {}.update({}) }}"),
              HasSubstr("SecurityError: access to attribute 'update' of 'dict' object is unsafe."));
  EXPECT_THAT(RenderError("{{ 1 / 0 }}"), HasSubstr("ZeroDivisionError: division by zero"));
  EXPECT_THAT(RenderError("{{ 'a' + 1 }}"),
              HasSubstr("TypeError: can only concatenate str (not \"int\") to str"));
  EXPECT_THAT(RenderError("{{ 1 + 'a' }}"),
              HasSubstr("TypeError: unsupported operand type(s) for +: 'int' and 'str'"));
  EXPECT_THAT(RenderError("{{ 1 < 'a' }}"),
              HasSubstr("TypeError: '<' not supported between instances of 'int' and 'str'"));
  EXPECT_THAT(RenderError("{{ [1] | map('string') | tojson }}"),
              HasSubstr("TypeError: Object of type generator is not JSON serializable"));
  EXPECT_THAT(RenderError("{{ x | tojson }}"),
              HasSubstr("TypeError: Object of type Undefined is not JSON serializable"));
  EXPECT_THAT(RenderError("{% set a, b = [1, 2, 3] %}"),
              HasSubstr("ValueError: too many values to unpack (expected 2)"));
  EXPECT_THAT(RenderError("{% set x = 1 %}{% set x.y = 2 %}"),
              HasSubstr("cannot assign attribute on non-namespace object"));
  EXPECT_THAT(RenderError("{{ 'x'.split('') }}"), HasSubstr("ValueError: empty separator"));
  EXPECT_THAT(RenderError("{{ range(1000000) }}"), HasSubstr("Range too big"));
}

TEST(JinjaErrorTest, ErrorsInsideMacrosPointAtTheFailingExpression) {
  std::string source =
      "{% macro f(x) %}\n"
      "{{ x.missing.attr }}\n"
      "{% endmacro %}\n"
      "{{ f({}) }}";
  EXPECT_THAT(RenderError(source), StartsWith("line 2, column "));
}

TEST(JinjaErrorTest, OutputLimit) {
  RenderOptions options;
  options.max_output_bytes = 1000;
  EXPECT_THAT(RenderError("{% for i in range(1000) %}0123456789{% endfor %}", "{}", options),
              HasSubstr("output exceeds the limit of 1000 bytes"));
  EXPECT_THAT(RenderError("{{ 'ab' * 100000 }}", "{}", options),
              HasSubstr("exceeds the output limit"));
  EXPECT_THAT(RenderError("{% set s = 'x' * 600 %}{{ (s ~ s) }}", "{}", options),
              HasSubstr("exceeds the limit"));
  // Within the limit everything renders.
  EXPECT_EQ(RenderError("{% for i in range(10) %}0123456789{% endfor %}", "{}", options), "");
}

TEST(JinjaErrorTest, StepLimitStopsRunawayLoops) {
  RenderOptions options;
  options.max_steps = 10000;
  EXPECT_THAT(RenderError("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                          "{% endfor %}",
                          "{}", options),
              HasSubstr("exceeded the limit of 10000 steps"));
}

TEST(JinjaErrorTest, InfiniteMacroRecursionIsAnError) {
  EXPECT_THAT(RenderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
              HasSubstr("macro calls nested deeper than"));
  EXPECT_THAT(RenderError("{% for x in [[1]] recursive %}{{ loop([[x]]) }}{% endfor %}"),
              HasSubstr("nested too deeply"));
}

TEST(JinjaErrorTest, DeepNestingIsRejectedNotACrash) {
  EXPECT_THAT(ParseError("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
              HasSubstr("nested too deeply"));
  EXPECT_THAT(ParseError("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}"),
              HasSubstr("nested too deeply"));
  EXPECT_THAT(ParseError("{{ " + std::string(3000, '-') + "1 }}"), HasSubstr("nested too deeply"));
  std::string nested_ifs;
  for (int i = 0; i < 3000; ++i) nested_ifs += "{% if true %}";
  EXPECT_THAT(ParseError(nested_ifs), HasSubstr("nested too deeply"));
  EXPECT_THAT(RenderError("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}"
                          "{% set ns.x = [ns.x] %}{% endfor %}"),
              HasSubstr("value nested deeper than"));
}

TEST(JinjaErrorTest, NamespaceCyclesPrintAndDoNotLeak) {
  // Printing a namespace that contains itself terminates (LeakSanitizer checks the cleanup).
  auto tmpl = ChatTemplate::Parse("{% set ns = namespace(a=1) %}{% set ns.self = ns %}{{ ns }}");
  ASSERT_TRUE(tmpl.ok());
  auto out = tmpl->Render(nlohmann::ordered_json::object());
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_THAT(*out, StartsWith("<Namespace {'a': 1, 'self': <Namespace"));
}

}  // namespace
}  // namespace hearth::tokenizer
