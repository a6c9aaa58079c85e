// GgufWriter: byte layout against a hand-assembled file, round trips through GgufFile, streaming
// in arbitrary chunks, and misuse.
#include "hearth/gguf/gguf_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "hearth/gguf/gguf_file.h"
#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

using ::testing::HasSubstr;

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void ExpectSameValue(const MetaValue& want, const Value& got, const std::string& where) {
  ASSERT_EQ(want.type, got.type) << where;
  switch (want.type) {
    case ValueType::kString:
      EXPECT_EQ(want.s, got.s) << where;
      break;
    case ValueType::kFloat32:
    case ValueType::kFloat64:
      EXPECT_EQ(want.f, got.f) << where;
      break;
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64:
      EXPECT_EQ(want.i, got.i) << where;
      break;
    case ValueType::kArray:
      ASSERT_EQ(want.element_type, got.element_type) << where;
      ASSERT_EQ(want.elements.size(), got.elements.size()) << where;
      for (size_t i = 0; i < want.elements.size(); ++i) {
        ExpectSameValue(want.elements[i], got.elements[i], where + "[" + std::to_string(i) + "]");
      }
      break;
    default:
      EXPECT_EQ(want.u, got.u) << where;
  }
}

void AddEveryValueType(GgufWriter& w) {
  w.Set("u8", MetaValue::Uint8(250));
  w.Set("i8", MetaValue::Int8(-120));
  w.Set("u16", MetaValue::Uint16(65000));
  w.Set("i16", MetaValue::Int16(-32000));
  w.Set("u32", MetaValue::Uint32(4000000000u));
  w.Set("i32", MetaValue::Int32(-2000000000));
  w.Set("u64", MetaValue::Uint64(~0ull));
  w.Set("i64", MetaValue::Int64(-(1ll << 62)));
  w.Set("f32", MetaValue::Float32(0.1f));
  w.Set("f64", MetaValue::Float64(1e300));
  w.Set("bool", MetaValue::Bool(true));
  w.Set("str", MetaValue::String("héllo"));
  w.Set("strs", MetaValue::StringArray({"a", "", "Ġthe"}));
  w.Set("ints", MetaValue::Int32Array({1, -2, 3}));
  w.Set("floats", MetaValue::Float32Array({0.5f, -0.25f}));
  w.Set("nested", MetaValue::Array(ValueType::kArray,
                                   {MetaValue::Int32Array({7}), MetaValue::Int32Array({8, 9})}));
  w.Set("empty", MetaValue::Array(ValueType::kUint8, {}));
}

// The smallest interesting file, assembled by hand from the GGUF specification.
TEST(GgufWriterTest, LayoutMatchesSpecification) {
  GgufWriter w;
  w.SetUint32("k", 7);
  ASSERT_TRUE(w.AddTensor("t", {2}, TensorType::kF32).ok());
  std::string out;
  ASSERT_TRUE(w.BeginInMemory(&out).ok());
  const float data[2] = {1.0f, -2.0f};
  ASSERT_TRUE(w.Append(data, sizeof(data)).ok());
  ASSERT_TRUE(w.Finish().ok());

  std::string want("GGUF", 4);
  auto put = [&want](const auto& v) { want.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(uint32_t{3});
  put(uint64_t{1});  // tensors
  put(uint64_t{1});  // kvs
  put(uint64_t{1});
  want += "k";
  put(uint32_t{4});  // uint32
  put(uint32_t{7});
  put(uint64_t{1});
  want += "t";
  put(uint32_t{1});
  put(uint64_t{2});
  put(uint32_t{0});  // F32
  put(uint64_t{0});  // offset
  want.resize((want.size() + 31) / 32 * 32, '\0');
  put(data);
  EXPECT_EQ(out, want);
}

TEST(GgufWriterTest, RoundTripsMetadataAndTensors) {
  testing::TempDir dir;
  GgufWriter w;
  AddEveryValueType(w);
  std::mt19937 rng(1);
  struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    TensorType type;
    std::string bytes;
  };
  std::vector<Tensor> tensors = {{"a", {3}, TensorType::kF32, {}},
                                 {"b.weight", {64, 3}, TensorType::kQ8_0, {}},
                                 {"c", {5, 1, 2, 1}, TensorType::kF16, {}},
                                 {"d", {256, 2}, TensorType::kQ4_K, {}}};
  for (auto& t : tensors) {
    ASSERT_TRUE(w.AddTensor(t.name, t.dims, t.type).ok());
    t.bytes.resize(w.tensors().back().size_bytes);
    for (char& c : t.bytes) c = static_cast<char>(rng());
  }
  const auto path = dir / "x.gguf";
  ASSERT_TRUE(w.Begin(path).ok());
  // Stream everything in 7-byte chunks that straddle tensor boundaries.
  std::string all;
  for (const auto& t : tensors) all += t.bytes;
  for (size_t i = 0; i < all.size(); i += 7) {
    ASSERT_TRUE(w.Append(all.data() + i, std::min<size_t>(7, all.size() - i)).ok());
  }
  ASSERT_TRUE(w.Finish().ok());

  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->version(), 3u);
  ASSERT_EQ(f->metadata().size(), w.metadata().size());
  for (size_t i = 0; i < w.metadata().size(); ++i) {
    EXPECT_EQ(f->metadata()[i].key, w.metadata()[i].first);
    ExpectSameValue(w.metadata()[i].second, f->metadata()[i].value, w.metadata()[i].first);
  }
  ASSERT_EQ(f->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& got = f->tensors()[i];
    EXPECT_EQ(got.name, tensors[i].name);
    EXPECT_EQ(got.dims, tensors[i].dims);
    EXPECT_EQ(got.type, tensors[i].type);
    EXPECT_EQ(got.offset % 32, 0u);
    ASSERT_EQ(got.size_bytes, tensors[i].bytes.size());
    EXPECT_EQ(std::memcmp(got.data, tensors[i].bytes.data(), got.size_bytes), 0) << got.name;
  }
}

TEST(GgufWriterTest, FileAndMemoryOutputsAreIdentical) {
  testing::TempDir dir;
  auto build = [](GgufWriter& w) {
    AddEveryValueType(w);
    ASSERT_TRUE(w.SetAlignment(64).ok());
    ASSERT_TRUE(w.AddTensor("x", {4}, TensorType::kF32).ok());
    ASSERT_TRUE(w.AddTensor("y", {2}, TensorType::kF32).ok());
  };
  const float x[4] = {1, 2, 3, 4}, y[2] = {5, 6};
  GgufWriter a, b;
  build(a);
  build(b);
  std::string memory;
  ASSERT_TRUE(a.BeginInMemory(&memory).ok());
  ASSERT_TRUE(b.Begin(dir / "f.gguf").ok());
  for (GgufWriter* w : {&a, &b}) {
    ASSERT_TRUE(w->WriteTensor("x", {reinterpret_cast<const uint8_t*>(x), sizeof(x)}).ok());
    ASSERT_TRUE(w->WriteTensor("y", {reinterpret_cast<const uint8_t*>(y), sizeof(y)}).ok());
    ASSERT_TRUE(w->Finish().ok());
  }
  EXPECT_EQ(*ReadFileToString(dir / "f.gguf"), memory);
  auto f = GgufFile::Parse(AsBytes(memory));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(*f->GetUint("general.alignment"), 64u);
  EXPECT_EQ(f->tensors()[1].offset, 64u);
}

TEST(GgufWriterTest, SetReplacesKeyInPlace) {
  GgufWriter w;
  w.SetUint32("a", 1);
  w.SetUint32("b", 2);
  w.SetString("a", "x");
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_EQ(w.metadata()[0].second.s, "x");
  w.Remove("a");
  EXPECT_FALSE(w.Has("a"));
  EXPECT_TRUE(w.Has("b"));
}

TEST(GgufWriterTest, RejectsBadTensorDeclarations) {
  GgufWriter w;
  ASSERT_TRUE(w.AddTensor("t", {32}, TensorType::kQ8_0).ok());
  EXPECT_EQ(w.AddTensor("t", {32}, TensorType::kF32).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(w.AddTensor("", {1}, TensorType::kF32).ok());
  EXPECT_FALSE(w.AddTensor("z", {0}, TensorType::kF32).ok());
  EXPECT_FALSE(w.AddTensor("z", {}, TensorType::kF32).ok());
  EXPECT_FALSE(w.AddTensor("z", {1, 1, 1, 1, 1}, TensorType::kF32).ok());
  EXPECT_FALSE(w.AddTensor("z", {1ll << 40, 1ll << 40}, TensorType::kF32).ok());
  EXPECT_THAT(w.AddTensor("q", {100}, TensorType::kQ4_K).message(), HasSubstr("block size"));
  EXPECT_FALSE(w.SetAlignment(24).ok());
}

TEST(GgufWriterTest, RejectsMixedArrays) {
  GgufWriter w;
  w.Set("bad", MetaValue::Array(ValueType::kInt32, {MetaValue::Int32(1), MetaValue::String("x")}));
  std::string out;
  EXPECT_THAT(w.BeginInMemory(&out).message(), HasSubstr("mixes string into an array of int32"));
}

TEST(GgufWriterTest, StreamingMisuseIsAnError) {
  GgufWriter w;
  ASSERT_TRUE(w.AddTensor("a", {2}, TensorType::kF32).ok());
  ASSERT_TRUE(w.AddTensor("b", {2}, TensorType::kF32).ok());
  std::string out;
  ASSERT_TRUE(w.BeginInMemory(&out).ok());
  const uint8_t bytes[8] = {};
  EXPECT_THAT(w.WriteTensor("b", bytes).message(), HasSubstr("out of order (next due: 'a')"));
  EXPECT_THAT(w.WriteTensor("a", std::span(bytes, 4)).message(), HasSubstr("needs 8 bytes"));
  ASSERT_TRUE(w.WriteTensor("a", bytes).ok());
  EXPECT_THAT(w.Finish().message(), HasSubstr("tensor 'b' is missing 8 bytes"));
  ASSERT_TRUE(w.Append(bytes, 8).ok());
  EXPECT_THAT(w.Append(bytes, 1).message(), HasSubstr("beyond the last tensor"));
  EXPECT_TRUE(w.Finish().ok());
  EXPECT_FALSE(w.AddTensor("late", {1}, TensorType::kF32).ok());
}

TEST(GgufWriterTest, UnfinishedFileLeavesNothingBehind) {
  testing::TempDir dir;
  {
    GgufWriter w;
    ASSERT_TRUE(w.AddTensor("a", {2}, TensorType::kF32).ok());
    ASSERT_TRUE(w.Begin(dir / "m.gguf").ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(GgufWriterTest, CopiesValuesReadFromFiles) {
  GgufWriter w;
  AddEveryValueType(w);
  std::string out;
  ASSERT_TRUE(w.BeginInMemory(&out).ok());
  ASSERT_TRUE(w.Finish().ok());
  auto f = GgufFile::Parse(AsBytes(out));
  ASSERT_TRUE(f.ok());
  GgufWriter copy;
  for (const auto& kv : f->metadata()) copy.Set(kv.key, MetaValue::FromValue(kv.value));
  std::string out2;
  ASSERT_TRUE(copy.BeginInMemory(&out2).ok());
  ASSERT_TRUE(copy.Finish().ok());
  EXPECT_EQ(out, out2);
}

}  // namespace
}  // namespace hearth::gguf
