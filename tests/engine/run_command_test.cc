// `hearth run` as a user runs it: tokenization, generation and streaming detokenization end to
// end, checked against the fixture's independently computed greedy text.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/fixtures.h"

namespace hearth::engine {
namespace {

using hearth::testing::FixturePath;
using hearth::testing::HearthBinary;
using hearth::testing::RunCommand;

#define REQUIRE_HEARTH_BINARY()                                                     \
  do {                                                                              \
    if (!std::filesystem::exists(HearthBinary())) {                                 \
      GTEST_SKIP() << "build the hearth target first: " << HearthBinary().string(); \
    }                                                                               \
  } while (0)

// The `text: '...'` line of a stories260K greedy fixture.
std::string FixtureText(const std::string& name) {
  std::ifstream in(FixturePath("models/" + name));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("text: '", 0) == 0) return line.substr(7, line.size() - 8);
  }
  return {};
}

TEST(RunCommandTest, CompletionMatchesReferenceText) {
  const auto model = FixturePath("models/stories260K.gguf");
  HEARTH_REQUIRE_FIXTURE(model);
  REQUIRE_HEARTH_BINARY();
  const std::string expected = FixtureText("stories260K_greedy_The_little_dog_32.txt");
  ASSERT_EQ(expected.rfind("The little dog", 0), 0u) << expected;
  auto r = RunCommand(HearthBinary().string() + " --log-level warn run " + model.string() +
                      " 'The little dog' --temp 0 --max-tokens 32 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // stdout: the prompt, the 32 generated tokens' text, a newline. stderr: the speed line.
  EXPECT_EQ(r.out, expected + "\n");
  EXPECT_NE(r.err.find("prompt: 5 tokens (0 cached)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generated: 32 tokens"), std::string::npos) << r.err;
}

TEST(RunCommandTest, ReplKeepsHistoryAndHitsPrefixCache) {
  const auto model = FixturePath("models/stories260K.gguf");
  HEARTH_REQUIRE_FIXTURE(model);
  REQUIRE_HEARTH_BINARY();
  auto r = RunCommand("printf 'The little dog\\nThen\\n' | " + HearthBinary().string() +
                      " --log-level warn run " + model.string() +
                      " --temp 0 --max-tokens 20 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The second turn resends the first turn's text and reuses its computed blocks.
  EXPECT_NE(r.err.find("cached)"), std::string::npos) << r.err;
  const auto second = r.err.find("\n[prompt:");
  ASSERT_NE(second, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("(0 cached)", second), std::string::npos) << r.err;
}

TEST(RunCommandTest, BadInputGivesOneClearLine) {
  const auto model = FixturePath("models/stories260K.gguf");
  HEARTH_REQUIRE_FIXTURE(model);
  REQUIRE_HEARTH_BINARY();
  auto r = RunCommand(HearthBinary().string() + " run " + model.string() + " hi --top-p 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err, "hearth: top_p 2 is invalid: it must be in (0, 1]\n");
  r = RunCommand(HearthBinary().string() + " run /nonexistent/model.gguf hi");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("hearth: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hearth::engine
