// Synthetic models: determinism, shapes, metadata an engine needs, weight statistics.
#include "hearth/gguf/synth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "hearth/base/file_util.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/quantize.h"
#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

using ::testing::HasSubstr;

SynthOptions TinyOptions(std::string arch = "llama", uint64_t seed = 1) {
  SynthOptions o;
  o.shape = *ShapePreset("tiny", arch);
  o.seed = seed;
  return o;
}

std::vector<float> Floats(const TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.element_count));
  DequantizeRow(t.type, t.data, out.data(), t.element_count);
  return out;
}

TEST(SynthTest, SameSeedSameBytesOtherSeedOtherBytes) {
  testing::TempDir dir;
  ASSERT_TRUE(SynthesizeModel(dir / "a.gguf", TinyOptions("llama", 7)).ok());
  SynthOptions one_thread = TinyOptions("llama", 7);
  one_thread.threads = 1;
  ASSERT_TRUE(SynthesizeModel(dir / "b.gguf", one_thread).ok());
  ASSERT_TRUE(SynthesizeModel(dir / "c.gguf", TinyOptions("llama", 8)).ok());
  const std::string a = *ReadFileToString(dir / "a.gguf");
  EXPECT_EQ(a, *ReadFileToString(dir / "b.gguf"));
  const std::string c = *ReadFileToString(dir / "c.gguf");
  ASSERT_EQ(a.size(), c.size());
  EXPECT_NE(a, c);
  EXPECT_LT(a.size(), 5u << 20);
}

// Tensor names and ggml dims [in, out] listed from the llama/qwen2 layout.
std::map<std::string, std::vector<int64_t>> ExpectedTensors(const ModelShape& s) {
  const int64_t hd = s.n_embd / s.n_heads;
  std::map<std::string, std::vector<int64_t>> m;
  m["token_embd.weight"] = {s.n_embd, s.vocab};
  if (!s.tied_output) m["output.weight"] = {s.n_embd, s.vocab};
  m["output_norm.weight"] = {s.n_embd};
  for (int64_t i = 0; i < s.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    m[p + "attn_norm.weight"] = {s.n_embd};
    m[p + "attn_q.weight"] = {s.n_embd, s.n_heads * hd};
    m[p + "attn_k.weight"] = {s.n_embd, s.n_kv_heads * hd};
    m[p + "attn_v.weight"] = {s.n_embd, s.n_kv_heads * hd};
    m[p + "attn_output.weight"] = {s.n_heads * hd, s.n_embd};
    m[p + "ffn_norm.weight"] = {s.n_embd};
    m[p + "ffn_gate.weight"] = {s.n_embd, s.n_ff};
    m[p + "ffn_up.weight"] = {s.n_embd, s.n_ff};
    m[p + "ffn_down.weight"] = {s.n_ff, s.n_embd};
    if (s.qkv_bias) {
      m[p + "attn_q.bias"] = {s.n_heads * hd};
      m[p + "attn_k.bias"] = {s.n_kv_heads * hd};
      m[p + "attn_v.bias"] = {s.n_kv_heads * hd};
    }
  }
  return m;
}

void ExpectTensors(const GgufFile& f, const ModelShape& shape) {
  const auto want = ExpectedTensors(shape);
  ASSERT_EQ(f.tensors().size(), want.size());
  for (const auto& [name, dims] : want) {
    const TensorInfo* t = f.FindTensor(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dims, dims) << name;
  }
}

TEST(SynthTest, TinyLlamaHasEveryTensorWithItsShape) {
  testing::TempDir dir;
  SynthOptions o = TinyOptions("llama");
  ASSERT_TRUE(SynthesizeModel(dir / "m.gguf", o).ok());
  auto f = GgufFile::Open(dir / "m.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  ModelShape shape = o.shape;
  shape.vocab = static_cast<int64_t>(f->GetStringArray("tokenizer.ggml.tokens")->size());
  ExpectTensors(*f, shape);
  EXPECT_NE(f->FindTensor("output.weight"), nullptr);
  EXPECT_EQ(f->FindTensor("blk.0.attn_q.weight")->type, TensorType::kF16);
  EXPECT_EQ(f->FindTensor("blk.0.attn_norm.weight")->type, TensorType::kF32);
}

TEST(SynthTest, TinyQwen2HasBiasesAndTiedOutput) {
  testing::TempDir dir;
  SynthOptions o = TinyOptions("qwen2");
  ASSERT_TRUE(SynthesizeModel(dir / "m.gguf", o).ok());
  auto f = GgufFile::Open(dir / "m.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->architecture(), "qwen2");
  EXPECT_EQ(f->FindTensor("output.weight"), nullptr);
  ASSERT_NE(f->FindTensor("blk.1.attn_v.bias"), nullptr);
  ModelShape shape = o.shape;
  shape.vocab = static_cast<int64_t>(f->GetStringArray("tokenizer.ggml.tokens")->size());
  ExpectTensors(*f, shape);
  EXPECT_EQ(*f->ArchFloat("rope.freq_base"), 1e6);
}

// Every key llama.cpp's own tiny-llama / tiny-qwen2 files carry about the architecture (which it
// needs to load them) must be present, with the matching value type.
TEST(SynthTest, CarriesTheMetadataEnginesRead) {
  for (const char* arch : {"llama", "qwen2"}) {
    auto fixture = testing::FixturePath(std::string("models/tiny-") + arch + "-F16.gguf");
    HEARTH_REQUIRE_FIXTURE(fixture);
    testing::TempDir dir;
    ASSERT_TRUE(SynthesizeModel(dir / "m.gguf", TinyOptions(arch)).ok());
    auto ours = GgufFile::Open(dir / "m.gguf");
    auto theirs = GgufFile::Open(fixture);
    ASSERT_TRUE(ours.ok() && theirs.ok());
    for (const auto& kv : theirs->metadata()) {
      const std::string key(kv.key);
      if (key.rfind(std::string(arch) + ".", 0) != 0 && key.rfind("general.", 0) != 0) continue;
      const Value* v = ours->Find(key);
      ASSERT_NE(v, nullptr) << arch << ": missing " << key;
      EXPECT_EQ(v->type, kv.value.type) << key;
    }
    for (const char* key :
         {"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
          "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.merges"}) {
      EXPECT_NE(ours->Find(key), nullptr) << key;
    }
    const auto tokens = *ours->GetStringArray("tokenizer.ggml.tokens");
    EXPECT_EQ(ours->FindTensor("token_embd.weight")->dims[1], static_cast<int64_t>(tokens.size()));
    EXPECT_EQ(*ours->ArchUint("vocab_size"), tokens.size());
    EXPECT_LT(*ours->GetUint("tokenizer.ggml.eos_token_id"), tokens.size());
  }
}

TEST(SynthTest, WeightsLookLikeTrainedInitialisation) {
  testing::TempDir dir;
  SynthOptions o = TinyOptions("qwen2");
  o.type = "f32";
  ASSERT_TRUE(SynthesizeModel(dir / "m.gguf", o).ok());
  auto f = GgufFile::Open(dir / "m.gguf");
  ASSERT_TRUE(f.ok());
  auto stats = [&](std::string_view name) {
    const auto x = Floats(*f->FindTensor(name));
    double sum = 0, sq = 0;
    for (float v : x) sum += v;
    const double mean = sum / static_cast<double>(x.size());
    for (float v : x) sq += (v - mean) * (v - mean);
    return std::pair(mean, std::sqrt(sq / static_cast<double>(x.size())));
  };
  auto [wm, ws] = stats("blk.0.ffn_up.weight");
  EXPECT_NEAR(wm, 0.0, 0.001);
  EXPECT_NEAR(ws, 0.02, 0.001);
  auto [nm, ns] = stats("blk.1.attn_norm.weight");
  EXPECT_NEAR(nm, 1.0, 0.01);
  EXPECT_LT(ns, 0.05);
  auto [bm, bs] = stats("blk.0.attn_q.bias");
  EXPECT_NEAR(bm, 0.0, 0.01);
  EXPECT_NEAR(bs, 0.02, 0.005);
  // Rows are independent streams: two rows of one tensor differ.
  const auto up = Floats(*f->FindTensor("blk.0.ffn_up.weight"));
  EXPECT_NE(std::vector<float>(up.begin(), up.begin() + 128),
            std::vector<float>(up.begin() + 128, up.begin() + 256));
}

TEST(SynthTest, QuantizedSynthIsTheF32SynthQuantized) {
  testing::TempDir dir;
  SynthOptions f32 = TinyOptions("llama", 3);
  f32.type = "f32";
  SynthOptions q8 = f32;
  q8.type = "q8_0";
  ASSERT_TRUE(SynthesizeModel(dir / "f32.gguf", f32).ok());
  ASSERT_TRUE(SynthesizeModel(dir / "q8.gguf", q8).ok());
  auto a = GgufFile::Open(dir / "f32.gguf");
  auto b = GgufFile::Open(dir / "q8.gguf");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*b->GetUint("general.file_type"), 7u);
  for (const auto& t : a->tensors()) {
    const TensorInfo* q = b->FindTensor(t.name);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type, t.dims.size() == 1 ? TensorType::kF32 : TensorType::kQ8_0) << t.name;
    const auto x = Floats(t);
    const auto y = Floats(*q);
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (x[i] - y[i]) * (x[i] - y[i]);
      ref += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err / ref), 0.01) << t.name;
  }
}

TEST(SynthTest, VocabFromCopiesEveryTokenizerKey) {
  auto vocab_path = testing::FixturePath("tokenizer/ggml-vocab-deepseek-llm.gguf");
  HEARTH_REQUIRE_FIXTURE(vocab_path);
  testing::TempDir dir;
  SynthOptions o = TinyOptions("llama");
  o.vocab_from = vocab_path;
  o.context_length = 4096;
  ASSERT_TRUE(SynthesizeModel(dir / "m.gguf", o).ok());
  auto f = GgufFile::Open(dir / "m.gguf");
  auto vocab = GgufFile::Open(vocab_path);
  ASSERT_TRUE(f.ok() && vocab.ok());
  int copied = 0;
  for (const auto& kv : vocab->metadata()) {
    if (kv.key.substr(0, 10) != "tokenizer.") continue;
    const Value* v = f->Find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_EQ(v->type, kv.value.type);
    EXPECT_EQ(v->s, kv.value.s);
    EXPECT_EQ(v->u, kv.value.u);
    ASSERT_EQ(v->elements.size(), kv.value.elements.size()) << kv.key;
    for (size_t i = 0; i < v->elements.size(); i += 997) {
      EXPECT_EQ(v->elements[i].s, kv.value.elements[i].s);
      EXPECT_EQ(v->elements[i].i, kv.value.elements[i].i);
    }
    ++copied;
  }
  EXPECT_GE(copied, 5);
  const size_t n = vocab->GetStringArray("tokenizer.ggml.tokens")->size();
  EXPECT_EQ(f->FindTensor("token_embd.weight")->dims[1], static_cast<int64_t>(n));
  EXPECT_EQ(*f->ArchUint("vocab_size"), n);
  EXPECT_EQ(*f->ArchUint("context_length"), 4096u);
}

TEST(SynthTest, PresetsHavePublishedShapes) {
  for (std::string_view name : ShapePresetNames()) {
    auto s = ShapePreset(name, "");
    ASSERT_TRUE(s.ok()) << name;
    EXPECT_EQ(s->n_embd % s->n_heads, 0) << name;
    EXPECT_EQ(s->n_heads % s->n_kv_heads, 0) << name;
  }
  auto r1 = *ShapePreset("deepseek-r1-distill-qwen-7b", "qwen2");
  EXPECT_EQ(r1.n_layers, 28);
  EXPECT_EQ(r1.n_embd, 3584);
  EXPECT_EQ(r1.n_ff, 18944);
  EXPECT_EQ(r1.head_dim(), 128);
  EXPECT_TRUE(r1.qkv_bias);
  EXPECT_FALSE(r1.tied_output);
  EXPECT_THAT(ShapePreset("qwen2.5-0.5b", "llama").status().message(),
              HasSubstr("is a qwen2 model"));
  EXPECT_THAT(ShapePreset("gpt-5", "").status().message(), HasSubstr("unknown preset"));
  EXPECT_FALSE(ShapePreset("tiny", "mamba").ok());
}

TEST(SynthTest, BuiltinVocabularyIsConsistent) {
  const SynthVocab v = BuiltinVocab(400);
  ASSERT_EQ(v.tokens.size(), 400u);
  ASSERT_EQ(v.token_types.size(), 400u);
  std::set<std::string> unique(v.tokens.begin(), v.tokens.end());
  EXPECT_EQ(unique.size(), v.tokens.size());
  for (const auto& merge : v.merges) {
    const size_t space = merge.find(' ');
    ASSERT_NE(space, std::string::npos);
    EXPECT_TRUE(unique.count(merge.substr(0, space))) << merge;
    EXPECT_TRUE(unique.count(merge.substr(space + 1))) << merge;
    EXPECT_TRUE(unique.count(merge.substr(0, space) + merge.substr(space + 1))) << merge;
  }
  EXPECT_EQ(v.tokens[' '], "\xc4\xa0");  // GPT-2 maps the space byte to U+0120
  EXPECT_EQ(v.tokens['A'], "A");
  EXPECT_EQ(v.token_types[static_cast<size_t>(v.eos)], 3);
  EXPECT_EQ(BuiltinVocab(10).tokens.size(), 320u);  // never below the built-in set
}

TEST(SynthTest, RejectsUnknownType) {
  testing::TempDir dir;
  SynthOptions o = TinyOptions();
  o.type = "q9_9";
  EXPECT_THAT(SynthesizeModel(dir / "m.gguf", o).message(), HasSubstr("unknown quantization"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace hearth::gguf
