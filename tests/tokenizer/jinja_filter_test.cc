// Jinja filters as transformers exposes them, including its json.dumps-based tojson.
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
    {"Trim", R"J([{{ '  a b  ' | trim }}][{{ 'xxaxx' | trim('x') }}])J", R"J({})J",
     R"J([a b][a])J"},
    {"CaseFilters",
     R"J({{ 'abc' | upper }} {{ 'ABC' | lower }} {{ 'hello wORLD-x (y' | title }} {{ 'hELLO wORLD' | capitalize }})J",
     R"J({})J", R"J(ABC abc Hello World-X (Y Hello world)J"},
    {"LengthAndCount",
     R"J({{ 'héllo' | length }} {{ [1, 2] | count }} {{ {'a': 1} | length }} {{ missing | length }})J",
     R"J({})J", R"J(5 2 1 0)J"},
    {"ToJsonDefaults", R"J({{ d | tojson }})J",
     R"J({"d": {"s": "你好 \"q\" \\ \n", "n": [1, 2.5, true, null], "e": {}, "l": []}})J",
     R"J({"s": "你好 \"q\" \\ \n", "n": [1, 2.5, true, null], "e": {}, "l": []})J"},
    {"ToJsonIndent", R"J({{ d | tojson(indent=2) }})J",
     R"J({"d": {"a": [1, {"b": null}], "c": "x", "e": [], "f": {}}})J",
     R"J({
  "a": [
    1,
    {
      "b": null
    }
  ],
  "c": "x",
  "e": [],
  "f": {}
})J"},
    {"ToJsonOptions",
     R"J({{ d | tojson(sort_keys=true) }} {{ d | tojson(separators=(',', ':')) }} {{ 'é' | tojson(ensure_ascii=true) }})J",
     R"J({"d": {"b": 1, "a": [2, 3]}})J", R"J({"a": [2, 3], "b": 1} {"b":1,"a":[2,3]} "\u00e9")J"},
    {"ToJsonScalarsAndTuples",
     R"J({{ 1.0 | tojson }} {{ 'x' | tojson }} {{ none | tojson }} {{ (1, 'a') | tojson }} {{ {1: 'int key'} | tojson }})J",
     R"J({})J", R"J(1.0 "x" null [1, "a"] {"1": "int key"})J"},
    {"Join",
     R"J({{ [1, 2, 3] | join }} {{ ['a', 'b'] | join(', ') }} {{ users | join('/', attribute='name') }})J",
     R"J({"users": [{"name": "x"}, {"name": "y"}]})J", R"J(123 a, b x/y)J"},
    {"Replace",
     R"J({{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'ab' | replace('', '-') }})J",
     R"J({})J", R"J(bbb bba -a-b-)J"},
    {"DefaultFilter",
     R"J({{ missing | default('x') }} {{ '' | default('x') }} {{ '' | default('x', true) }} {{ none | d('y', boolean=true) }} {{ 0 | default(5) }})J",
     R"J({})J", R"J(x  x y 0)J"},
    {"FirstLast",
     R"J({{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} [{{ [] | first }}])J",
     R"J({})J", R"J(1 3 a [])J"},
    {"ItemsAndDictsort",
     R"J({{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }})J",
     R"J({"d": {"b": 1, "A": 3, "c": 2}})J",
     R"J([('b', 1), ('A', 3), ('c', 2)] [('A', 3), ('b', 1), ('c', 2)] [('A', 3), ('c', 2), ('b', 1)])J"},
    {"ListAndString",
     R"J({{ 'ab' | list }} {{ {'k': 1} | list }} {{ 12 | string }} {{ [1] | string }})J", R"J({})J",
     R"J(['a', 'b'] ['k'] 12 [1])J"},
    {"IntAndFloat",
     R"J({{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 'z' | float }} {{ 2 | float }})J",
     R"J({})J", R"J(42 4 0 7 3 2.5 0.0 2.0)J"},
    {"AbsAndRound",
     R"J({{ -3 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ 7 | round }})J",
     R"J({})J", R"J(3 2.5 2.0 4.0 2.67 3.0 2.0 7)J"},
    {"MapFilter",
     R"J({{ users | map(attribute='name') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ users | map(attribute='age', default=0) | list }})J",
     R"J({"users": [{"name": "x", "age": 3}, {"name": "y"}]})J",
     R"J(['x', 'y'] ['A', 'B'] [3, 0])J"},
    {"SelectReject",
     R"J({{ range(6) | select('odd') | list }} {{ range(6) | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ range(6) | select('gt', 3) | list }})J",
     R"J({})J", R"J([1, 3, 5] [0, 2, 4] [1, 'a'] [4, 5])J"},
    {"SelectAttrRejectAttr",
     R"J({{ ms | selectattr('role', 'equalto', 'user') | map(attribute='c') | list }} {{ ms | rejectattr('role', 'eq', 'user') | map(attribute='c') | list }} {{ ms | selectattr('flag') | list | length }})J",
     R"J({"ms": [{"role": "user", "c": 1, "flag": true}, {"role": "bot", "c": 2, "flag": false}, {"role": "user", "c": 3}]})J",
     R"J([1, 3] [2] 1)J"},
    {"UniqueSortReverse",
     R"J({{ [3, 1, 3, 2] | unique | list }} {{ ['b', 'A', 'a'] | unique | list }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ us | sort(attribute='n') | map(attribute='n') | list }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }})J",
     R"J({"us": [{"n": 2}, {"n": 1}]})J",
     R"J([3, 1, 2] ['b', 'A'] [1, 2, 3] ['A', 'b', 'c'] [3, 2, 1] [1, 2] [3, 2, 1] cba)J"},
    {"SumMinMax",
     R"J({{ [1, 2, 3] | sum }} {{ [1.5, 2] | sum }} {{ us | sum(attribute='n') }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ ['b', 'A'] | min }} {{ us | max(attribute='n') }})J",
     R"J({"us": [{"n": 2}, {"n": 5}]})J", R"J(6 3.5 7 1 3 A {'n': 5})J"},
    {"Batch", R"J({{ range(5) | batch(2) | list }} {{ range(5) | batch(2, 'x') | list }})J",
     R"J({})J", R"J([[0, 1], [2, 3], [4]] [[0, 1], [2, 3], [4, 'x']])J"},
    {"IndentFilter", R"J({{ 'a
b

c' | indent }}|{{ 'a
b' | indent(2, first=true) }}|{{ 'a

b' | indent(2, blank=true) }}|{{ 'x
y' | indent('> ') }})J",
     R"J({})J",
     R"J(a
    b

    c|  a
  b|a
  
  b|x
> y)J"},
    {"WordcountCenterEscape",
     R"J({{ 'hello big world' | wordcount }} [{{ 'ab' | center(6) }}] {{ '<a href="x">&</a>' | e }} {{ '<b>' | safe }})J",
     R"J({})J", R"J(3 [  ab  ] &lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt; <b>)J"},
    {"FilterChainsAndArgs", R"J({{ '  Hello  ' | trim | lower | replace('l', 'L') }})J", R"J({})J",
     R"J(heLLo)J"},
    {"GeneratorTruthiness", R"J({{ 'yes' if ([] | select) else 'no' }})J", R"J({})J", R"J(yes)J"},
    {"StringFilterOnNone", R"J({{ none | string }} {{ none | lower }})J", R"J({})J",
     R"J(None none)J"},
};

class JinjaFilterTest : public ::testing::TestWithParam<RenderCase> {};

TEST_P(JinjaFilterTest, RendersLikeJinja2) { ExpectRendersLikeJinja2(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Cases, JinjaFilterTest, ::testing::ValuesIn(kCases), RenderCaseName);

}  // namespace
}  // namespace hearth::tokenizer
