#include "hearth/gguf/gguf_writer.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace hearth::gguf {
namespace {

constexpr uint32_t kVersion = 3;
constexpr int kMaxNesting = 8;  // the reader's limit

MetaValue Scalar(ValueType type) {
  MetaValue v;
  v.type = type;
  return v;
}

MetaValue Unsigned(ValueType type, uint64_t x) {
  MetaValue v = Scalar(type);
  v.u = x;
  return v;
}

MetaValue Signed(ValueType type, int64_t x) {
  MetaValue v = Scalar(type);
  v.i = x;
  return v;
}

uint64_t AlignUp(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

}  // namespace

MetaValue MetaValue::Uint8(uint8_t v) { return Unsigned(ValueType::kUint8, v); }
MetaValue MetaValue::Uint16(uint16_t v) { return Unsigned(ValueType::kUint16, v); }
MetaValue MetaValue::Uint32(uint32_t v) { return Unsigned(ValueType::kUint32, v); }
MetaValue MetaValue::Uint64(uint64_t v) { return Unsigned(ValueType::kUint64, v); }
MetaValue MetaValue::Bool(bool v) { return Unsigned(ValueType::kBool, v ? 1 : 0); }
MetaValue MetaValue::Int8(int8_t v) { return Signed(ValueType::kInt8, v); }
MetaValue MetaValue::Int16(int16_t v) { return Signed(ValueType::kInt16, v); }
MetaValue MetaValue::Int32(int32_t v) { return Signed(ValueType::kInt32, v); }
MetaValue MetaValue::Int64(int64_t v) { return Signed(ValueType::kInt64, v); }

MetaValue MetaValue::Float32(float v) {
  MetaValue m = Scalar(ValueType::kFloat32);
  m.f = v;
  return m;
}

MetaValue MetaValue::Float64(double v) {
  MetaValue m = Scalar(ValueType::kFloat64);
  m.f = v;
  return m;
}

MetaValue MetaValue::String(std::string v) {
  MetaValue m = Scalar(ValueType::kString);
  m.s = std::move(v);
  return m;
}

MetaValue MetaValue::Array(ValueType element_type, std::vector<MetaValue> elements) {
  MetaValue m = Scalar(ValueType::kArray);
  m.element_type = element_type;
  m.elements = std::move(elements);
  return m;
}

MetaValue MetaValue::StringArray(const std::vector<std::string>& values) {
  std::vector<MetaValue> elements;
  elements.reserve(values.size());
  for (const auto& s : values) elements.push_back(String(s));
  return Array(ValueType::kString, std::move(elements));
}

MetaValue MetaValue::Int32Array(const std::vector<int32_t>& values) {
  std::vector<MetaValue> elements;
  elements.reserve(values.size());
  for (int32_t x : values) elements.push_back(Int32(x));
  return Array(ValueType::kInt32, std::move(elements));
}

MetaValue MetaValue::Float32Array(const std::vector<float>& values) {
  std::vector<MetaValue> elements;
  elements.reserve(values.size());
  for (float x : values) elements.push_back(Float32(x));
  return Array(ValueType::kFloat32, std::move(elements));
}

MetaValue MetaValue::FromValue(const Value& value) {
  MetaValue m = Scalar(value.type);
  m.u = value.u;
  m.i = value.i;
  m.f = value.f;
  m.s = std::string(value.s);
  m.element_type = value.element_type;
  m.elements.reserve(value.elements.size());
  for (const auto& e : value.elements) m.elements.push_back(FromValue(e));
  return m;
}

GgufWriter::GgufWriter() = default;
GgufWriter::~GgufWriter() = default;

void GgufWriter::Set(std::string_view key, MetaValue value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::string(key), std::move(value));
}

bool GgufWriter::Has(std::string_view key) const {
  return std::any_of(metadata_.begin(), metadata_.end(),
                     [&](const auto& kv) { return kv.first == key; });
}

void GgufWriter::Remove(std::string_view key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
}

Status GgufWriter::SetAlignment(uint64_t alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment) ||
      alignment > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument(
        fmt::format("gguf writer: alignment {} is not a power of two", alignment));
  }
  if (!tensors_.empty() || begun_) {
    return Status::FailedPrecondition("gguf writer: alignment must be set before tensors");
  }
  alignment_ = alignment;
  if (alignment == 32) {
    Remove("general.alignment");
  } else {
    SetUint32("general.alignment", static_cast<uint32_t>(alignment));
  }
  return Status::Ok();
}

Status GgufWriter::AddTensor(std::string_view name, std::vector<int64_t> dims, TensorType type) {
  if (begun_) return Status::FailedPrecondition("gguf writer: tensors must be declared first");
  if (name.empty()) return Status::InvalidArgument("gguf writer: empty tensor name");
  for (const auto& t : tensors_) {
    if (t.name == name) {
      return Status::AlreadyExists(fmt::format("gguf writer: duplicate tensor '{}'", name));
    }
  }
  if (dims.empty() || dims.size() > 4) {
    return Status::InvalidArgument(
        fmt::format("gguf writer: tensor '{}' has {} dimensions (1 to 4)", name, dims.size()));
  }
  int64_t elements = 1;
  for (int64_t d : dims) {
    if (d <= 0 || elements > std::numeric_limits<int64_t>::max() / d) {
      return Status::InvalidArgument(
          fmt::format("gguf writer: tensor '{}' has a bad dimension {}", name, d));
    }
    elements *= d;
  }
  auto row_bytes = RowBytes(type, dims[0]);
  if (!row_bytes.ok()) return row_bytes.status().WithContext(fmt::format("tensor '{}'", name));
  TensorSpec spec;
  spec.name = std::string(name);
  spec.dims = std::move(dims);
  spec.type = type;
  spec.size_bytes = *row_bytes * static_cast<uint64_t>(elements / spec.dims[0]);
  spec.offset = AlignUp(data_size_, alignment_);
  data_size_ = spec.offset + spec.size_bytes;
  tensors_.push_back(std::move(spec));
  return Status::Ok();
}

Status GgufWriter::Emit(const void* data, size_t size) {
  if (memory_ != nullptr) {
    memory_->append(static_cast<const char*>(data), size);
  } else {
    HEARTH_RETURN_IF_ERROR(file_->Write(data, size));
  }
  written_ += size;
  return Status::Ok();
}

Status GgufWriter::EmitZeros(size_t size) {
  static const char kZeros[256] = {};
  while (size > 0) {
    size_t n = std::min(size, sizeof(kZeros));
    HEARTH_RETURN_IF_ERROR(Emit(kZeros, n));
    size -= n;
  }
  return Status::Ok();
}

Status GgufWriter::EmitString(std::string_view s) {
  const uint64_t length = s.size();
  HEARTH_RETURN_IF_ERROR(Emit(&length, sizeof(length)));
  return Emit(s.data(), s.size());
}

Status GgufWriter::CheckValue(std::string_view key, const MetaValue& value, int depth) const {
  if (static_cast<uint32_t>(value.type) > static_cast<uint32_t>(ValueType::kFloat64)) {
    return Status::InvalidArgument(fmt::format("gguf writer: key '{}' has an unknown type", key));
  }
  if (value.type != ValueType::kArray) return Status::Ok();
  if (depth + 1 >= kMaxNesting) {
    return Status::InvalidArgument(fmt::format("gguf writer: key '{}' nests too deep", key));
  }
  for (const auto& e : value.elements) {
    if (e.type != value.element_type) {
      return Status::InvalidArgument(
          fmt::format("gguf writer: key '{}' mixes {} into an array of {}", key,
                      ValueTypeName(e.type), ValueTypeName(value.element_type)));
    }
    HEARTH_RETURN_IF_ERROR(CheckValue(key, e, depth + 1));
  }
  return Status::Ok();
}

Status GgufWriter::EmitValue(const MetaValue& v, int depth) {
  switch (v.type) {
    case ValueType::kUint8:
    case ValueType::kBool: {
      const uint8_t x = static_cast<uint8_t>(v.u);
      return Emit(&x, 1);
    }
    case ValueType::kInt8: {
      const int8_t x = static_cast<int8_t>(v.i);
      return Emit(&x, 1);
    }
    case ValueType::kUint16: {
      const uint16_t x = static_cast<uint16_t>(v.u);
      return Emit(&x, 2);
    }
    case ValueType::kInt16: {
      const int16_t x = static_cast<int16_t>(v.i);
      return Emit(&x, 2);
    }
    case ValueType::kUint32: {
      const uint32_t x = static_cast<uint32_t>(v.u);
      return Emit(&x, 4);
    }
    case ValueType::kInt32: {
      const int32_t x = static_cast<int32_t>(v.i);
      return Emit(&x, 4);
    }
    case ValueType::kUint64:
      return Emit(&v.u, 8);
    case ValueType::kInt64:
      return Emit(&v.i, 8);
    case ValueType::kFloat32: {
      const float x = static_cast<float>(v.f);
      return Emit(&x, 4);
    }
    case ValueType::kFloat64:
      return Emit(&v.f, 8);
    case ValueType::kString:
      return EmitString(v.s);
    case ValueType::kArray: {
      const uint32_t element_type = static_cast<uint32_t>(v.element_type);
      const uint64_t count = v.elements.size();
      HEARTH_RETURN_IF_ERROR(Emit(&element_type, 4));
      HEARTH_RETURN_IF_ERROR(Emit(&count, 8));
      for (const auto& e : v.elements) HEARTH_RETURN_IF_ERROR(EmitValue(e, depth + 1));
      return Status::Ok();
    }
  }
  return Status::Internal("gguf writer: unknown value type");
}

Status GgufWriter::Begin(const std::filesystem::path& path) {
  if (begun_) return Status::FailedPrecondition("gguf writer: Begin called twice");
  HEARTH_ASSIGN_OR_RETURN(file_, AtomicFileWriter::Create(path));
  return StartOutput();
}

Status GgufWriter::BeginInMemory(std::string* out) {
  if (begun_) return Status::FailedPrecondition("gguf writer: Begin called twice");
  memory_ = out;
  written_ = 0;
  return StartOutput();
}

Status GgufWriter::StartOutput() {
  for (const auto& [key, value] : metadata_) HEARTH_RETURN_IF_ERROR(CheckValue(key, value, 0));
  begun_ = true;
  const uint32_t magic_version[2] = {0x46554747, kVersion};
  const uint64_t counts[2] = {tensors_.size(), metadata_.size()};
  HEARTH_RETURN_IF_ERROR(Emit(magic_version, sizeof(magic_version)));
  HEARTH_RETURN_IF_ERROR(Emit(counts, sizeof(counts)));
  for (const auto& [key, value] : metadata_) {
    HEARTH_RETURN_IF_ERROR(EmitString(key));
    const uint32_t type = static_cast<uint32_t>(value.type);
    HEARTH_RETURN_IF_ERROR(Emit(&type, 4));
    HEARTH_RETURN_IF_ERROR(EmitValue(value, 0));
  }
  for (const auto& t : tensors_) {
    HEARTH_RETURN_IF_ERROR(EmitString(t.name));
    const uint32_t n_dims = static_cast<uint32_t>(t.dims.size());
    HEARTH_RETURN_IF_ERROR(Emit(&n_dims, 4));
    for (int64_t d : t.dims) {
      const uint64_t dim = static_cast<uint64_t>(d);
      HEARTH_RETURN_IF_ERROR(Emit(&dim, 8));
    }
    const uint32_t type = static_cast<uint32_t>(t.type);
    HEARTH_RETURN_IF_ERROR(Emit(&type, 4));
    HEARTH_RETURN_IF_ERROR(Emit(&t.offset, 8));
  }
  const uint64_t header_end = written_;
  data_start_ = AlignUp(header_end, alignment_);
  HEARTH_RETURN_IF_ERROR(EmitZeros(data_start_ - header_end));
  current_ = 0;
  current_filled_ = 0;
  return AdvancePastFinishedTensors();
}

// Moves to the next tensor that still needs bytes, writing the padding before it.
Status GgufWriter::AdvancePastFinishedTensors() {
  while (current_ < tensors_.size() && current_filled_ == tensors_[current_].size_bytes) {
    ++current_;
    current_filled_ = 0;
    if (current_ < tensors_.size()) {
      const uint64_t target = data_start_ + tensors_[current_].offset;
      HEARTH_RETURN_IF_ERROR(EmitZeros(target - written_));
    }
  }
  if (current_ < tensors_.size() && current_filled_ == 0) {
    const uint64_t target = data_start_ + tensors_[current_].offset;
    if (written_ < target) HEARTH_RETURN_IF_ERROR(EmitZeros(target - written_));
  }
  return Status::Ok();
}

Status GgufWriter::Append(const void* data, size_t size) {
  if (!begun_ || finished_) return Status::FailedPrecondition("gguf writer: not writing");
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    if (current_ >= tensors_.size()) {
      return Status::InvalidArgument(
          fmt::format("gguf writer: {} bytes of tensor data beyond the last tensor", size));
    }
    const uint64_t room = tensors_[current_].size_bytes - current_filled_;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(room, size));
    HEARTH_RETURN_IF_ERROR(Emit(p, n));
    current_filled_ += n;
    p += n;
    size -= n;
    HEARTH_RETURN_IF_ERROR(AdvancePastFinishedTensors());
  }
  return Status::Ok();
}

Status GgufWriter::WriteTensor(std::string_view name, std::span<const uint8_t> bytes) {
  if (current_ >= tensors_.size() || tensors_[current_].name != name || current_filled_ != 0) {
    return Status::FailedPrecondition(
        fmt::format("gguf writer: tensor '{}' written out of order (next due: '{}')", name,
                    current_ < tensors_.size() ? tensors_[current_].name : std::string("none")));
  }
  if (bytes.size() != tensors_[current_].size_bytes) {
    return Status::InvalidArgument(fmt::format("gguf writer: tensor '{}' needs {} bytes, got {}",
                                               name, tensors_[current_].size_bytes, bytes.size()));
  }
  return Append(bytes.data(), bytes.size());
}

Status GgufWriter::Finish() {
  if (!begun_ || finished_) return Status::FailedPrecondition("gguf writer: not writing");
  if (current_ < tensors_.size()) {
    return Status::FailedPrecondition(fmt::format("gguf writer: tensor '{}' is missing {} bytes",
                                                  tensors_[current_].name,
                                                  tensors_[current_].size_bytes - current_filled_));
  }
  finished_ = true;
  if (file_) return file_->Commit();
  return Status::Ok();
}

}  // namespace hearth::gguf
