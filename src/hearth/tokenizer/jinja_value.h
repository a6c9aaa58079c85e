// The value model of the Jinja interpreter: Python objects as chat templates see them.
//
// A Value is small (kind + scalar + one shared pointer) and cheap to copy. Strings, lists and
// dicts are immutable once built (transformers renders in Jinja's ImmutableSandboxedEnvironment,
// where no template can mutate a list or dict), so they are shared freely. The only mutable
// object is a namespace(), whose attributes `{% set ns.x = ... %}` assigns.
//
// Python semantics are kept where templates can observe them: truthiness, == across int/float/
// bool, printing (None prints "None", lists print as Python repr, floats as Python repr), and
// Undefined (prints empty, is falsy, but fails on arithmetic, attribute access and calls).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::jinja {

class Value;
class Renderer;

// Positional and keyword arguments of a call, in source order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A callable: a built-in function, a bound method, a macro, a loop's `cycle`.
struct FunctionData;
using NativeFunction = std::function<Result<Value>(Renderer&, CallArgs&)>;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,  // list, tuple or generator (see ListData::flavor)
    kDict,
    kObject,  // namespace, loop context, cycler, joiner
    kFunction,
  };

  // Undefined, with no hint; use Undefined(...) to say why.
  Value() : kind_(Kind::kUndefined) {}
  static Value None() { return Value(Kind::kNone); }
  static Value Bool(bool b) {
    Value v(Kind::kBool);
    v.i_ = b ? 1 : 0;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(Kind::kInt);
    v.i_ = i;
    return v;
  }
  static Value Float(double f) {
    Value v(Kind::kFloat);
    v.f_ = f;
    return v;
  }
  static Value String(std::string s);
  // An Undefined that remembers why it is undefined; using it in arithmetic, attribute access
  // or a call fails with `hint` (and with `error_type` as the Python exception name).
  static Value Undefined(std::string hint, std::string error_type = "UndefinedError");
  static Value List(std::vector<Value> items);
  static Value Tuple(std::vector<Value> items);
  // A Python generator (what map/select/reject produce): iterable, always truthy, no len().
  static Value Generator(std::vector<Value> items);
  static Value Dict(std::vector<std::pair<Value, Value>> entries);
  static Value Function(std::string name, NativeFunction fn);
  static Value FromHeap(Kind kind, std::shared_ptr<const void> heap) {
    Value v(kind);
    v.heap_ = std::move(heap);
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }  // bool is not an int here
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list_like() const { return kind_ == Kind::kList; }
  bool is_list() const;
  bool is_tuple() const;
  bool is_generator() const;
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_object() const { return kind_ == Kind::kObject; }
  bool is_function() const { return kind_ == Kind::kFunction; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }  // also valid for bool
  double as_float() const { return kind_ == Kind::kFloat ? f_ : static_cast<double>(i_); }
  const std::string& as_string() const;
  const std::vector<Value>& items() const;                      // list-like
  const std::vector<std::pair<Value, Value>>& entries() const;  // dict
  const FunctionData& function() const;
  // Undefined: why it is undefined ("'x' is undefined"), and the Python error class name.
  std::string undefined_hint() const;
  std::string undefined_error_type() const;

  template <typename T>
  const T* heap_as() const {
    return static_cast<const T*>(heap_.get());
  }
  const std::shared_ptr<const void>& heap() const { return heap_; }

  // Dict lookup by key (Python ==); nullptr when absent or not a dict.
  const Value* Find(const Value& key) const;
  const Value* Find(std::string_view key) const;

 private:
  explicit Value(Kind kind) : kind_(kind) {}

  Kind kind_;
  union {
    int64_t i_ = 0;
    double f_;
  };
  std::shared_ptr<const void> heap_;
};

struct StringData {
  std::string text;
};

struct UndefinedData {
  std::string hint;
  std::string error_type;
};

struct ListData {
  enum class Flavor : uint8_t { kList, kTuple, kGenerator };
  std::vector<Value> items;
  Flavor flavor = Flavor::kList;
  uint32_t depth = 1;  // nesting depth of lists/dicts, cached so limits are O(1) to check
};

struct DictData {
  std::vector<std::pair<Value, Value>> entries;  // insertion order, unique keys
  uint32_t depth = 1;
};

struct FunctionData {
  std::string name;
  NativeFunction fn;
};

// Objects with attributes: namespace(), the loop variable, cycler(), joiner().
class ObjectData {
 public:
  virtual ~ObjectData() = default;
  virtual std::string_view type_name() const = 0;
  // Attribute lookup; Undefined() when absent.
  virtual Value GetAttribute(std::string_view name) const = 0;
  // Only namespaces accept assignment.
  virtual bool SetAttribute(std::string_view /*name*/, Value /*value*/) const { return false; }
  virtual std::string Repr() const;
};

// The mutable attribute bag behind `namespace(...)`.
class NamespaceData : public ObjectData {
 public:
  std::string_view type_name() const override { return "Namespace"; }
  Value GetAttribute(std::string_view name) const override;
  bool SetAttribute(std::string_view name, Value value) const override;
  std::string Repr() const override;
  void Clear() const { attributes_.clear(); }

 private:
  // Mutable through a shared const pointer by design: namespaces are Jinja's one escape hatch
  // for state that outlives a loop iteration.
  mutable std::vector<std::pair<std::string, Value>> attributes_;
};

Value MakeNamespace(std::vector<std::pair<std::string, Value>> attributes);

// Nesting depth of lists and dicts (0 for scalars).
uint32_t ValueDepth(const Value& v);

// Python truthiness.
bool Truthy(const Value& v);
// Python ==.
bool Equals(const Value& a, const Value& b);
// Python str() as Jinja prints it ({{ x }}): None -> "None", Undefined -> "".
std::string ToStr(const Value& v);
void AppendStr(const Value& v, std::string* out);
// Python repr().
std::string Repr(const Value& v);
void AppendRepr(const Value& v, std::string* out);
// Python's float repr: shortest round-trip digits, "1.0", "1e+16", "1.5e-07".
std::string FloatRepr(double d);
// The name Python reports for the type in errors: "str", "int", "dict", "NoneType".
std::string_view PyTypeName(const Value& v);

// Ordering for sort/min/max/< : Python semantics for numbers, strings, lists and tuples.
// Errors with TypeError for unorderable pairs.
Result<int> Compare(const Value& a, const Value& b);

}  // namespace hearth::jinja
