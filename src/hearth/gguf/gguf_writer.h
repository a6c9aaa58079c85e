// GgufWriter: writes GGUF v3 files, streaming tensor data so that a model never has to sit in
// memory whole.
//
// Usage: set metadata, declare every tensor (name, dims, type) with AddTensor, then Begin() —
// which writes the header, metadata and tensor infos — and feed the tensors' bytes in declared
// order with Append() (any chunk size; the writer pads between tensors) or WriteTensor(). Finish()
// checks that every byte arrived and atomically renames the file into place; a writer destroyed
// before Finish() leaves no file behind.
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
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::gguf {

// An owned metadata value (the reader's Value holds views into a mapping).
struct MetaValue {
  ValueType type = ValueType::kUint8;
  uint64_t u = 0;                              // unsigned integers, bool
  int64_t i = 0;                               // signed integers
  double f = 0;                                // floats
  std::string s;                               // strings
  ValueType element_type = ValueType::kUint8;  // arrays
  std::vector<MetaValue> elements;             // arrays

  static MetaValue Uint8(uint8_t v);
  static MetaValue Int8(int8_t v);
  static MetaValue Uint16(uint16_t v);
  static MetaValue Int16(int16_t v);
  static MetaValue Uint32(uint32_t v);
  static MetaValue Int32(int32_t v);
  static MetaValue Uint64(uint64_t v);
  static MetaValue Int64(int64_t v);
  static MetaValue Float32(float v);
  static MetaValue Float64(double v);
  static MetaValue Bool(bool v);
  static MetaValue String(std::string v);
  // An array whose elements all have type `element_type` (checked when written).
  static MetaValue Array(ValueType element_type, std::vector<MetaValue> elements);
  static MetaValue StringArray(const std::vector<std::string>& values);
  static MetaValue Int32Array(const std::vector<int32_t>& values);
  static MetaValue Float32Array(const std::vector<float>& values);
  // A deep copy of a value read from a GgufFile.
  static MetaValue FromValue(const Value& value);
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] is the row length
  TensorType type = TensorType::kF32;
  uint64_t offset = 0;  // relative to the data section
  uint64_t size_bytes = 0;
};

class GgufWriter {
 public:
  GgufWriter();
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata, written in insertion order. Setting an existing key replaces its value in place.
  void Set(std::string_view key, MetaValue value);
  void SetString(std::string_view key, std::string value) { Set(key, MetaValue::String(value)); }
  void SetUint32(std::string_view key, uint32_t v) { Set(key, MetaValue::Uint32(v)); }
  void SetInt32(std::string_view key, int32_t v) { Set(key, MetaValue::Int32(v)); }
  void SetUint64(std::string_view key, uint64_t v) { Set(key, MetaValue::Uint64(v)); }
  void SetFloat32(std::string_view key, float v) { Set(key, MetaValue::Float32(v)); }
  void SetBool(std::string_view key, bool v) { Set(key, MetaValue::Bool(v)); }
  bool Has(std::string_view key) const;
  void Remove(std::string_view key);
  const std::vector<std::pair<std::string, MetaValue>>& metadata() const { return metadata_; }

  // Data alignment (a power of two; default 32). A non-default value is recorded as
  // general.alignment. Must be set before the first AddTensor.
  Status SetAlignment(uint64_t alignment);

  // Declares the next tensor. Fails on an empty or duplicate name, bad dims, or rows that are
  // not a multiple of the type's block size.
  Status AddTensor(std::string_view name, std::vector<int64_t> dims, TensorType type);
  const std::vector<TensorSpec>& tensors() const { return tensors_; }

  // Writes header, metadata and tensor infos to `path` (atomically, on Finish) or appends the
  // whole file to `*out`.
  Status Begin(const std::filesystem::path& path);
  Status BeginInMemory(std::string* out);

  // Appends tensor bytes in declared order; a chunk may span tensor boundaries.
  Status Append(const void* data, size_t size);
  // Writes the whole of tensor `name`, which must be the next one due.
  Status WriteTensor(std::string_view name, std::span<const uint8_t> bytes);
  // Index of the tensor the next Append() bytes belong to (tensors().size() when all are done).
  size_t next_tensor() const { return current_; }

  Status Finish();

 private:
  Status Emit(const void* data, size_t size);
  Status EmitZeros(size_t size);
  Status EmitString(std::string_view s);
  Status EmitValue(const MetaValue& value, int depth);
  Status CheckValue(std::string_view key, const MetaValue& value, int depth) const;
  Status StartOutput();
  Status AdvancePastFinishedTensors();

  std::vector<std::pair<std::string, MetaValue>> metadata_;
  std::vector<TensorSpec> tensors_;
  uint64_t alignment_ = 32;
  uint64_t data_size_ = 0;  // end of the last declared tensor, relative to the data section

  std::unique_ptr<AtomicFileWriter> file_;
  std::string* memory_ = nullptr;
  bool begun_ = false;
  bool finished_ = false;
  uint64_t written_ = 0;         // bytes emitted so far (file offset)
  uint64_t data_start_ = 0;      // file offset of the data section
  size_t current_ = 0;           // tensor being filled
  uint64_t current_filled_ = 0;  // bytes of it received
};

}  // namespace hearth::gguf
