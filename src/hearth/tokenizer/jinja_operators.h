// Python arithmetic and comparison operators on Jinja values: int/float promotion, true
// division, floor division and modulo with Python's signs, ** , str/list concatenation and
// repetition, and the TypeErrors Python raises for mismatched operands.
#pragma once

#include <cstddef>
#include <string>

#include "hearth/base/status.h"
#include "hearth/tokenizer/jinja_ast.h"
#include "hearth/tokenizer/jinja_value.h"

namespace hearth::jinja {

// `max_bytes` bounds strings and lists built by + and *.
Result<Value> BinaryArithmetic(BinaryOp op, const Value& left, const Value& right,
                               size_t max_bytes);
Result<Value> UnaryArithmetic(UnaryOp op, const Value& operand);
// Python's printf-style `format % args` (%s %r %d %i %x %o %f %e %g %%, widths, precision).
Result<Value> PercentFormat(const std::string& format, const Value& args, size_t max_bytes);
Result<bool> CompareValues(CompareOp op, const Value& left, const Value& right);

}  // namespace hearth::jinja
