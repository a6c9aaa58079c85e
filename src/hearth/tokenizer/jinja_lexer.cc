#include "hearth/tokenizer/jinja_lexer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "hearth/tokenizer/jinja_unicode.h"

namespace hearth::jinja {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsDigitChar(char c) { return c >= '0' && c <= '9'; }

// Jinja2 reads templates with universal newlines and drops one trailing newline
// (keep_trailing_newline=False).
std::string NormalizeSource(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string RstripWhitespace(std::string_view text) {
  return PyStrip(text, nullptr, /*left=*/false, /*right=*/true);
}

// Decodes a Python string literal body (Jinja uses Python's unicode-escape rules).
Status DecodeStringLiteral(std::string_view body, std::string* out, int line, int column) {
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out->push_back(c);
      continue;
    }
    char e = body[++i];
    switch (e) {
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '\'':
        out->push_back('\'');
        break;
      case '"':
        out->push_back('"');
        break;
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '\n':
        break;  // line continuation
      case 'x':
      case 'u':
      case 'U': {
        size_t digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        if (i + digits >= body.size()) {
          return SyntaxError(line, column, "truncated \\" + std::string(1, e) + " escape");
        }
        uint32_t cp = 0;
        for (size_t k = 1; k <= digits; ++k) {
          char h = body[i + k];
          int v = (h >= '0' && h <= '9')   ? h - '0'
                  : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                  : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                           : -1;
          if (v < 0) return SyntaxError(line, column, "invalid \\" + std::string(1, e) + " escape");
          cp = cp * 16 + static_cast<uint32_t>(v);
        }
        if (cp > 0x10FFFF) return SyntaxError(line, column, "illegal Unicode character in escape");
        AppendUtf8(cp, out);
        i += digits;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7';
               ++k) {
            cp = cp * 8 + static_cast<uint32_t>(body[++i] - '0');
          }
          AppendUtf8(cp, out);
        } else {
          out->push_back('\\');  // unknown escapes stay as written
          out->push_back(e);
        }
    }
  }
  return Status::Ok();
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t tag = FindTagStart(pos);
      std::string text = src_.substr(pos, (tag == std::string::npos ? src_.size() : tag) - pos);
      if (tag == std::string::npos) {
        EmitText(std::move(text), pos);
        break;
      }
      char kind = src_[tag + 1];
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign != '-' && sign != '+') sign = '\0';
      ApplyLeftWhitespaceControl(&text, kind, sign, line_starting);
      EmitText(std::move(text), pos);
      size_t inner = tag + 2 + (sign ? 1 : 0);
      size_t end = 0;
      if (kind == '#') {
        HEARTH_ASSIGN_OR_RETURN(end, SkipComment(tag, inner));
      } else if (kind == '%' && IsRawBegin(inner, &end)) {
        HEARTH_ASSIGN_OR_RETURN(end, LexRaw(tag, end));
      } else {
        HEARTH_ASSIGN_OR_RETURN(end, LexTag(tag, inner, kind == '{'));
      }
      line_starting = end > 0 && src_[end - 1] == '\n';
      pos = end;
    }
    Token eof;
    eof.type = TokenType::kEnd;
    SetPosition(&eof, src_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t from) const {
    size_t p = from;
    while (true) {
      p = src_.find('{', p);
      if (p == std::string::npos || p + 1 >= src_.size()) return std::string::npos;
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') return p;
      ++p;
    }
  }

  void ApplyLeftWhitespaceControl(std::string* text, char kind, char sign, bool line_starting) {
    if (sign == '-') {
      *text = RstripWhitespace(*text);
    } else if (sign != '+' && kind != '{') {
      size_t nl = text->rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        bool only_space = l_pos < text->size();
        for (size_t i = l_pos; i < text->size() && only_space; ++i) {
          only_space = IsSpace((*text)[i]);
        }
        if (only_space) text->resize(l_pos);
      }
    }
  }

  void EmitText(std::string text, size_t pos) {
    if (text.empty()) return;
    Token t;
    t.type = TokenType::kText;
    t.value = std::move(text);
    SetPosition(&t, pos);
    tokens_.push_back(std::move(t));
  }

  // Consumes what follows a closing delimiter: `-` strips all whitespace, `+` nothing, and a
  // plain block/comment end drops one newline (trim_blocks).
  size_t AfterEnd(size_t pos, char sign, bool trim_newline) const {
    if (sign == '-') {
      while (pos < src_.size() && IsSpace(src_[pos])) ++pos;
    } else if (sign == '\0' && trim_newline && pos < src_.size() && src_[pos] == '\n') {
      ++pos;
    }
    return pos;
  }

  Result<size_t> SkipComment(size_t tag, size_t inner) {
    size_t close = src_.find("#}", inner);
    if (close == std::string::npos) {
      int line = 0;
      int column = 0;
      LineColumn(tag, &line, &column);
      return SyntaxError(line, column, "missing end of comment tag");
    }
    char sign = '\0';
    if (close > inner && (src_[close - 1] == '-' || src_[close - 1] == '+')) {
      sign = src_[close - 1];
    }
    return AfterEnd(close + 2, sign, /*trim_newline=*/true);
  }

  // `{% raw %}` (with optional signs); sets *end past the opening tag.
  bool IsRawBegin(size_t inner, size_t* end) const {
    size_t p = inner;
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    if (p < src_.size() && IsNameChar(src_[p])) return false;
    while (p < src_.size() && IsSpace(src_[p])) ++p;
    if (src_.compare(p, 3, "-%}") == 0) {
      *end = AfterEnd(p + 3, '-', false);
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      *end = p + 2;
      return true;
    }
    return false;
  }

  // Finds `{% endraw %}` and emits the raw body as text.
  Result<size_t> LexRaw(size_t tag, size_t body_start) {
    size_t search = body_start;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos) {
        int line = 0;
        int column = 0;
        LineColumn(tag, &line, &column);
        return SyntaxError(line, column, "missing end of raw directive");
      }
      size_t p = open + 2;
      char sign = '\0';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0 || (p + 6 < src_.size() && IsNameChar(src_[p + 6]))) {
        search = open + 2;
        continue;
      }
      p += 6;
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      char end_sign = '\0';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) {
        search = open + 2;
        continue;
      }
      std::string body = src_.substr(body_start, open - body_start);
      ApplyLeftWhitespaceControl(&body, '%', sign, false);
      EmitText(std::move(body), body_start);
      return AfterEnd(p + 2, end_sign, /*trim_newline=*/true);
    }
  }

  // Lexes the inside of {{ ... }} or {% ... %}, emitting begin, expression tokens and end.
  Result<size_t> LexTag(size_t tag, size_t pos, bool is_variable) {
    Token begin;
    begin.type = is_variable ? TokenType::kVariableBegin : TokenType::kBlockBegin;
    SetPosition(&begin, tag);
    tokens_.push_back(std::move(begin));
    std::vector<char> brackets;
    while (true) {
      while (pos < src_.size() && IsSpace(src_[pos])) ++pos;
      if (pos >= src_.size()) {
        int line = 0;
        int column = 0;
        LineColumn(tag, &line, &column);
        return SyntaxError(line, column,
                           is_variable ? "unexpected end of template, expected '}}'"
                                       : "unexpected end of template, expected '%}'");
      }
      if (brackets.empty()) {
        size_t end = 0;
        if (MatchEnd(pos, is_variable, &end)) {
          Token t;
          t.type = is_variable ? TokenType::kVariableEnd : TokenType::kBlockEnd;
          SetPosition(&t, pos);
          tokens_.push_back(std::move(t));
          return end;
        }
      }
      HEARTH_RETURN_IF_ERROR(LexExpressionToken(&pos, &brackets));
    }
  }

  bool MatchEnd(size_t pos, bool is_variable, size_t* end) const {
    const char* close = is_variable ? "}}" : "%}";
    if (src_.compare(pos, 2, close) == 0) {
      *end = AfterEnd(pos + 2, '\0', /*trim_newline=*/!is_variable);
      return true;
    }
    if (src_[pos] == '-' && src_.compare(pos + 1, 2, close) == 0) {
      *end = AfterEnd(pos + 3, '-', false);
      return true;
    }
    if (!is_variable && src_[pos] == '+' && src_.compare(pos + 1, 2, close) == 0) {
      *end = pos + 3;
      return true;
    }
    return false;
  }

  Status LexExpressionToken(size_t* pos_io, std::vector<char>* brackets) {
    size_t pos = *pos_io;
    Token t;
    SetPosition(&t, pos);
    char c = src_[pos];
    if (IsNameStart(c)) {
      size_t end = pos;
      while (end < src_.size() && IsNameChar(src_[end])) ++end;
      t.type = TokenType::kName;
      t.value = src_.substr(pos, end - pos);
      *pos_io = end;
    } else if (IsDigitChar(c)) {
      HEARTH_RETURN_IF_ERROR(LexNumber(pos_io, &t));
    } else if (c == '\'' || c == '"') {
      size_t end = pos + 1;
      while (end < src_.size() && src_[end] != c) {
        if (src_[end] == '\\') ++end;
        ++end;
      }
      if (end >= src_.size()) return SyntaxError(t.line, t.column, "unterminated string literal");
      t.type = TokenType::kString;
      HEARTH_RETURN_IF_ERROR(DecodeStringLiteral(
          std::string_view(src_).substr(pos + 1, end - pos - 1), &t.value, t.line, t.column));
      *pos_io = end + 1;
    } else {
      static constexpr std::string_view kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
      std::string op;
      for (std::string_view two : kTwoChar) {
        if (src_.compare(pos, 2, two) == 0) op = std::string(two);
      }
      if (op.empty()) {
        static constexpr std::string_view kOneChar = "+-/*%~[](){}<>=.:|,;";
        if (kOneChar.find(c) == std::string_view::npos) {
          return SyntaxError(t.line, t.column, "unexpected char '" + std::string(1, c) + "'");
        }
        op = std::string(1, c);
      }
      if (op == "(" || op == "[" || op == "{") {
        brackets->push_back(op[0]);
      } else if (op == ")" || op == "]" || op == "}") {
        char expected = op == ")" ? '(' : (op == "]" ? '[' : '{');
        if (brackets->empty()) return SyntaxError(t.line, t.column, "unexpected '" + op + "'");
        if (brackets->back() != expected) {
          char open = brackets->back();
          char want = open == '(' ? ')' : (open == '[' ? ']' : '}');
          return SyntaxError(t.line, t.column,
                             fmt::format("unexpected '{}', expected '{}'", op, want));
        }
        brackets->pop_back();
      }
      t.type = TokenType::kOperator;
      t.value = std::move(op);
      *pos_io = pos + t.value.size();
    }
    tokens_.push_back(std::move(t));
    return Status::Ok();
  }

  // Integers and floats (with `_` separators and exponents). A number right after '.' is always
  // an integer so that `x.0.1` is attribute access, as in Jinja2.
  Status LexNumber(size_t* pos_io, Token* t) {
    size_t pos = *pos_io;
    auto digits = [&](size_t p) {
      size_t q = p;
      while (q < src_.size() && (IsDigitChar(src_[q]) || (src_[q] == '_' && q + 1 < src_.size() &&
                                                          IsDigitChar(src_[q + 1]) && q > p))) {
        ++q;
      }
      return q;
    };
    size_t end = digits(pos);
    bool is_float = false;
    bool after_dot = pos > 0 && src_[pos - 1] == '.';
    if (!after_dot && end + 1 < src_.size() && src_[end] == '.' && IsDigitChar(src_[end + 1])) {
      end = digits(end + 1);
      is_float = true;
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t q = end + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && IsDigitChar(src_[q])) {
        end = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = pos; i < end; ++i) {
      if (src_[i] != '_') text.push_back(src_[i]);
    }
    if (is_float) {
      t->type = TokenType::kFloat;
      t->float_value = std::strtod(text.c_str(), nullptr);
    } else {
      t->type = TokenType::kInteger;
      errno = 0;
      unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
        return SyntaxError(t->line, t->column, "integer literal too large");
      }
      t->int_value = static_cast<int64_t>(v);
    }
    t->value = std::move(text);
    *pos_io = end;
    return Status::Ok();
  }

  void LineColumn(size_t offset, int* line, int* column) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    *line = static_cast<int>(index + 1);
    *column = static_cast<int>(offset - line_starts_[index] + 1);
  }

  void SetPosition(Token* t, size_t offset) const { LineColumn(offset, &t->line, &t->column); }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

Status SyntaxError(int line, int column, std::string_view message) {
  return Status::InvalidArgument("line " + std::to_string(line) + ", column " +
                                 std::to_string(column) + ": " + std::string(message));
}

Result<std::vector<Token>> Tokenize(std::string_view source) {
  Lexer lexer(NormalizeSource(source));
  return lexer.Run();
}

}  // namespace hearth::jinja
