#include "hearth/tokenizer/jinja_renderer.h"

#include <algorithm>

#include "hearth/tokenizer/jinja_builtins.h"
#include "hearth/tokenizer/jinja_operators.h"

namespace hearth::jinja {

const Value* Frame::Find(std::string_view name) const {
  for (const auto& [k, v] : vars) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Frame::Set(std::string_view name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

// The `loop` variable of a for loop. Also callable for `{% for ... recursive %}` loops.
class LoopContext : public ObjectData {
 public:
  LoopContext(std::shared_ptr<const std::vector<Value>> items, size_t index, int depth,
              const ForStmt* stmt, Renderer* renderer)
      : items_(std::move(items)), index_(index), depth_(depth), stmt_(stmt), renderer_(renderer) {}

  std::string_view type_name() const override { return "LoopContext"; }
  std::string Repr() const override {
    return "<LoopContext " + std::to_string(index_ + 1) + "/" + std::to_string(items_->size()) +
           ">";
  }

  Value GetAttribute(std::string_view name) const override {
    int64_t n = static_cast<int64_t>(items_->size());
    int64_t i = static_cast<int64_t>(index_);
    if (name == "index") return Value::Int(i + 1);
    if (name == "index0") return Value::Int(i);
    if (name == "revindex") return Value::Int(n - i);
    if (name == "revindex0") return Value::Int(n - i - 1);
    if (name == "first") return Value::Bool(i == 0);
    if (name == "last") return Value::Bool(i == n - 1);
    if (name == "length") return Value::Int(n);
    if (name == "depth") return Value::Int(depth_);
    if (name == "depth0") return Value::Int(depth_ - 1);
    if (name == "previtem") {
      return i > 0 ? (*items_)[index_ - 1] : Value::Undefined("there is no previous item");
    }
    if (name == "nextitem") {
      return i + 1 < n ? (*items_)[index_ + 1] : Value::Undefined("there is no next item");
    }
    if (name == "cycle") {
      size_t index = index_;
      return Value::Function("cycle", [index](Renderer&, CallArgs& args) -> Result<Value> {
        if (args.positional.empty()) return TypeError("no items for cycling given");
        return args.positional[index % args.positional.size()];
      });
    }
    return Value::Undefined("'LoopContext' object has no attribute '" + std::string(name) + "'");
  }

  // loop(children) in a recursive loop renders the loop body over `children`.
  Result<Value> Recurse(CallArgs& args) const {
    if (stmt_ == nullptr || !stmt_->recursive) {
      return TypeError(
          "Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.");
    }
    if (args.positional.size() != 1 || !args.keyword.empty()) {
      return TypeError("loop() takes exactly one argument");
    }
    std::string out;
    HEARTH_RETURN_IF_ERROR(renderer_->RunLoop(*stmt_, args.positional[0], depth_ + 1, &out));
    return Value::String(std::move(out));
  }

 private:
  std::shared_ptr<const std::vector<Value>> items_;
  size_t index_;
  int depth_;
  const ForStmt* stmt_;
  Renderer* renderer_;
};

Renderer::Renderer(const RenderEnv& env) : env_(env) {}

Result<std::string> Renderer::Render(const Program& program,
                                     std::vector<std::pair<std::string, Value>> variables) {
  frame_ = std::make_shared<Frame>();
  frame_->vars = std::move(variables);
  std::string out;
  out_ = &out;
  Status s = ExecBody(program.body);
  out_ = nullptr;
  // Break cycles closures may have formed (a macro stored in the frame it captured).
  std::shared_ptr<Frame> root = std::move(frame_);
  root->vars.clear();
  for (const Value& ns : namespaces_)
    static_cast<const NamespaceData*>(ns.heap_as<ObjectData>())->Clear();
  namespaces_.clear();
  if (!s.ok()) return s;
  return out;
}

Status Renderer::CountStep() {
  if (++steps_ > env_.limits.max_steps) {
    return Status::ResourceExhausted("template exceeded the limit of " +
                                     std::to_string(env_.limits.max_steps) + " steps");
  }
  return Status::Ok();
}

Status Renderer::CheckStringSize(size_t bytes) const {
  if (bytes > env_.limits.max_output_bytes) {
    return Status::ResourceExhausted("template output exceeds the limit of " +
                                     std::to_string(env_.limits.max_output_bytes) + " bytes");
  }
  return Status::Ok();
}

Status Renderer::CheckValueDepth(const Value& v) const {
  if (ValueDepth(v) > static_cast<uint32_t>(env_.limits.max_value_depth)) {
    return Status::ResourceExhausted("value nested deeper than " +
                                     std::to_string(env_.limits.max_value_depth) + " levels");
  }
  return Status::Ok();
}

Status Renderer::Locate(SourcePos pos, const Status& status) {
  if (error_located_ || status.ok()) return status;
  error_located_ = true;
  return Status(status.code(), "line " + std::to_string(pos.line) + ", column " +
                                   std::to_string(pos.column) + ": " + status.message());
}

Status Renderer::Emit(std::string_view text) {
  HEARTH_RETURN_IF_ERROR(CheckStringSize(out_->size() + text.size()));
  out_->append(text);
  return Status::Ok();
}

Result<std::string> Renderer::Capture(const Body& body) {
  std::string buffer;
  std::string* saved = out_;
  out_ = &buffer;
  Status s = ExecBody(body);
  out_ = saved;
  if (!s.ok()) return s;
  return buffer;
}

// ---- statements ----

Status Renderer::ExecBody(const Body& body) {
  for (const StmtPtr& stmt : body) {
    HEARTH_RETURN_IF_ERROR(ExecStmt(*stmt));
    if (flow_ != Flow::kNormal) return Status::Ok();
  }
  return Status::Ok();
}

Status Renderer::ExecStmt(const Stmt& stmt) {
  if (Status s = CountStep(); !s.ok()) return Locate(stmt.pos, s);
  switch (stmt.kind) {
    case Stmt::Kind::kText:
      return Locate(stmt.pos, Emit(static_cast<const TextStmt&>(stmt).text));
    case Stmt::Kind::kOutput: {
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*static_cast<const OutputStmt&>(stmt).expr));
      if (v.is_string()) return Locate(stmt.pos, Emit(v.as_string()));
      std::string text;
      AppendStr(v, &text);
      return Locate(stmt.pos, Emit(text));
    }
    case Stmt::Kind::kIf:
      return ExecIf(static_cast<const IfStmt&>(stmt));
    case Stmt::Kind::kFor:
      return ExecFor(static_cast<const ForStmt&>(stmt));
    case Stmt::Kind::kSet:
      return ExecSet(static_cast<const SetStmt&>(stmt));
    case Stmt::Kind::kSetBlock:
      return ExecSetBlock(static_cast<const SetBlockStmt&>(stmt));
    case Stmt::Kind::kMacro:
      return ExecMacro(static_cast<const MacroStmt&>(stmt));
    case Stmt::Kind::kCallBlock:
      return ExecCallBlock(static_cast<const CallBlockStmt&>(stmt));
    case Stmt::Kind::kFilterBlock:
      return ExecFilterBlock(static_cast<const FilterBlockStmt&>(stmt));
    case Stmt::Kind::kWith:
      return ExecWith(static_cast<const WithStmt&>(stmt));
    case Stmt::Kind::kBreak:
      flow_ = Flow::kBreak;
      return Status::Ok();
    case Stmt::Kind::kContinue:
      flow_ = Flow::kContinue;
      return Status::Ok();
  }
  return Status::Internal("unknown statement kind");
}

Status Renderer::ExecIf(const IfStmt& stmt) {
  for (const auto& [cond, body] : stmt.branches) {
    HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*cond));
    if (Truthy(v)) return ExecBody(body);
  }
  return ExecBody(stmt.otherwise);
}

Status Renderer::ExecFor(const ForStmt& stmt) {
  HEARTH_ASSIGN_OR_RETURN(Value iterable, Eval(*stmt.iterable));
  return RunLoop(stmt, iterable, 1, nullptr);
}

// Runs a for loop over `iterable`; `out` non-null renders into it (recursive loop calls).
Status Renderer::RunLoop(const ForStmt& stmt, const Value& iterable, int depth, std::string* out) {
  if (call_depth_ >= env_.limits.max_call_depth) {
    return Locate(stmt.pos, Status::ResourceExhausted("recursive loop nested too deeply"));
  }
  auto iterated = Iterate(iterable);
  if (!iterated.ok()) return Locate(stmt.iterable->pos, iterated.status());
  // Each iteration gets a fresh scope: Jinja does not carry `set`s in a loop body over to the
  // next iteration, let alone out of the loop.
  std::shared_ptr<Frame> outer = frame_;
  auto new_iteration_frame = [&] {
    auto f = std::make_shared<Frame>();
    f->parent = outer;
    frame_ = f;
    return f;
  };
  std::string* saved_out = out_;
  if (out != nullptr) out_ = out;
  ++call_depth_;
  auto finish = [&](Status s) {
    --call_depth_;
    frame_ = outer;
    out_ = saved_out;
    return s;
  };

  std::vector<Value> items = std::move(*iterated);
  if (stmt.filter) {
    std::vector<Value> kept;
    for (Value& item : items) {
      new_iteration_frame();
      if (Status s = Assign(stmt.target, item); !s.ok()) return finish(s);
      auto keep = Eval(*stmt.filter);
      if (!keep.ok()) return finish(keep.status());
      if (Truthy(*keep)) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  auto shared_items = std::make_shared<const std::vector<Value>>(std::move(items));
  for (size_t i = 0; i < shared_items->size(); ++i) {
    if (Status s = CountStep(); !s.ok()) return finish(Locate(stmt.pos, s));
    std::shared_ptr<Frame> frame = new_iteration_frame();
    std::shared_ptr<const ObjectData> loop =
        std::make_shared<LoopContext>(shared_items, i, depth, &stmt, this);
    frame->Set("loop", Value::FromHeap(Value::Kind::kObject, std::move(loop)));
    if (Status s = Assign(stmt.target, (*shared_items)[i]); !s.ok()) return finish(s);
    if (Status s = ExecBody(stmt.body); !s.ok()) return finish(s);
    Flow flow = flow_;
    flow_ = Flow::kNormal;
    if (flow == Flow::kBreak) break;
  }
  if (shared_items->empty()) {
    // The else block sees the enclosing scope, not the loop's.
    frame_ = outer;
    Status s = ExecBody(stmt.otherwise);
    return finish(s);
  }
  return finish(Status::Ok());
}

Status Renderer::Assign(const Target& target, Value value) {
  if (Status s = CheckValueDepth(value); !s.ok()) return Locate(target.pos, s);
  if (!target.attribute.empty()) {
    Value object = Lookup(target.names[0]);
    if (!object.is_object() ||
        !object.heap_as<ObjectData>()->SetAttribute(target.attribute, value)) {
      return Locate(target.pos, RuntimeError("cannot assign attribute on non-namespace object"));
    }
    return Status::Ok();
  }
  if (!target.is_tuple) {
    frame_->Set(target.names[0], std::move(value));
    return Status::Ok();
  }
  auto items = Iterate(value);
  if (!items.ok()) return Locate(target.pos, items.status());
  if (items->size() != target.names.size()) {
    std::string message =
        items->size() > target.names.size()
            ? "too many values to unpack (expected " + std::to_string(target.names.size()) + ")"
            : "not enough values to unpack (expected " + std::to_string(target.names.size()) +
                  ", got " + std::to_string(items->size()) + ")";
    return Locate(target.pos, ValueError(message));
  }
  for (size_t i = 0; i < items->size(); ++i) frame_->Set(target.names[i], (*items)[i]);
  return Status::Ok();
}

Status Renderer::ExecSet(const SetStmt& stmt) {
  HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*stmt.value));
  return Assign(stmt.target, std::move(v));
}

Result<Value> Renderer::ApplyFilterChain(const std::vector<std::unique_ptr<FilterExpr>>& filters,
                                         Value input) {
  for (const auto& filter : filters) {
    CallArgs args;
    if (Status s = EvalArgs(filter->args, &args); !s.ok()) return s;
    auto r = ApplyFilter(filter->name, input, args);
    if (!r.ok()) return Locate(filter->pos, r.status());
    input = std::move(*r);
  }
  return input;
}

Status Renderer::ExecSetBlock(const SetBlockStmt& stmt) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, Capture(stmt.body));
  HEARTH_ASSIGN_OR_RETURN(Value v, ApplyFilterChain(stmt.filters, Value::String(std::move(text))));
  return Assign(stmt.target, std::move(v));
}

Status Renderer::ExecFilterBlock(const FilterBlockStmt& stmt) {
  HEARTH_ASSIGN_OR_RETURN(std::string text, Capture(stmt.body));
  HEARTH_ASSIGN_OR_RETURN(Value v, ApplyFilterChain(stmt.filters, Value::String(std::move(text))));
  return Locate(stmt.pos, Emit(ToStr(v)));
}

Status Renderer::ExecWith(const WithStmt& stmt) {
  std::shared_ptr<Frame> outer = frame_;
  auto inner = std::make_shared<Frame>();
  inner->parent = outer;
  std::vector<Value> values;
  for (const auto& [target, expr] : stmt.assignments) {
    HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*expr));
    values.push_back(std::move(v));
  }
  frame_ = inner;
  Status s = Status::Ok();
  for (size_t i = 0; i < values.size() && s.ok(); ++i) {
    s = Assign(stmt.assignments[i].first, values[i]);
  }
  if (s.ok()) s = ExecBody(stmt.body);
  frame_ = outer;
  return s;
}

Value Renderer::MakeMacro(const std::string& name, const std::vector<MacroParam>* params,
                          const Body* body, std::shared_ptr<Frame> closure) {
  // The closure is held weakly: a macro is usually stored in the very frame it captures, and a
  // strong reference would form a cycle. Frames outlive the macro calls made while rendering.
  std::weak_ptr<Frame> weak_closure = closure;
  return Value::Function(
      name, [name, params, body, weak_closure](Renderer& r, CallArgs& args) -> Result<Value> {
        std::shared_ptr<Frame> closure = weak_closure.lock();
        if (!closure) return RuntimeError("macro '" + name + "' called after its scope ended");
        if (r.call_depth_ >= r.env_.limits.max_call_depth) {
          return Status::ResourceExhausted("macro calls nested deeper than " +
                                           std::to_string(r.env_.limits.max_call_depth));
        }
        auto frame = std::make_shared<Frame>();
        frame->parent = closure;
        std::vector<Value> extra_positional;
        for (size_t i = 0; i < args.positional.size(); ++i) {
          if (i < params->size()) {
            frame->Set((*params)[i].name, args.positional[i]);
          } else {
            extra_positional.push_back(args.positional[i]);
          }
        }
        std::vector<std::pair<Value, Value>> extra_keyword;
        for (auto& [key, value] : args.keyword) {
          bool is_param = false;
          for (size_t i = 0; i < params->size(); ++i) {
            if ((*params)[i].name != key) continue;
            is_param = true;
            if (i < args.positional.size()) {
              return TypeError("macro '" + name + "' got multiple values for argument '" + key +
                               "'");
            }
          }
          if (is_param || key == "caller") {
            frame->Set(key, value);
          } else {
            extra_keyword.emplace_back(Value::String(key), value);
          }
        }
        frame->Set("varargs", Value::Tuple(std::move(extra_positional)));
        frame->Set("kwargs", Value::Dict(std::move(extra_keyword)));
        std::shared_ptr<Frame> saved_frame = r.frame_;
        r.frame_ = frame;
        ++r.call_depth_;
        Status s = Status::Ok();
        // Defaults are evaluated at call time, in the macro's scope (they may use earlier
        // parameters).
        for (const MacroParam& p : *params) {
          if (frame->Find(p.name) != nullptr) continue;
          if (p.default_value) {
            auto v = r.Eval(*p.default_value);
            if (!v.ok()) {
              s = v.status();
              break;
            }
            frame->Set(p.name, std::move(*v));
          } else {
            frame->Set(p.name, Value::Undefined("parameter '" + p.name + "' was not provided"));
          }
        }
        Result<std::string> text = s.ok() ? r.Capture(*body) : Result<std::string>(s);
        r.flow_ = Flow::kNormal;  // loop controls never cross a call boundary
        --r.call_depth_;
        r.frame_ = saved_frame;
        if (!text.ok()) return text.status();
        return Value::String(std::move(*text));
      });
}

Status Renderer::ExecMacro(const MacroStmt& stmt) {
  frame_->Set(stmt.name, MakeMacro(stmt.name, &stmt.params, &stmt.body, frame_));
  return Status::Ok();
}

Status Renderer::ExecCallBlock(const CallBlockStmt& stmt) {
  const auto& call = static_cast<const CallExpr&>(*stmt.call);
  HEARTH_ASSIGN_OR_RETURN(Value callee, Eval(*call.callee));
  CallArgs args;
  HEARTH_RETURN_IF_ERROR(EvalArgs(call.args, &args));
  args.keyword.emplace_back("caller", MakeMacro("caller", &stmt.caller_params, &stmt.body, frame_));
  auto result = CallValue(callee, args);
  if (!result.ok()) return Locate(stmt.pos, result.status());
  return Locate(stmt.pos, Emit(ToStr(*result)));
}

// ---- expressions ----

Value Renderer::Lookup(std::string_view name) const {
  for (const Frame* f = frame_.get(); f != nullptr; f = f->parent.get()) {
    if (const Value* v = f->Find(name)) return *v;
  }
  Value global = GetGlobal(name);
  if (!global.is_undefined()) return global;
  return Value::Undefined("'" + std::string(name) + "' is undefined");
}

Status Renderer::EvalArgs(const Arguments& args, CallArgs* out) {
  out->positional.reserve(args.positional.size());
  for (const ExprPtr& e : args.positional) {
    HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e));
    out->positional.push_back(std::move(v));
  }
  for (const auto& [key, e] : args.keyword) {
    HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e));
    out->keyword.emplace_back(key, std::move(v));
  }
  return Status::Ok();
}

Result<Value> Renderer::Eval(const Expr& expr) {
  auto r = EvalInner(expr);
  if (!r.ok()) return Locate(expr.pos, r.status());
  return r;
}

Result<Value> Renderer::EvalInner(const Expr& expr) {
  switch (expr.kind) {
    case Expr::Kind::kLiteral:
      return static_cast<const LiteralExpr&>(expr).value;
    case Expr::Kind::kName:
      return Lookup(static_cast<const NameExpr&>(expr).name);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      const auto& seq = static_cast<const SequenceExpr&>(expr);
      std::vector<Value> items;
      items.reserve(seq.items.size());
      for (const ExprPtr& e : seq.items) {
        HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e));
        items.push_back(std::move(v));
      }
      return expr.kind == Expr::Kind::kList ? Value::List(std::move(items))
                                            : Value::Tuple(std::move(items));
    }
    case Expr::Kind::kDict: {
      const auto& dict = static_cast<const DictExpr&>(expr);
      std::vector<std::pair<Value, Value>> entries;
      for (const auto& [ke, ve] : dict.entries) {
        HEARTH_ASSIGN_OR_RETURN(Value k, Eval(*ke));
        HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*ve));
        if (k.is_list() || k.is_dict()) {
          return TypeError("unhashable type: '" + std::string(PyTypeName(k)) + "'");
        }
        bool replaced = false;
        for (auto& [ek, ev] : entries) {
          if (Equals(ek, k)) {
            ev = v;
            replaced = true;
            break;
          }
        }
        if (!replaced) entries.emplace_back(std::move(k), std::move(v));
      }
      return Value::Dict(std::move(entries));
    }
    case Expr::Kind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(expr);
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*u.operand));
      if (u.op == UnaryOp::kNot) return Value::Bool(!Truthy(v));
      return UnaryArithmetic(u.op, v);
    }
    case Expr::Kind::kBinary:
      return EvalBinary(static_cast<const BinaryExpr&>(expr));
    case Expr::Kind::kCompare:
      return EvalCompare(static_cast<const CompareExpr&>(expr));
    case Expr::Kind::kConditional: {
      const auto& c = static_cast<const ConditionalExpr&>(expr);
      HEARTH_ASSIGN_OR_RETURN(Value cond, Eval(*c.condition));
      if (Truthy(cond)) return Eval(*c.then);
      if (c.otherwise) return Eval(*c.otherwise);
      return Value::Undefined("the inline if-expression on line " + std::to_string(expr.pos.line) +
                              " evaluated to false and no else section was defined.");
    }
    case Expr::Kind::kGetAttr: {
      const auto& g = static_cast<const GetAttrExpr&>(expr);
      HEARTH_ASSIGN_OR_RETURN(Value object, Eval(*g.object));
      return GetAttribute(object, g.attribute);
    }
    case Expr::Kind::kGetItem:
      return EvalGetItem(static_cast<const GetItemExpr&>(expr));
    case Expr::Kind::kSlice:
      return RuntimeError("slice outside of a subscript");
    case Expr::Kind::kCall: {
      const auto& c = static_cast<const CallExpr&>(expr);
      HEARTH_ASSIGN_OR_RETURN(Value callee, Eval(*c.callee));
      CallArgs args;
      HEARTH_RETURN_IF_ERROR(EvalArgs(c.args, &args));
      return CallValue(callee, args);
    }
    case Expr::Kind::kFilter: {
      const auto& f = static_cast<const FilterExpr&>(expr);
      Value input;
      if (f.input) {
        HEARTH_ASSIGN_OR_RETURN(input, Eval(*f.input));
      }
      CallArgs args;
      HEARTH_RETURN_IF_ERROR(EvalArgs(f.args, &args));
      return ApplyFilter(f.name, input, args);
    }
    case Expr::Kind::kTest: {
      const auto& t = static_cast<const TestExpr&>(expr);
      HEARTH_ASSIGN_OR_RETURN(Value input, Eval(*t.input));
      CallArgs args;
      HEARTH_RETURN_IF_ERROR(EvalArgs(t.args, &args));
      HEARTH_ASSIGN_OR_RETURN(bool result, ApplyTest(t.name, input, args));
      return Value::Bool(result != t.negated);
    }
  }
  return Status::Internal("unknown expression kind");
}

Result<Value> Renderer::EvalBinary(const BinaryExpr& expr) {
  HEARTH_ASSIGN_OR_RETURN(Value left, Eval(*expr.left));
  if (expr.op == BinaryOp::kAnd) return Truthy(left) ? Eval(*expr.right) : left;
  if (expr.op == BinaryOp::kOr) return Truthy(left) ? left : Eval(*expr.right);
  HEARTH_ASSIGN_OR_RETURN(Value right, Eval(*expr.right));
  if (expr.op == BinaryOp::kConcat) {
    std::string s = ToStr(left);
    HEARTH_RETURN_IF_ERROR(CheckStringSize(s.size()));
    AppendStr(right, &s);
    HEARTH_RETURN_IF_ERROR(CheckStringSize(s.size()));
    return Value::String(std::move(s));
  }
  return BinaryArithmetic(expr.op, left, right, env_.limits.max_output_bytes);
}

Result<Value> Renderer::EvalCompare(const CompareExpr& expr) {
  HEARTH_ASSIGN_OR_RETURN(Value left, Eval(*expr.first));
  for (const auto& [op, right_expr] : expr.rest) {
    HEARTH_ASSIGN_OR_RETURN(Value right, Eval(*right_expr));
    HEARTH_ASSIGN_OR_RETURN(bool ok, CompareValues(op, left, right));
    if (!ok) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

Result<Value> Renderer::EvalGetItem(const GetItemExpr& expr) {
  HEARTH_ASSIGN_OR_RETURN(Value object, Eval(*expr.object));
  if (expr.key->kind == Expr::Kind::kSlice) {
    const auto& s = static_cast<const SliceExpr&>(*expr.key);
    Value start;
    Value stop;
    Value step;
    if (s.start) {
      HEARTH_ASSIGN_OR_RETURN(start, Eval(*s.start));
    }
    if (s.stop) {
      HEARTH_ASSIGN_OR_RETURN(stop, Eval(*s.stop));
    }
    if (s.step) {
      HEARTH_ASSIGN_OR_RETURN(step, Eval(*s.step));
    }
    Status error;
    Value result = SliceValue(object, start, stop, step, &error);
    if (!error.ok()) return error;
    return result;
  }
  HEARTH_ASSIGN_OR_RETURN(Value key, Eval(*expr.key));
  return GetItem(object, key);
}

namespace {

std::string ObjectTypeRepr(const Value& v) {
  if (v.is_none()) return "None";
  return std::string(PyTypeName(v)) + " object";
}

Value NoAttribute(const Value& object, std::string_view name) {
  return Value::Undefined(fmt::format("'{}' has no attribute '{}'", ObjectTypeRepr(object), name));
}

}  // namespace

Result<Value> Renderer::GetAttribute(const Value& object, std::string_view name) {
  switch (object.kind()) {
    case Value::Kind::kUndefined:
      return UndefinedError(object);
    case Value::Kind::kDict: {
      Value method = GetMethod(object, name);
      if (!Missing(method)) return method;
      if (const Value* v = object.Find(name)) return *v;
      return NoAttribute(object, name);
    }
    case Value::Kind::kObject:
      return object.heap_as<ObjectData>()->GetAttribute(name);
    case Value::Kind::kString:
    case Value::Kind::kList: {
      Value method = GetMethod(object, name);
      if (!Missing(method)) return method;
      return NoAttribute(object, name);
    }
    default:
      return NoAttribute(object, name);
  }
}

Result<Value> Renderer::GetItem(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Value::Kind::kUndefined:
      return UndefinedError(object);
    case Value::Kind::kDict:
      if (const Value* v = object.Find(key)) return *v;
      break;
    case Value::Kind::kList:
      if ((key.is_int() || key.is_bool()) && !object.is_generator()) {
        const auto& items = object.items();
        int64_t i = key.as_int();
        int64_t n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
        return Value::Undefined("'" + ObjectTypeRepr(object) + "' has no element " + Repr(key));
      }
      break;
    case Value::Kind::kString:
      if (key.is_int() || key.is_bool()) {
        Status error;
        int64_t i = key.as_int();
        Value stop = i == -1 ? Value::None() : Value::Int(i + 1);
        Value ch = SliceValue(object, Value::Int(i), stop, Value(), &error);
        if (error.ok() && !ch.as_string().empty()) return ch;
        return Value::Undefined("'str object' has no element " + Repr(key));
      }
      break;
    case Value::Kind::kObject:
      if (key.is_string()) return object.heap_as<ObjectData>()->GetAttribute(key.as_string());
      break;
    default:
      break;
  }
  // Jinja falls back from x['name'] to the attribute x.name (a method, for example).
  if (key.is_string()) {
    Value method = GetMethod(object, key.as_string());
    if (!Missing(method)) return method;
  }
  if (key.is_string()) return NoAttribute(object, key.as_string());
  return Value::Undefined("'" + ObjectTypeRepr(object) + "' has no element " + Repr(key));
}

Result<Value> Renderer::CallValue(const Value& callee, CallArgs& args) {
  HEARTH_RETURN_IF_ERROR(CountStep());
  switch (callee.kind()) {
    case Value::Kind::kFunction:
      return callee.function().fn(*this, args);
    case Value::Kind::kUndefined:
      return UndefinedError(callee);
    case Value::Kind::kObject:
      if (const auto* loop = dynamic_cast<const LoopContext*>(callee.heap_as<ObjectData>())) {
        return loop->Recurse(args);
      }
      break;
    default:
      break;
  }
  return TypeError("'" + std::string(PyTypeName(callee)) + "' object is not callable");
}

Result<Value> Renderer::ApplyFilter(std::string_view name, const Value& input, CallArgs& args) {
  FilterFn fn = FindFilter(name);
  if (fn == nullptr)
    return Status::InvalidArgument("TemplateAssertionError: No filter named '" + std::string(name) +
                                   "'.");
  return fn(*this, input, args);
}

Result<bool> Renderer::ApplyTest(std::string_view name, const Value& input, CallArgs& args) {
  TestFn fn = FindTest(name);
  if (fn == nullptr)
    return Status::InvalidArgument("TemplateAssertionError: No test named '" + std::string(name) +
                                   "'.");
  return fn(*this, input, args);
}

}  // namespace hearth::jinja
