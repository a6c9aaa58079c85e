// Shared pieces of the table-driven Jinja tests: a case (template, context, expected output),
// the frozen clock that strftime_now reads (2025-01-15 10:30, as in the fixtures), and the check
// that a case renders exactly as Python Jinja2 configured like transformers does.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <ostream>
#include <string>

#include "hearth/tokenizer/chat_template.h"

namespace hearth::tokenizer {

struct RenderCase {
  const char* name;
  const char* source;
  const char* context;  // JSON object
  const char* expected;
};

inline void PrintTo(const RenderCase& c, std::ostream* os) { *os << c.name; }

inline std::chrono::system_clock::time_point FrozenClock() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_hour = 10;
  tm.tm_min = 30;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

inline void ExpectRendersLikeJinja2(const RenderCase& c) {
  auto tmpl = ChatTemplate::Parse(c.source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
  RenderOptions options;
  options.clock = FrozenClock;
  auto out = tmpl->Render(nlohmann::ordered_json::parse(c.context), options);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, c.expected) << "template: " << c.source;
}

inline std::string RenderCaseName(const ::testing::TestParamInfo<RenderCase>& info) {
  return std::string(info.param.name);
}

}  // namespace hearth::tokenizer
