// Internal: the table of kernel function pointers for one instruction-set level, and the
// activation formats the quantized dot products consume. Public entry points (matmul.h, ops.h)
// read the active table; tests compare tables of different levels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hearth/gguf/quant_blocks.h"
#include "hearth/gguf/tensor_type.h"
#include "hearth/kernels/cpu_features.h"

namespace hearth::kernels::internal {

// 32 activations quantized symmetrically: x ≈ d * qs. `s` = d * sum(qs), which lets weight
// formats with an offset (Q4_0's -8) fold it into one multiply per block.
struct ActQ8 {
  float d;
  float s;
  int8_t qs[32];
};
static_assert(sizeof(ActQ8) == 40);

// What a weight type's dot product wants its activations as.
enum class ActFormat { kF32, kQ8, kQ8K };

// out[t] = dot(weight row, activation row t) for t < nt (1..kMaxTokens); activation row t
// starts act_stride bytes after row t-1. k is the row length in weights.
inline constexpr int kMaxTokens = 4;
using RowDotFn = void (*)(int64_t k, const void* w_row, const void* act, size_t act_stride,
                          int nt, float* out);
// The same for two weight rows at once (w_row and w_row + w_stride bytes): out[t] for the first
// row, out[kMaxTokens + t] for the second. Sharing each activation load between two rows and
// keeping 2 x nt accumulators in registers is what makes M > 1 matmuls compute-efficient.
using RowPairDotFn = void (*)(int64_t k, const void* w_row, size_t w_stride, const void* act,
                              size_t act_stride, int nt, float* out);

inline constexpr int kTypeSlots = 31;  // indexed by the GGUF type id (BF16 = 30)

// Panels for the blocked GEMM (KernelTable::panel_*): the 32 int8 quants of a block, with the
// blocks of kPanelRows weight rows (or kPanelTokens activation rows) interleaved: block b of
// member j is at byte 32 * (b * members + j), so the micro-kernel reads one sequential stream
// per operand. Block scales are floats, one array per member, padded with zeros to a multiple
// of kPanelScaleGroup.
inline constexpr int kPanelScaleGroup = 8;
inline constexpr int kPanelRows = 2;    // micro-kernel tile: rows ...
inline constexpr int kPanelTokens = 4;  // ... by tokens
inline constexpr int64_t PanelScalesPerRow(int64_t k) {
  return (k / 32 + kPanelScaleGroup - 1) / kPanelScaleGroup * kPanelScaleGroup;
}

struct KernelTable {
  IsaLevel level = IsaLevel::kScalar;
  // Direct dot products; nullptr means "dequantize the row to F32, then use dot[F32]".
  RowDotFn dot[kTypeSlots] = {};
  // Optional two-row variants of dot (same results row by row); nullptr: call dot per row.
  RowPairDotFn dot2[kTypeSlots] = {};
  void (*dequantize[kTypeSlots])(const void* src, float* dst, int64_t n) = {};
  // Rewrites n weights of a type whose weights are d * (q - offset) (Q4_0, Q5_0) as Q8_0 blocks
  // with the same d: exactly the same weights, in the cheapest format to multiply. MatMul does
  // this once per row block when many tokens share the call, so the unpacking is not repeated
  // for every group of kMaxTokens tokens. nullptr: no such conversion.
  void (*to_q8_0[kTypeSlots])(const void* src, gguf::BlockQ8_0* dst, int64_t n) = {};
  // Dot products over to_q8_0's output in the accumulation order of the original type's own
  // dot (bit-identical to it), so a token's result does not depend on whether the matmul took
  // the unpacked path; nullptr: the Q8_0 kernels (dot/dot2) already have that order.
  RowDotFn unpacked_dot[kTypeSlots] = {};
  RowPairDotFn unpacked_dot2[kTypeSlots] = {};
  // Blocked int8 GEMM for many tokens (prompts, batched decode) over 32-weight blocks: weights
  // and activations are repacked once per call into panels (layout above) that a
  // register-blocked micro-kernel multiplies, every load reused across several rows or tokens.
  // Results are bit-identical to `dot` of the same level for the same (row, token).
  // panel_pack_rows[type] == nullptr: the type has no such path.
  //
  // Pack one weight row (or one token's quantized activations) as member `member` of a panel of
  // `members`; `scales` receives PanelScalesPerRow(k) floats.
  void (*panel_pack_rows[kTypeSlots])(const void* src, int64_t k, int8_t* panel, int members,
                                      int member, float* scales) = {};
  void (*panel_pack_act)(const ActQ8* src, int64_t k, int8_t* panel, int members, int member,
                         float* scales) = nullptr;
  // A full kPanelRows x kPanelTokens tile: weight panel `w` with member scales `ws` (row r's at
  // ws + r * s_stride), activation panel `a` with scales `as` (token t's at as + t * s_stride);
  // stores y[t * ldy + r] for r < nr, t < nt (the other members may be padding: any quants,
  // zero scales).
  void (*panel_gemm)(int64_t k, const int8_t* w, const float* ws, const int8_t* a,
                     const float* as, size_t s_stride, int nr, int nt, float* y,
                     int64_t ldy) = nullptr;
  void (*quantize_q8)(const float* x, ActQ8* out, int64_t k) = nullptr;
  void (*quantize_q8k)(const float* x, gguf::BlockQ8_K* out, int64_t k) = nullptr;

  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  void (*axpy)(float a, const float* x, float* y, int64_t n) = nullptr;  // y += a * x
  // Attention over a tile of n contiguous rows of d floats: out[j] = dot(q, row j), and
  // out[i] += sum_j p[j] * row j [i] (the output row stays in registers across the tile).
  void (*dot_rows)(const float* q, const float* rows, int64_t n, int64_t d, float* out) = nullptr;
  void (*accumulate_rows)(const float* p, const float* rows, int64_t n, int64_t d,
                          float* out) = nullptr;
  float (*sum_squares)(const float* x, int64_t n) = nullptr;
  void (*mul_scalar_vec)(const float* x, float s, const float* w, float* out, int64_t n) =
      nullptr;  // out = x * s * w (w may be null)
  float (*max)(const float* x, int64_t n) = nullptr;
  // x = exp(x - m); returns the sum, accumulated in double as the reference engine does.
  double (*exp_sub_sum)(float* x, float m, int64_t n) = nullptr;
  void (*silu_mul)(const float* g, const float* u, float* out, int64_t n) = nullptr;
  void (*add)(const float* a, const float* b, float* out, int64_t n) = nullptr;
  void (*scale)(float* x, float s, int64_t n) = nullptr;
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n) = nullptr;
  void (*f32_to_f16)(const float* src, uint16_t* dst, int64_t n) = nullptr;
};

ActFormat ActFormatFor(gguf::TensorType type);

// Active table (chosen once; see SetIsaLevel).
const KernelTable& Kernels();
// Table of a given level; nullptr when the CPU cannot run it.
const KernelTable* KernelsFor(IsaLevel level);

// Per-level fillers: each starts from the table of the level below and overrides what it
// accelerates.
void FillScalarKernels(KernelTable& table);
void FillAvx2Kernels(KernelTable& table);
void FillAvx512Kernels(KernelTable& table);

// Q4_K/Q5_K packed 6-bit scale and min of sub-block j (0..7).
inline void UnpackKScale(const uint8_t* s, int j, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// UnpackKScale for all eight sub-blocks, four at a time in 32-bit words (byte j of *scales and
// *mins, in memory order on a little-endian CPU, is entry j): packed bytes 0-3 hold sub-blocks
// 0-3's scales in their low six bits and the top two bits of sub-blocks 4-7's, bytes 4-7 the
// same for the mins, and the low four bits of sub-blocks 4-7's scales and mins are the nibbles
// of bytes 8-11.
inline void UnpackKScales(const uint8_t* packed, uint64_t* scales, uint64_t* mins) {
  uint32_t w0, w1, w2;
  std::memcpy(&w0, packed, 4);
  std::memcpy(&w1, packed + 4, 4);
  std::memcpy(&w2, packed + 8, 4);
  constexpr uint32_t kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kLow2 = 0x03030303;
  const uint32_t scales_lo = w0 & kLow6, mins_lo = w1 & kLow6;
  const uint32_t scales_hi = (w2 & kLow4) | (((w0 >> 6) & kLow2) << 4);
  const uint32_t mins_hi = ((w2 >> 4) & kLow4) | (((w1 >> 6) & kLow2) << 4);
  *scales = scales_lo | (uint64_t{scales_hi} << 32);
  *mins = mins_lo | (uint64_t{mins_hi} << 32);
}

}  // namespace hearth::kernels::internal
