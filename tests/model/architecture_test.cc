// Hyperparameters and tensor checks (architecture.h), rope frequencies (rotary.h), and the
// errors a malformed model file gets.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <set>

#include "hearth/gguf/gguf_writer.h"
#include "hearth/model/architecture.h"
#include "hearth/model/rotary.h"
#include "model/model_test_util.h"
#include "support/fixtures.h"

namespace hearth::model::testing {
namespace {

using hearth::testing::FixturePath;

gguf::GgufFile OpenFixture(const std::string& name) {
  auto file = gguf::GgufFile::Open(FixturePath("models/" + name));
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return std::move(file).value();
}

// A copy of `src` with edits: metadata overrides, dropped tensors, and extra F32 tensors.
struct Edits {
  std::vector<std::pair<std::string, gguf::MetaValue>> metadata;
  std::set<std::string> drop;
  std::vector<std::pair<std::string, std::vector<float>>> extra_vectors;  // 1-D F32 tensors
  std::vector<std::pair<std::string, std::vector<int64_t>>> extra_shapes;  // zero F32 tensors
};

// The returned file views `*bytes`, which must outlive it.
std::shared_ptr<const gguf::GgufFile> Rewrite(const gguf::GgufFile& src, const Edits& edits,
                                              std::string* bytes) {
  gguf::GgufWriter writer;
  for (const auto& kv : src.metadata()) {
    writer.Set(kv.key, gguf::MetaValue::FromValue(kv.value));
  }
  for (const auto& [key, value] : edits.metadata) writer.Set(key, value);
  std::vector<std::pair<std::string, std::string>> payloads;
  for (const auto& t : src.tensors()) {
    if (edits.drop.count(std::string(t.name))) continue;
    EXPECT_TRUE(writer.AddTensor(t.name, t.dims, t.type).ok());
    payloads.push_back({std::string(t.name),
                        std::string(reinterpret_cast<const char*>(t.data), t.size_bytes)});
  }
  for (const auto& [name, values] : edits.extra_vectors) {
    EXPECT_TRUE(writer.AddTensor(name, {static_cast<int64_t>(values.size())},
                                 gguf::TensorType::kF32).ok());
    payloads.push_back({name, std::string(reinterpret_cast<const char*>(values.data()),
                                          values.size() * sizeof(float))});
  }
  for (const auto& [name, dims] : edits.extra_shapes) {
    EXPECT_TRUE(writer.AddTensor(name, dims, gguf::TensorType::kF32).ok());
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    payloads.push_back({name, std::string(static_cast<size_t>(n) * sizeof(float), '\0')});
  }
  bytes->clear();  // BeginInMemory appends
  EXPECT_TRUE(writer.BeginInMemory(bytes).ok());
  for (const auto& [name, data] : payloads) {
    EXPECT_TRUE(writer
                    .WriteTensor(name, std::span(reinterpret_cast<const uint8_t*>(data.data()),
                                                 data.size()))
                    .ok());
  }
  EXPECT_TRUE(writer.Finish().ok());
  auto file = gguf::GgufFile::Parse(
      std::span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return std::make_shared<const gguf::GgufFile>(std::move(file).value());
}

TEST(ArchitectureTest, TableKnowsLlamaAndQwen2) {
  ASSERT_NE(FindArchitecture("llama"), nullptr);
  ASSERT_NE(FindArchitecture("qwen2"), nullptr);
  EXPECT_EQ(FindArchitecture("gpt2"), nullptr);
  EXPECT_FALSE(FindArchitecture("llama")->rope_neox);
  EXPECT_TRUE(FindArchitecture("qwen2")->rope_neox);
  EXPECT_TRUE(FindArchitecture("qwen2")->qkv_bias);
  EXPECT_EQ(SupportedArchitectureNames(), "llama, qwen2");
  EXPECT_EQ(LayerTensorName(3, "attn_q.weight"), "blk.3.attn_q.weight");
}

TEST(ArchitectureTest, ReadsLlamaHyperparameters) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  const auto file = OpenFixture("stories260K.gguf");
  auto config = ReadModelConfig(file);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->architecture, "llama");
  EXPECT_EQ(config->layers, 5);
  EXPECT_EQ(config->embedding_dim, 64);
  EXPECT_EQ(config->ffn_dim, 172);
  EXPECT_EQ(config->heads, 8);
  EXPECT_EQ(config->kv_heads, 4);
  EXPECT_EQ(config->head_dim, 8);
  EXPECT_EQ(config->rope_dims, 8);
  EXPECT_EQ(config->vocab_size, 512);
  EXPECT_EQ(config->context_length, 2048);
  EXPECT_FLOAT_EQ(config->rope_freq_base, 10000.f);
  EXPECT_NEAR(config->rms_eps, 1e-5f, 1e-9f);
  EXPECT_FALSE(config->rope_neox);
  EXPECT_FALSE(config->qkv_bias);
  EXPECT_FALSE(config->tied_output);
  EXPECT_EQ(config->rope_scaling_factor, 0.f);
}

TEST(ArchitectureTest, ReadsQwen2Hyperparameters) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/tiny-qwen2-Q8_0.gguf"));
  const auto file = OpenFixture("tiny-qwen2-Q8_0.gguf");
  auto config = ReadModelConfig(file);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->architecture, "qwen2");
  EXPECT_EQ(config->layers, 4);
  EXPECT_EQ(config->embedding_dim, 256);
  EXPECT_EQ(config->heads, 8);
  EXPECT_EQ(config->kv_heads, 2);
  EXPECT_EQ(config->head_dim, 32);
  EXPECT_FLOAT_EQ(config->rope_freq_base, 1e6f);
  EXPECT_NEAR(config->rms_eps, 1e-6f, 1e-10f);
  EXPECT_TRUE(config->rope_neox);
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_TRUE(config->tied_output);
}

class MalformedModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
    src_ = std::make_unique<gguf::GgufFile>(OpenFixture("stories260K.gguf"));
  }
  Status LoadWith(const Edits& edits) {
    auto file = Rewrite(*src_, edits, &bytes_);
    auto model = Model::Load(file);
    return model.ok() ? Status::Ok() : model.status();
  }
  std::unique_ptr<gguf::GgufFile> src_;
  std::string bytes_;
};

TEST_F(MalformedModelTest, UnchangedCopyLoads) { EXPECT_TRUE(LoadWith({}).ok()); }

TEST_F(MalformedModelTest, UnsupportedArchitectureIsNamed) {
  Edits edits;
  edits.metadata.push_back({"general.architecture", gguf::MetaValue::String("gpt2")});
  const Status s = LoadWith(edits);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("'gpt2'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("llama, qwen2"), std::string::npos) << s.message();
}

TEST_F(MalformedModelTest, MissingTensorIsNamed) {
  Edits edits;
  edits.drop.insert("blk.3.ffn_up.weight");
  const Status s = LoadWith(edits);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("blk.3.ffn_up.weight"), std::string::npos) << s.message();
}

TEST_F(MalformedModelTest, MisshapenTensorIsNamedWithBothShapes) {
  Edits edits;
  edits.drop.insert("blk.1.attn_k.weight");
  edits.extra_shapes.push_back({"blk.1.attn_k.weight", {64, 64}});
  const Status s = LoadWith(edits);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("blk.1.attn_k.weight"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[64, 64]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[64, 32]"), std::string::npos) << s.message();
}

TEST_F(MalformedModelTest, MissingOrInconsistentHyperparameters) {
  {
    std::string bytes;
    gguf::GgufWriter writer;
    for (const auto& kv : src_->metadata()) {
      if (kv.key != "llama.block_count") writer.Set(kv.key, gguf::MetaValue::FromValue(kv.value));
    }
    ASSERT_TRUE(writer.BeginInMemory(&bytes).ok());
    ASSERT_TRUE(writer.Finish().ok());
    auto file = gguf::GgufFile::Parse(
        std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    ASSERT_TRUE(file.ok());
    auto config = ReadModelConfig(*file);
    EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
    EXPECT_NE(config.status().message().find("llama.block_count"), std::string::npos);
  }
  Edits heads;
  heads.metadata.push_back({"llama.attention.head_count_kv", gguf::MetaValue::Uint32(3)});
  EXPECT_EQ(LoadWith(heads).code(), StatusCode::kInvalidArgument);
  Edits zero;
  zero.metadata.push_back({"llama.embedding_length", gguf::MetaValue::Uint32(0)});
  EXPECT_EQ(LoadWith(zero).code(), StatusCode::kOutOfRange);
  Edits rope;
  rope.metadata.push_back({"llama.rope.scaling.type", gguf::MetaValue::String("yarn")});
  EXPECT_EQ(LoadWith(rope).code(), StatusCode::kUnimplemented);
  Edits bad_freqs;
  bad_freqs.extra_vectors.push_back({"rope_freqs.weight", {1, 1, 1}});  // needs 4
  EXPECT_EQ(LoadWith(bad_freqs).code(), StatusCode::kInvalidArgument);
}

// Runs stories260K with `edits` on a fixed prompt; returns the last position's logits.
std::vector<float> RunEdited(const gguf::GgufFile& src, const Edits& edits) {
  std::string bytes;
  auto file = Rewrite(src, edits, &bytes);
  auto model = Model::Load(file);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return {};
  kernels::ThreadPool pool(1);
  const std::vector<int32_t> prompt = {1, 291, 376, 400, 428, 286, 261, 376, 298, 315, 421, 395};
  auto kv = MakeCache(**model, 1, static_cast<int>(prompt.size()));
  Session session(Blocks(0, static_cast<int32_t>(kv->num_blocks())));
  return Evaluate(**model, *kv, session, prompt, pool).back();
}

TEST_F(MalformedModelTest, RopeFrequencyFactorsDivideTheFrequencies) {
  const std::vector<float> base = RunEdited(*src_, {});
  Edits ones;
  ones.extra_vectors.push_back({"rope_freqs.weight", {1, 1, 1, 1}});
  const std::vector<float> with_ones = RunEdited(*src_, ones);
  EXPECT_LE(NormalizedRmsError(with_ones, std::vector<double>(base.begin(), base.end())), 1e-6);

  // Dividing every frequency by 2 is linear scaling by 2: positions count half.
  Edits twos;
  twos.extra_vectors.push_back({"rope_freqs.weight", {2, 2, 2, 2}});
  const std::vector<float> with_twos = RunEdited(*src_, twos);
  Edits linear;
  linear.metadata.push_back({"llama.rope.scaling.type", gguf::MetaValue::String("linear")});
  linear.metadata.push_back({"llama.rope.scaling.factor", gguf::MetaValue::Float32(2.f)});
  const std::vector<float> with_linear = RunEdited(*src_, linear);
  EXPECT_LE(NormalizedRmsError(with_twos, std::vector<double>(with_linear.begin(),
                                                              with_linear.end())),
            1e-6);
  EXPECT_GT(NormalizedRmsError(with_twos, std::vector<double>(base.begin(), base.end())), 1e-3);
}

TEST(RotaryTest, Llama3ScalingKeepsHighFrequenciesAndSlowsLowOnes) {
  ModelConfig config;
  config.rope_dims = 128;
  config.rope_freq_base = 500000.f;
  config.rope_scaling_factor = 8.f;
  config.rope_low_freq_factor = 1.f;
  config.rope_high_freq_factor = 4.f;
  config.rope_original_context = 8192;
  auto scaled = RopeInverseFrequencies(config, {});
  ASSERT_TRUE(scaled.ok());
  ModelConfig plain = config;
  plain.rope_scaling_factor = 0.f;
  auto unscaled = RopeInverseFrequencies(plain, {});
  ASSERT_TRUE(unscaled.ok());
  ASSERT_EQ(scaled->size(), 64u);
  // Wavelength 2π/f below 8192/4 = 2048: unchanged. Above 8192/1: divided by 8.
  int kept = 0, divided = 0, blended = 0;
  for (size_t i = 0; i < 64; ++i) {
    const double f = (*unscaled)[i];
    const double wavelen = 2 * std::numbers::pi / f;
    EXPECT_NEAR(f, std::pow(500000.0, -2.0 * static_cast<double>(i) / 128), 1e-12 * (1 + f));
    if (wavelen < 2048) {
      EXPECT_DOUBLE_EQ((*scaled)[i], f) << i;
      ++kept;
    } else if (wavelen > 8192) {
      EXPECT_DOUBLE_EQ((*scaled)[i], f / 8) << i;
      ++divided;
    } else {
      // In between: a blend, strictly between the two, decreasing with wavelength.
      EXPECT_LT((*scaled)[i], f);
      EXPECT_GT((*scaled)[i], f / 8);
      const double smooth = (8192 / wavelen - 1) / (4 - 1);
      EXPECT_NEAR((*scaled)[i], (1 - smooth) * f / 8 + smooth * f, 1e-15);
      ++blended;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
}

TEST(RotaryTest, RotatesAdjacentPairsOrHalves) {
  const std::vector<double> inv_freq = {1.0, 0.5};
  std::vector<float> cos_sin(4);
  RopeAngles(inv_freq, 3, cos_sin.data());
  EXPECT_FLOAT_EQ(cos_sin[0], static_cast<float>(std::cos(3.0)));
  EXPECT_FLOAT_EQ(cos_sin[3], static_cast<float>(std::sin(1.5)));
  // rope_dims 4 of head_dim 6: the last two values are left alone.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<float> normal = x, neox = x;
  ApplyRope(normal.data(), 1, 6, 4, /*neox=*/false, cos_sin.data());
  ApplyRope(neox.data(), 1, 6, 4, /*neox=*/true, cos_sin.data());
  const double c0 = std::cos(3.0), s0 = std::sin(3.0), c1 = std::cos(1.5), s1 = std::sin(1.5);
  EXPECT_NEAR(normal[0], 1 * c0 - 2 * s0, 1e-6);
  EXPECT_NEAR(normal[1], 1 * s0 + 2 * c0, 1e-6);
  EXPECT_NEAR(normal[2], 3 * c1 - 4 * s1, 1e-6);
  EXPECT_NEAR(normal[3], 3 * s1 + 4 * c1, 1e-6);
  EXPECT_NEAR(neox[0], 1 * c0 - 3 * s0, 1e-6);
  EXPECT_NEAR(neox[2], 1 * s0 + 3 * c0, 1e-6);
  EXPECT_NEAR(neox[1], 2 * c1 - 4 * s1, 1e-6);
  EXPECT_NEAR(neox[3], 2 * s1 + 4 * c1, 1e-6);
  EXPECT_EQ(normal[4], 5);
  EXPECT_EQ(neox[5], 6);
}

}  // namespace
}  // namespace hearth::model::testing
