#include "hearth/loadgen/sse_client.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hearth::loadgen {
namespace {

std::vector<std::string> FeedAll(SseSplitter& s, const std::vector<std::string>& pieces) {
  std::vector<std::string> events;
  for (const auto& p : pieces) s.Feed(p, [&](std::string_view d) { events.emplace_back(d); });
  return events;
}

TEST(SseSplitterTest, EventsSplitAcrossReadsAndLineEndings) {
  SseSplitter s;
  auto events = FeedAll(s, {"data: {\"a\"", ":1}\n", "\ndata: two\r\n\r\n: comment\n\n",
                            "data: x\ndata: y\n\ndata: [DO", "NE]\n\n", "data: partial"});
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0], "{\"a\":1}");
  EXPECT_EQ(events[1], "two");
  EXPECT_EQ(events[2], "x\ny");  // multi-line data joins with \n
  EXPECT_EQ(events[3], "[DONE]");
}

TEST(ParseBaseUrlTest, AcceptsHostPortPathAndRejectsOthers) {
  Endpoint e;
  std::string error;
  ASSERT_TRUE(ParseBaseUrl("http://127.0.0.1:8080", &e, &error));
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, "8080");
  EXPECT_EQ(e.target, "");
  ASSERT_TRUE(ParseBaseUrl("http://localhost/prefix/", &e, &error));
  EXPECT_EQ(e.port, "80");
  EXPECT_EQ(e.target, "/prefix");
  EXPECT_FALSE(ParseBaseUrl("https://x", &e, &error));
  EXPECT_FALSE(ParseBaseUrl("http://x:8a", &e, &error));
  EXPECT_FALSE(ParseBaseUrl("http://", &e, &error));
}

}  // namespace
}  // namespace hearth::loadgen
