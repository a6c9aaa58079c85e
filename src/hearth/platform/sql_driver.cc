#include "hearth/platform/sql_driver.h"

namespace hearth::platform {

std::string TranslatePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 1;
  size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // A quoted run ends at the next unescaped quote; a doubled quote ('') stays inside.
      size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      size_t stop = end < sql.size() ? end + 1 : sql.size();
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      size_t stop = end == std::string_view::npos ? sql.size() : end + 2;
      out.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(next++);
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

const SqlValue* RowReader::Next(const char* wanted) {
  if (!status_.ok()) return nullptr;
  if (column_ >= row_.size()) {
    status_ = Status::Corruption(fmt::format(
        "store: row has {} columns, expected a {} at column {}", row_.size(), wanted, column_));
    return nullptr;
  }
  return &row_[column_++];
}

int64_t RowReader::Int() {
  auto v = OptionalInt();
  if (status_.ok() && !v) {
    status_ = Status::Corruption(
        fmt::format("store: column {} is NULL, expected an integer", column_ - 1));
  }
  return v.value_or(0);
}

std::optional<int64_t> RowReader::OptionalInt() {
  const SqlValue* v = Next("integer");
  if (v == nullptr || std::holds_alternative<std::monostate>(*v)) return std::nullopt;
  if (const auto* i = std::get_if<int64_t>(v)) return *i;
  status_ = Status::Corruption(
      fmt::format("store: column {} holds text, expected an integer", column_ - 1));
  return std::nullopt;
}

std::string RowReader::Text() {
  auto v = OptionalText();
  if (status_.ok() && !v) {
    status_ =
        Status::Corruption(fmt::format("store: column {} is NULL, expected text", column_ - 1));
  }
  return v.value_or("");
}

std::optional<std::string> RowReader::OptionalText() {
  const SqlValue* v = Next("text");
  if (v == nullptr || std::holds_alternative<std::monostate>(*v)) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  status_ = Status::Corruption(
      fmt::format("store: column {} holds an integer, expected text", column_ - 1));
  return std::nullopt;
}

}  // namespace hearth::platform
