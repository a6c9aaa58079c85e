// Memory fit against a hand computation for the "tiny" synthetic llama (2 layers, 128 wide,
// FFN 256, 4 heads / 2 KV heads of 32, vocabulary 320, F16 matrices and F32 norms).
#include "hearth/platform/memory_fit.h"

#include <gtest/gtest.h>

#include <fstream>

#include "hearth/gguf/synth.h"
#include "support/fixtures.h"

namespace hearth::platform {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// Tensor bytes of the tiny model, from its shapes.
uint64_t TinyWeightBytes() {
  const uint64_t embd = 128, ff = 256, vocab = 320, kv_width = 2 * 32, layers = 2;
  const uint64_t per_layer_f16 = embd * embd            // attn_q
                                 + embd * kv_width * 2  // attn_k, attn_v
                                 + embd * embd          // attn_output
                                 + 3 * embd * ff;       // ffn_gate, ffn_up, ffn_down
  const uint64_t f16_elements = layers * per_layer_f16 + 2 * vocab * embd;  // + embd, output
  const uint64_t f32_elements = layers * 2 * embd + embd;                  // norms
  return f16_elements * 2 + f32_elements * 4;
}

// The engine-side overhead for ctx and parallel: one 512-token batch's activations
// (4 × embd + 2 × ffn floats per token), logits (vocab floats per token), one layer's attention
// scores (heads × ctx floats per token), 64 MiB margin, and per-sequence logits.
uint64_t TinyOverhead(uint64_t ctx, uint64_t parallel) {
  return 512 * (4 * 128 + 2 * 256) * 4 + 512 * 320 * 4 + 512 * 4 * ctx * 4 + 64 * kMiB +
         320 * parallel * 4;
}

class MemoryFitTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new hearth::testing::TempDir();
    gguf::SynthOptions options;
    options.shape = gguf::ShapePreset("tiny", "llama").value();
    ASSERT_TRUE(gguf::SynthesizeModel(*dir_ / "tiny.gguf", options).ok());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::filesystem::path ModelPath() { return *dir_ / "tiny.gguf"; }
  static hearth::testing::TempDir* dir_;
};
hearth::testing::TempDir* MemoryFitTest::dir_ = nullptr;

TEST_F(MemoryFitTest, MatchesHandComputationForTinyModel) {
  auto need = ReplicaMemoryForModel(ModelPath(), 256, 2, 0);
  ASSERT_TRUE(need.ok()) << need.status().ToString();
  EXPECT_EQ(need->weight_bytes, TinyWeightBytes());
  // K and V × 2 layers × 2 KV heads × 32 dims × 2 bytes = 512 bytes per token.
  EXPECT_EQ(need->kv_bytes, 512u * 256 * 2);
  EXPECT_EQ(need->overhead_bytes, TinyOverhead(256, 2));
  EXPECT_EQ(need->total(), TinyWeightBytes() + 512u * 256 * 2 + TinyOverhead(256, 2));
}

TEST_F(MemoryFitTest, ContextRoundsUpToWholeKvBlocks) {
  auto need = ReplicaMemoryForModel(ModelPath(), 100, 3, 0);
  ASSERT_TRUE(need.ok());
  EXPECT_EQ(need->kv_bytes, 512u * 112 * 3);  // 100 tokens occupy 7 blocks of 16
}

TEST_F(MemoryFitTest, KvBudgetReplacesDerivedSize) {
  auto need = ReplicaMemoryForModel(ModelPath(), 256, 4, 5'000'000);
  ASSERT_TRUE(need.ok());
  EXPECT_EQ(need->kv_bytes, 5'000'000u);
  EXPECT_EQ(need->overhead_bytes, TinyOverhead(256, 4));
}

TEST_F(MemoryFitTest, NonModelFileIsAnError) {
  const auto path = *dir_ / "not-a-model.gguf";
  std::ofstream(path) << "hello";
  EXPECT_FALSE(ReplicaMemoryForModel(path, 256, 1, 0).ok());
  EXPECT_FALSE(ReplicaMemoryForModel(*dir_ / "missing.gguf", 256, 1, 0).ok());
}

TEST(MemAvailableTest, ParsesKibibytes) {
  auto available = ParseMemAvailable(
      "MemTotal:       16384000 kB\nMemFree:         1000000 kB\n"
      "MemAvailable:    2621440 kB\nBuffers:          12345 kB\n");
  ASSERT_TRUE(available.ok()) << available.status().ToString();
  EXPECT_EQ(*available, 2621440ull * 1024);
}

TEST(MemAvailableTest, RejectsMissingOrMalformed) {
  EXPECT_EQ(ParseMemAvailable("MemTotal: 1 kB\n").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseMemAvailable("MemAvailable: lots kB\n").status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(ParseMemAvailable("MemAvailable: 12 MB\n").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ParseMemAvailable("MemAvailable: 99999999999999999999 kB\n").status().code(),
            StatusCode::kCorruption);
}

TEST(MemAvailableTest, ReadsThisNodeAndFiles) {
  auto node = ReadMemAvailable();
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_GT(*node, 0u);
  hearth::testing::TempDir dir;
  std::ofstream(dir / "meminfo") << "MemAvailable:  1024 kB\n";
  EXPECT_EQ(ReadMemAvailable(dir / "meminfo").value_or(0), 1024u * 1024);
  EXPECT_EQ(ReadMemAvailable(dir / "absent").status().code(), StatusCode::kIoError);
}

TEST(FormatBytesTest, BinaryUnitsOneDecimal) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(512 * kMiB), "512.0 MiB");
  EXPECT_EQ(FormatBytes(5 * kGiB / 2), "2.5 GiB");
  EXPECT_EQ(FormatBytes(2048 * kGiB), "2.0 TiB");
}

TEST(CheckMemoryFitTest, FitsExactlyAndRefusesWithNumbers) {
  ReplicaMemory need;
  need.weight_bytes = 2 * kGiB + 100 * kMiB;  // 2.1 GiB
  need.kv_bytes = kGiB;
  need.overhead_bytes = 100 * kMiB;           // total 3.2 GiB
  EXPECT_TRUE(CheckMemoryFit("deployment 'x'", need, 2, 2 * need.total()).ok());
  EXPECT_TRUE(CheckMemoryFit("deployment 'x'", need, 0, 0).ok());
  const Status refused = CheckMemoryFit("deployment 'x'", need, 2, 5 * kGiB / 2);
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(),
            "deployment 'x' does not fit in memory: needs 3.2 GiB (weights 2.1 GiB + KV 1.0 GiB + "
            "overhead 100.0 MiB) × 2 replicas, node has 2.5 GiB available: 3.9 GiB short");
  EXPECT_NE(CheckMemoryFit("d", need, 1, need.total() - 1).message().find("1 replica,"),
            std::string::npos);
}

}  // namespace
}  // namespace hearth::platform
