// The Jinja syntax tree: expressions and statements, each with the source position used in
// error messages. The parser builds it once per template; rendering only reads it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hearth/tokenizer/jinja_value.h"

namespace hearth::jinja {

struct SourcePos {
  int line = 1;
  int column = 1;
};

// ---- Expressions ----

struct Expr {
  enum class Kind : uint8_t {
    kLiteral,
    kName,
    kList,
    kTuple,
    kDict,
    kUnary,
    kBinary,
    kCompare,
    kConditional,
    kGetAttr,
    kGetItem,
    kSlice,
    kCall,
    kFilter,
    kTest,
  };
  explicit Expr(Kind k, SourcePos p) : kind(k), pos(p) {}
  virtual ~Expr() = default;
  Kind kind;
  SourcePos pos;
};
using ExprPtr = std::unique_ptr<Expr>;

struct LiteralExpr : Expr {
  LiteralExpr(SourcePos p, Value v) : Expr(Kind::kLiteral, p), value(std::move(v)) {}
  Value value;
};

struct NameExpr : Expr {
  NameExpr(SourcePos p, std::string n) : Expr(Kind::kName, p), name(std::move(n)) {}
  std::string name;
};

// kList and kTuple.
struct SequenceExpr : Expr {
  SequenceExpr(Kind k, SourcePos p) : Expr(k, p) {}
  std::vector<ExprPtr> items;
};

struct DictExpr : Expr {
  explicit DictExpr(SourcePos p) : Expr(Kind::kDict, p) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};

enum class UnaryOp : uint8_t { kNot, kNeg, kPos };
struct UnaryExpr : Expr {
  UnaryExpr(SourcePos p, UnaryOp o, ExprPtr e)
      : Expr(Kind::kUnary, p), op(o), operand(std::move(e)) {}
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp : uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kFloorDiv,
  kMod,
  kPow,
  kConcat,
  kAnd,
  kOr,
};
struct BinaryExpr : Expr {
  BinaryExpr(SourcePos p, BinaryOp o, ExprPtr l, ExprPtr r)
      : Expr(Kind::kBinary, p), op(o), left(std::move(l)), right(std::move(r)) {}
  BinaryOp op;
  ExprPtr left;
  ExprPtr right;
};

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
// a < b <= c: chained comparisons, as in Python.
struct CompareExpr : Expr {
  CompareExpr(SourcePos p, ExprPtr f) : Expr(Kind::kCompare, p), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

// `a if cond else b`; `otherwise` may be null (then the result is undefined).
struct ConditionalExpr : Expr {
  explicit ConditionalExpr(SourcePos p) : Expr(Kind::kConditional, p) {}
  ExprPtr condition;
  ExprPtr then;
  ExprPtr otherwise;
};

struct GetAttrExpr : Expr {
  GetAttrExpr(SourcePos p, ExprPtr o, std::string a)
      : Expr(Kind::kGetAttr, p), object(std::move(o)), attribute(std::move(a)) {}
  ExprPtr object;
  std::string attribute;
};

struct GetItemExpr : Expr {
  GetItemExpr(SourcePos p, ExprPtr o, ExprPtr k)
      : Expr(Kind::kGetItem, p), object(std::move(o)), key(std::move(k)) {}
  ExprPtr object;
  ExprPtr key;  // may be a SliceExpr
};

struct SliceExpr : Expr {
  explicit SliceExpr(SourcePos p) : Expr(Kind::kSlice, p) {}
  ExprPtr start;  // each may be null
  ExprPtr stop;
  ExprPtr step;
};

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct CallExpr : Expr {
  CallExpr(SourcePos p, ExprPtr c) : Expr(Kind::kCall, p), callee(std::move(c)) {}
  ExprPtr callee;
  Arguments args;
};

// `input | name(args)`; input is null inside {% filter %} blocks.
struct FilterExpr : Expr {
  FilterExpr(SourcePos p, ExprPtr in, std::string n)
      : Expr(Kind::kFilter, p), input(std::move(in)), name(std::move(n)) {}
  ExprPtr input;
  std::string name;
  Arguments args;
};

struct TestExpr : Expr {
  TestExpr(SourcePos p, ExprPtr in, std::string n, bool neg)
      : Expr(Kind::kTest, p), input(std::move(in)), name(std::move(n)), negated(neg) {}
  ExprPtr input;
  std::string name;
  Arguments args;
  bool negated;
};

// ---- Statements ----

struct Stmt {
  enum class Kind : uint8_t {
    kText,
    kOutput,
    kIf,
    kFor,
    kSet,
    kSetBlock,
    kMacro,
    kCallBlock,
    kFilterBlock,
    kWith,
    kBreak,
    kContinue,
  };
  Stmt(Kind k, SourcePos p) : kind(k), pos(p) {}
  virtual ~Stmt() = default;
  Kind kind;
  SourcePos pos;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct TextStmt : Stmt {
  TextStmt(SourcePos p, std::string t) : Stmt(Kind::kText, p), text(std::move(t)) {}
  std::string text;
};

struct OutputStmt : Stmt {
  OutputStmt(SourcePos p, ExprPtr e) : Stmt(Kind::kOutput, p), expr(std::move(e)) {}
  ExprPtr expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(SourcePos p) : Stmt(Kind::kIf, p) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
};

// Assignment target: a name, a tuple of names, or `ns.attr`.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  bool is_tuple = false;
  std::string attribute;  // non-empty: names[0].attribute (namespace assignment)
  SourcePos pos;
};

struct ForStmt : Stmt {
  explicit ForStmt(SourcePos p) : Stmt(Kind::kFor, p) {}
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  bool recursive = false;
  Body body;
  Body otherwise;
};

struct SetStmt : Stmt {
  explicit SetStmt(SourcePos p) : Stmt(Kind::kSet, p) {}
  Target target;
  ExprPtr value;
};

// {% set x %}...{% endset %}, optionally filtered: {% set x | trim %}.
struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(SourcePos p) : Stmt(Kind::kSetBlock, p) {}
  Target target;
  std::vector<std::unique_ptr<FilterExpr>> filters;
  Body body;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct MacroStmt : Stmt {
  explicit MacroStmt(SourcePos p) : Stmt(Kind::kMacro, p) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
};

// {% call(params) macro(args) %}body{% endcall %}: body becomes `caller`.
struct CallBlockStmt : Stmt {
  explicit CallBlockStmt(SourcePos p) : Stmt(Kind::kCallBlock, p) {}
  std::vector<MacroParam> caller_params;
  ExprPtr call;  // a CallExpr
  Body body;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(SourcePos p) : Stmt(Kind::kFilterBlock, p) {}
  std::vector<std::unique_ptr<FilterExpr>> filters;
  Body body;
};

struct WithStmt : Stmt {
  explicit WithStmt(SourcePos p) : Stmt(Kind::kWith, p) {}
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};

struct LoopControlStmt : Stmt {
  LoopControlStmt(Kind k, SourcePos p) : Stmt(k, p) {}
};

struct Program {
  Body body;
};

}  // namespace hearth::jinja
