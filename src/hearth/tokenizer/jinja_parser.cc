#include "hearth/tokenizer/jinja_parser.h"

#include <initializer_list>

#include "hearth/tokenizer/jinja_lexer.h"

namespace hearth::jinja {
namespace {

// Nesting bound: keeps the recursive-descent parser (and later the tree walk) far from the
// stack limit on hostile input like "((((((...".
constexpr int kMaxNesting = 200;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<std::unique_ptr<Program>> Run() {
    auto program = std::make_unique<Program>();
    std::string_view stopped_at;
    HEARTH_RETURN_IF_ERROR(ParseBody(&program->body, {}, &stopped_at));
    return program;
  }

 private:
  // ---- token helpers ----
  const Token& Peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    const Token& t = Peek(ahead);
    return t.type == TokenType::kOperator && t.value == op;
  }
  bool IsName(std::string_view name, size_t ahead = 0) const {
    const Token& t = Peek(ahead);
    return t.type == TokenType::kName && t.value == name;
  }
  static SourcePos PosOf(const Token& t) { return {t.line, t.column}; }
  Status ErrorAt(const Token& t, std::string_view message) const {
    return SyntaxError(t.line, t.column, message);
  }
  static std::string Describe(const Token& t) {
    switch (t.type) {
      case TokenType::kText:
        return "template data";
      case TokenType::kVariableBegin:
        return "'{{'";
      case TokenType::kVariableEnd:
        return "'}}'";
      case TokenType::kBlockBegin:
        return "'{%'";
      case TokenType::kBlockEnd:
        return "'%}'";
      case TokenType::kName:
        return "'" + t.value + "'";
      case TokenType::kString:
        return "string";
      case TokenType::kInteger:
        return "integer";
      case TokenType::kFloat:
        return "float";
      case TokenType::kOperator:
        return "'" + t.value + "'";
      case TokenType::kEnd:
        return "end of template";
    }
    return "token";
  }
  Status Expect(std::string_view op) {
    if (!IsOp(op)) {
      return ErrorAt(Peek(), "expected '" + std::string(op) + "', got " + Describe(Peek()));
    }
    Next();
    return Status::Ok();
  }
  Status ExpectBlockEnd() {
    if (Peek().type != TokenType::kBlockEnd) {
      return ErrorAt(Peek(), "expected end of statement block, got " + Describe(Peek()));
    }
    Next();
    return Status::Ok();
  }
  Result<std::string> ExpectName() {
    if (Peek().type != TokenType::kName) {
      return ErrorAt(Peek(), "expected a name, got " + Describe(Peek()));
    }
    return Next().value;
  }

  // "'elif' or 'else' or 'endif'".
  static std::string DescribeTags(std::initializer_list<std::string_view> tags) {
    std::string out;
    for (std::string_view tag : tags) {
      if (!out.empty()) out += " or ";
      out += fmt::format("'{}'", tag);
    }
    return out;
  }

  // RAII nesting counter.
  struct Depth {
    explicit Depth(int* d) : d_(d) { ++*d_; }
    ~Depth() { --*d_; }
    int* d_;
  };
  Status CheckDepth() const {
    if (depth_ > kMaxNesting) return ErrorAt(Peek(), "template nested too deeply");
    return Status::Ok();
  }

  // ---- statements ----

  // Parses statements until one of `end_tags` opens a block ({% name ...). The tag name is left
  // unconsumed after "{%"; *stopped_at receives it. An empty `end_tags` parses to the end.
  Status ParseBody(Body* body, std::initializer_list<std::string_view> end_tags,
                   std::string_view* stopped_at) {
    Depth guard(&depth_);
    HEARTH_RETURN_IF_ERROR(CheckDepth());
    while (true) {
      const Token& t = Peek();
      switch (t.type) {
        case TokenType::kEnd:
          if (end_tags.size() == 0) return Status::Ok();
          return ErrorAt(t, "unexpected end of template, expected " + DescribeTags(end_tags));
        case TokenType::kText:
          body->push_back(std::make_unique<TextStmt>(PosOf(t), t.value));
          Next();
          break;
        case TokenType::kVariableBegin: {
          Next();
          HEARTH_ASSIGN_OR_RETURN(ExprPtr e, ParseTuple(/*allow_conditional=*/true));
          if (Peek().type != TokenType::kVariableEnd) {
            return ErrorAt(Peek(), "expected end of print statement, got " + Describe(Peek()));
          }
          Next();
          body->push_back(std::make_unique<OutputStmt>(PosOf(t), std::move(e)));
          break;
        }
        case TokenType::kBlockBegin: {
          const Token& tag = Peek(1);
          if (tag.type == TokenType::kName) {
            for (std::string_view end : end_tags) {
              if (tag.value == end) {
                Next();  // "{%"
                *stopped_at = end;
                return Status::Ok();
              }
            }
          }
          Next();
          HEARTH_RETURN_IF_ERROR(ParseStatement(body));
          break;
        }
        default:
          return ErrorAt(t, "unexpected " + Describe(t));
      }
    }
  }

  Status ParseStatement(Body* body) {
    const Token& tag = Peek();
    if (tag.type != TokenType::kName)
      return ErrorAt(tag, "expected a tag name, got " + Describe(tag));
    std::string name = tag.value;
    SourcePos pos = PosOf(tag);
    Next();
    if (name == "if") return ParseIf(body, pos);
    if (name == "for") return ParseFor(body, pos);
    if (name == "set") return ParseSet(body, pos);
    if (name == "macro") return ParseMacro(body, pos);
    if (name == "call") return ParseCallBlock(body, pos);
    if (name == "filter") return ParseFilterBlock(body, pos);
    if (name == "with") return ParseWith(body, pos);
    if (name == "generation") return ParseGeneration(body);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) {
        return SyntaxError(pos.line, pos.column, "'" + name + "' outside of a loop");
      }
      HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
      body->push_back(std::make_unique<LoopControlStmt>(
          name == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, pos));
      return Status::Ok();
    }
    static constexpr std::string_view kEndTags[] = {
        "endif",   "endfor",    "else",    "elif",          "endset", "endmacro",
        "endcall", "endfilter", "endwith", "endgeneration", "endraw"};
    for (std::string_view end : kEndTags) {
      if (name == end) return SyntaxError(pos.line, pos.column, "unexpected '" + name + "'");
    }
    return SyntaxError(pos.line, pos.column, "encountered unknown tag '" + name + "'");
  }

  Status ParseIf(Body* body, SourcePos pos) {
    auto stmt = std::make_unique<IfStmt>(pos);
    HEARTH_ASSIGN_OR_RETURN(ExprPtr cond, ParseTuple(true));
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    while (true) {
      Body branch;
      std::string_view stop;
      HEARTH_RETURN_IF_ERROR(ParseBody(&branch, {"elif", "else", "endif"}, &stop));
      Next();  // the tag name
      stmt->branches.emplace_back(std::move(cond), std::move(branch));
      if (stop == "elif") {
        HEARTH_ASSIGN_OR_RETURN(cond, ParseTuple(true));
        HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
        continue;
      }
      HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
      if (stop == "else") {
        HEARTH_RETURN_IF_ERROR(ParseBody(&stmt->otherwise, {"endif"}, &stop));
        Next();
        HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
      }
      break;
    }
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  Result<Target> ParseAssignTarget(bool allow_attribute) {
    Target target;
    target.pos = PosOf(Peek());
    HEARTH_ASSIGN_OR_RETURN(std::string first, ExpectName());
    target.names.push_back(first);
    if (allow_attribute && IsOp(".")) {
      Next();
      HEARTH_ASSIGN_OR_RETURN(target.attribute, ExpectName());
      return target;
    }
    if (IsOp(",")) {
      target.is_tuple = true;
      while (IsOp(",")) {
        Next();
        if (Peek().type != TokenType::kName) break;
        HEARTH_ASSIGN_OR_RETURN(std::string n, ExpectName());
        target.names.push_back(n);
      }
    }
    return target;
  }

  Result<Target> ParseForTarget() {
    if (IsOp("(")) {
      Next();
      HEARTH_ASSIGN_OR_RETURN(Target t, ParseAssignTarget(false));
      t.is_tuple = true;
      HEARTH_RETURN_IF_ERROR(Expect(")"));
      return t;
    }
    return ParseAssignTarget(false);
  }

  Status ParseFor(Body* body, SourcePos pos) {
    auto stmt = std::make_unique<ForStmt>(pos);
    HEARTH_ASSIGN_OR_RETURN(stmt->target, ParseForTarget());
    if (!IsName("in")) return ErrorAt(Peek(), "expected 'in', got " + Describe(Peek()));
    Next();
    HEARTH_ASSIGN_OR_RETURN(stmt->iterable, ParseTuple(/*allow_conditional=*/false));
    if (IsName("if")) {
      Next();
      HEARTH_ASSIGN_OR_RETURN(stmt->filter, ParseExpression(true));
    }
    if (IsName("recursive")) {
      Next();
      stmt->recursive = true;
    }
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string_view stop;
    ++loop_depth_;
    Status s = ParseBody(&stmt->body, {"endfor", "else"}, &stop);
    --loop_depth_;
    HEARTH_RETURN_IF_ERROR(s);
    Next();
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    if (stop == "else") {
      HEARTH_RETURN_IF_ERROR(ParseBody(&stmt->otherwise, {"endfor"}, &stop));
      Next();
      HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    }
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  Status ParseSet(Body* body, SourcePos pos) {
    HEARTH_ASSIGN_OR_RETURN(Target target, ParseAssignTarget(true));
    if (IsOp("=")) {
      Next();
      auto stmt = std::make_unique<SetStmt>(pos);
      stmt->target = std::move(target);
      HEARTH_ASSIGN_OR_RETURN(stmt->value, ParseTuple(true));
      HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
      body->push_back(std::move(stmt));
      return Status::Ok();
    }
    auto stmt = std::make_unique<SetBlockStmt>(pos);
    if (target.is_tuple)
      return SyntaxError(pos.line, pos.column, "expected '=' after tuple target");
    stmt->target = std::move(target);
    HEARTH_RETURN_IF_ERROR(ParseFilterChain(&stmt->filters, /*need_one=*/false));
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string_view stop;
    HEARTH_RETURN_IF_ERROR(ParseBody(&stmt->body, {"endset"}, &stop));
    Next();
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  // `| name(args) | name ...` as used by set blocks and filter blocks.
  Status ParseFilterChain(std::vector<std::unique_ptr<FilterExpr>>* filters, bool need_one) {
    bool first = true;
    while ((first && need_one) || IsOp("|")) {
      if (!(first && need_one)) Next();
      first = false;
      HEARTH_ASSIGN_OR_RETURN(auto f, ParseFilterAfterPipe(nullptr));
      filters->push_back(std::move(f));
    }
    return Status::Ok();
  }

  Status ParseParams(std::vector<MacroParam>* params) {
    HEARTH_RETURN_IF_ERROR(Expect("("));
    while (!IsOp(")")) {
      if (!params->empty()) HEARTH_RETURN_IF_ERROR(Expect(","));
      if (IsOp(")")) break;
      MacroParam p;
      HEARTH_ASSIGN_OR_RETURN(p.name, ExpectName());
      if (IsOp("=")) {
        Next();
        HEARTH_ASSIGN_OR_RETURN(p.default_value, ParseExpression(true));
      } else if (!params->empty() && params->back().default_value) {
        return ErrorAt(Peek(), "non-default argument follows default argument");
      }
      params->push_back(std::move(p));
    }
    Next();
    return Status::Ok();
  }

  Status ParseMacro(Body* body, SourcePos pos) {
    auto stmt = std::make_unique<MacroStmt>(pos);
    HEARTH_ASSIGN_OR_RETURN(stmt->name, ExpectName());
    HEARTH_RETURN_IF_ERROR(ParseParams(&stmt->params));
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string_view stop;
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    Status s = ParseBody(&stmt->body, {"endmacro"}, &stop);
    loop_depth_ = saved_loop_depth;
    HEARTH_RETURN_IF_ERROR(s);
    Next();
    if (Peek().type == TokenType::kName && Peek().value == stmt->name) Next();
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  Status ParseCallBlock(Body* body, SourcePos pos) {
    auto stmt = std::make_unique<CallBlockStmt>(pos);
    if (IsOp("(")) HEARTH_RETURN_IF_ERROR(ParseParams(&stmt->caller_params));
    HEARTH_ASSIGN_OR_RETURN(stmt->call, ParseExpression(true));
    if (stmt->call->kind != Expr::Kind::kCall) {
      return SyntaxError(pos.line, pos.column, "expected a call expression in call block");
    }
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string_view stop;
    HEARTH_RETURN_IF_ERROR(ParseBody(&stmt->body, {"endcall"}, &stop));
    Next();
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  Status ParseFilterBlock(Body* body, SourcePos pos) {
    auto stmt = std::make_unique<FilterBlockStmt>(pos);
    HEARTH_RETURN_IF_ERROR(ParseFilterChain(&stmt->filters, /*need_one=*/true));
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string_view stop;
    HEARTH_RETURN_IF_ERROR(ParseBody(&stmt->body, {"endfilter"}, &stop));
    Next();
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  Status ParseWith(Body* body, SourcePos pos) {
    auto stmt = std::make_unique<WithStmt>(pos);
    while (Peek().type != TokenType::kBlockEnd) {
      if (!stmt->assignments.empty()) HEARTH_RETURN_IF_ERROR(Expect(","));
      HEARTH_ASSIGN_OR_RETURN(Target t, ParseAssignTarget(false));
      HEARTH_RETURN_IF_ERROR(Expect("="));
      HEARTH_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(true));
      stmt->assignments.emplace_back(std::move(t), std::move(e));
    }
    Next();
    std::string_view stop;
    HEARTH_RETURN_IF_ERROR(ParseBody(&stmt->body, {"endwith"}, &stop));
    Next();
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    body->push_back(std::move(stmt));
    return Status::Ok();
  }

  // transformers' {% generation %} marks assistant text for masks; it renders its body as is.
  Status ParseGeneration(Body* body) {
    HEARTH_RETURN_IF_ERROR(ExpectBlockEnd());
    std::string_view stop;
    HEARTH_RETURN_IF_ERROR(ParseBody(body, {"endgeneration"}, &stop));
    Next();
    return ExpectBlockEnd();
  }

  // ---- expressions ----

  // A comma-separated expression list becomes a tuple: `{{ a, b }}`, `set x = 1, 2`.
  Result<ExprPtr> ParseTuple(bool allow_conditional) {
    SourcePos pos = PosOf(Peek());
    HEARTH_ASSIGN_OR_RETURN(ExprPtr first, ParseExpression(allow_conditional));
    if (!IsOp(",")) return first;
    auto tuple = std::make_unique<SequenceExpr>(Expr::Kind::kTuple, pos);
    tuple->items.push_back(std::move(first));
    while (IsOp(",")) {
      Next();
      if (IsTupleEnd()) break;
      HEARTH_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(allow_conditional));
      tuple->items.push_back(std::move(e));
    }
    return ExprPtr(std::move(tuple));
  }

  bool IsTupleEnd() const {
    const Token& t = Peek();
    return t.type == TokenType::kVariableEnd || t.type == TokenType::kBlockEnd ||
           t.type == TokenType::kEnd || IsOp(")") || IsName("if") || IsName("recursive");
  }

  Result<ExprPtr> ParseExpression(bool allow_conditional) {
    Depth guard(&depth_);
    HEARTH_RETURN_IF_ERROR(CheckDepth());
    if (!allow_conditional) return ParseOr();
    SourcePos pos = PosOf(Peek());
    HEARTH_ASSIGN_OR_RETURN(ExprPtr expr, ParseOr());
    while (IsName("if")) {
      Next();
      auto cond = std::make_unique<ConditionalExpr>(pos);
      cond->then = std::move(expr);
      HEARTH_ASSIGN_OR_RETURN(cond->condition, ParseOr());
      if (IsName("else")) {
        Next();
        HEARTH_ASSIGN_OR_RETURN(cond->otherwise, ParseExpression(true));
      }
      expr = std::move(cond);
    }
    return expr;
  }

  Result<ExprPtr> ParseOr() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
    while (IsName("or")) {
      SourcePos pos = PosOf(Next());
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
      left = std::make_unique<BinaryExpr>(pos, BinaryOp::kOr, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseAnd() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
    while (IsName("and")) {
      SourcePos pos = PosOf(Next());
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
      left = std::make_unique<BinaryExpr>(pos, BinaryOp::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseNot() {
    if (IsName("not")) {
      SourcePos pos = PosOf(Next());
      Depth guard(&depth_);
      HEARTH_RETURN_IF_ERROR(CheckDepth());
      HEARTH_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
      return ExprPtr(std::make_unique<UnaryExpr>(pos, UnaryOp::kNot, std::move(operand)));
    }
    return ParseCompare();
  }

  Result<ExprPtr> ParseCompare() {
    SourcePos pos = PosOf(Peek());
    HEARTH_ASSIGN_OR_RETURN(ExprPtr first, ParseMath1());
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      CompareOp op;
      const Token& t = Peek();
      if (t.type == TokenType::kOperator && t.value == "==")
        op = CompareOp::kEq;
      else if (t.type == TokenType::kOperator && t.value == "!=")
        op = CompareOp::kNe;
      else if (t.type == TokenType::kOperator && t.value == "<")
        op = CompareOp::kLt;
      else if (t.type == TokenType::kOperator && t.value == "<=")
        op = CompareOp::kLe;
      else if (t.type == TokenType::kOperator && t.value == ">")
        op = CompareOp::kGt;
      else if (t.type == TokenType::kOperator && t.value == ">=")
        op = CompareOp::kGe;
      else if (IsName("in"))
        op = CompareOp::kIn;
      else if (IsName("not") && IsName("in", 1))
        op = CompareOp::kNotIn;
      else
        break;
      Next();
      if (op == CompareOp::kNotIn) Next();
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseMath1());
      if (!cmp) cmp = std::make_unique<CompareExpr>(pos, std::move(first));
      cmp->rest.emplace_back(op, std::move(right));
    }
    if (cmp) return ExprPtr(std::move(cmp));
    return first;
  }

  Result<ExprPtr> ParseMath1() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
    while (IsOp("+") || IsOp("-")) {
      const Token& t = Next();
      BinaryOp op = t.value == "+" ? BinaryOp::kAdd : BinaryOp::kSub;
      SourcePos pos = PosOf(t);
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
      left = std::make_unique<BinaryExpr>(pos, op, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseConcat() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParseMath2());
    while (IsOp("~")) {
      SourcePos pos = PosOf(Next());
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseMath2());
      left =
          std::make_unique<BinaryExpr>(pos, BinaryOp::kConcat, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseMath2() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      const Token& t = Next();
      BinaryOp op = t.value == "*"    ? BinaryOp::kMul
                    : t.value == "/"  ? BinaryOp::kDiv
                    : t.value == "//" ? BinaryOp::kFloorDiv
                                      : BinaryOp::kMod;
      SourcePos pos = PosOf(t);
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
      left = std::make_unique<BinaryExpr>(pos, op, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParsePow() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
    while (IsOp("**")) {
      SourcePos pos = PosOf(Next());
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
      left = std::make_unique<BinaryExpr>(pos, BinaryOp::kPow, std::move(left), std::move(right));
    }
    return left;
  }

  Result<ExprPtr> ParseUnary(bool with_filter) {
    Depth guard(&depth_);
    HEARTH_RETURN_IF_ERROR(CheckDepth());
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      const Token& t = Next();
      UnaryOp op = t.value == "-" ? UnaryOp::kNeg : UnaryOp::kPos;
      SourcePos pos = PosOf(t);
      HEARTH_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(false));
      node = std::make_unique<UnaryExpr>(pos, op, std::move(operand));
    } else {
      HEARTH_ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    HEARTH_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
    if (with_filter) {
      HEARTH_ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
    }
    return node;
  }

  Result<ExprPtr> ParsePrimary() {
    const Token& t = Peek();
    SourcePos pos = PosOf(t);
    switch (t.type) {
      case TokenType::kName: {
        Next();
        const std::string& n = t.value;
        if (n == "true" || n == "True")
          return ExprPtr(std::make_unique<LiteralExpr>(pos, Value::Bool(true)));
        if (n == "false" || n == "False")
          return ExprPtr(std::make_unique<LiteralExpr>(pos, Value::Bool(false)));
        if (n == "none" || n == "None")
          return ExprPtr(std::make_unique<LiteralExpr>(pos, Value::None()));
        return ExprPtr(std::make_unique<NameExpr>(pos, n));
      }
      case TokenType::kString: {
        std::string s = Next().value;
        while (Peek().type == TokenType::kString) s += Next().value;  // "a" "b" concatenates
        return ExprPtr(std::make_unique<LiteralExpr>(pos, Value::String(std::move(s))));
      }
      case TokenType::kInteger:
        Next();
        return ExprPtr(std::make_unique<LiteralExpr>(pos, Value::Int(t.int_value)));
      case TokenType::kFloat:
        Next();
        return ExprPtr(std::make_unique<LiteralExpr>(pos, Value::Float(t.float_value)));
      case TokenType::kOperator:
        if (t.value == "(") {
          Next();
          if (IsOp(")")) {
            Next();
            return ExprPtr(std::make_unique<SequenceExpr>(Expr::Kind::kTuple, pos));
          }
          HEARTH_ASSIGN_OR_RETURN(ExprPtr inner, ParseTuple(true));
          HEARTH_RETURN_IF_ERROR(Expect(")"));
          return inner;
        }
        if (t.value == "[") {
          Next();
          auto list = std::make_unique<SequenceExpr>(Expr::Kind::kList, pos);
          while (!IsOp("]")) {
            if (!list->items.empty()) HEARTH_RETURN_IF_ERROR(Expect(","));
            if (IsOp("]")) break;
            HEARTH_ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(true));
            list->items.push_back(std::move(e));
          }
          Next();
          return ExprPtr(std::move(list));
        }
        if (t.value == "{") {
          Next();
          auto dict = std::make_unique<DictExpr>(pos);
          while (!IsOp("}")) {
            if (!dict->entries.empty()) HEARTH_RETURN_IF_ERROR(Expect(","));
            if (IsOp("}")) break;
            HEARTH_ASSIGN_OR_RETURN(ExprPtr k, ParseExpression(true));
            HEARTH_RETURN_IF_ERROR(Expect(":"));
            HEARTH_ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
            dict->entries.emplace_back(std::move(k), std::move(v));
          }
          Next();
          return ExprPtr(std::move(dict));
        }
        break;
      default:
        break;
    }
    return ErrorAt(t, "unexpected " + Describe(t));
  }

  Result<ExprPtr> ParsePostfix(ExprPtr node) {
    while (true) {
      if (IsOp(".")) {
        SourcePos pos = PosOf(Next());
        const Token& t = Peek();
        if (t.type == TokenType::kName) {
          Next();
          node = std::make_unique<GetAttrExpr>(pos, std::move(node), t.value);
        } else if (t.type == TokenType::kInteger) {
          Next();
          node = std::make_unique<GetItemExpr>(
              pos, std::move(node), std::make_unique<LiteralExpr>(pos, Value::Int(t.int_value)));
        } else {
          return ErrorAt(t, "expected name or number after '.'");
        }
      } else if (IsOp("[")) {
        SourcePos pos = PosOf(Next());
        HEARTH_ASSIGN_OR_RETURN(ExprPtr key, ParseSubscript());
        HEARTH_RETURN_IF_ERROR(Expect("]"));
        node = std::make_unique<GetItemExpr>(pos, std::move(node), std::move(key));
      } else if (IsOp("(")) {
        HEARTH_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  // `[a]`, `[a:b:c]` (each part optional) or `[a, b]` (tuple key).
  Result<ExprPtr> ParseSubscript() {
    SourcePos pos = PosOf(Peek());
    ExprPtr start;
    if (!IsOp(":")) {
      HEARTH_ASSIGN_OR_RETURN(start, ParseTuple(true));
      if (!IsOp(":")) return start;
    }
    auto slice = std::make_unique<SliceExpr>(pos);
    slice->start = std::move(start);
    Next();  // ':'
    if (!IsOp("]") && !IsOp(":")) {
      HEARTH_ASSIGN_OR_RETURN(slice->stop, ParseExpression(true));
    }
    if (IsOp(":")) {
      Next();
      if (!IsOp("]")) {
        HEARTH_ASSIGN_OR_RETURN(slice->step, ParseExpression(true));
      }
    }
    return ExprPtr(std::move(slice));
  }

  Status ParseArguments(Arguments* args) {
    HEARTH_RETURN_IF_ERROR(Expect("("));
    bool first = true;
    while (!IsOp(")")) {
      if (!first) HEARTH_RETURN_IF_ERROR(Expect(","));
      first = false;
      if (IsOp(")")) break;
      if (Peek().type == TokenType::kName && IsOp("=", 1)) {
        std::string key = Next().value;
        Next();
        HEARTH_ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        args->keyword.emplace_back(std::move(key), std::move(v));
      } else {
        if (!args->keyword.empty()) {
          return ErrorAt(Peek(), "positional argument follows keyword argument");
        }
        HEARTH_ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        args->positional.push_back(std::move(v));
      }
    }
    Next();
    return Status::Ok();
  }

  Result<ExprPtr> ParseCall(ExprPtr callee) {
    SourcePos pos = callee->pos;  // errors point at the callee, not at the parenthesis
    auto call = std::make_unique<CallExpr>(pos, std::move(callee));
    HEARTH_RETURN_IF_ERROR(ParseArguments(&call->args));
    return ExprPtr(std::move(call));
  }

  Result<std::unique_ptr<FilterExpr>> ParseFilterAfterPipe(ExprPtr input) {
    SourcePos pos = PosOf(Peek());
    HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName());
    while (IsOp(".") && Peek(1).type == TokenType::kName) {
      Next();
      name += "." + Next().value;
    }
    auto filter = std::make_unique<FilterExpr>(pos, std::move(input), std::move(name));
    if (IsOp("(")) HEARTH_RETURN_IF_ERROR(ParseArguments(&filter->args));
    return filter;
  }

  Result<ExprPtr> ParseFilterExpr(ExprPtr node) {
    while (true) {
      if (IsOp("|")) {
        Next();
        HEARTH_ASSIGN_OR_RETURN(auto f, ParseFilterAfterPipe(std::move(node)));
        node = std::move(f);
      } else if (IsName("is")) {
        HEARTH_ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
      } else if (IsOp("(")) {
        HEARTH_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> ParseTest(ExprPtr node) {
    SourcePos pos = PosOf(Next());  // 'is'
    bool negated = false;
    if (IsName("not")) {
      Next();
      negated = true;
    }
    HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName());
    while (IsOp(".") && Peek(1).type == TokenType::kName) {
      Next();
      name += "." + Next().value;
    }
    auto test = std::make_unique<TestExpr>(pos, std::move(node), std::move(name), negated);
    const Token& t = Peek();
    if (IsOp("(")) {
      HEARTH_RETURN_IF_ERROR(ParseArguments(&test->args));
    } else if ((t.type == TokenType::kName || t.type == TokenType::kString ||
                t.type == TokenType::kInteger || t.type == TokenType::kFloat || IsOp("[") ||
                IsOp("{")) &&
               !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) return ErrorAt(t, "you cannot chain multiple tests with is");
      HEARTH_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
      HEARTH_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
      test->args.positional.push_back(std::move(arg));
    }
    return ExprPtr(std::move(test));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Result<std::unique_ptr<Program>> ParseTemplate(std::string_view source) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(source));
  Parser parser(std::move(tokens));
  return parser.Run();
}

}  // namespace hearth::jinja
