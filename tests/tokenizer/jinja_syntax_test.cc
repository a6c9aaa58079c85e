// Jinja lexing and whitespace control: trim_blocks, lstrip_blocks, -/+ markers, comments, raw
// blocks, string escapes, newline normalization.
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
    {"PlainText", R"J(hello world)J", R"J({})J", R"J(hello world)J"},
    {"TrailingNewlineDropped", R"J(a
)J",
     R"J({})J", R"J(a)J"},
    {"OnlyOneTrailingNewlineDropped", R"J(a

)J",
     R"J({})J",
     R"J(a
)J"},
    {"CrLfNormalized", R"J(a
b
c)J",
     R"J({})J",
     R"J(a
b
c)J"},
    {"TrimBlocksEatsNewlineAfterBlock", R"J({% if true %}
yes
{% endif %}
end)J",
     R"J({})J",
     R"J(yes
end)J"},
    {"LstripBlocksEatsIndent", R"J(x
    {% if true %}
    y
    {% endif %}
z)J",
     R"J({})J",
     R"J(x
    y
z)J"},
    {"LstripDoesNotApplyToVariables", R"J(x
    {{ 1 }}
)J",
     R"J({})J",
     R"J(x
    1)J"},
    {"LstripNotWhenTextBeforeTagOnLine", R"J(x
  a {% if true %}b{% endif %})J",
     R"J({})J",
     R"J(x
  a b)J"},
    {"MinusStripsBothSides", R"J(a  
  {%- if true -%}  
  b  
  {%- endif -%}  
  c)J",
     R"J({})J", R"J(abc)J"},
    {"MinusOnVariables", R"J(a   {{- 1 -}}   b)J", R"J({})J", R"J(a1b)J"},
    {"PlusDisablesLstrip", R"J(x
    {%+ if true %}y{% endif %})J",
     R"J({})J",
     R"J(x
    y)J"},
    {"PlusDisablesTrimBlocks", R"J({% if true +%}
y{% endif %})J",
     R"J({})J",
     R"J(
y)J"},
    {"CommentRemovedAndTrimmed", R"J(a
  {# note #}
b)J",
     R"J({})J",
     R"J(a
b)J"},
    {"CommentWithMinus", R"J(a   {#- note -#}   b)J", R"J({})J", R"J(ab)J"},
    {"RawBlock", R"J({% raw %}{{ not evaluated }}{% endraw %})J", R"J({})J",
     R"J({{ not evaluated }})J"},
    {"RawBlockWithMinus", R"J(a  {%- raw -%}  {{ x }}  {%- endraw -%}  b)J", R"J({})J",
     R"J(a{{ x }}b)J"},
    {"StringEscapes", R"J({{ 'a\nb\t\'q\' \x41\u00e9 \\' }}|{{ "dq \"x\"" }})J", R"J({})J",
     R"J(a
b	'q' Aé \|dq "x")J"},
    {"AdjacentStringsConcatenate", R"J({{ 'a' 'b' "c" }})J", R"J({})J", R"J(abc)J"},
    {"NestedBracesInExpression", R"J({{ {'a': {'b': 1}} }})J", R"J({})J", R"J({'a': {'b': 1}})J"},
    {"MultilineTag", R"J({{
  1
  +
  2
}})J",
     R"J({})J", R"J(3)J"},
};

class JinjaSyntaxTest : public ::testing::TestWithParam<RenderCase> {};

TEST_P(JinjaSyntaxTest, RendersLikeJinja2) { ExpectRendersLikeJinja2(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Cases, JinjaSyntaxTest, ::testing::ValuesIn(kCases), RenderCaseName);

// transformers' {% generation %} block (not part of plain Jinja2) renders its body unchanged.
TEST(JinjaSyntaxTest, GenerationBlockRendersBody) {
  auto tmpl = ChatTemplate::Parse("a{% generation %}gen {{ 1 }}{% endgeneration %}b");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
  auto out = tmpl->Render(nlohmann::ordered_json::object());
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "agen 1b");
}

}  // namespace
}  // namespace hearth::tokenizer
