// Whole-model quantization: the per-tensor type mix against the files llama.cpp's quantizer
// produced, and requantized weights against their originals.
#include "hearth/gguf/quantize_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "hearth/base/file_util.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/quantize.h"
#include "hearth/gguf/synth.h"
#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

using ::testing::HasSubstr;

TensorContext ContextOf(const GgufFile& f) {
  TensorContext c;
  c.n_layers = static_cast<int64_t>(*f.ArchUint("block_count"));
  c.n_gqa = static_cast<int64_t>(*f.ArchUint("attention.head_count") /
                                 *f.ArchUint("attention.head_count_kv"));
  c.has_output = f.FindTensor("output.weight") != nullptr;
  return c;
}

struct MixCase {
  const char* model;   // tiny-llama / tiny-qwen2
  const char* recipe;  // as in the fixture file name
};

class RecipeMixTest : public ::testing::TestWithParam<MixCase> {};

// The fixtures were quantized by llama.cpp from one F32 original: our rules must choose the
// type llama.cpp chose for every tensor.
TEST_P(RecipeMixTest, MatchesLlamaCppChoices) {
  const MixCase c = GetParam();
  auto source_path = testing::FixturePath(std::string("models/") + c.model + "-F16.gguf");
  auto quant_path =
      testing::FixturePath(std::string("models/") + c.model + "-" + c.recipe + ".gguf");
  HEARTH_REQUIRE_FIXTURE(source_path);
  HEARTH_REQUIRE_FIXTURE(quant_path);
  auto source = GgufFile::Open(source_path);
  auto quant = GgufFile::Open(quant_path);
  ASSERT_TRUE(source.ok() && quant.ok());
  auto recipe = FindRecipe(c.recipe);
  ASSERT_TRUE(recipe.ok());
  EXPECT_EQ(*quant->GetUint("general.file_type"), recipe->file_type);
  TensorContext context = ContextOf(*source);
  for (const auto& t : source->tensors()) {
    context.name = t.name;
    context.dims = t.dims;
    const TensorInfo* q = quant->FindTensor(t.name);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(TraitsOf(ChooseTensorType(*recipe, context)).name, TraitsOf(q->type).name)
        << c.model << " " << c.recipe << " " << t.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RecipeMixTest,
    ::testing::Values(MixCase{"tiny-llama", "Q8_0"}, MixCase{"tiny-llama", "Q4_0"},
                      MixCase{"tiny-llama", "Q4_1"}, MixCase{"tiny-llama", "Q5_0"},
                      MixCase{"tiny-llama", "Q5_1"}, MixCase{"tiny-llama", "Q2_K"},
                      MixCase{"tiny-llama", "Q3_K_M"}, MixCase{"tiny-llama", "Q4_K_M"},
                      MixCase{"tiny-llama", "Q5_K_M"}, MixCase{"tiny-llama", "Q6_K"},
                      MixCase{"tiny-llama", "BF16"}, MixCase{"tiny-qwen2", "Q4_K_M"},
                      MixCase{"tiny-qwen2", "Q5_K_M"}, MixCase{"tiny-qwen2", "Q6_K"},
                      MixCase{"tiny-qwen2", "Q8_0"}),
    [](const auto& info) {
      std::string name = std::string(info.param.model) + "_" + info.param.recipe;
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

TEST(QuantizeModelTest, RowsThatDoNotFitFallBack) {
  const QuantRecipe q4km = *FindRecipe("q4_k_m");
  TensorContext c;
  c.n_layers = 8;
  c.name = "blk.0.ffn_up.weight";
  c.dims = {128, 64};
  EXPECT_EQ(ChooseTensorType(q4km, c), TensorType::kQ5_0);
  c.name = "output.weight";
  EXPECT_EQ(ChooseTensorType(q4km, c), TensorType::kQ8_0);  // Q6_K does not fit
  c.dims = {48, 64};
  EXPECT_EQ(ChooseTensorType(q4km, c), TensorType::kF16);
  c.name = "blk.0.attn_norm.weight";
  c.dims = {256};
  EXPECT_EQ(ChooseTensorType(q4km, c), TensorType::kF32);
  EXPECT_EQ(LayerIndexOf("blk.17.ffn_down.weight"), 17);
  EXPECT_EQ(LayerIndexOf("token_embd.weight"), -1);
  EXPECT_EQ(LayerIndexOf("blk.x.y"), -1);
}

TEST(QuantizeModelTest, UnknownRecipeNamesTheKnownOnes) {
  EXPECT_THAT(FindRecipe("q7").status().message(), HasSubstr("Q4_K_M"));
  EXPECT_EQ(FindRecipe("q4_k_m")->base, TensorType::kQ4_K);
}

// A tiny synthetic model with 256-wide rows, so that K-quants apply everywhere.
std::filesystem::path MakeSource(const testing::TempDir& dir) {
  SynthOptions o;
  o.shape = *ShapePreset("tiny", "qwen2");
  o.shape.n_embd = 256;
  o.shape.n_heads = 4;
  o.shape.n_kv_heads = 2;
  o.shape.n_ff = 512;
  o.shape.n_layers = 4;
  o.type = "f16";
  o.seed = 11;
  auto path = dir / "source.gguf";
  EXPECT_TRUE(SynthesizeModel(path, o).ok());
  return path;
}

double RelativeRmsError(const TensorInfo& a, const TensorInfo& b) {
  std::vector<float> x(static_cast<size_t>(a.element_count)), y(x.size());
  DequantizeRow(a.type, a.data, x.data(), a.element_count);
  DequantizeRow(b.type, b.data, y.data(), b.element_count);
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (x[i] - y[i]) * (x[i] - y[i]);
    ref += x[i] * x[i];
  }
  return std::sqrt(err / ref);
}

void CheckQuantized(const std::string& recipe_name, double max_error) {
  testing::TempDir dir;
  const auto source_path = MakeSource(dir);
  QuantizeOptions options;
  options.type = recipe_name;
  options.progress = false;
  auto report = QuantizeModel(source_path, dir / "out.gguf", options);
  ASSERT_TRUE(report.ok()) << report.status().message();
  auto source = GgufFile::Open(source_path);
  auto out = GgufFile::Open(dir / "out.gguf");
  ASSERT_TRUE(source.ok() && out.ok()) << out.status().message();
  const QuantRecipe recipe = *FindRecipe(recipe_name);
  EXPECT_EQ(*out->GetUint("general.file_type"), recipe.file_type);
  EXPECT_EQ(*out->GetUint("general.quantization_version"), 2u);
  EXPECT_EQ(out->GetStringArray("tokenizer.ggml.tokens")->size(),
            source->GetStringArray("tokenizer.ggml.tokens")->size());
  EXPECT_EQ(report->tensors, static_cast<int64_t>(source->tensors().size()));
  TensorContext context = ContextOf(*source);
  ASSERT_EQ(out->tensors().size(), source->tensors().size());
  for (const auto& t : source->tensors()) {
    const TensorInfo* q = out->FindTensor(t.name);
    ASSERT_NE(q, nullptr);
    context.name = t.name;
    context.dims = t.dims;
    EXPECT_EQ(q->type, ChooseTensorType(recipe, context)) << t.name;
    EXPECT_EQ(q->dims, t.dims);
    EXPECT_LT(RelativeRmsError(t, *q), max_error) << t.name << " " << TraitsOf(q->type).name;
  }
}

TEST(QuantizeModelTest, ToQ8_0) { CheckQuantized("q8_0", 0.01); }

TEST(QuantizeModelTest, ToQ4_K_M) {
  CheckQuantized("q4_k_m", 0.12);
  // With 4 layers, the Q4_K_M mix upgrades attn_v and ffn_down of layers 2 and 3 (as llama.cpp
  // does for its tiny fixtures), and the tied token embedding is the output: Q6_K.
  const QuantRecipe r = *FindRecipe("q4_k_m");
  TensorContext c;
  c.n_layers = 4;
  c.has_output = false;
  c.dims = {256, 256};
  for (int layer = 0; layer < 4; ++layer) {
    const std::string name = "blk." + std::to_string(layer) + ".attn_v.weight";
    c.name = name;
    EXPECT_EQ(ChooseTensorType(r, c), layer >= 2 ? TensorType::kQ6_K : TensorType::kQ4_K);
  }
  c.name = "token_embd.weight";
  EXPECT_EQ(ChooseTensorType(r, c), TensorType::kQ6_K);
}

TEST(QuantizeModelTest, OutputDoesNotDependOnThreadCount) {
  testing::TempDir dir;
  const auto source = MakeSource(dir);
  QuantizeOptions options;
  options.type = "q5_k_m";
  options.progress = false;
  options.threads = 1;
  ASSERT_TRUE(QuantizeModel(source, dir / "a.gguf", options).ok());
  options.threads = 3;
  ASSERT_TRUE(QuantizeModel(source, dir / "b.gguf", options).ok());
  EXPECT_EQ(*ReadFileToString(dir / "a.gguf"), *ReadFileToString(dir / "b.gguf"));
}

TEST(QuantizeModelTest, RefusesToOverwriteItsInput) {
  testing::TempDir dir;
  const auto source = MakeSource(dir);
  QuantizeOptions options;
  EXPECT_THAT(QuantizeModel(source, source, options).status().message(),
              HasSubstr("overwrite the input"));
  EXPECT_FALSE(QuantizeModel(dir / "missing.gguf", dir / "x.gguf", options).ok());
}

}  // namespace
}  // namespace hearth::gguf
