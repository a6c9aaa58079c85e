#include "hearth/model/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "hearth/gguf/quant_blocks.h"

namespace hearth::model {
namespace {

// Blocks start on cache-line (and AVX-512 register) boundaries.
constexpr size_t kAlignment = 64;

Status CheckGeometry(const KvCacheGeometry& g) {
  if (g.layers <= 0 || g.kv_heads <= 0 || g.head_dim <= 0 || g.block_tokens <= 0) {
    return Status::InvalidArgument(fmt::format(
        "kv cache: bad geometry (layers {}, kv_heads {}, head_dim {}, block_tokens {})", g.layers,
        g.kv_heads, g.head_dim, g.block_tokens));
  }
  switch (g.type) {
    case gguf::TensorType::kF32:
    case gguf::TensorType::kF16:
      return Status::Ok();
    case gguf::TensorType::kQ8_0:
      // Q8_0 blocks must not straddle two heads: attention reads one head at a time.
      if (g.head_dim % gguf::kQk8_0 != 0) {
        return Status::InvalidArgument(fmt::format(
            "kv cache: Q8_0 needs head_dim to be a multiple of {}, this model has {}",
            gguf::kQk8_0, g.head_dim));
      }
      return Status::Ok();
    default:
      return Status::InvalidArgument(fmt::format(
          "kv cache: type {} is not supported (F16, Q8_0, F32)", gguf::TraitsOf(g.type).name));
  }
}

}  // namespace

size_t KvCacheGeometry::RowBytes() const {
  const size_t elements = static_cast<size_t>(kv_heads) * static_cast<size_t>(head_dim);
  switch (type) {
    case gguf::TensorType::kF32: return elements * sizeof(float);
    case gguf::TensorType::kQ8_0: return elements / gguf::kQk8_0 * sizeof(gguf::BlockQ8_0);
    default: return elements * sizeof(uint16_t);  // F16
  }
}

Result<std::unique_ptr<KvCacheStorage>> KvCacheStorage::Create(const KvCacheGeometry& geometry,
                                                                uint64_t budget_bytes,
                                                                int64_t min_blocks) {
  HEARTH_RETURN_IF_ERROR(CheckGeometry(geometry));
  const uint64_t block_bytes = geometry.BytesPerBlock();
  const int64_t fit = static_cast<int64_t>(budget_bytes / block_bytes);
  if (fit < std::max<int64_t>(min_blocks, 1)) {
    return Status::ResourceExhausted(fmt::format(
        "kv cache: budget of {} bytes holds {} blocks of {} bytes ({} tokens each), need at "
        "least {}",
        budget_bytes, fit, block_bytes, geometry.block_tokens, std::max<int64_t>(min_blocks, 1)));
  }
  uint64_t total = static_cast<uint64_t>(fit) * block_bytes;
  total = (total + kAlignment - 1) / kAlignment * kAlignment;
  // Left uninitialized: attention only ever reads slots that a forward pass has written, and
  // untouched pages of a large budget then cost no physical memory.
  void* memory = std::aligned_alloc(kAlignment, total);
  if (memory == nullptr) {
    return Status::ResourceExhausted(
        fmt::format("kv cache: cannot allocate {} bytes for {} blocks", total, fit));
  }
  auto storage = std::unique_ptr<KvCacheStorage>(new KvCacheStorage());
  storage->geometry_ = geometry;
  storage->num_blocks_ = fit;
  storage->memory_ = {static_cast<uint8_t*>(memory), &std::free};
  return storage;
}

uint64_t KvCacheStorage::bytes() const {
  return static_cast<uint64_t>(num_blocks_) * geometry_.BytesPerBlock();
}

// Block-major layout: block b occupies BytesPerBlock() contiguous bytes; inside it, layer l holds
// block_tokens K rows followed by block_tokens V rows. A block copy is then a single memcpy.
uint8_t* KvCacheStorage::KeyBlock(int layer, int64_t block) {
  const size_t rows_bytes = geometry_.RowBytes() * static_cast<size_t>(geometry_.block_tokens);
  return memory_.get() + static_cast<size_t>(block) * geometry_.BytesPerBlock() +
         static_cast<size_t>(layer) * 2 * rows_bytes;
}

uint8_t* KvCacheStorage::ValueBlock(int layer, int64_t block) {
  return KeyBlock(layer, block) +
         geometry_.RowBytes() * static_cast<size_t>(geometry_.block_tokens);
}

void KvCacheStorage::CopyBlock(int64_t src, int64_t dst) {
  if (src == dst) return;
  const size_t block_bytes = geometry_.BytesPerBlock();
  std::memcpy(memory_.get() + static_cast<size_t>(dst) * block_bytes,
              memory_.get() + static_cast<size_t>(src) * block_bytes, block_bytes);
}

}  // namespace hearth::model
