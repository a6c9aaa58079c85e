// GgufFile: a validated, memory-mapped GGUF (v2 or v3) model or vocabulary file.
//
// Open() maps the file and checks every structural invariant before returning: header, metadata
// (every value type, nested arrays), tensor infos, alignment, that every tensor's bytes lie
// inside the data section without overlapping another. After a successful Open() no accessor
// can read outside the mapping. Failures name the problem and the byte offset where it was
// found ("gguf: byte 24: metadata key length 4294967295 exceeds file size").
//
// Values are held as views into the mapping where they are strings (no copies of 150k-token
// vocabularies); the GgufFile must outlive any string_view it hands out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/file_util.h"
#include "hearth/base/status.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::gguf {

// On-disk metadata value type ids (gguf_type).
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
std::string_view ValueTypeName(ValueType type);

// One metadata value. Scalars are widened into the 64-bit fields; strings are views into the
// mapping; arrays hold their elements (arrays of arrays are allowed).
struct Value {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;  // unsigned integers and bool
  int64_t i = 0;   // signed integers (also filled for unsigned values that fit)
  double f = 0;    // floats (also filled for integers)
  std::string_view s;
  ValueType element_type = ValueType::kUint8;  // for arrays
  std::vector<Value> elements;                 // for arrays

  bool is_integer() const;
  bool is_float() const { return type == ValueType::kFloat32 || type == ValueType::kFloat64; }
};

struct KeyValue {
  std::string_view key;
  Value value;
};

struct TensorInfo {
  std::string_view name;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the contiguous (row) dimension
  TensorType type = TensorType::kF32;
  uint64_t offset = 0;         // relative to the start of the data section
  uint64_t size_bytes = 0;     // bytes of tensor data
  int64_t element_count = 0;   // product of dims
  const uint8_t* data = nullptr;  // points into the mapping

  int64_t rows() const { return dims.empty() ? 1 : element_count / dims[0]; }
  int64_t row_length() const { return dims.empty() ? 1 : dims[0]; }
};

class GgufFile {
 public:
  // Maps (or, with kPrivateHugePages, reads; see MapMode) and validates `path`.
  static Result<GgufFile> Open(const std::filesystem::path& path,
                               MapMode mode = MapMode::kShared);
  // Validates bytes owned by the caller (which must outlive the GgufFile). Used by the fuzzer.
  static Result<GgufFile> Parse(std::span<const uint8_t> bytes);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  uint64_t file_size() const { return bytes_.size(); }
  const std::filesystem::path& path() const { return path_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // nullptr when absent.
  const Value* Find(std::string_view key) const;
  const TensorInfo* FindTensor(std::string_view name) const;

  // Typed accessors: NotFound when absent, InvalidArgument (naming key and actual type) when the
  // value has another type. Integer getters accept any integer type whose value fits.
  Result<std::string_view> GetString(std::string_view key) const;
  Result<uint64_t> GetUint(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key) const;
  Result<double> GetFloat(std::string_view key) const;  // accepts integers too
  Result<bool> GetBool(std::string_view key) const;
  Result<std::vector<std::string_view>> GetStringArray(std::string_view key) const;
  Result<std::vector<int64_t>> GetIntArray(std::string_view key) const;
  Result<std::vector<float>> GetFloatArray(std::string_view key) const;

  // Convenience: `general.architecture` (empty when absent), and "<arch>.<suffix>" lookups
  // such as ArchUint("block_count").
  std::string_view architecture() const;
  Result<uint64_t> ArchUint(std::string_view suffix) const;
  Result<double> ArchFloat(std::string_view suffix) const;

 private:
  GgufFile() = default;

  std::shared_ptr<MappedFile> mapping_;  // null when parsed from caller-owned bytes
  std::span<const uint8_t> bytes_;
  std::filesystem::path path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace hearth::gguf
