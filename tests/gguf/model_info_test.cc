// ModelInfo / memory estimate, and the `hearth model` commands driven as a process.
#include "hearth/gguf/model_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "hearth/base/file_util.h"
#include "hearth/gguf/gguf_writer.h"
#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

using ::testing::HasSubstr;

TEST(ModelInfoTest, DescribesTinyQwen2Fixture) {
  auto path = testing::FixturePath("models/tiny-qwen2-Q4_K_M.gguf");
  HEARTH_REQUIRE_FIXTURE(path);
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  auto info = DescribeModel(*f);
  ASSERT_TRUE(info.ok()) << info.status().message();
  // Facts from the fixtures' README: 4 layers, dim 256, 8 heads, 2 KV heads (head_dim 32),
  // FFN 768, 512-token vocabulary, rope theta 1e6, tied output, Q/K/V biases.
  EXPECT_EQ(info->architecture, "qwen2");
  EXPECT_EQ(info->layers, 4);
  EXPECT_EQ(info->embedding_dim, 256);
  EXPECT_EQ(info->heads, 8);
  EXPECT_EQ(info->kv_heads, 2);
  EXPECT_EQ(info->head_dim, 32);
  EXPECT_EQ(info->ffn_dim, 768);
  EXPECT_EQ(info->vocab_size, 512);
  EXPECT_EQ(info->rope_freq_base, 1e6);
  EXPECT_TRUE(info->tied_output);
  EXPECT_EQ(info->tokenizer_model, "llama");
  EXPECT_FALSE(info->has_chat_template);
  EXPECT_EQ(info->file_type, 15u);
  const int64_t per_layer = 2 * 256                // norms
                            + 256 * 256 + 256      // q + bias
                            + 2 * (256 * 64 + 64)  // k, v + biases
                            + 256 * 256            // o
                            + 3 * 256 * 768;       // gate, up, down
  EXPECT_EQ(info->parameters, 512 * 256 + 256 + 4 * per_layer);
  EXPECT_EQ(info->tensor_count, 50);
  // The mix: 1-D tensors in F32, the tied embedding in Q6_K, the rest Q4_K/Q6_K.
  int64_t tensors = 0;
  uint64_t bytes = 0;
  std::map<std::string, int64_t> counts;
  for (const auto& u : info->type_mix) {
    tensors += u.tensors;
    bytes += u.bytes;
    counts[u.type] = u.tensors;
  }
  EXPECT_EQ(tensors, 50);
  EXPECT_EQ(counts["F32"], 4 * 5 + 1);
  EXPECT_EQ(counts["Q6_K"], 1 + 2 * 2);  // token_embd + attn_v, ffn_down of layers 2 and 3
  EXPECT_EQ(counts["Q4_K"], 50 - 21 - 5);
  EXPECT_EQ(bytes, info->weight_bytes);
  EXPECT_LT(info->weight_bytes, info->file_bytes);
  for (size_t i = 1; i < info->type_mix.size(); ++i) {
    EXPECT_GE(info->type_mix[i - 1].bytes, info->type_mix[i].bytes);
  }
}

TEST(ModelInfoTest, MemoryEstimateFollowsTheStatedFormula) {
  ModelInfo info;
  info.layers = 28;
  info.kv_heads = 4;
  info.heads = 28;
  info.head_dim = 128;
  info.embedding_dim = 3584;
  info.ffn_dim = 18944;
  info.vocab_size = 152064;
  info.context_length = 131072;
  info.weight_bytes = 4'000'000'000;
  const MemoryEstimate m = EstimateMemory(info, 4096, 2);
  // 2 (K, V) x 28 layers x 4 KV heads x 128 dims = 28672 elements per token.
  EXPECT_EQ(m.kv_bytes_per_token_f16, 28672u * 2);
  EXPECT_EQ(m.kv_bytes_per_token_q8_0, 28672u / 32 * 34);
  EXPECT_EQ(m.kv_bytes_f16, 28672ull * 2 * 4096 * 2);
  EXPECT_EQ(m.kv_bytes_q8_0, 28672ull / 32 * 34 * 4096 * 2);
  const uint64_t compute = 512ull * (4 * 3584 + 2 * 18944) * 4 + 512ull * 152064 * 4 +
                           512ull * 28 * 4096 * 4 + (64ull << 20);
  EXPECT_EQ(m.compute_bytes, compute);
  EXPECT_EQ(m.total_f16, 4'000'000'000ull + m.kv_bytes_f16 + compute);
  EXPECT_EQ(m.total_q8_0, 4'000'000'000ull + m.kv_bytes_q8_0 + compute);
  // ctx 0 means the model's own context length; parallel is at least 1.
  const MemoryEstimate d = EstimateMemory(info, 0, 0);
  EXPECT_EQ(d.ctx, 131072);
  EXPECT_EQ(d.parallel, 1);
}

TEST(ModelInfoTest, RefusesVocabularyOnlyFiles) {
  GgufWriter w;
  w.SetString("tokenizer.ggml.model", "gpt2");
  std::string bytes;
  ASSERT_TRUE(w.BeginInMemory(&bytes).ok());
  ASSERT_TRUE(w.Finish().ok());
  auto f = GgufFile::Parse({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(f.ok());
  EXPECT_THAT(DescribeModel(*f).status().message(), HasSubstr("not a model file"));
}

// A 7B-shaped F16 file whose 15 GB of data is a hole: describing it must only touch the header.
TEST(ModelInfoTest, SevenBillionShapedFileIsDescribedFromTheHeaderAlone) {
  GgufWriter w;
  w.SetString("general.architecture", "qwen2");
  w.SetUint32("qwen2.block_count", 28);
  w.SetUint32("qwen2.embedding_length", 3584);
  w.SetUint32("qwen2.feed_forward_length", 18944);
  w.SetUint32("qwen2.attention.head_count", 28);
  w.SetUint32("qwen2.attention.head_count_kv", 4);
  w.SetUint32("qwen2.context_length", 131072);
  w.SetString("qwen2.rope.scaling.type", "yarn");
  w.SetFloat32("qwen2.rope.scaling.factor", 4.0f);
  const int64_t d = 3584, ff = 18944, kv = 512, vocab = 152064;
  ASSERT_TRUE(w.AddTensor("token_embd.weight", {d, vocab}, TensorType::kF16).ok());
  ASSERT_TRUE(w.AddTensor("output.weight", {d, vocab}, TensorType::kF16).ok());
  int64_t params = 2 * d * vocab;
  for (int i = 0; i < 28; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    ASSERT_TRUE(w.AddTensor(p + "attn_q.weight", {d, d}, TensorType::kF16).ok());
    ASSERT_TRUE(w.AddTensor(p + "attn_k.weight", {d, kv}, TensorType::kF16).ok());
    ASSERT_TRUE(w.AddTensor(p + "attn_v.weight", {d, kv}, TensorType::kF16).ok());
    ASSERT_TRUE(w.AddTensor(p + "attn_output.weight", {d, d}, TensorType::kF16).ok());
    ASSERT_TRUE(w.AddTensor(p + "ffn_gate.weight", {d, ff}, TensorType::kF16).ok());
    ASSERT_TRUE(w.AddTensor(p + "ffn_up.weight", {d, ff}, TensorType::kF16).ok());
    ASSERT_TRUE(w.AddTensor(p + "ffn_down.weight", {ff, d}, TensorType::kF16).ok());
    params += 2 * d * d + 2 * d * kv + 3 * d * ff;
  }
  std::string header;
  ASSERT_TRUE(w.BeginInMemory(&header).ok());  // header only: no tensor bytes appended
  const auto& last = w.tensors().back();
  testing::TempDir dir;
  const auto path = dir / "7b.gguf";
  ASSERT_TRUE(AtomicWriteFile(path, header).ok());
  const uint64_t full_size = header.size() + last.offset + last.size_bytes;
  ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(full_size)), 0);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  ASSERT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 1u << 20) << "file should be sparse";

  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto info = DescribeModel(*f);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->parameters, params);
  EXPECT_EQ(info->weight_bytes, static_cast<uint64_t>(params) * 2);
  EXPECT_EQ(info->head_dim, 128);
  EXPECT_EQ(info->rope_scaling_type, "yarn");
  EXPECT_EQ(info->rope_scaling_factor, 4.0);
  EXPECT_FALSE(info->tied_output);
  EXPECT_EQ(info->vocab_size, 0);  // no tokenizer, no vocab_size key
}

// `hearth model synth` then `inspect --json` and `quantize`, as a user would run them.
class ModelCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing::HearthBinary())) {
      GTEST_SKIP() << "hearth binary not built: " << testing::HearthBinary();
    }
  }
  testing::CommandResult Hearth(const std::string& args) {
    return testing::RunCommand(testing::HearthBinary().string() + " " + args);
  }
};

TEST_F(ModelCommandTest, SynthInspectQuantize) {
  testing::TempDir dir;
  const std::string model = (dir / "m.gguf").string();
  auto synth = Hearth("model synth " + model + " --arch qwen2 --preset tiny --type f16 --seed 3");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  auto inspect = Hearth("model inspect " + model + " --json --ctx 1024 --parallel 2");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto j = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(j["architecture"], "qwen2");
  EXPECT_EQ(j["layers"], 2);
  EXPECT_EQ(j["tied_output"], true);
  EXPECT_EQ(j["memory"]["ctx"], 1024);
  EXPECT_EQ(j["memory"]["parallel"], 2);
  // 2 x 2 layers x 2 KV heads x 32 dims x 2 bytes.
  EXPECT_EQ(j["memory"]["kv_bytes_per_token"]["f16"], 512);
  const std::string q = (dir / "q.gguf").string();
  auto quantize = Hearth("model quantize " + model + " " + q + " --type q8_0");
  ASSERT_EQ(quantize.exit_code, 0) << quantize.err;
  EXPECT_TRUE(quantize.out.empty());
  auto text = Hearth("model inspect " + q);
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("Q8_0"));
  EXPECT_THAT(text.out, HasSubstr("KV cache per token"));
}

TEST_F(ModelCommandTest, ErrorsAreOneLine) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "bad.gguf", std::string("GGUF\x02\0\0\0garbage", 15)).ok());
  auto r = Hearth("model inspect " + (dir / "bad.gguf").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("hearth: "));
  EXPECT_THAT(r.err, HasSubstr("gguf: byte 8"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  auto q = Hearth("model quantize " + (dir / "bad.gguf").string() + " " +
                  (dir / "o.gguf").string() + " --type q9");
  EXPECT_NE(q.exit_code, 0);
  EXPECT_THAT(q.err, HasSubstr("unknown quantization type 'q9'"));
  auto s = Hearth("model synth " + (dir / "s.gguf").string() + " --preset nope");
  EXPECT_NE(s.exit_code, 0);
  EXPECT_THAT(s.err, HasSubstr("unknown preset 'nope'"));
}

}  // namespace
}  // namespace hearth::gguf
