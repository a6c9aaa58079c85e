// Every fixture model against the logits and greedy continuations that an independent engine
// (llama.cpp) computed, within the tolerances of shared/fixtures/models/README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "model/model_test_util.h"
#include "support/fixtures.h"

namespace hearth::model::testing {
namespace {

using hearth::testing::FixturePath;

struct FixtureCase {
  std::string name;  // file stem, e.g. "tiny-llama-Q4_K_M"
  double tolerance;
};

void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.name; }

std::string CaseName(const ::testing::TestParamInfo<FixtureCase>& info) {
  std::string name = info.param.name;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// The README's table, by the weight type in the file name.
std::vector<FixtureCase> AllCases() {
  const std::vector<std::pair<std::string, double>> types = {
      {"F16", 0.002},  {"BF16", 0.002},  {"Q8_0", 0.005},   {"Q6_K", 0.005},   {"Q5_0", 0.005},
      {"Q5_1", 0.005}, {"Q5_K_M", 0.005}, {"Q4_0", 0.01},   {"Q4_1", 0.01},    {"Q4_K_M", 0.01},
      {"Q2_K", 0.02},  {"Q3_K_M", 0.02}};
  std::vector<FixtureCase> cases = {{"stories260K", 0.001}};
  // The fixtures hold every type for llama and a subset for qwen2.
  const std::vector<std::string> qwen2_types = {"F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M"};
  for (const auto& [type, tolerance] : types) {
    cases.push_back({"tiny-llama-" + type, tolerance});
    if (std::find(qwen2_types.begin(), qwen2_types.end(), type) != qwen2_types.end()) {
      cases.push_back({"tiny-qwen2-" + type, tolerance});
    }
  }
  return cases;
}

class FixtureReferenceTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(FixtureReferenceTest, PromptLogitsAndGreedyMatchReferenceEngine) {
  const FixtureCase& c = GetParam();
  const auto model_path = FixturePath("models/" + c.name + ".gguf");
  const auto ref_path = FixturePath("models/" + c.name + ".ref.txt");
  HEARTH_REQUIRE_FIXTURE(model_path);
  HEARTH_REQUIRE_FIXTURE(ref_path);
  LoadedModel loaded = LoadModel(model_path);
  ASSERT_NE(loaded.model, nullptr);
  Model& model = *loaded.model;
  const std::vector<ReferencePrompt> prompts = ReadReferenceFile(ref_path);
  ASSERT_EQ(prompts.size(), 3u);
  kernels::ThreadPool pool(2);

  for (size_t p = 0; p < prompts.size(); ++p) {
    SCOPED_TRACE("prompt " + std::to_string(p));
    const ReferencePrompt& ref = prompts[p];
    ASSERT_FALSE(ref.logits.empty());
    ASSERT_EQ(ref.greedy.size(), 32u);
    ASSERT_EQ(ref.greedy_margin.size(), 32u);
    auto kv = MakeCache(model, 1, static_cast<int>(ref.ids.size()) + 40);
    ASSERT_NE(kv, nullptr);
    Session session(Blocks(0, static_cast<int32_t>(kv->num_blocks())));

    // The whole prompt in one batch.
    const auto logits = Evaluate(model, *kv, session, ref.ids, pool);
    ASSERT_EQ(logits.size(), ref.ids.size());
    ErrorAccumulator error;
    for (const auto& [pos, values] : ref.logits) {
      ASSERT_LT(static_cast<size_t>(pos), logits.size());
      error.Add(logits[static_cast<size_t>(pos)], values);
    }
    EXPECT_LE(error.Error(), c.tolerance) << c.name << " prompt " << p << " normalized RMS error";

    // Greedy continuation, one token per step through the KV cache.
    std::vector<float> last = logits.back();
    for (size_t step = 0; step < ref.greedy.size(); ++step) {
      // A step whose top-1/top-2 margin is under 0.1 may legitimately pick either token.
      if (ref.greedy_margin[step] < 0.1) break;
      const int32_t token = ArgMax(last);
      EXPECT_EQ(token, ref.greedy[step]) << c.name << " prompt " << p << " greedy step " << step;
      if (token != ref.greedy[step]) break;
      const int32_t next[] = {token};
      last = Evaluate(model, *kv, session, next, pool).at(0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, FixtureReferenceTest, ::testing::ValuesIn(AllCases()),
                         CaseName);

// ---- stories260K greedy generations from an independent float64 implementation ----

struct StoriesGreedy {
  std::vector<int32_t> prompt;
  std::vector<int32_t> generated;
  std::map<int, std::vector<std::pair<int32_t, double>>> top5;  // position -> (id, logit)
  std::vector<std::pair<double, int>> small_margins;            // (margin, pos)
};

std::vector<int32_t> ParseIdList(const std::string& text) {
  std::vector<int32_t> ids;
  std::string digits = std::regex_replace(text, std::regex("[\\[\\],]"), " ");
  std::istringstream in(digits);
  int32_t id;
  while (in >> id) ids.push_back(id);
  return ids;
}

StoriesGreedy ReadStoriesGreedy(const std::filesystem::path& path) {
  StoriesGreedy g;
  std::ifstream in(path);
  std::string line;
  const std::regex top5_line(R"(^pos (\d+) top5: (.*)$)");
  const std::regex pair(R"((\d+):(-?[0-9.]+))");
  const std::regex margin(R"(\((-?[0-9.]+), (\d+)\))");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, top5_line)) {
      const std::string entries = m[2];
      for (std::sregex_iterator it(entries.begin(), entries.end(), pair), end; it != end; ++it) {
        g.top5[std::stoi(m[1])].push_back({std::stoi((*it)[1]), std::stod((*it)[2])});
      }
    } else if (line.rfind("prompt ids:", 0) == 0) {
      g.prompt = ParseIdList(line.substr(11));
    } else if (line.rfind("generated ids:", 0) == 0) {
      g.generated = ParseIdList(line.substr(14));
    } else if (line.rfind("smallest", 0) == 0) {
      for (std::sregex_iterator it(line.begin(), line.end(), margin), end; it != end; ++it) {
        g.small_margins.push_back({std::stod((*it)[1]), std::stoi((*it)[2])});
      }
    }
  }
  return g;
}

class StoriesGreedyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(StoriesGreedyTest, GreedyGenerationMatchesFloat64Reference) {
  const auto model_path = FixturePath("models/stories260K.gguf");
  const auto ref_path = FixturePath("models/" + GetParam());
  HEARTH_REQUIRE_FIXTURE(model_path);
  HEARTH_REQUIRE_FIXTURE(ref_path);
  const StoriesGreedy ref = ReadStoriesGreedy(ref_path);
  ASSERT_FALSE(ref.prompt.empty());
  ASSERT_FALSE(ref.generated.empty());
  ASSERT_FALSE(ref.top5.empty());
  // Compare steps only before the first near-tie. The file names a position; reading it as an
  // absolute position or as a generation step, take whichever comes first.
  size_t compare_steps = ref.generated.size();
  for (const auto& [margin, pos] : ref.small_margins) {
    if (margin >= 0.1) continue;
    const int as_step = pos - static_cast<int>(ref.prompt.size()) + 1;
    compare_steps = std::min(compare_steps, static_cast<size_t>(std::max(0, std::min(pos, as_step))));
  }

  LoadedModel loaded = LoadModel(model_path);
  ASSERT_NE(loaded.model, nullptr);
  kernels::ThreadPool pool(2);
  // F32 keys and values: the reference keeps them in float64, and F16 rounding alone would move
  // these logits by ~3e-4 relative.
  auto kv = MakeCache(*loaded.model, 1, static_cast<int>(ref.prompt.size() + ref.generated.size()),
                      gguf::TensorType::kF32);
  ASSERT_NE(kv, nullptr);
  Session session(Blocks(0, static_cast<int32_t>(kv->num_blocks())));
  std::vector<std::vector<float>> logits = Evaluate(*loaded.model, *kv, session, ref.prompt, pool);
  for (size_t step = 0; step < compare_steps; ++step) {
    const int32_t token = ArgMax(logits.back());
    ASSERT_EQ(token, ref.generated[step]) << "step " << step;
    const int32_t next[] = {token};
    logits.push_back(Evaluate(*loaded.model, *kv, session, next, pool).at(0));
  }
  // Top-5 logits of the first positions, against the float64 values.
  for (const auto& [pos, entries] : ref.top5) {
    if (static_cast<size_t>(pos) >= logits.size()) continue;
    for (const auto& [id, value] : entries) {
      EXPECT_NEAR(logits[static_cast<size_t>(pos)][static_cast<size_t>(id)], value, 5e-4)
          << "position " << pos << " token " << id;
    }
    EXPECT_EQ(ArgMax(logits[static_cast<size_t>(pos)]), entries.front().first);
  }
}

INSTANTIATE_TEST_SUITE_P(Stories, StoriesGreedyTest,
                         ::testing::Values("stories260K_greedy_from_BOS_256.txt",
                                           "stories260K_greedy_The_little_dog_32.txt",
                                           "stories260K_greedy_I_believe_32.txt"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(std::string("stories260K_greedy_").size());
                           n = n.substr(0, n.size() - 4);
                           return n;
                         });

}  // namespace
}  // namespace hearth::model::testing
