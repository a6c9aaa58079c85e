// Enforces the module layering of docs/ARCHITECTURE.md: a module may include headers only from
// itself and from modules that stand before it in
//   base → gguf → tokenizer → kernels → model → engine → server → platform/agent → cli
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "support/fixtures.h"

namespace hearth {
namespace {

const std::map<std::string, int>& Rank() {
  static const std::map<std::string, int> rank = {
      {"base", 0},   {"gguf", 1},   {"tokenizer", 2}, {"kernels", 3},  {"model", 4},
      {"engine", 5}, {"server", 6}, {"platform", 7},  {"agent", 7},    {"loadgen", 7}, {"cli", 8},
  };
  return rank;
}

struct Violation {
  std::string file;
  int line;
  std::string text;
};

std::vector<Violation> FindViolations(const std::filesystem::path& src_root) {
  static const std::regex include_re(R"re(^\s*#\s*include\s*"hearth/([a-z_]+)/)re");
  std::vector<Violation> out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src_root)) {
    if (!entry.is_regular_file()) continue;
    auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cc") continue;
    std::string module = std::filesystem::relative(entry.path(), src_root).begin()->string();
    auto own = Rank().find(module);
    std::ifstream in(entry.path());
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      std::smatch m;
      if (!std::regex_search(line, m, include_re)) continue;
      auto target = Rank().find(m[1].str());
      bool bad = own == Rank().end() || target == Rank().end() ||
                 target->second > own->second ||
                 (target->second == own->second && target->first != own->first);
      if (bad) out.push_back({entry.path().string(), number, line});
    }
  }
  return out;
}

TEST(LayeringTest, EveryModuleDirectoryIsKnown) {
  auto root = testing::SourceDir() / "src" / "hearth";
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    EXPECT_TRUE(Rank().count(entry.path().filename().string()))
        << "module " << entry.path().filename() << " is not in the layering (update "
        << "docs/ARCHITECTURE.md and this test)";
  }
}

TEST(LayeringTest, NoIncludeReachesForwardInTheDag) {
  auto violations = FindViolations(testing::SourceDir() / "src" / "hearth");
  for (const auto& v : violations) {
    ADD_FAILURE() << v.file << ":" << v.line << ": includes a later module: " << v.text;
  }
}

TEST(LayeringTest, DetectorCatchesAForwardInclude) {
  // The checker itself must be able to fail: plant a base file that includes engine.
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "base");
  std::ofstream(dir.path() / "base" / "bad.h") << "#include \"hearth/engine/engine.h\"\n";
  std::ofstream(dir.path() / "base" / "good.h") << "#include \"hearth/base/status.h\"\n";
  auto violations = FindViolations(dir.path());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_NE(violations[0].file.find("bad.h"), std::string::npos);
  EXPECT_EQ(violations[0].line, 1);
}

}  // namespace
}  // namespace hearth
