#include "hearth/gguf/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace hearth::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayNesting = 8;      // real files nest at most 2 deep
constexpr uint32_t kMaxDims = 4;

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader maps little-endian files directly");

bool IsKnownValueType(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::kFloat64); }

// Smallest number of bytes one value of `type` can occupy; used to reject element counts that
// cannot fit in the remaining bytes before anything is allocated.
uint64_t MinEncodedSize(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString:  // u64 length
      return 8;
    case ValueType::kArray:  // u32 element type + u64 count
      return 12;
  }
  return 1;
}

// Reads the file front to back. Every read checks the remaining length first; every error
// names the byte offset where the bad field starts.
class Parser {
 public:
  explicit Parser(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  Status Error(uint64_t at, std::string_view problem) const {
    return Status::Corruption(fmt::format("gguf: byte {}: {}", at, problem));
  }

  template <typename T>
  Result<T> Read(std::string_view what) {
    if (remaining() < sizeof(T)) {
      return Error(pos_, fmt::format("file truncated reading {} ({} bytes needed, {} left)", what,
                                     sizeof(T), remaining()));
    }
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  Result<std::string_view> ReadString(std::string_view what) {
    const uint64_t start = pos_;
    HEARTH_ASSIGN_OR_RETURN(uint64_t length, Read<uint64_t>(what));
    if (length > remaining()) {
      return Error(start, fmt::format("{} length {} exceeds the {} bytes left in the file", what,
                                      length, remaining()));
    }
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return s;
  }

  Status ReadValue(ValueType type, int depth, Value* out) {
    out->type = type;
    switch (type) {
      case ValueType::kUint8:
        return ReadUnsigned<uint8_t>(out);
      case ValueType::kUint16:
        return ReadUnsigned<uint16_t>(out);
      case ValueType::kUint32:
        return ReadUnsigned<uint32_t>(out);
      case ValueType::kUint64:
        return ReadUnsigned<uint64_t>(out);
      case ValueType::kInt8:
        return ReadSigned<int8_t>(out);
      case ValueType::kInt16:
        return ReadSigned<int16_t>(out);
      case ValueType::kInt32:
        return ReadSigned<int32_t>(out);
      case ValueType::kInt64:
        return ReadSigned<int64_t>(out);
      case ValueType::kFloat32: {
        HEARTH_ASSIGN_OR_RETURN(float f, Read<float>("float32 value"));
        out->f = f;
        return Status::Ok();
      }
      case ValueType::kFloat64: {
        HEARTH_ASSIGN_OR_RETURN(double f, Read<double>("float64 value"));
        out->f = f;
        return Status::Ok();
      }
      case ValueType::kBool: {
        const uint64_t at = pos_;
        HEARTH_ASSIGN_OR_RETURN(uint8_t b, Read<uint8_t>("bool value"));
        if (b > 1) return Error(at, fmt::format("bool value {} is neither 0 nor 1", b));
        out->u = b;
        out->i = b;
        return Status::Ok();
      }
      case ValueType::kString: {
        HEARTH_ASSIGN_OR_RETURN(out->s, ReadString("string value"));
        return Status::Ok();
      }
      case ValueType::kArray:
        return ReadArray(depth, out);
    }
    return Error(pos_, "unknown value type");  // unreachable: callers check the id
  }

  Result<ValueType> ReadValueType(std::string_view what) {
    const uint64_t at = pos_;
    HEARTH_ASSIGN_OR_RETURN(uint32_t id, Read<uint32_t>(what));
    if (!IsKnownValueType(id)) return Error(at, fmt::format("unknown {} {}", what, id));
    return static_cast<ValueType>(id);
  }

 private:
  template <typename T>
  Status ReadUnsigned(Value* out) {
    HEARTH_ASSIGN_OR_RETURN(T v, Read<T>("integer value"));
    out->u = v;
    if (static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out->i = static_cast<int64_t>(v);
    }
    out->f = static_cast<double>(v);
    return Status::Ok();
  }

  template <typename T>
  Status ReadSigned(Value* out) {
    HEARTH_ASSIGN_OR_RETURN(T v, Read<T>("integer value"));
    out->i = v;
    if (v >= 0) out->u = static_cast<uint64_t>(v);
    out->f = static_cast<double>(v);
    return Status::Ok();
  }

  Status ReadArray(int depth, Value* out) {
    const uint64_t start = pos_;
    if (depth >= kMaxArrayNesting) {
      return Error(start, fmt::format("arrays nested deeper than {} levels", kMaxArrayNesting));
    }
    HEARTH_ASSIGN_OR_RETURN(out->element_type, ReadValueType("array element type"));
    const uint64_t count_at = pos_;
    HEARTH_ASSIGN_OR_RETURN(uint64_t count, Read<uint64_t>("array length"));
    const uint64_t min_size = MinEncodedSize(out->element_type);
    if (count > remaining() / min_size) {
      return Error(count_at, fmt::format("array of {} {} elements cannot fit in the {} bytes left",
                                         count, ValueTypeName(out->element_type), remaining()));
    }
    out->u = count;
    out->elements.resize(count);
    for (auto& element : out->elements) {
      HEARTH_RETURN_IF_ERROR(ReadValue(out->element_type, depth + 1, &element));
    }
    return Status::Ok();
  }

  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

Status WrongType(std::string_view key, const Value& v, std::string_view wanted) {
  return Status::InvalidArgument(
      fmt::format("gguf: key '{}' is {}, expected {}", key, ValueTypeName(v.type), wanted));
}

bool IsSigned(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}

// Unsigned view of an integer value; nullopt when negative.
std::optional<uint64_t> AsUint(const Value& v) {
  if (IsSigned(v.type) && v.i < 0) return std::nullopt;
  return v.u;
}

std::optional<int64_t> AsInt(const Value& v) {
  if (!IsSigned(v.type) && v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return v.i;
}

}  // namespace

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
      return "uint8";
    case ValueType::kInt8:
      return "int8";
    case ValueType::kUint16:
      return "uint16";
    case ValueType::kInt16:
      return "int16";
    case ValueType::kUint32:
      return "uint32";
    case ValueType::kInt32:
      return "int32";
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "uint64";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

bool Value::is_integer() const {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64:
      return true;
    default:
      return false;
  }
}

Result<GgufFile> GgufFile::Open(const std::filesystem::path& path, MapMode mode) {
  HEARTH_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path, mode));
  auto mapping = std::make_shared<MappedFile>(std::move(mapped));
  auto parsed = Parse(mapping->bytes());
  if (!parsed.ok()) return parsed.status().WithContext(path.string());
  GgufFile file = std::move(parsed).value();
  file.mapping_ = std::move(mapping);
  file.path_ = path;
  return file;
}

Result<GgufFile> GgufFile::Parse(std::span<const uint8_t> bytes) {
  Parser p(bytes);
  GgufFile file;
  file.bytes_ = bytes;

  // Header.
  HEARTH_ASSIGN_OR_RETURN(uint32_t magic, p.Read<uint32_t>("magic"));
  if (magic != kMagic) {
    return p.Error(0, fmt::format("bad magic {:#010x}: not a GGUF file", magic));
  }
  HEARTH_ASSIGN_OR_RETURN(file.version_, p.Read<uint32_t>("version"));
  if (file.version_ == 1) {
    return p.Error(4, "GGUF version 1 is not supported (re-convert the model with a current tool)");
  }
  if (file.version_ != 2 && file.version_ != 3) {
    const uint32_t swapped = (file.version_ >> 24) | ((file.version_ >> 8) & 0xff00) |
                             ((file.version_ << 8) & 0xff0000) | (file.version_ << 24);
    if (swapped >= 1 && swapped <= 3) {
      return p.Error(4, fmt::format("big-endian GGUF (version {}) is not supported", swapped));
    }
    return p.Error(
        4, fmt::format("unsupported GGUF version {} (2 and 3 are supported)", file.version_));
  }
  const uint64_t tensor_count_at = p.pos();
  HEARTH_ASSIGN_OR_RETURN(uint64_t tensor_count, p.Read<uint64_t>("tensor count"));
  const uint64_t kv_count_at = p.pos();
  HEARTH_ASSIGN_OR_RETURN(uint64_t kv_count, p.Read<uint64_t>("metadata count"));
  // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least
  // 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
  if (kv_count > p.remaining() / 13) {
    return p.Error(kv_count_at, fmt::format("metadata count {} cannot fit in the {} bytes left",
                                            kv_count, p.remaining()));
  }
  if (tensor_count > p.remaining() / 24) {
    return p.Error(tensor_count_at, fmt::format("tensor count {} cannot fit in the {} bytes left",
                                                tensor_count, p.remaining()));
  }

  // Metadata.
  file.metadata_.reserve(kv_count);
  std::unordered_set<std::string_view> keys;
  for (uint64_t k = 0; k < kv_count; ++k) {
    const uint64_t key_at = p.pos();
    KeyValue kv;
    HEARTH_ASSIGN_OR_RETURN(kv.key, p.ReadString("metadata key"));
    if (!keys.insert(kv.key).second) {
      return p.Error(key_at, fmt::format("duplicate metadata key '{}'", kv.key));
    }
    HEARTH_ASSIGN_OR_RETURN(ValueType type, p.ReadValueType("value type"));
    HEARTH_RETURN_IF_ERROR(p.ReadValue(type, 0, &kv.value));
    if (kv.key == "general.alignment") {
      const Value& v = kv.value;
      if (!v.is_integer()) {
        return p.Error(key_at, fmt::format("general.alignment is a {}, expected an integer",
                                           ValueTypeName(v.type)));
      }
      auto a = AsUint(v);
      if (!a || *a == 0 || !std::has_single_bit(*a)) {
        return p.Error(key_at,
                       fmt::format("general.alignment {} is not a nonzero power of two", v.i));
      }
      file.alignment_ = *a;
    }
    file.metadata_.push_back(std::move(kv));
  }

  // Tensor infos.
  file.tensors_.reserve(tensor_count);
  std::unordered_set<std::string_view> names;
  std::vector<uint64_t> info_offsets;
  info_offsets.reserve(tensor_count);
  for (uint64_t t = 0; t < tensor_count; ++t) {
    const uint64_t info_at = p.pos();
    info_offsets.push_back(info_at);
    TensorInfo info;
    HEARTH_ASSIGN_OR_RETURN(info.name, p.ReadString("tensor name"));
    if (!names.insert(info.name).second) {
      return p.Error(info_at, fmt::format("duplicate tensor name '{}'", info.name));
    }
    const uint64_t dims_at = p.pos();
    HEARTH_ASSIGN_OR_RETURN(uint32_t n_dims, p.Read<uint32_t>("tensor dimension count"));
    if (n_dims > kMaxDims) {
      return p.Error(dims_at, fmt::format("tensor '{}' has {} dimensions (at most {})", info.name,
                                          n_dims, kMaxDims));
    }
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = p.pos();
      HEARTH_ASSIGN_OR_RETURN(uint64_t dim, p.Read<uint64_t>("tensor dimension"));
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return p.Error(dim_at, fmt::format("tensor '{}' dimension {} is {} (must be positive)",
                                           info.name, d, static_cast<int64_t>(dim)));
      }
      if (elements > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(dim)) {
        return p.Error(dim_at,
                       fmt::format("tensor '{}' element count overflows 64 bits", info.name));
      }
      elements *= static_cast<int64_t>(dim);
      info.dims.push_back(static_cast<int64_t>(dim));
    }
    info.element_count = elements;
    const uint64_t type_at = p.pos();
    HEARTH_ASSIGN_OR_RETURN(uint32_t type_id, p.Read<uint32_t>("tensor type"));
    const TensorTypeTraits* traits = FindTensorType(type_id);
    if (traits == nullptr) {
      return p.Error(type_at,
                     fmt::format("tensor '{}' has unknown tensor type {}", info.name, type_id));
    }
    info.type = traits->type;
    auto row_bytes = RowBytes(info.type, info.row_length());
    if (!row_bytes.ok()) {
      return p.Error(type_at,
                     fmt::format("tensor '{}': rows of {} weights are not a multiple of "
                                 "the {} block size {}",
                                 info.name, info.row_length(), traits->name, traits->block_size));
    }
    const uint64_t rows = static_cast<uint64_t>(info.rows());
    if (*row_bytes != 0 && rows > std::numeric_limits<uint64_t>::max() / *row_bytes) {
      return p.Error(type_at, fmt::format("tensor '{}' byte size overflows 64 bits", info.name));
    }
    info.size_bytes = *row_bytes * rows;
    const uint64_t offset_at = p.pos();
    HEARTH_ASSIGN_OR_RETURN(info.offset, p.Read<uint64_t>("tensor offset"));
    if (info.offset % file.alignment_ != 0) {
      return p.Error(offset_at, fmt::format("tensor '{}' offset {} is not a multiple of the "
                                            "alignment {}",
                                            info.name, info.offset, file.alignment_));
    }
    file.tensors_.push_back(std::move(info));
  }

  // Data section: starts at the next multiple of the alignment.
  const uint64_t infos_end = p.pos();
  file.data_offset_ = (infos_end + file.alignment_ - 1) / file.alignment_ * file.alignment_;
  if (file.data_offset_ < infos_end) {  // wrapped around with a huge alignment
    return p.Error(infos_end,
                   fmt::format("alignment {} overflows the data offset", file.alignment_));
  }
  const uint64_t file_size = bytes.size();
  for (size_t t = 0; t < file.tensors_.size(); ++t) {
    TensorInfo& info = file.tensors_[t];
    const uint64_t data_space = file_size > file.data_offset_ ? file_size - file.data_offset_ : 0;
    if (info.offset > data_space || info.size_bytes > data_space - info.offset) {
      return p.Error(info_offsets[t],
                     fmt::format("tensor '{}' data ({} bytes at data offset {}) lies outside the "
                                 "file ({} data bytes)",
                                 info.name, info.size_bytes, info.offset, data_space));
    }
    info.data = bytes.data() + file.data_offset_ + info.offset;
  }

  // Overlap: sort by offset and compare neighbours.
  std::vector<size_t> order(file.tensors_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return file.tensors_[a].offset < file.tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo& prev = file.tensors_[order[i - 1]];
    const TensorInfo& cur = file.tensors_[order[i]];
    if (prev.offset + prev.size_bytes > cur.offset) {
      return p.Error(info_offsets[order[i]],
                     fmt::format("tensor '{}' (data offset {}) overlaps tensor '{}' (data offset "
                                 "{}, {} bytes)",
                                 cur.name, cur.offset, prev.name, prev.offset, prev.size_bytes));
    }
  }
  return file;
}

const Value* GgufFile::Find(std::string_view key) const {
  for (const auto& kv : metadata_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {
Status Missing(std::string_view key) {
  return Status::NotFound(fmt::format("gguf: key '{}' not found", key));
}
}  // namespace

Result<std::string_view> GgufFile::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type != ValueType::kString) return WrongType(key, *v, "string");
  return v->s;
}

Result<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (!v->is_integer()) return WrongType(key, *v, "an unsigned integer");
  auto u = AsUint(*v);
  if (!u) {
    return Status::OutOfRange(fmt::format("gguf: key '{}' is negative ({})", key, v->i));
  }
  return *u;
}

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (!v->is_integer()) return WrongType(key, *v, "an integer");
  auto i = AsInt(*v);
  if (!i) {
    return Status::OutOfRange(fmt::format("gguf: key '{}' value {} exceeds int64", key, v->u));
  }
  return *i;
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (!v->is_float() && !v->is_integer()) return WrongType(key, *v, "a number");
  return v->f;
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type != ValueType::kBool) return WrongType(key, *v, "bool");
  return v->u != 0;
}

Result<std::vector<std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  if (v->type != ValueType::kArray || v->element_type != ValueType::kString) {
    return WrongType(key, *v, "an array of strings");
  }
  std::vector<std::string_view> out;
  out.reserve(v->elements.size());
  for (const auto& e : v->elements) out.push_back(e.s);
  return out;
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  Value probe;
  probe.type = v->element_type;
  if (v->type != ValueType::kArray || !probe.is_integer()) {
    return WrongType(key, *v, "an array of integers");
  }
  std::vector<int64_t> out;
  out.reserve(v->elements.size());
  for (size_t i = 0; i < v->elements.size(); ++i) {
    auto value = AsInt(v->elements[i]);
    if (!value) {
      return Status::OutOfRange(fmt::format("gguf: key '{}' element {} exceeds int64", key, i));
    }
    out.push_back(*value);
  }
  return out;
}

Result<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return Missing(key);
  Value probe;
  probe.type = v->element_type;
  if (v->type != ValueType::kArray || (!probe.is_float() && !probe.is_integer())) {
    return WrongType(key, *v, "an array of numbers");
  }
  std::vector<float> out;
  out.reserve(v->elements.size());
  for (const auto& e : v->elements) out.push_back(static_cast<float>(e.f));
  return out;
}

std::string_view GgufFile::architecture() const {
  auto arch = GetString("general.architecture");
  return arch.ok() ? *arch : std::string_view();
}

Result<uint64_t> GgufFile::ArchUint(std::string_view suffix) const {
  return GetUint(fmt::format("{}.{}", architecture(), suffix));
}

Result<double> GgufFile::ArchFloat(std::string_view suffix) const {
  return GetFloat(fmt::format("{}.{}", architecture(), suffix));
}

}  // namespace hearth::gguf
