#include "hearth/gguf/tensor_type.h"

#include <array>
#include <cctype>
#include <limits>

#include "hearth/gguf/quant_blocks.h"

namespace hearth::gguf {
namespace {

constexpr std::array<TensorTypeTraits, 15> kTraits = {{
    {TensorType::kF32, "F32", 1, 4, false},
    {TensorType::kF16, "F16", 1, 2, false},
    {TensorType::kQ4_0, "Q4_0", kQk4_0, sizeof(BlockQ4_0), true},
    {TensorType::kQ4_1, "Q4_1", kQk4_1, sizeof(BlockQ4_1), true},
    {TensorType::kQ5_0, "Q5_0", kQk5_0, sizeof(BlockQ5_0), true},
    {TensorType::kQ5_1, "Q5_1", kQk5_1, sizeof(BlockQ5_1), true},
    {TensorType::kQ8_0, "Q8_0", kQk8_0, sizeof(BlockQ8_0), true},
    {TensorType::kQ8_1, "Q8_1", kQk8_1, sizeof(BlockQ8_1), true},
    {TensorType::kQ2_K, "Q2_K", kQkK, sizeof(BlockQ2_K), true},
    {TensorType::kQ3_K, "Q3_K", kQkK, sizeof(BlockQ3_K), true},
    {TensorType::kQ4_K, "Q4_K", kQkK, sizeof(BlockQ4_K), true},
    {TensorType::kQ5_K, "Q5_K", kQkK, sizeof(BlockQ5_K), true},
    {TensorType::kQ6_K, "Q6_K", kQkK, sizeof(BlockQ6_K), true},
    {TensorType::kQ8_K, "Q8_K", kQkK, sizeof(BlockQ8_K), true},
    {TensorType::kBF16, "BF16", 1, 2, false},
}};

}  // namespace

const TensorTypeTraits* FindTensorType(uint32_t id) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == id) return &t;
  }
  return nullptr;
}

const TensorTypeTraits& TraitsOf(TensorType type) {
  return *FindTensorType(static_cast<uint32_t>(type));
}

std::optional<TensorType> TensorTypeFromName(std::string_view name) {
  for (const auto& t : kTraits) {
    if (t.name.size() != name.size()) continue;
    bool equal = true;
    for (size_t i = 0; i < name.size(); ++i) {
      if (std::toupper(static_cast<unsigned char>(name[i])) != t.name[i]) equal = false;
    }
    if (equal) return t.type;
  }
  return std::nullopt;
}

Result<uint64_t> RowBytes(TensorType type, int64_t n) {
  const auto& t = TraitsOf(type);
  if (n < 0 || n % t.block_size != 0) {
    return Status::InvalidArgument(fmt::format("row of {} weights is not a multiple of the {} block "
                                               "size {}",
                                               n, t.name, t.block_size));
  }
  uint64_t blocks = static_cast<uint64_t>(n) / t.block_size;
  if (blocks > std::numeric_limits<uint64_t>::max() / t.block_bytes) {
    return Status::OutOfRange(fmt::format("row of {} {} weights overflows", n, t.name));
  }
  return blocks * t.block_bytes;
}

}  // namespace hearth::gguf
