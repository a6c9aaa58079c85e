// Jinja expressions with Python semantics: arithmetic, printing (repr), comparisons, logic,
// membership, attribute/subscript access, slicing, tests, Python methods and globals.
//
// Expected outputs come from Python Jinja2 3.1.6 configured as transformers configures it
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, json.dumps tojson,
// strftime_now frozen at 2025-01-15 10:30), i.e. from the reference implementation's semantics.
#include <gtest/gtest.h>

#include <ctime>

#include "hearth/tokenizer/chat_template.h"
#include "tokenizer/jinja_render_case.h"

namespace hearth::tokenizer {
namespace {

const RenderCase kCases[] = {
    {"IntegerArithmetic",
     R"J({{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }})J",
     R"J({})J", R"J(10 -3 21 3 -4 1 2 1024)J"},
    {"TrueDivisionIsFloat", R"J({{ 7 / 2 }} {{ 6 / 2 }} {{ 1 / 3 }})J", R"J({})J",
     R"J(3.5 3.0 0.3333333333333333)J"},
    {"FloatPrinting",
     R"J({{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 123456.789 }} {{ 0.0001 }} {{ 2.5e15 }} {{ -0.0 }})J",
     R"J({})J",
     R"J(1.0 0.30000000000000004 1e+16 1.5e-07 123456.789 0.0001 2500000000000000.0 -0.0)J"},
    {"MixedIntFloat", R"J({{ 1 + 2.5 }} {{ 3 * 0.5 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }})J", R"J({})J",
     R"J(3.5 1.5 3.0 0.5)J"},
    {"PowIsLeftAssociative", R"J({{ 2 ** 3 ** 2 }})J", R"J({})J", R"J(64)J"},
    {"StringConcatAndTilde", R"J({{ 'a' + 'b' }} {{ 'n' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }})J",
     R"J({})J", R"J(ab n1NoneTrue ababab)J"},
    {"ListConcatAndRepeat", R"J({{ [1] + [2, 3] }} {{ [0] * 3 }})J", R"J({})J",
     R"J([1, 2, 3] [0, 0, 0])J"},
    {"PrintingPythonRepr",
     R"J({{ none }} {{ true }} {{ false }} {{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ (1, 2) }} {{ () }})J",
     R"J({})J",
     R"J(None True False [1, 'a', None, True, 1.5] {'k': 'v', 'n': [1]} (1,) (1, 2) ())J"},
    {"StringReprQuotes", R"J({{ ["it's", 'say "hi"', 'both \' "', 'nl\n'] }})J", R"J({})J",
     R"J(["it's", 'say "hi"', 'both \' "', 'nl\n'])J"},
    {"ComparisonsAndChains",
     R"J({{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }})J",
     R"J({})J", R"J(True False True True True True True)J"},
    {"LogicReturnsOperands",
     R"J({{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }} {{ not 0 }} {{ not 'a' }})J",
     R"J({})J", R"J(x b  [] True False)J"},
    {"InOperator",
     R"J({{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1, 2] }} {{ 'x' in undefined_thing }})J",
     R"J({})J", R"J(True True True True False)J"},
    {"Conditional",
     R"J({{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}])J",
     R"J({})J", R"J(yes no [])J"},
    {"UnaryMinusBindsBeforeFilter", R"J({{ -3 | abs }} {{ -(3) }} {{ - 2 ** 2 }})J", R"J({})J",
     R"J(3 -3 4)J"},
    {"AttributeAndSubscript",
     R"J({{ d.a }} {{ d['a'] }} {{ l[0] }} {{ l[-1] }} {{ d.nested.x }} {{ l.1 }})J",
     R"J({"d": {"a": 1, "nested": {"x": "y"}}, "l": [10, 20, 30]})J", R"J(1 1 10 30 y 20)J"},
    {"MissingKeyIsUndefined",
     R"J([{{ d.missing }}][{{ d['missing'] }}][{{ l[10] }}][{{ d.missing is defined }}])J",
     R"J({"d": {"a": 1}, "l": [1]})J", R"J([][][][False])J"},
    {"Slicing",
     R"J({{ l[1:] }} {{ l[:2] }} {{ l[::2] }} {{ l[::-1] }} {{ l[-2:] }} {{ s[1:3] }} {{ s[::-1] }} {{ u[1:3] }})J",
     R"J({"l": [1, 2, 3, 4], "s": "hello", "u": "你好世界"})J",
     R"J([2, 3, 4] [1, 2] [1, 3] [4, 3, 2, 1] [3, 4] el olleh 好世)J"},
    {"StringIndexByCodePoint", R"J({{ u[0] }} {{ u[-1] }} {{ u | length }})J",
     R"J({"u": "héllo世"})J", R"J(h 世 6)J"},
    {"UndefinedPrintsEmptyAndIsFalsy",
     R"J([{{ nothing }}] {{ nothing is defined }} {{ 'f' if nothing else 't' }} {{ nothing | default('d') }})J",
     R"J({})J", R"J([] False t d)J"},
    {"TestsOnTypes",
     R"J({{ 1 is integer }} {{ 1.0 is float }} {{ 1 is number }} {{ true is boolean }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ [] is sequence }} {{ none is none }} {{ x is undefined }} {{ 1 is not string }})J",
     R"J({})J", R"J(True True True True True True True True True True True)J"},
    {"TestsWithArguments",
     R"J({{ 6 is divisibleby 3 }} {{ 7 is divisibleby(3) }} {{ 3 is odd }} {{ 4 is even }} {{ 'a' is in 'abc' }} {{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ 1 is lt 0 }} {{ 1 is ne 2 }} {{ 'x' is equalto 'x' }})J",
     R"J({})J", R"J(True False True True True True True False True True)J"},
    {"TrueFalseTests",
     R"J({{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }})J", R"J({})J",
     R"J(True False True False)J"},
    {"CallableTest", R"J({{ range is callable }} {{ 'a'.upper is callable }} {{ 1 is callable }})J",
     R"J({})J", R"J(True True False)J"},
    {"StringMethods",
     R"J({{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'abcabc'.find('c') }}{{ 'abc'.rfind('z') }}|{{ 'aaa'.count('a') }}|{{ '-'.join(['a', 'b']) }}|{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }})J",
     R"J({})J",
     R"J(a b|a|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a,b', 'c']|True|True|bXb|HIhi|Hello World|Hello|2-1|3|a-b|TrueTrueTrue)J"},
    {"StringFormatMethod",
     R"J({{ '{} and {}'.format('a', 1) }} {{ '{0}{0}{name}'.format('x', name='y') }})J", R"J({})J",
     R"J(a and 1 xxy)J"},
    {"PercentFormatting",
     R"J({{ '%s=%d' % ('a', 3) }} {{ '%05.2f' % 3.14159 }} {{ '%r' % 'q' }} {{ '100%%' % () }})J",
     R"J({})J", R"J(a=3 03.14 'q' 100%)J"},
    {"DictMethods",
     R"J({{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }})J",
     R"J({"d": {"a": 1, "b": 2}})J", R"J(1 None 0 ['a', 'b'] [1, 2] [('a', 1), ('b', 2)])J"},
    {"ListMethods", R"J({{ l.index(2) }} {{ l.count(1) }})J", R"J({"l": [1, 2, 1]})J", R"J(1 2)J"},
    {"KeyOrderPreserved", R"J({% for k in d %}{{ k }}{% endfor %} {{ d | tojson }})J",
     R"J({"d": {"z": 1, "a": 2, "m": 3}})J", R"J(zam {"z": 1, "a": 2, "m": 3})J"},
    {"DictLiteralAndDictGlobal", R"J({{ {'a': 1, 'a': 2} }} {{ dict(x=1, y='2') }})J", R"J({})J",
     R"J({'a': 2} {'x': 1, 'y': '2'})J"},
    {"RangeGlobal",
     R"J({{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }})J",
     R"J({})J", R"J([0, 1, 2] [1, 3, 5] [5, 3, 1])J"},
    {"StrftimeNowUsesInjectedClock", R"J({{ strftime_now('%d %b %Y %H:%M') }})J", R"J({})J",
     R"J(15 Jan 2025 10:30)J"},
    {"NumbersFromContext", R"J({{ i + 1 }} {{ f * 2 }} {{ b }} {{ n }} {{ f }})J",
     R"J({"i": 41, "f": 1.25, "b": true, "n": null})J", R"J(42 2.5 True None 1.25)J"},
};

class JinjaExpressionTest : public ::testing::TestWithParam<RenderCase> {};

TEST_P(JinjaExpressionTest, RendersLikeJinja2) { ExpectRendersLikeJinja2(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Cases, JinjaExpressionTest, ::testing::ValuesIn(kCases), RenderCaseName);

}  // namespace
}  // namespace hearth::tokenizer
