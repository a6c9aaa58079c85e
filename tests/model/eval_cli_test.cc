// `hearth model eval` as a process: its logits are the reference engine's (stories260K fixture)
// and bad input gets one clear error line.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "model/model_test_util.h"
#include "support/fixtures.h"

namespace hearth::model::testing {
namespace {

using hearth::testing::FixturePath;
using hearth::testing::HearthBinary;
using hearth::testing::RunCommand;

class EvalCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(HearthBinary())) {
      GTEST_SKIP() << "hearth binary not built: " << HearthBinary();
    }
    model_ = FixturePath("models/stories260K.gguf");
    HEARTH_REQUIRE_FIXTURE(model_);
    HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.ref.txt"));
    prompt_ = ReadReferenceFile(FixturePath("models/stories260K.ref.txt")).at(0);
    tokens_ = fmt::format("{}", fmt::join(prompt_.ids, " "));
  }

  std::string Eval(const std::string& args) {
    return HearthBinary().string() + " model eval " + model_.string() + " " + args;
  }

  std::filesystem::path model_;
  ReferencePrompt prompt_;
  std::string tokens_;
};

TEST_F(EvalCliTest, JsonLogitsMatchReferenceEngine) {
  const auto result = RunCommand(Eval("--threads 1 --json --tokens \"" + tokens_ + "\""));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_EQ(json["tokens"].get<std::vector<int32_t>>(), prompt_.ids);
  ASSERT_EQ(json["logits"].size(), prompt_.ids.size());
  ErrorAccumulator error;
  for (const auto& [pos, values] : prompt_.logits) {
    const auto row = json["logits"][static_cast<size_t>(pos)].get<std::vector<float>>();
    ASSERT_EQ(row.size(), values.size());
    error.Add(row, values);
  }
  EXPECT_LE(error.Error(), 0.001);
}

TEST_F(EvalCliTest, TopListsLargestLogitsPerPosition) {
  const auto json_run = RunCommand(Eval("--json --tokens \"" + tokens_ + "\""));
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const auto logits = nlohmann::json::parse(json_run.out)["logits"];
  const auto result = RunCommand(Eval("--top 3 --tokens \"" + tokens_ + "\""));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::string line;
  size_t pos = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(pos, prompt_.ids.size());
    EXPECT_EQ(line.rfind(fmt::format("pos {} token {}:", pos, prompt_.ids[pos]), 0), 0u) << line;
    const auto row = logits[pos].get<std::vector<float>>();
    std::vector<float> sorted = row;
    std::sort(sorted.rbegin(), sorted.rend());
    const std::string entries = line.substr(line.find(':') + 1);
    std::istringstream in(entries);
    std::string entry;
    int count = 0;
    while (in >> entry) {
      const int id = std::stoi(entry.substr(0, entry.find(':')));
      EXPECT_FLOAT_EQ(row[static_cast<size_t>(id)], sorted[static_cast<size_t>(count)]) << line;
      ++count;
    }
    EXPECT_EQ(count, 3) << line;
    ++pos;
  }
  EXPECT_EQ(pos, prompt_.ids.size());
}

TEST_F(EvalCliTest, AllLogitsPrintsWholeRows) {
  const auto result = RunCommand(Eval("--all-logits --tokens 1,403"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    std::istringstream in(line.substr(line.find(':') + 1));
    double v;
    int count = 0;
    while (in >> v) ++count;
    EXPECT_EQ(count, 512);
    ++rows;
  }
  EXPECT_EQ(rows, 2);
}

TEST_F(EvalCliTest, BadInputIsOneClearError) {
  for (const std::string& args :
       {std::string("--tokens \"1 x 3\""), std::string("--tokens \"1 512\""),
        std::string("--tokens \" \""), std::string("--kv-type q4_0 --tokens 1")}) {
    const auto result = RunCommand(Eval(args));
    EXPECT_NE(result.exit_code, 0) << args;
    EXPECT_EQ(result.err.rfind("hearth: ", 0), 0u) << args << ": " << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
  const auto missing = RunCommand(HearthBinary().string() +
                                  " model eval /nonexistent/model.gguf --tokens 1");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("hearth: "), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace hearth::model::testing
