// The model's forward pass against the independent double-precision reference in
// reference_model.cc, on fixture models whose weights are exact in float (F32, F16): any
// difference beyond float rounding is a bug in the forward pass, not quantization.
#include <gtest/gtest.h>

#include "model/model_test_util.h"
#include "model/reference_model.h"
#include "support/fixtures.h"

namespace hearth::model::testing {
namespace {

using hearth::testing::FixturePath;

class ReferenceForwardTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceForwardTest, LogitsMatchDoublePrecisionReference) {
  const auto path = FixturePath("models/" + GetParam());
  HEARTH_REQUIRE_FIXTURE(path);
  LoadedModel loaded = LoadModel(path);
  ASSERT_NE(loaded.model, nullptr);
  ReferenceModel reference(*loaded.file);
  ASSERT_TRUE(reference.ok());
  ASSERT_EQ(reference.vocab_size(), loaded.model->config().vocab_size);

  const std::vector<int32_t> tokens = {1, 168, 488, 80, 205, 336, 27, 40, 423, 277, 51, 190,
                                       301, 32, 468, 262, 112, 22, 47, 225};
  const auto expected = reference.Forward(tokens);
  kernels::ThreadPool pool(2);
  auto kv = MakeCache(*loaded.model, 1, static_cast<int>(tokens.size()), gguf::TensorType::kF32);
  ASSERT_NE(kv, nullptr);
  Session session(Blocks(0, static_cast<int32_t>(kv->num_blocks())));
  const auto logits = Evaluate(*loaded.model, *kv, session, tokens, pool);
  ASSERT_EQ(logits.size(), expected.size());
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    EXPECT_LE(NormalizedRmsError(logits[pos], expected[pos]), 1e-4) << "position " << pos;
    EXPECT_EQ(ArgMax(logits[pos]),
              std::max_element(expected[pos].begin(), expected[pos].end()) -
                  expected[pos].begin())
        << "position " << pos;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceForwardTest,
                         ::testing::Values("stories260K.gguf", "tiny-llama-F16.gguf",
                                           "tiny-qwen2-F16.gguf"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace hearth::model::testing
