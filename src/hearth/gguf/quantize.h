// Scalar reference quantization and dequantization for every GGUF tensor type Hearth supports.
//
// Bit-compatible with the GGUF block layouts in quant_blocks.h: a row quantized here reads back
// identically in any GGUF engine, and rows from any GGUF file dequantize here. These are the
// reference implementations that optimized kernels (kernels/) are tested against; they favour
// clarity over speed, but must still be fast enough for `hearth model quantize`.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hearth/base/status.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::gguf {

// Converts `n` weights of `type` at `src` to float. `n` must be a multiple of the type's block
// size (callers check with RowBytes).
void DequantizeRow(TensorType type, const void* src, float* dst, int64_t n);

// Quantizes `n` floats into `type` at `dst` (RowBytes(type, n) bytes). `importance` may be null;
// when given it weights the error of each weight (used by K-quant search). Fails for types that
// cannot be a storage type (Q8_K) or when n is not a multiple of the block size.
Status QuantizeRow(TensorType type, const float* src, void* dst, int64_t n,
                   const float* importance = nullptr);

// True when QuantizeRow supports `type` as a target.
bool CanQuantizeTo(TensorType type);

// Per-format K-quant rows, defined in quantize_k.cc and dispatched by the functions above.
// `blocks` is the number of 256-weight super-blocks; inputs are already validated (finite,
// |x| <= 65504). `importance` is null or holds one non-negative weight per input.
namespace detail {
void DequantizeQ2K(const void* src, float* dst, int64_t blocks);
void DequantizeQ3K(const void* src, float* dst, int64_t blocks);
void DequantizeQ4K(const void* src, float* dst, int64_t blocks);
void DequantizeQ5K(const void* src, float* dst, int64_t blocks);
void DequantizeQ6K(const void* src, float* dst, int64_t blocks);
void DequantizeQ8K(const void* src, float* dst, int64_t blocks);
void QuantizeQ2K(const float* src, void* dst, int64_t blocks, const float* importance);
void QuantizeQ3K(const float* src, void* dst, int64_t blocks, const float* importance);
void QuantizeQ4K(const float* src, void* dst, int64_t blocks, const float* importance);
void QuantizeQ5K(const float* src, void* dst, int64_t blocks, const float* importance);
void QuantizeQ6K(const float* src, void* dst, int64_t blocks, const float* importance);
}  // namespace detail

}  // namespace hearth::gguf
