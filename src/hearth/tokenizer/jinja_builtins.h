// Built-in filters, tests, Python methods and global functions of the Jinja interpreter, plus
// the argument binding they share. Errors are Python-flavoured ("TypeError: ...") so that they
// read like the exceptions Jinja2 raises for the same template.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/tokenizer/jinja_value.h"

namespace hearth::jinja {

class Renderer;

using FilterFn = Result<Value> (*)(Renderer&, const Value& input, CallArgs& args);
using TestFn = Result<bool> (*)(Renderer&, const Value& input, CallArgs& args);

// The built-in tables, one per source file.
using FilterTable = std::vector<std::pair<std::string_view, FilterFn>>;
const FilterTable& TextFilters();      // jinja_filters_text.cc
const FilterTable& SequenceFilters();  // jinja_filters_sequence.cc
using TestTable = std::vector<std::pair<std::string_view, TestFn>>;
const TestTable& BuiltinTests();  // jinja_tests.cc

// nullptr when there is no such filter / test.
FilterFn FindFilter(std::string_view name);
TestFn FindTest(std::string_view name);

// The Python method `name` of `self` bound as a callable, an "unsafe" Undefined for methods the
// immutable sandbox forbids (list.append, dict.update, ...), or a plain Undefined when absent.
Value GetMethod(const Value& self, std::string_view name);

// Global functions: range, dict, namespace, cycler, joiner, raise_exception, strftime_now.
// Undefined when `name` is not one.
Value GetGlobal(std::string_view name);

// Python-style errors.
Status TypeError(std::string message);
Status ValueError(std::string message);
Status RuntimeError(std::string message);  // Jinja's TemplateRuntimeError
Status UndefinedError(const Value& undefined);

// Binds call arguments to parameter names like a Python signature (positional first, then by
// keyword). Unset parameters are left as plain Undefined; Missing() tells them apart.
Result<std::vector<Value>> BindArgs(std::string_view function, const CallArgs& args,
                                    std::initializer_list<std::string_view> params);
bool Missing(const Value& v);

// Python str/list slicing and indexing helpers shared by the renderer and methods.
Value SliceValue(const Value& v, const Value& start, const Value& stop, const Value& step,
                 Status* error);

// The elements a for loop (or list()) sees: list items, dict keys, string characters.
Result<std::vector<Value>> Iterate(const Value& v);

// Python str.split / rsplit (sep null: runs of whitespace); maxsplit < 0: no limit.
std::vector<std::string> PySplit(const std::string& s, const std::string* sep, int64_t maxsplit,
                                 bool from_right);

// Python str.splitlines().
std::vector<std::string> PySplitLines(const std::string& s);

// Python str.lower()/upper()/capitalize()/title(); Jinja's `title` filter differs (WordTitle).
std::string PyLower(std::string_view s);
std::string PyUpper(std::string_view s);
std::string PyCapitalize(std::string_view s);
std::string PyTitle(std::string_view s);

// Python len(); TypeError for values without a length.
Result<int64_t> Length(const Value& v);

// Python `x in container`.
Result<bool> Contains(const Value& container, const Value& item);

}  // namespace hearth::jinja
