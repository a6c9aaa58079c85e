// Jinja2 parser: tokens to a syntax tree, following Jinja2's grammar and operator precedence
// (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < filters/tests < postfix).
#pragma once

#include <memory>
#include <string_view>

#include "hearth/base/status.h"
#include "hearth/tokenizer/jinja_ast.h"

namespace hearth::jinja {

// Parses a whole template. Errors read "line L, column C: message".
Result<std::unique_ptr<Program>> ParseTemplate(std::string_view source);

}  // namespace hearth::jinja
