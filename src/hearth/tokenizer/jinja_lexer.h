// Jinja2 lexer with the environment transformers uses for chat templates: trim_blocks=True,
// lstrip_blocks=True, keep_trailing_newline=False, and the default delimiters.
//
// Whitespace control happens here, exactly where Jinja2 does it: a `-` beside a delimiter strips
// all whitespace on that side, trim_blocks removes the first newline after a block or comment
// tag, lstrip_blocks removes spaces and tabs between the start of a line and a block or comment
// tag, and `+` turns either off for one tag. Comments vanish; `{% raw %}` bodies become text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::jinja {

enum class TokenType : uint8_t {
  kText,           // template data
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,  // value holds the decoded string
  kInteger,
  kFloat,
  kOperator,  // value holds the operator text: "+", "//", "==", "(", ...
  kEnd,       // end of template
};

struct Token {
  TokenType type = TokenType::kEnd;
  std::string value;
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
  int column = 1;
};

// Tokenizes `source`. Errors read "line L, column C: message".
Result<std::vector<Token>> Tokenize(std::string_view source);

// "line L, column C: message" as an InvalidArgument status.
Status SyntaxError(int line, int column, std::string_view message);

}  // namespace hearth::jinja
