// Float formats and the 32-weight "legacy" quants (Q4_0 ... Q8_0), plus the type dispatch.
//
// The legacy quantizers use the same rounding rules as the reference GGUF quantizer (scale from
// the largest-magnitude weight, round half away from zero), so a row quantized here is
// byte-identical to what llama.cpp writes for the same floats (up to the levels of blocks whose
// scale underflows fp16 to zero, which decode to zeros either way). The K-quants live in
// quantize_k.cc.
#include "hearth/gguf/quantize.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "hearth/base/half.h"
#include "hearth/gguf/quant_blocks.h"

namespace hearth::gguf {
namespace {

// Largest magnitude a weight may have in a quantized row: every block scale and min is stored
// as fp16, so anything larger could turn into an infinite scale.
constexpr float kMaxQuantizableMagnitude = 65504.0f;

// Same result as Fp16ToFp32 for every input (NaN payloads included), but written as selects
// instead of branches so that loops over it vectorize.
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent_mantissa = static_cast<uint32_t>(h & 0x7fff) << 13;
  const uint32_t exponent = exponent_mantissa & 0x0f800000u;
  // Rebias the exponent from 15 to 127.
  uint32_t bits = exponent_mantissa + (112u << 23);
  // Inf/NaN: the exponent field must become all ones.
  bits = exponent == 0x0f800000u ? bits + (112u << 23) : bits;
  // Zero/subnormal: treat the value as 1.mantissa * 2^-14 and subtract the implicit 2^-14,
  // which is exact and avoids denormal arithmetic.
  const float subnormal =
      std::bit_cast<float>(bits + (1u << 23)) - std::bit_cast<float>(113u << 23);
  const uint32_t magnitude = exponent == 0 ? std::bit_cast<uint32_t>(subnormal) : bits;
  return std::bit_cast<float>(magnitude | sign);
}

void DequantizeF32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void DequantizeF16(const void* src, float* dst, int64_t n) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(in[i]);
}

void DequantizeBF16(const void* src, float* dst, int64_t n) {
  const auto* in = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFp32(in[i]);
}

void DequantizeQ4_0(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQk4_0) {
    const float d = HalfToFloat(block->d);
    for (int j = 0; j < kQk4_0 / 2; ++j) {
      dst[j] = d * static_cast<float>((block->qs[j] & 0xf) - 8);
      dst[j + kQk4_0 / 2] = d * static_cast<float>((block->qs[j] >> 4) - 8);
    }
  }
}

void DequantizeQ4_1(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQk4_1) {
    const float d = HalfToFloat(block->d);
    const float m = HalfToFloat(block->m);
    for (int j = 0; j < kQk4_1 / 2; ++j) {
      dst[j] = d * static_cast<float>(block->qs[j] & 0xf) + m;
      dst[j + kQk4_1 / 2] = d * static_cast<float>(block->qs[j] >> 4) + m;
    }
  }
}

// The 5th bits: bit j of the little-endian 32-bit qh belongs to weight j.
inline uint32_t LoadQh(const uint8_t qh[4]) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
         static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
}

void DequantizeQ5_0(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQk5_0) {
    const float d = HalfToFloat(block->d);
    const uint32_t qh = LoadQh(block->qh);
    for (int j = 0; j < kQk5_0 / 2; ++j) {
      const int low = (block->qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
      const int high = (block->qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = d * static_cast<float>(low - 16);
      dst[j + kQk5_0 / 2] = d * static_cast<float>(high - 16);
    }
  }
}

void DequantizeQ5_1(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQk5_1) {
    const float d = HalfToFloat(block->d);
    const float m = HalfToFloat(block->m);
    const uint32_t qh = LoadQh(block->qh);
    for (int j = 0; j < kQk5_1 / 2; ++j) {
      const int low = (block->qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
      const int high = (block->qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = d * static_cast<float>(low) + m;
      dst[j + kQk5_1 / 2] = d * static_cast<float>(high) + m;
    }
  }
}

void DequantizeQ8_0(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQk8_0) {
    const float d = HalfToFloat(block->d);
    for (int j = 0; j < kQk8_0; ++j) dst[j] = d * static_cast<float>(block->qs[j]);
  }
}

void DequantizeQ8_1(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ8_1*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQk8_1) {
    const float d = HalfToFloat(block->d);
    for (int j = 0; j < kQk8_1; ++j) dst[j] = d * static_cast<float>(block->qs[j]);
  }
}

void QuantizeF32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void QuantizeF16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = Fp32ToFp16(src[i]);
}

void QuantizeBF16(const float* src, void* dst, int64_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = Fp32ToBf16(src[i]);
}

// The weight of largest magnitude, with its sign (the first one on ties).
float SignedMaxMagnitude(const float* x, int n) {
  float amax = 0;
  float max = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// 1/d, or 0 when d is zero once stored as fp16: then every weight decodes to zero whatever its
// level, and the reciprocal of a tiny d must not overflow into inf.
inline float InverseScale(float d, uint16_t stored_d) {
  return (stored_d & 0x7fff) != 0 ? 1.0f / d : 0.0f;
}

// Levels are found by truncating x * inverse_scale + offset (offset includes the +0.5 that
// makes truncation round to nearest), clamped to [0, max_level].
inline uint8_t Level(float scaled_plus_offset, int max_level) {
  const int level = static_cast<int>(scaled_plus_offset);
  return static_cast<uint8_t>(std::clamp(level, 0, max_level));
}

void QuantizeQ4_0(const float* src, void* dst, int64_t blocks) {
  auto* block = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQk4_0) {
    // Map the largest-magnitude weight to level -8, the end of the range with more room.
    const float d = SignedMaxMagnitude(src, kQk4_0) / -8;
    block->d = Fp32ToFp16(d);
    const float id = InverseScale(d, block->d);
    for (int j = 0; j < kQk4_0 / 2; ++j) {
      const uint8_t low = Level(src[j] * id + 8.5f, 15);
      const uint8_t high = Level(src[j + kQk4_0 / 2] * id + 8.5f, 15);
      block->qs[j] = static_cast<uint8_t>(low | high << 4);
    }
  }
}

void QuantizeQ4_1(const float* src, void* dst, int64_t blocks) {
  auto* block = static_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQk4_1) {
    const auto [min_it, max_it] = std::minmax_element(src, src + kQk4_1);
    const float min = *min_it;
    const float d = (*max_it - min) / 15;
    block->d = Fp32ToFp16(d);
    const float id = InverseScale(d, block->d);
    block->m = Fp32ToFp16(min);
    for (int j = 0; j < kQk4_1 / 2; ++j) {
      const uint8_t low = Level((src[j] - min) * id + 0.5f, 15);
      const uint8_t high = Level((src[j + kQk4_1 / 2] - min) * id + 0.5f, 15);
      block->qs[j] = static_cast<uint8_t>(low | high << 4);
    }
  }
}

// Packs 32 five-bit levels into the low nibbles of qs, the high nibbles, and the qh bits.
template <typename Block>
void PackFiveBit(const uint8_t levels[32], Block* block) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    block->qs[j] = static_cast<uint8_t>((levels[j] & 0xf) | (levels[j + 16] & 0xf) << 4);
    qh |= static_cast<uint32_t>(levels[j] >> 4) << j;
    qh |= static_cast<uint32_t>(levels[j + 16] >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) block->qh[k] = static_cast<uint8_t>(qh >> (8 * k));
}

void QuantizeQ5_0(const float* src, void* dst, int64_t blocks) {
  auto* block = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQk5_0) {
    const float d = SignedMaxMagnitude(src, kQk5_0) / -16;
    block->d = Fp32ToFp16(d);
    const float id = InverseScale(d, block->d);
    uint8_t levels[kQk5_0];
    for (int j = 0; j < kQk5_0; ++j) levels[j] = Level(src[j] * id + 16.5f, 31);
    PackFiveBit(levels, block);
  }
}

void QuantizeQ5_1(const float* src, void* dst, int64_t blocks) {
  auto* block = static_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQk5_1) {
    const auto [min_it, max_it] = std::minmax_element(src, src + kQk5_1);
    const float min = *min_it;
    const float d = (*max_it - min) / 31;
    block->d = Fp32ToFp16(d);
    const float id = InverseScale(d, block->d);
    block->m = Fp32ToFp16(min);
    uint8_t levels[kQk5_1];
    for (int j = 0; j < kQk5_1; ++j) levels[j] = Level((src[j] - min) * id + 0.5f, 31);
    PackFiveBit(levels, block);
  }
}

// std::round (half away from zero) for |v| < 2^31, from exact operations only so that the loop
// vectorizes instead of calling libm per weight.
inline int RoundHalfAwayFromZero(float v) {
  const int truncated = static_cast<int>(v);
  const float fraction = v - static_cast<float>(truncated);  // exact
  return truncated + (fraction >= 0.5f) - (fraction <= -0.5f);
}

void QuantizeQ8_0(const float* src, void* dst, int64_t blocks) {
  auto* block = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQk8_0) {
    float amax = 0;
    for (int j = 0; j < kQk8_0; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127;
    block->d = Fp32ToFp16(d);
    const float id = InverseScale(d, block->d);
    for (int j = 0; j < kQk8_0; ++j) {
      block->qs[j] = static_cast<int8_t>(std::clamp(RoundHalfAwayFromZero(src[j] * id), -127, 127));
    }
  }
}

// Quantized formats store fp16 scales: reject weights that would overflow them (and NaN/Inf).
Status CheckQuantizable(TensorType type, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::fabs(src[i]) <= kMaxQuantizableMagnitude)) {
      return Status::InvalidArgument(fmt::format(
          "cannot quantize weight {} (value {}) to {}: weights must be finite and at most {} in "
          "magnitude",
          i, src[i], TraitsOf(type).name, kMaxQuantizableMagnitude));
    }
  }
  return Status::Ok();
}

Status CheckImportance(const float* importance, int64_t n) {
  if (importance == nullptr) return Status::Ok();
  for (int64_t i = 0; i < n; ++i) {
    if (!(importance[i] >= 0 && importance[i] <= std::numeric_limits<float>::max())) {
      return Status::InvalidArgument(fmt::format(
          "importance {} (value {}) must be finite and non-negative", i, importance[i]));
    }
  }
  return Status::Ok();
}

}  // namespace

void DequantizeRow(TensorType type, const void* src, float* dst, int64_t n) {
  if (n <= 0) return;
  const TensorTypeTraits& traits = TraitsOf(type);
  const int64_t blocks = n / traits.block_size;
  // A partial block is a caller bug: decode the whole blocks, mark the tail as invalid and never
  // read past them.
  std::fill(dst + blocks * traits.block_size, dst + n, std::numeric_limits<float>::quiet_NaN());
  switch (type) {
    case TensorType::kF32: return DequantizeF32(src, dst, blocks);
    case TensorType::kF16: return DequantizeF16(src, dst, blocks);
    case TensorType::kBF16: return DequantizeBF16(src, dst, blocks);
    case TensorType::kQ4_0: return DequantizeQ4_0(src, dst, blocks);
    case TensorType::kQ4_1: return DequantizeQ4_1(src, dst, blocks);
    case TensorType::kQ5_0: return DequantizeQ5_0(src, dst, blocks);
    case TensorType::kQ5_1: return DequantizeQ5_1(src, dst, blocks);
    case TensorType::kQ8_0: return DequantizeQ8_0(src, dst, blocks);
    case TensorType::kQ8_1: return DequantizeQ8_1(src, dst, blocks);
    case TensorType::kQ2_K: return detail::DequantizeQ2K(src, dst, blocks);
    case TensorType::kQ3_K: return detail::DequantizeQ3K(src, dst, blocks);
    case TensorType::kQ4_K: return detail::DequantizeQ4K(src, dst, blocks);
    case TensorType::kQ5_K: return detail::DequantizeQ5K(src, dst, blocks);
    case TensorType::kQ6_K: return detail::DequantizeQ6K(src, dst, blocks);
    case TensorType::kQ8_K: return detail::DequantizeQ8K(src, dst, blocks);
  }
}

bool CanQuantizeTo(TensorType type) {
  // Q8_1 and Q8_K are activation formats of the dot-product kernels, never stored weights.
  return type != TensorType::kQ8_1 && type != TensorType::kQ8_K;
}

Status QuantizeRow(TensorType type, const float* src, void* dst, int64_t n,
                   const float* importance) {
  const TensorTypeTraits& traits = TraitsOf(type);
  if (!CanQuantizeTo(type)) {
    return Status::InvalidArgument(
        fmt::format("{} is not a storage type and cannot be quantized to", traits.name));
  }
  HEARTH_RETURN_IF_ERROR(RowBytes(type, n).status());
  const int64_t blocks = n / traits.block_size;
  if (traits.quantized) {
    HEARTH_RETURN_IF_ERROR(CheckQuantizable(type, src, n));
    HEARTH_RETURN_IF_ERROR(CheckImportance(importance, n));
  }
  switch (type) {
    case TensorType::kF32: QuantizeF32(src, dst, n); break;
    case TensorType::kF16: QuantizeF16(src, dst, n); break;
    case TensorType::kBF16: QuantizeBF16(src, dst, n); break;
    case TensorType::kQ4_0: QuantizeQ4_0(src, dst, blocks); break;
    case TensorType::kQ4_1: QuantizeQ4_1(src, dst, blocks); break;
    case TensorType::kQ5_0: QuantizeQ5_0(src, dst, blocks); break;
    case TensorType::kQ5_1: QuantizeQ5_1(src, dst, blocks); break;
    case TensorType::kQ8_0: QuantizeQ8_0(src, dst, blocks); break;
    case TensorType::kQ2_K: detail::QuantizeQ2K(src, dst, blocks, importance); break;
    case TensorType::kQ3_K: detail::QuantizeQ3K(src, dst, blocks, importance); break;
    case TensorType::kQ4_K: detail::QuantizeQ4K(src, dst, blocks, importance); break;
    case TensorType::kQ5_K: detail::QuantizeQ5K(src, dst, blocks, importance); break;
    case TensorType::kQ6_K: detail::QuantizeQ6K(src, dst, blocks, importance); break;
    case TensorType::kQ8_1:
    case TensorType::kQ8_K: break;  // rejected above
  }
  return Status::Ok();
}

}  // namespace hearth::gguf
