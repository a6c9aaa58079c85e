// The Jinja tree-walking interpreter: renders a parsed Program against a context.
//
// Semantics follow Jinja2 3.1 in transformers' ImmutableSandboxedEnvironment: default Undefined
// (prints empty; fails on arithmetic, attribute access and calls), Jinja's scoping (for loops,
// macros and with-blocks open a scope; `set` in a loop does not leak out; namespace() does),
// sandboxed attribute access (list/dict mutators are unsafe), and Python value semantics.
//
// Every run is bounded (output bytes, executed steps, call depth, value nesting) so that hostile
// templates fail with a Status instead of exhausting memory, time or stack.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/tokenizer/jinja_ast.h"
#include "hearth/tokenizer/jinja_value.h"

namespace hearth::jinja {

struct RenderLimits {
  size_t max_output_bytes = 64u << 20;  // also bounds any single string built while rendering
  uint64_t max_steps = 50'000'000;      // statements + loop iterations + calls
  int max_call_depth = 96;              // nested macro / caller / recursive-loop calls
  int max_value_depth = 256;            // nesting of lists/dicts built by the template
};

struct RenderEnv {
  RenderLimits limits;
  // Time for strftime_now(); interpreted in the local time zone, as Python's datetime.now().
  std::function<std::chrono::system_clock::time_point()> clock;
};

// Variables visible to the template; frames chain to their enclosing scope.
struct Frame {
  std::shared_ptr<Frame> parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* Find(std::string_view name) const;
  void Set(std::string_view name, Value value);
};

class Renderer {
 public:
  explicit Renderer(const RenderEnv& env);

  // Renders `program` with `variables` as the top-level scope.
  Result<std::string> Render(const Program& program,
                             std::vector<std::pair<std::string, Value>> variables);

  // ---- used by the built-in filters, tests, methods and globals ----
  const RenderEnv& env() const { return env_; }
  Result<Value> CallValue(const Value& callee, CallArgs& args);
  Result<Value> ApplyFilter(std::string_view name, const Value& input, CallArgs& args);
  Result<bool> ApplyTest(std::string_view name, const Value& input, CallArgs& args);
  // Jinja's sandboxed getattr (x.name) and getitem (x[key]).
  Result<Value> GetAttribute(const Value& object, std::string_view name);
  Result<Value> GetItem(const Value& object, const Value& key);
  // Fails when a string of `bytes` would exceed the output limit.
  Status CheckStringSize(size_t bytes) const;
  Status CountStep();
  // namespace() objects can form reference cycles (ns.self = ns); the renderer keeps them and
  // clears them when the render ends so nothing leaks.
  void TrackNamespace(const Value& ns) { namespaces_.push_back(ns); }

 private:
  enum class Flow : uint8_t { kNormal, kBreak, kContinue };

  Status ExecBody(const Body& body);
  Status ExecStmt(const Stmt& stmt);
  Status ExecIf(const IfStmt& stmt);
  Status ExecFor(const ForStmt& stmt);
  Status RunLoop(const ForStmt& stmt, const Value& iterable, int depth, std::string* out);
  Status ExecSet(const SetStmt& stmt);
  Status ExecSetBlock(const SetBlockStmt& stmt);
  Status ExecMacro(const MacroStmt& stmt);
  Status ExecCallBlock(const CallBlockStmt& stmt);
  Status ExecFilterBlock(const FilterBlockStmt& stmt);
  Status ExecWith(const WithStmt& stmt);
  Status Assign(const Target& target, Value value);
  Status Emit(std::string_view text);
  // Renders `body` into a string instead of the current output.
  Result<std::string> Capture(const Body& body);
  Result<Value> ApplyFilterChain(const std::vector<std::unique_ptr<FilterExpr>>& filters,
                                 Value input);
  Value MakeMacro(const std::string& name, const std::vector<MacroParam>* params, const Body* body,
                  std::shared_ptr<Frame> closure);

  Result<Value> Eval(const Expr& expr);
  Result<Value> EvalInner(const Expr& expr);
  Result<Value> EvalBinary(const BinaryExpr& expr);
  Result<Value> EvalCompare(const CompareExpr& expr);
  Result<Value> EvalGetItem(const GetItemExpr& expr);
  Status EvalArgs(const Arguments& args, CallArgs* out);
  Value Lookup(std::string_view name) const;
  Status Locate(SourcePos pos, const Status& status);
  Status CheckValueDepth(const Value& v) const;

  const RenderEnv& env_;
  std::shared_ptr<Frame> frame_;
  std::string* out_ = nullptr;
  Flow flow_ = Flow::kNormal;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  bool error_located_ = false;
  std::vector<Value> namespaces_;

  friend class LoopContext;
};

}  // namespace hearth::jinja
