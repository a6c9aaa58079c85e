#include "hearth/base/logging.h"

#include <gtest/gtest.h>

#include "hearth/base/shutdown.h"

namespace hearth {
namespace {

TEST(LoggingTest, JsonEscapeHandlesQuotesAndControls) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("a\"b\\c\nd\t\x01"), "a\\\"b\\\\c\\nd\\t\\u0001");
  EXPECT_EQ(JsonEscape("ünï"), "ünï");
}

TEST(LoggingTest, RejectsUnknownLevelAndFormat) {
  EXPECT_FALSE(ParseLogFormat("xml").ok());
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(InitLogging({"loud", LogFormat::kText}).ok());
}

TEST(ShutdownTest, RequestWakesWaiters) {
  EXPECT_FALSE(ShutdownSignal::Wait(std::chrono::milliseconds(1)));
  ShutdownSignal::Request();
  EXPECT_TRUE(ShutdownSignal::requested());
  EXPECT_TRUE(ShutdownSignal::Wait());
}

}  // namespace
}  // namespace hearth
