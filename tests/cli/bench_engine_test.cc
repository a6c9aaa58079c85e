// `hearth bench engine --json` on a tiny synthesized model: the figures it reports are derived
// from the model it ran, the way docs/BENCHMARKS.md says they are.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hearth/gguf/gguf_file.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

using testing::HearthBinary;
using testing::RunCommand;

TEST(BenchEngineTest, PrefillGopsCountOnlyTheLayerMatricesEachPromptTokenPassesThrough) {
  testing::TempDir dir;
  const std::string model = (dir / "m.gguf").string();
  auto synth = RunCommand(HearthBinary().string() + " model synth " + model +
                          " --arch qwen2 --preset tiny --type q8_0 --seed 5");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  auto run = RunCommand(HearthBinary().string() + " bench engine " + model +
                        " --json --no-roofline --threads 2 --prompt 64 --batches 1,3 --ctx 8 "
                        "--generate 3");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto doc = nlohmann::json::parse(run.out);

  // Independently: the 2-D tensors of the layers ("blk.N."), read from the file.
  auto file = gguf::GgufFile::Open(model);
  ASSERT_TRUE(file.ok()) << file.status().message();
  int64_t layer_matrix_elements = 0, all_elements = 0;
  for (const auto& t : file->tensors()) {
    all_elements += t.element_count;
    if (t.name.rfind("blk.", 0) == 0 && t.dims.size() == 2) {
      layer_matrix_elements += t.element_count;
    }
  }
  ASSERT_GT(layer_matrix_elements, 0);
  ASSERT_LT(layer_matrix_elements, all_elements);  // the embedding is not counted

  const double tok_per_s = doc["prefill"]["tok_per_s"].get<double>();
  EXPECT_GT(tok_per_s, 0);
  EXPECT_EQ(doc["prefill"]["tokens"], 64);
  EXPECT_NEAR(doc["prefill"]["gops"].get<double>(),
              2.0 * static_cast<double>(layer_matrix_elements) * tok_per_s / 1e9,
              1e-9 * tok_per_s);
  ASSERT_EQ(doc["decode"].size(), 2u);
  EXPECT_EQ(doc["decode"][0]["sequences"], 1);
  EXPECT_EQ(doc["decode"][1]["sequences"], 3);
  EXPECT_GT(doc["decode"][1]["tok_per_s"].get<double>(), 0);
}

}  // namespace
}  // namespace hearth
