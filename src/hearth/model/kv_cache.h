// KvCacheStorage: the memory that holds attention keys and values, cut into fixed-size blocks.
//
// The storage knows nothing about sequences: it is an array of `num_blocks` blocks, each holding
// `block_tokens` token slots for every layer's K and V. Which blocks belong to which sequence
// (block tables), sharing of prefix blocks and eviction are the engine's business
// (engine/kv_block_pool.h). A sequence's token at position p lives in block
// block_table[p / block_tokens], slot p % block_tokens.
//
// Layout per (layer, block): K rows then V rows, each row `kv_heads * head_dim` elements in the
// cache precision (F16, or Q8_0 blocks of 32), row-major by slot. This lets the attention kernel
// take one pointer per block without copying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "hearth/base/status.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::model {

struct KvCacheGeometry {
  int layers = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int block_tokens = 16;
  gguf::TensorType type = gguf::TensorType::kF16;  // kF16 or kQ8_0

  // Bytes of one K (or V) row: kv_heads * head_dim elements.
  size_t RowBytes() const;
  // Bytes that one token occupies across all layers, K and V.
  size_t BytesPerToken() const { return RowBytes() * 2 * static_cast<size_t>(layers); }
  size_t BytesPerBlock() const { return BytesPerToken() * static_cast<size_t>(block_tokens); }
};

class KvCacheStorage {
 public:
  // Allocates as many whole blocks as fit in `budget_bytes`. Fails (with the numbers) when not
  // even `min_blocks` fit.
  static Result<std::unique_ptr<KvCacheStorage>> Create(const KvCacheGeometry& geometry,
                                                        uint64_t budget_bytes,
                                                        int64_t min_blocks);

  const KvCacheGeometry& geometry() const { return geometry_; }
  int64_t num_blocks() const { return num_blocks_; }
  uint64_t bytes() const;

  // Start of the K (or V) rows of `block` in `layer`; `block_tokens` consecutive rows.
  uint8_t* KeyBlock(int layer, int64_t block);
  uint8_t* ValueBlock(int layer, int64_t block);

  // Copies every layer's K and V of `src` block into `dst` (copy-on-write of a shared block).
  void CopyBlock(int64_t src, int64_t dst);

 private:
  KvCacheGeometry geometry_;
  int64_t num_blocks_ = 0;
  std::unique_ptr<uint8_t[], void (*)(void*)> memory_{nullptr, nullptr};
};

}  // namespace hearth::model
