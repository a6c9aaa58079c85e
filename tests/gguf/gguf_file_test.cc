// GgufFile: real files written by other tools, and hand-assembled byte buffers corrupted in
// each way the reader must catch (every error names the byte offset of the bad field).
#include "hearth/gguf/gguf_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "hearth/base/half.h"
#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

using ::testing::HasSubstr;

// Little-endian byte assembly, independent of GgufWriter.
class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    data_.append(raw, sizeof(T));
    return *this;
  }
  Bytes& U8(uint8_t v) { return Put(v); }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& Str(std::string_view s) {
    U64(s.size());
    data_.append(s);
    return *this;
  }
  Bytes& Raw(std::string_view s) {
    data_.append(s);
    return *this;
  }
  Bytes& PadTo(size_t alignment) {
    while (data_.size() % alignment != 0) data_.push_back('\0');
    return *this;
  }
  size_t size() const { return data_.size(); }
  std::span<const uint8_t> span() const {
    return {reinterpret_cast<const uint8_t*>(data_.data()), data_.size()};
  }
  std::string& str() { return data_; }

 private:
  std::string data_;
};

constexpr uint32_t kString = 8, kArray = 9, kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7;
constexpr uint32_t kF32 = 0, kQ8_0 = 8;

Bytes Header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
  Bytes b;
  b.Raw("GGUF").U32(version).U64(tensors).U64(kvs);
  return b;
}

void TensorInfoBytes(Bytes& b, std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                     uint64_t offset) {
  b.Str(name).U32(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) b.U64(d);
  b.U32(type).U64(offset);
}

std::string ParseError(const Bytes& b) {
  auto r = GgufFile::Parse(b.span());
  EXPECT_FALSE(r.ok()) << "parse unexpectedly succeeded";
  return r.ok() ? std::string() : r.status().message();
}

// A valid file with two F32 tensors (4 and 8 floats) and three metadata entries.
Bytes ValidFile() {
  Bytes b = Header(2, 3);
  b.Str("general.architecture").U32(kString).Str("llama");
  b.Str("llama.block_count").U32(kUint32).U32(7);
  b.Str("general.tags").U32(kArray).U32(kString).U64(2).Str("a").Str("bc");
  TensorInfoBytes(b, "a", {4}, kF32, 0);
  TensorInfoBytes(b, "b", {4, 2}, kF32, 32);
  b.PadTo(32);
  for (int i = 0; i < 8; ++i) b.Put<float>(static_cast<float>(i));  // a + padding
  for (int i = 0; i < 8; ++i) b.Put<float>(static_cast<float>(100 + i));
  return b;
}

TEST(GgufFileTest, ParsesHandMadeFile) {
  Bytes b = ValidFile();
  auto f = GgufFile::Parse(b.span());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->architecture(), "llama");
  EXPECT_EQ(*f->ArchUint("block_count"), 7u);
  ASSERT_EQ(f->tensors().size(), 2u);
  const TensorInfo* t = f->FindTensor("b");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(t->rows(), 2);
  EXPECT_EQ(t->size_bytes, 32u);
  float first;
  std::memcpy(&first, t->data, 4);
  EXPECT_EQ(first, 100.0f);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  auto tags = f->GetStringArray("general.tags");
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (std::vector<std::string_view>{"a", "bc"}));
}

TEST(GgufFileTest, EveryTruncationFailsCleanly) {
  Bytes b = ValidFile();
  for (size_t n = 0; n < b.size(); ++n) {
    auto r = GgufFile::Parse(b.span().first(n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_THAT(r.status().message(), HasSubstr("gguf: byte ")) << n;
  }
}

TEST(GgufFileTest, TruncatedHeaderNamesOffset) {
  Bytes b;
  b.Raw("GGUF").U32(3).U32(0);
  EXPECT_THAT(ParseError(b), HasSubstr("byte 8: file truncated reading tensor count"));
}

TEST(GgufFileTest, BadMagic) {
  Bytes b;
  b.Raw("GGML").U32(3).U64(0).U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr("byte 0: bad magic"));
}

TEST(GgufFileTest, VersionOneRefused) {
  EXPECT_THAT(ParseError(Header(0, 0, 1)), HasSubstr("byte 4: GGUF version 1 is not supported"));
}

TEST(GgufFileTest, UnknownVersionRefused) {
  EXPECT_THAT(ParseError(Header(0, 0, 4)), HasSubstr("byte 4: unsupported GGUF version 4"));
  EXPECT_THAT(ParseError(Header(0, 0, 0x03000000)), HasSubstr("big-endian"));
}

TEST(GgufFileTest, VersionTwoAccepted) {
  Bytes b = Header(0, 1, 2);
  b.Str("k").U32(kUint32).U32(5);
  auto f = GgufFile::Parse(b.span());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version(), 2u);
}

TEST(GgufFileTest, KeyLengthBeyondFile) {
  Bytes b = Header(0, 1);
  b.U64(4294967295ull).Raw("abcdefghijklmnop");
  EXPECT_THAT(ParseError(b),
              HasSubstr("byte 24: metadata key length 4294967295 exceeds the 16 bytes left"));
}

TEST(GgufFileTest, HugeArrayCountDoesNotAllocate) {
  Bytes b = Header(0, 1);
  b.Str("k").U32(kArray).U32(kUint32);
  const size_t count_at = b.size();
  b.U64(1ull << 60);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: array of 1152921504606846976 uint32 "
                                                   "elements cannot fit",
                                                   count_at)));
}

TEST(GgufFileTest, HugeStringArrayCount) {
  Bytes b = Header(0, 1);
  b.Str("k").U32(kArray).U32(kString);
  const size_t count_at = b.size();
  b.U64(1ull << 60).Str("x");
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: array of", count_at)));
}

TEST(GgufFileTest, HugeMetadataAndTensorCounts) {
  EXPECT_THAT(ParseError(Header(0, 1ull << 60)),
              HasSubstr("byte 16: metadata count 1152921504606846976 cannot fit"));
  EXPECT_THAT(ParseError(Header(1ull << 62, 0)), HasSubstr("byte 8: tensor count"));
}

TEST(GgufFileTest, StringValueLengthBeyondFile) {
  Bytes b = Header(0, 1);
  b.Str("k").U32(kString);
  const size_t at = b.size();
  b.U64(100).Raw("short");
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: string value length 100", at)));
}

TEST(GgufFileTest, UnknownValueType) {
  Bytes b = Header(0, 1);
  b.Str("key");
  const size_t at = b.size();
  b.U32(13).U32(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: unknown value type 13", at)));
}

TEST(GgufFileTest, UnknownArrayElementType) {
  Bytes b = Header(0, 1);
  b.Str("key").U32(kArray);
  const size_t at = b.size();
  b.U32(99).U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: unknown array element type 99", at)));
}

TEST(GgufFileTest, DuplicateKey) {
  Bytes b = Header(0, 2);
  b.Str("a.b").U32(kUint32).U32(1);
  const size_t at = b.size();
  b.Str("a.b").U32(kUint32).U32(2);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: duplicate metadata key 'a.b'", at)));
}

TEST(GgufFileTest, NestingTooDeep) {
  Bytes b = Header(0, 1);
  b.Str("deep").U32(kArray);
  for (int i = 0; i < 20; ++i) b.U32(kArray).U64(1);
  b.U32(kUint32).U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr("arrays nested deeper than"));
}

TEST(GgufFileTest, NestedArraysAccepted) {
  Bytes b = Header(0, 1);
  b.Str("nested").U32(kArray).U32(kArray).U64(2);
  b.U32(kInt32).U64(2).Put<int32_t>(-1).Put<int32_t>(2);
  b.U32(kString).U64(1).Str("x");
  auto f = GgufFile::Parse(b.span());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const Value* v = f->Find("nested");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->elements.size(), 2u);
  EXPECT_EQ(v->elements[0].elements[0].i, -1);
  EXPECT_EQ(v->elements[1].elements[0].s, "x");
}

TEST(GgufFileTest, BoolMustBeZeroOrOne) {
  Bytes b = Header(0, 1);
  b.Str("flag").U32(kBool);
  const size_t at = b.size();
  b.U8(7);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: bool value 7", at)));
}

TEST(GgufFileTest, AlignmentMustBePowerOfTwo) {
  for (uint32_t bad : {0u, 3u, 48u}) {
    Bytes b = Header(0, 1);
    b.Str("general.alignment").U32(kUint32).U32(bad);
    EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte 24: general.alignment {} is not a "
                                                     "nonzero power of two",
                                                     bad)));
  }
}

TEST(GgufFileTest, CustomAlignmentPlacesData) {
  Bytes b = Header(1, 1);
  b.Str("general.alignment").U32(kUint32).U32(64);
  TensorInfoBytes(b, "t", {2}, kF32, 0);
  b.PadTo(64).Put<float>(1.5f).Put<float>(2.5f);
  auto f = GgufFile::Parse(b.span());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  float x;
  std::memcpy(&x, f->tensors()[0].data + 4, 4);
  EXPECT_EQ(x, 2.5f);
}

TEST(GgufFileTest, TooManyDimensions) {
  Bytes b = Header(1, 0);
  b.Str("t");
  const size_t at = b.size();
  b.U32(5).U64(0).U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: tensor 't' has 5 dimensions", at)));
}

TEST(GgufFileTest, ZeroDimension) {
  Bytes b = Header(1, 0);
  b.Str("t").U32(2).U64(4);
  const size_t at = b.size();
  b.U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format(
                                 "byte {}: tensor 't' dimension 1 is 0 (must be positive)", at)));
}

TEST(GgufFileTest, NegativeDimension) {
  Bytes b = Header(1, 0);
  b.Str("t").U32(1);
  b.U64(static_cast<uint64_t>(-5)).U32(kF32).U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr("dimension 0 is -5 (must be positive)"));
}

TEST(GgufFileTest, DimensionProductOverflows) {
  Bytes b = Header(1, 0);
  b.Str("t").U32(3).U64(1ull << 32).U64(1ull << 20);
  const size_t at = b.size();
  b.U64(1ull << 20);
  EXPECT_THAT(ParseError(b),
              HasSubstr(fmt::format("byte {}: tensor 't' element count overflows", at)));
}

TEST(GgufFileTest, UnknownTensorType) {
  Bytes b = Header(1, 0);
  b.Str("t").U32(1).U64(32);
  const size_t at = b.size();
  b.U32(77).U64(0);
  EXPECT_THAT(ParseError(b),
              HasSubstr(fmt::format("byte {}: tensor 't' has unknown tensor type 77", at)));
}

TEST(GgufFileTest, RowNotMultipleOfBlockSize) {
  Bytes b = Header(1, 0);
  b.Str("t").U32(2).U64(33).U64(2);
  const size_t at = b.size();
  b.U32(kQ8_0).U64(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: tensor 't': rows of 33 weights are "
                                                   "not a multiple of the Q8_0 block size 32",
                                                   at)));
}

TEST(GgufFileTest, TensorDataOutsideFile) {
  Bytes b = Header(1, 0);
  const size_t at = b.size();
  TensorInfoBytes(b, "big", {1024}, kF32, 0);
  b.PadTo(32).Put<float>(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: tensor 'big' data (4096 bytes at "
                                                   "data offset 0) lies outside the file",
                                                   at)));
}

TEST(GgufFileTest, TensorOffsetBeyondFileWithoutOverflow) {
  Bytes b = Header(1, 0);
  TensorInfoBytes(b, "far", {8}, kF32, 0xffffffffffffffe0ull);
  b.PadTo(32);
  EXPECT_THAT(ParseError(b), HasSubstr("tensor 'far' data (32 bytes at data offset "
                                       "18446744073709551584) lies outside the file"));
}

TEST(GgufFileTest, OverlappingTensors) {
  Bytes b = Header(2, 0);
  TensorInfoBytes(b, "a", {16}, kF32, 0);
  const size_t at = b.size();
  TensorInfoBytes(b, "b", {8}, kF32, 32);
  b.PadTo(32);
  for (int i = 0; i < 24; ++i) b.Put<float>(0);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: tensor 'b' (data offset 32) overlaps "
                                                   "tensor 'a'",
                                                   at)));
}

TEST(GgufFileTest, MisalignedOffset) {
  Bytes b = Header(1, 0);
  b.Str("t").U32(1).U64(4).U32(kF32);
  const size_t at = b.size();
  b.U64(4);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: tensor 't' offset 4 is not a "
                                                   "multiple of the alignment 32",
                                                   at)));
}

TEST(GgufFileTest, DuplicateTensorName) {
  Bytes b = Header(2, 0);
  TensorInfoBytes(b, "w", {8}, kF32, 0);
  const size_t at = b.size();
  TensorInfoBytes(b, "w", {8}, kF32, 32);
  EXPECT_THAT(ParseError(b), HasSubstr(fmt::format("byte {}: duplicate tensor name 'w'", at)));
}

TEST(GgufFileTest, TypedAccessors) {
  Bytes b = Header(0, 7);
  b.Str("s").U32(kString).Str("text");
  b.Str("neg").U32(kInt32).Put<int32_t>(-3);
  b.Str("big").U32(10).U64(~0ull);
  b.Str("f").U32(kFloat32).Put<float>(0.5f);
  b.Str("yes").U32(kBool).U8(1);
  b.Str("ints").U32(kArray).U32(kInt32).U64(3).Put<int32_t>(1).Put<int32_t>(-2).Put<int32_t>(3);
  b.Str("floats").U32(kArray).U32(kFloat32).U64(2).Put<float>(0.25f).Put<float>(-1.0f);
  auto f = GgufFile::Parse(b.span());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(*f->GetString("s"), "text");
  EXPECT_EQ(*f->GetInt("neg"), -3);
  EXPECT_EQ(f->GetUint("neg").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*f->GetUint("big"), ~0ull);
  EXPECT_EQ(f->GetInt("big").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*f->GetFloat("f"), 0.5);
  EXPECT_EQ(*f->GetFloat("neg"), -3.0);  // integers widen
  EXPECT_TRUE(*f->GetBool("yes"));
  EXPECT_EQ(*f->GetIntArray("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f->GetFloatArray("floats"), (std::vector<float>{0.25f, -1.0f}));
  EXPECT_EQ(f->GetString("missing").status().code(), StatusCode::kNotFound);
  auto wrong = f->GetString("neg");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("key 'neg' is int32, expected string"));
  EXPECT_FALSE(f->GetStringArray("ints").ok());
  EXPECT_FALSE(f->GetIntArray("floats").ok());
  EXPECT_FALSE(f->GetBool("s").ok());
  EXPECT_EQ(f->architecture(), "");
}

TEST(GgufFileTest, OpenMissingFileFails) {
  auto r = GgufFile::Open("/nonexistent/model.gguf");
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
}

TEST(GgufFileTest, OpenReportsPathWithError) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir / "bad.gguf", std::string("GGUF\x01\0\0\0", 8)).ok());
  auto r = GgufFile::Open(dir / "bad.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("bad.gguf: gguf: byte 4: GGUF version 1 is not supported"));
}

// Real files written by llama.cpp's converters; facts from the fixtures' README.
TEST(GgufFileFixtureTest, Stories260K) {
  auto path = testing::FixturePath("models/stories260K.gguf");
  HEARTH_REQUIRE_FIXTURE(path);
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->architecture(), "llama");
  EXPECT_EQ(*f->ArchUint("block_count"), 5u);
  EXPECT_EQ(*f->ArchUint("embedding_length"), 64u);
  EXPECT_EQ(*f->ArchUint("attention.head_count"), 8u);
  EXPECT_EQ(*f->ArchUint("attention.head_count_kv"), 4u);
  EXPECT_EQ(f->tensors().size(), 2u + 1u + 5u * 9u);  // embd, output, output_norm, 9 per layer
  EXPECT_EQ(f->GetStringArray("tokenizer.ggml.tokens")->size(), 512u);
  EXPECT_EQ(f->GetFloatArray("tokenizer.ggml.scores")->size(), 512u);
  EXPECT_EQ(f->GetIntArray("tokenizer.ggml.token_type")->size(), 512u);
  EXPECT_EQ(*f->GetUint("tokenizer.ggml.bos_token_id"), 1u);
  // The README says output.weight equals token_embd.weight: their bytes, found at the parsed
  // offsets, must be identical.
  const TensorInfo* embd = f->FindTensor("token_embd.weight");
  const TensorInfo* out = f->FindTensor("output.weight");
  ASSERT_NE(embd, nullptr);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(embd->dims, (std::vector<int64_t>{64, 512}));
  ASSERT_EQ(embd->size_bytes, out->size_bytes);
  EXPECT_EQ(std::memcmp(embd->data, out->data, embd->size_bytes), 0);
}

TEST(GgufFileFixtureTest, TinyModelsShapes) {
  for (const char* name : {"models/tiny-llama-Q4_K_M.gguf", "models/tiny-qwen2-Q8_0.gguf"}) {
    auto path = testing::FixturePath(name);
    HEARTH_REQUIRE_FIXTURE(path);
    auto f = GgufFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().message();
    const bool qwen = f->architecture() == "qwen2";
    EXPECT_EQ(*f->ArchUint("block_count"), 4u);
    // llama: embd, output, output_norm + 9 per layer; qwen2: tied output, 3 biases more.
    EXPECT_EQ(f->tensors().size(), qwen ? 2u + 4u * 12u : 3u + 4u * 9u) << name;
    const TensorInfo* q = f->FindTensor("blk.0.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->dims, (std::vector<int64_t>{256, 256}));
    EXPECT_EQ(f->FindTensor("blk.3.ffn_down.weight")->dims, (std::vector<int64_t>{768, 256}));
    EXPECT_EQ(f->FindTensor("blk.0.attn_k.weight")->dims, (std::vector<int64_t>{256, 64}));
  }
}

// The F16 and BF16 files were converted from the same F32 weights: decoding both with the
// reference half conversions must agree to within bf16 precision at the parsed offsets.
TEST(GgufFileFixtureTest, F16AndBf16DataAgree) {
  auto f16_path = testing::FixturePath("models/tiny-llama-F16.gguf");
  auto bf16_path = testing::FixturePath("models/tiny-llama-BF16.gguf");
  HEARTH_REQUIRE_FIXTURE(f16_path);
  HEARTH_REQUIRE_FIXTURE(bf16_path);
  auto a = GgufFile::Open(f16_path);
  auto b = GgufFile::Open(bf16_path);
  ASSERT_TRUE(a.ok() && b.ok());
  for (const auto& ta : a->tensors()) {
    const TensorInfo* tb = b->FindTensor(ta.name);
    ASSERT_NE(tb, nullptr) << ta.name;
    if (ta.type != TensorType::kF16) continue;
    ASSERT_EQ(tb->type, TensorType::kBF16);
    const uint16_t* pa = reinterpret_cast<const uint16_t*>(ta.data);
    const uint16_t* pb = reinterpret_cast<const uint16_t*>(tb->data);
    for (int64_t i = 0; i < ta.element_count; i += 97) {
      const float x = Fp16ToFp32(pa[i]);
      const float y = Bf16ToFp32(pb[i]);
      ASSERT_NEAR(x, y, 0.01f * std::abs(x) + 1e-6f) << ta.name << "[" << i << "]";
    }
  }
}

TEST(GgufFileFixtureTest, VocabularyFiles) {
  struct Case {
    const char* file;
    size_t tokens;  // published vocabulary sizes
    const char* model;
  };
  for (const Case& c : {Case{"tokenizer/ggml-vocab-gpt-2.gguf", 50257, "gpt2"},
                        Case{"tokenizer/ggml-vocab-llama-spm.gguf", 32000, "llama"},
                        // 151665 tokens padded to the 151936 rows of the model's embedding.
                        Case{"tokenizer/ggml-vocab-qwen2.5.gguf", 151936, "gpt2"}}) {
    auto path = testing::FixturePath(c.file);
    HEARTH_REQUIRE_FIXTURE(path);
    auto f = GgufFile::Open(path);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_TRUE(f->tensors().empty());
    EXPECT_EQ(*f->GetString("tokenizer.ggml.model"), c.model);
    auto tokens = f->GetStringArray("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok());
    EXPECT_EQ(tokens->size(), c.tokens) << c.file;
    EXPECT_EQ(f->GetIntArray("tokenizer.ggml.token_type")->size(), c.tokens) << c.file;
    if (std::string(c.model) == "gpt2") {
      auto merges = f->GetStringArray("tokenizer.ggml.merges");
      ASSERT_TRUE(merges.ok());
      EXPECT_GT(merges->size(), c.tokens / 2);
      EXPECT_EQ((*merges)[0].find(' ') != std::string_view::npos, true);
    }
  }
}

}  // namespace
}  // namespace hearth::gguf
