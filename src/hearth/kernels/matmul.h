// Matrix multiplication of F32 activations by GGUF weight tensors, and embedding lookup.
//
//   y[M tokens][N outputs] = x[M][K] · Wᵀ   where W is N rows × K columns in its GGUF type.
//
// Every storage type works (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K). For the
// integer-friendly types (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) activations are quantized once per call
// to 8-bit blocks and dotted with integer SIMD; the other types are widened to F32 per row. Rows
// are split across the pool; for M > 1 each weight row is applied to several tokens while it is
// in cache, so a prompt streams the weights once per ~tile rather than once per token; Q8_0 and
// Q5_0 with more than a few tokens go through a register-blocked GEMM over repacked panels
// (dispatch.h), bit-identical per (row, token) to the one-token path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hearth/base/status.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/tensor_type.h"
#include "hearth/kernels/thread_pool.h"

namespace hearth::kernels {

// A 2-D weight matrix: `rows` rows of `cols` weights each, row-major in `type`, rows
// `row_bytes` apart (RowBytes(type, cols) for a dense GGUF tensor).
struct WeightView {
  gguf::TensorType type = gguf::TensorType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;

  // Validates the geometry (cols a multiple of the block size, supported type).
  static Result<WeightView> Make(gguf::TensorType type, const void* data, int64_t rows,
                                 int64_t cols);
  // A GGUF tensor of 1 or 2 dimensions (dims[0] = cols); higher ranks are flattened into rows.
  static Result<WeightView> FromTensor(const gguf::TensorInfo& tensor);

  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + static_cast<size_t>(r) * row_bytes;
  }
};

// True for the types MatMul and EmbeddingLookup accept.
bool IsSupportedWeightType(gguf::TensorType type);

// y[i * w.rows + r] = sum_k x[i * w.cols + k] * W[r][k] for i < m, r < w.rows.
// x and y must not overlap. Safe to call concurrently with different pools.
void MatMul(const WeightView& w, const float* x, int64_t m, float* y, ThreadPool& pool);

// Same with explicit row strides (in floats) for x and y, e.g. to write into a column slice
// of a wider output. ldx >= w.cols, ldy >= w.rows.
void MatMulStrided(const WeightView& w, const float* x, int64_t ldx, int64_t m, float* y,
                   int64_t ldy, ThreadPool& pool);

// Several matrices applied to the same input (a layer's Q, K and V, or gate and up):
// ys[j] = x · ws[j]ᵀ, each exactly as MatMul(*ws[j], x, m, ys[j]) computes it. All must have
// x's width. When the matrices can share the quantized input (a few tokens and one activation
// format, or many tokens and panel kernels for all) it is quantized once and all the matrices'
// rows go to the pool as one job: one round trip instead of one per matrix.
struct MatMulTarget {
  const WeightView* w = nullptr;
  float* y = nullptr;
};
void MatMulGroup(std::span<const MatMulTarget> targets, const float* x, int64_t m,
                 ThreadPool& pool);

// out[0..cols) = row `token` of w, dequantized. OutOfRange when token is not in [0, rows).
Status EmbeddingLookup(const WeightView& w, int32_t token, float* out);

// Dequantizes `n` weights of `type` (a multiple of its block size) with the active kernels.
void DequantizeRowFast(gguf::TensorType type, const void* src, float* dst, int64_t n);

}  // namespace hearth::kernels
