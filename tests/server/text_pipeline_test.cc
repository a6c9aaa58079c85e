// The streaming detokenizer and the stop matcher, checked against whole-text references.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "hearth/server/stop_matcher.h"
#include "hearth/server/utf8_stream.h"

namespace hearth::server {
namespace {

// Independent validity check: nlohmann's serializer rejects invalid UTF-8 (strict mode).
bool IsValidUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

const std::string kMixed = "Grüße, 世界! 🎉 naïve café — ok";

TEST(StreamingDetokenizerTest, EverySplitOfValidTextRoundTrips) {
  // Feed the text in pieces cut at every pair of byte positions.
  for (size_t a = 0; a <= kMixed.size(); ++a) {
    for (size_t b = a; b <= kMixed.size(); b += 3) {
      StreamingDetokenizer d;
      std::string out;
      for (const std::string& piece :
           {kMixed.substr(0, a), kMixed.substr(a, b - a), kMixed.substr(b)}) {
        std::string emitted = d.Push(piece);
        ASSERT_TRUE(IsValidUtf8(emitted)) << a << "," << b;
        out += emitted;
      }
      out += d.Flush();
      ASSERT_EQ(out, kMixed) << a << "," << b;
    }
  }
}

TEST(StreamingDetokenizerTest, ByteAtATimeHoldsIncompleteCharacters) {
  StreamingDetokenizer d;
  const std::string euro = "\xE2\x82\xAC";  // €
  EXPECT_EQ(d.Push(euro.substr(0, 1)), "");
  EXPECT_EQ(d.Push(euro.substr(1, 1)), "");
  EXPECT_EQ(d.pending_bytes(), 2u);
  EXPECT_EQ(d.Push(euro.substr(2, 1)), euro);
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST(StreamingDetokenizerTest, InvalidBytesBecomeReplacementCharacters) {
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case {
    std::string in, out;
  } cases[] = {
      {"a\xFF"
       "b",
       "a" + fffd + "b"},
      {"\x80", fffd},
      {"\xC0\xAF", fffd + fffd},                        // overlong
      {"\xED\xA0\x80", fffd + fffd + fffd},             // surrogate
      {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // > U+10FFFF
      {"\xE2\x82"
       "x",
       fffd + fffd + "x"},  // truncated then ASCII
  };
  for (const auto& c : cases) {
    StreamingDetokenizer d;
    std::string out = d.Push(c.in) + d.Flush();
    EXPECT_EQ(out, c.out);
    EXPECT_TRUE(IsValidUtf8(out));
  }
  StreamingDetokenizer d;
  EXPECT_EQ(d.Push("\xF0\x9F"), "");
  EXPECT_EQ(d.Flush(), fffd);  // unfinished at the end
}

TEST(StreamingDetokenizerTest, RandomBytesAlwaysGiveValidUtf8) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    StreamingDetokenizer d;
    std::string out;
    for (int i = 0; i < 50; ++i) {
      std::string piece(rng() % 4, '\0');
      for (char& c : piece) c = static_cast<char>(rng() % 256);
      out += d.Push(piece);
    }
    out += d.Flush();
    ASSERT_TRUE(IsValidUtf8(out));
  }
}

// Reference: the text before the earliest occurrence of any stop string.
std::pair<std::string, bool> Reference(const std::string& text,
                                       const std::vector<std::string>& stops) {
  size_t first = std::string::npos;
  for (const auto& s : stops) first = std::min(first, text.find(s));
  if (first == std::string::npos) return {text, false};
  return {text.substr(0, first), true};
}

TEST(StopMatcherTest, MatchesAcrossEverySplitAndNeverLeaksStopText) {
  const std::vector<std::vector<std::string>> stop_sets = {
      {"END"}, {"ab", "b c"}, {"\n\n"}, {"世界"}, {"aaa"}, {"zzz"}, {"é —", "ok"}};
  const std::vector<std::string> texts = {"xx ENDyy", "aab c d",      "one\n\ntwo", kMixed,
                                          "aaaa",     "no stop here", "aa\nEN",     "ab"};
  std::mt19937 rng(11);
  for (const auto& stops : stop_sets) {
    for (const auto& text : texts) {
      const auto [expected, expect_stop] = Reference(text, stops);
      for (int trial = 0; trial < 30; ++trial) {
        StopMatcher m(stops);
        std::string out;
        bool stopped = false;
        size_t pos = 0;
        while (pos < text.size() && !stopped) {
          const size_t len = 1 + rng() % 4;
          auto o = m.Push(text.substr(pos, len));
          pos += len;
          out += o.text;
          stopped = o.stopped;
          // What was sent so far must be a prefix of the final answer.
          ASSERT_EQ(expected.compare(0, out.size(), out), 0) << text << " / " << stops[0];
        }
        if (!stopped) out += m.Flush();
        EXPECT_EQ(stopped, expect_stop) << text;
        EXPECT_EQ(out, expected) << text << " / " << stops[0];
      }
    }
  }
}

TEST(StopMatcherTest, HoldsBackOnlyPossibleStopPrefixes) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Push("abc S").text, "abc ");
  EXPECT_EQ(m.Push("T").text, "");
  EXPECT_EQ(m.Push("x").text, "STx");  // diverged: released
  auto o = m.Push("ST");
  EXPECT_EQ(o.text, "");
  o = m.Push("OP and more");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");
  EXPECT_TRUE(m.Push("more").stopped);
}

TEST(StopMatcherTest, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("abc").text, "abc");
  EXPECT_EQ(m.Flush(), "");
}

}  // namespace
}  // namespace hearth::server
