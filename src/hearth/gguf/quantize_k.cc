// K-quants: 256-weight super-blocks split into sub-blocks of 16 or 32 weights, each with its own
// scale (and for Q2_K/Q4_K/Q5_K a min), the sub-block scales themselves quantized against one
// fp16 super-block scale.
//
// Quantization searches, per sub-block, over candidate scales for the one that minimizes the
// (importance-)weighted squared error, refits scale and min by weighted least squares for the
// chosen levels, then quantizes the sub-block scales and re-derives every level against the
// scales exactly as they will be decoded.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "hearth/base/half.h"
#include "hearth/gguf/quant_blocks.h"
#include "hearth/gguf/quantize.h"

namespace hearth::gguf::detail {
namespace {

// Candidate inverse scales are tried at kSearchSteps steps of kSearchDelta levels on each side
// of the one that maps the extreme weight exactly onto the extreme level.
constexpr int kSearchSteps = 10;
constexpr float kSearchDelta = 0.1f;
// Rounds of "re-round the levels for the fitted scale, refit" after the candidate search.
constexpr int kRefineRounds = 4;

// Round to nearest, ties to even (as nearbyint in the default rounding mode), without a libm
// call: adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.
inline int NearestInt(float x) {
  if (!(std::fabs(x) < 4194304.0f)) {
    return static_cast<int>(std::nearbyint(std::clamp(x, -1e9f, 1e9f)));  // never in practice
  }
  const float shifted = x + 12582912.0f;
  return static_cast<int>(std::bit_cast<uint32_t>(shifted) & 0x7fffff) - 0x400000;
}

inline int Clamp(int v, int lo, int hi) { return std::min(std::max(v, lo), hi); }

// Error weights of one sub-block: the caller's importance where given, else uniform. A
// sub-block whose importance is all zero is weighted uniformly: its weights still have to be
// stored as something sensible.
void SubBlockWeights(const float* importance, int n, float* w) {
  float total = 0;
  if (importance != nullptr) {
    for (int i = 0; i < n; ++i) total += importance[i];
  }
  for (int i = 0; i < n; ++i) w[i] = total > 0 ? importance[i] : 1.0f;
}

// ---- Symmetric sub-blocks: x ~ scale * L with integer L in [lo, hi] (Q3_K, Q6_K). ----

struct SymmetricScore {
  float sum_xl = 0;  // sum w x L
  float sum_ll = 0;  // sum w L^2
  // The squared error of the least-squares scale is sum w x^2 - sum_xl^2 / sum_ll, so a larger
  // sum_xl^2 / sum_ll is a smaller error.
  float Gain() const { return sum_ll > 0 ? sum_xl * sum_xl / sum_ll : 0; }
  float Scale() const { return sum_ll > 0 ? sum_xl / sum_ll : 0; }
};

SymmetricScore RoundSymmetric(const float* x, const float* w, int n, float inverse_scale, int lo,
                              int hi, int* levels) {
  SymmetricScore score;
  for (int i = 0; i < n; ++i) {
    const int l = Clamp(NearestInt(inverse_scale * x[i]), lo, hi);
    levels[i] = l;
    score.sum_xl += w[i] * x[i] * static_cast<float>(l);
    score.sum_ll += w[i] * static_cast<float>(l * l);
  }
  return score;
}

// Returns the scale; fills levels[0, n).
float FitSymmetric(const float* x, const float* w, int n, int lo, int hi, int* levels) {
  float amax = 0;
  float extreme = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      extreme = x[i];
    }
  }
  std::fill(levels, levels + n, 0);
  if (amax < 1e-30f) return 0;

  int trial[kQkK];
  SymmetricScore best;
  // The extreme weight goes to either end of the (asymmetric) level range.
  for (const int target : {lo, hi}) {
    const float magnitude = static_cast<float>(std::abs(target));
    const float sign = target < 0 ? -1.0f : 1.0f;
    for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
      const float reach = magnitude + kSearchDelta * static_cast<float>(step);
      if (reach <= 0) continue;
      const SymmetricScore score = RoundSymmetric(x, w, n, sign * reach / extreme, lo, hi, trial);
      if (score.Gain() > best.Gain()) {
        best = score;
        std::copy(trial, trial + n, levels);
      }
    }
  }
  for (int round = 0; round < kRefineRounds && best.Scale() != 0; ++round) {
    const SymmetricScore score = RoundSymmetric(x, w, n, 1.0f / best.Scale(), lo, hi, trial);
    if (!(score.Gain() > best.Gain())) break;
    best = score;
    std::copy(trial, trial + n, levels);
  }
  return best.Scale();
}

// ---- Affine sub-blocks: x ~ scale * L - min with L in [0, max_level], min >= 0 (Q2/4/5_K). ----

struct AffineFit {
  float scale = 0;
  float min = 0;  // subtracted: x ~ scale * L - min
  float error = 0;
};

// Weighted least-squares scale and min for fixed levels, with min clamped to >= 0 (mins are
// stored unsigned). Returns false when the levels do not determine a positive scale.
bool FitAffineLevels(const float* x, const float* w, int n, const int* levels, AffineFit* fit) {
  float sum_w = 0, sum_l = 0, sum_ll = 0, sum_x = 0, sum_xl = 0;
  for (int i = 0; i < n; ++i) {
    const float l = static_cast<float>(levels[i]);
    sum_w += w[i];
    sum_l += w[i] * l;
    sum_ll += w[i] * l * l;
    sum_x += w[i] * x[i];
    sum_xl += w[i] * x[i] * l;
  }
  const float det = sum_w * sum_ll - sum_l * sum_l;
  if (!(det > 0)) return false;
  float scale = (sum_w * sum_xl - sum_x * sum_l) / det;
  float offset = (sum_ll * sum_x - sum_l * sum_xl) / det;  // x ~ scale * L + offset
  if (offset > 0) {
    offset = 0;
    scale = sum_xl / sum_ll;
  }
  if (!(scale > 0)) return false;
  float error = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = scale * static_cast<float>(levels[i]) + offset - x[i];
    error += w[i] * diff * diff;
  }
  *fit = {scale, -offset, error};
  return true;
}

void RoundAffine(const float* x, int n, float inverse_scale, float min, int max_level,
                 int* levels) {
  for (int i = 0; i < n; ++i) {
    levels[i] = Clamp(NearestInt(inverse_scale * (x[i] + min)), 0, max_level);
  }
}

AffineFit FitAffine(const float* x, const float* w, int n, int max_level) {
  float lowest = 0;  // the min is never negative, so the range always includes 0
  float highest = x[0];
  for (int i = 0; i < n; ++i) {
    lowest = std::min(lowest, x[i]);
    highest = std::max(highest, x[i]);
  }
  if (!(highest > lowest)) return {0, -lowest, 0};  // constant non-positive block

  const float range = highest - lowest;
  int levels[kQkK];
  // The plain min/max mapping is the fallback if no candidate fits better.
  AffineFit best{range / static_cast<float>(max_level), -lowest, 0};
  RoundAffine(x, n, 1.0f / best.scale, best.min, max_level, levels);
  best.error = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = best.scale * static_cast<float>(levels[i]) - best.min - x[i];
    best.error += w[i] * diff * diff;
  }

  AffineFit fit;
  for (int step = -kSearchSteps; step <= kSearchSteps; ++step) {
    const float reach = static_cast<float>(max_level) + kSearchDelta * static_cast<float>(step);
    RoundAffine(x, n, reach / range, -lowest, max_level, levels);
    if (FitAffineLevels(x, w, n, levels, &fit) && fit.error < best.error) best = fit;
  }
  for (int round = 0; round < kRefineRounds; ++round) {
    RoundAffine(x, n, 1.0f / best.scale, best.min, max_level, levels);
    if (!FitAffineLevels(x, w, n, levels, &fit) || !(fit.error < best.error)) break;
    best = fit;
  }
  return best;
}

// Stores the super-block scale `d` as fp16, rounded away from zero where needed so that the
// stored magnitude is not below |d|: codes computed against the stored scale then stay within
// the range `d` was chosen for. Codes are always derived from the stored scale, so the rounding
// of d to fp16 (coarse where d is an fp16 subnormal) costs nothing but code resolution.
uint16_t StoreScaleNotSmaller(float d) {
  uint16_t bits = Fp32ToFp16(d);
  if (std::fabs(Fp16ToFp32(bits)) < std::fabs(d)) ++bits;  // sign-magnitude: next magnitude up
  return bits;
}

// Quantizes non-negative values to codes in [0, max_code] times one shared fp16 scale, which it
// returns.
uint16_t QuantizeNonNegative(const float* values, int n, int max_code, uint8_t* codes) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, values[i]);
  const uint16_t stored = StoreScaleNotSmaller(max / static_cast<float>(max_code));
  const float scale = Fp16ToFp32(stored);
  for (int i = 0; i < n; ++i) {
    codes[i] = scale > 0 ? static_cast<uint8_t>(Clamp(NearestInt(values[i] / scale), 0, max_code))
                         : 0;
  }
  return stored;
}

// Quantizes signed sub-block scales to codes in [lo, hi] times one shared fp16 scale, mapping
// the largest-magnitude value onto lo (the end with more room). Returns the stored scale.
uint16_t QuantizeSignedScales(const float* scales, int n, int lo, int hi, int* codes) {
  float amax = 0;
  float extreme = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(scales[i]) > amax) {
      amax = std::fabs(scales[i]);
      extreme = scales[i];
    }
  }
  const uint16_t stored = StoreScaleNotSmaller(extreme / static_cast<float>(lo));
  const float scale = Fp16ToFp32(stored);
  for (int i = 0; i < n; ++i) {
    codes[i] = scale != 0 ? Clamp(NearestInt(scales[i] / scale), lo, hi) : 0;
  }
  return stored;
}

// Final levels for an affine sub-block against its decoded scale and min.
void FinalAffineLevels(const float* x, int n, float scale, float min, int max_level,
                       int* levels) {
  if (scale == 0) {
    std::fill(levels, levels + n, 0);
    return;
  }
  RoundAffine(x, n, 1.0f / scale, min, max_level, levels);
}

void FinalSymmetricLevels(const float* x, int n, float scale, int lo, int hi, int* levels) {
  for (int i = 0; i < n; ++i) {
    levels[i] = scale == 0 ? 0 : Clamp(NearestInt(x[i] / scale), lo, hi);
  }
}

// ---- Bit packing shared by several formats. ----

// The 2-bit field layout of Q2_K and Q3_K qs: weight i sits in byte (i / 128) * 32 + i % 32 at
// bit 2 * ((i % 128) / 32).
void Pack2Bit(const int* values, uint8_t* qs) {
  std::memset(qs, 0, kQkK / 4);
  for (int i = 0; i < kQkK; ++i) {
    qs[(i / 128) * 32 + i % 32] |= static_cast<uint8_t>((values[i] & 3) << (2 * ((i % 128) / 32)));
  }
}

// The high-bit layout of Q3_K hmask and Q5_K qh: weight i sits in byte i % 32 at bit i / 32.
void PackHighBits(const int* values, int bit, uint8_t* bytes) {
  std::memset(bytes, 0, kQkK / 8);
  for (int i = 0; i < kQkK; ++i) {
    bytes[i % 32] |= static_cast<uint8_t>(((values[i] >> bit) & 1) << (i / 32));
  }
}

// The nibble layout of Q4_K/Q5_K qs: weight i sits in byte (i / 64) * 32 + i % 32, in the low
// nibble when (i / 32) is even.
void PackNibbles(const int* values, uint8_t* qs) {
  std::memset(qs, 0, kQkK / 2);
  for (int i = 0; i < kQkK; ++i) {
    qs[(i / 64) * 32 + i % 32] |= static_cast<uint8_t>((values[i] & 0xf) << (4 * ((i / 32) % 2)));
  }
}

// Q4_K/Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes. Bytes 0-3 hold scales 0-3 and
// bytes 4-7 mins 0-3 in their low 6 bits; bytes 8-11 hold the low nibbles of scales 4-7 (low
// half) and mins 4-7 (high half); the top 2 bits of scales/mins 4-7 sit in the top 2 bits of
// bytes 0-3 and 4-7.
void PackScaleMin6(const uint8_t scales[8], const uint8_t mins[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(scales[j] | (scales[j + 4] >> 4) << 6);
    packed[j + 4] = static_cast<uint8_t>(mins[j] | (mins[j + 4] >> 4) << 6);
    packed[j + 8] = static_cast<uint8_t>((scales[j + 4] & 0xf) | (mins[j + 4] & 0xf) << 4);
  }
}

inline void UnpackScaleMin6(const uint8_t packed[12], int j, int* scale, int* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = (packed[j + 4] & 0xf) | (packed[j - 4] >> 6) << 4;
    *min = (packed[j + 4] >> 4) | (packed[j] >> 6) << 4;
  }
}

// Q3_K: sixteen 6-bit scales (stored +32) in 12 bytes. Scale s has its low nibble in byte s % 8
// (low half for s < 8), its top 2 bits in byte 8 + s % 4 at bit 2 * (s / 4).
void PackScale6x16(const int codes[16], uint8_t packed[12]) {
  std::memset(packed, 0, 12);
  for (int s = 0; s < 16; ++s) {
    const int u = codes[s] + 32;
    packed[s % 8] |= static_cast<uint8_t>((u & 0xf) << (s < 8 ? 0 : 4));
    packed[8 + s % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (s / 4)));
  }
}

inline void UnpackScale6x16(const uint8_t packed[12], int scales[16]) {
  for (int s = 0; s < 16; ++s) {
    const int low = s < 8 ? packed[s] & 0xf : packed[s - 8] >> 4;
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    scales[s] = (low | high << 4) - 32;
  }
}

}  // namespace

// ---- Dequantization. Loops run over contiguous runs of 16 or 32 outputs so they vectorize. ----

void DequantizeQ2K(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block) {
    const float d = Fp16ToFp32(block->d);
    const float dmin = Fp16ToFp32(block->dmin);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = block->qs + 32 * half;
      for (int shift = 0; shift < 4; ++shift) {
        for (int sub = 0; sub < 2; ++sub) {
          const uint8_t sc = block->scales[8 * half + 2 * shift + sub];
          const float scale = d * static_cast<float>(sc & 0xf);
          const float min = dmin * static_cast<float>(sc >> 4);
          const uint8_t* qq = q + 16 * sub;
          for (int l = 0; l < 16; ++l) {
            dst[l] = scale * static_cast<float>((qq[l] >> (2 * shift)) & 3) - min;
          }
          dst += 16;
        }
      }
    }
  }
}

void DequantizeQ3K(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block) {
    const float d = Fp16ToFp32(block->d);
    int scales[16];
    UnpackScale6x16(block->scales, scales);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = block->qs + 32 * half;
      for (int shift = 0; shift < 4; ++shift) {
        const int bit = 4 * half + shift;
        for (int sub = 0; sub < 2; ++sub) {
          const float scale = d * static_cast<float>(scales[8 * half + 2 * shift + sub]);
          const uint8_t* qq = q + 16 * sub;
          const uint8_t* hm = block->hmask + 16 * sub;
          for (int l = 0; l < 16; ++l) {
            // A clear high bit means the level is 4 lower.
            const int level = ((qq[l] >> (2 * shift)) & 3) - 4 + 4 * ((hm[l] >> bit) & 1);
            dst[l] = scale * static_cast<float>(level);
          }
          dst += 16;
        }
      }
    }
  }
}

void DequantizeQ4K(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block) {
    const float d = Fp16ToFp32(block->d);
    const float dmin = Fp16ToFp32(block->dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      int sc0, m0, sc1, m1;
      UnpackScaleMin6(block->scales, 2 * chunk, &sc0, &m0);
      UnpackScaleMin6(block->scales, 2 * chunk + 1, &sc1, &m1);
      const float scale0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
      const float scale1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
      const uint8_t* q = block->qs + 32 * chunk;
      for (int l = 0; l < 32; ++l) dst[l] = scale0 * static_cast<float>(q[l] & 0xf) - min0;
      for (int l = 0; l < 32; ++l) dst[32 + l] = scale1 * static_cast<float>(q[l] >> 4) - min1;
      dst += 64;
    }
  }
}

void DequantizeQ5K(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block) {
    const float d = Fp16ToFp32(block->d);
    const float dmin = Fp16ToFp32(block->dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      int sc0, m0, sc1, m1;
      UnpackScaleMin6(block->scales, 2 * chunk, &sc0, &m0);
      UnpackScaleMin6(block->scales, 2 * chunk + 1, &sc1, &m1);
      const float scale0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
      const float scale1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
      const uint8_t* q = block->qs + 32 * chunk;
      const uint8_t* qh = block->qh;
      const int bit0 = 2 * chunk, bit1 = 2 * chunk + 1;
      for (int l = 0; l < 32; ++l) {
        const int level = (q[l] & 0xf) | ((qh[l] >> bit0) & 1) << 4;
        dst[l] = scale0 * static_cast<float>(level) - min0;
      }
      for (int l = 0; l < 32; ++l) {
        const int level = (q[l] >> 4) | ((qh[l] >> bit1) & 1) << 4;
        dst[32 + l] = scale1 * static_cast<float>(level) - min1;
      }
      dst += 64;
    }
  }
}

void DequantizeQ6K(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block) {
    const float d = Fp16ToFp32(block->d);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = block->ql + 64 * half;
      const uint8_t* qh = block->qh + 32 * half;
      const int8_t* sc = block->scales + 8 * half;
      // Quarter g of the 128 weights: low nibbles of ql[0..31] (g=0), of ql[32..63] (g=1), high
      // nibbles of ql[0..31] (g=2), of ql[32..63] (g=3); top bits from qh at bit 2g.
      for (int g = 0; g < 4; ++g) {
        const uint8_t* low = ql + 32 * (g & 1);
        const int nibble_shift = 4 * (g >> 1);
        for (int sub = 0; sub < 2; ++sub) {
          const float scale = d * static_cast<float>(sc[2 * g + sub]);
          for (int l = 16 * sub; l < 16 * sub + 16; ++l) {
            const int level = ((low[l] >> nibble_shift) & 0xf) | ((qh[l] >> (2 * g)) & 3) << 4;
            dst[l] = scale * static_cast<float>(level - 32);
          }
        }
        dst += 32;
      }
    }
  }
}

void DequantizeQ8K(const void* src, float* dst, int64_t blocks) {
  const auto* block = static_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < blocks; ++b, ++block, dst += kQkK) {
    const float d = block->d;
    for (int l = 0; l < kQkK; ++l) dst[l] = d * static_cast<float>(block->qs[l]);
  }
}

// ---- Quantization. ----

void QuantizeQ2K(const float* src, void* dst, int64_t blocks, const float* importance) {
  constexpr int kSub = 16;
  auto* block = static_cast<BlockQ2_K*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQkK) {
    const float* imp = importance != nullptr ? importance + b * kQkK : nullptr;
    float scales[kQkK / kSub], mins[kQkK / kSub], w[kSub];
    for (int j = 0; j < kQkK / kSub; ++j) {
      SubBlockWeights(imp != nullptr ? imp + j * kSub : nullptr, kSub, w);
      const AffineFit fit = FitAffine(src + j * kSub, w, kSub, 3);
      scales[j] = fit.scale;
      mins[j] = fit.min;
    }
    uint8_t scale_codes[kQkK / kSub], min_codes[kQkK / kSub];
    block->d = QuantizeNonNegative(scales, kQkK / kSub, 15, scale_codes);
    block->dmin = QuantizeNonNegative(mins, kQkK / kSub, 15, min_codes);
    const float d = Fp16ToFp32(block->d), dmin = Fp16ToFp32(block->dmin);
    int levels[kQkK];
    for (int j = 0; j < kQkK / kSub; ++j) {
      block->scales[j] = static_cast<uint8_t>(scale_codes[j] | min_codes[j] << 4);
      FinalAffineLevels(src + j * kSub, kSub, d * scale_codes[j], dmin * min_codes[j], 3,
                        levels + j * kSub);
    }
    Pack2Bit(levels, block->qs);
  }
}

void QuantizeQ3K(const float* src, void* dst, int64_t blocks, const float* importance) {
  constexpr int kSub = 16;
  auto* block = static_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQkK) {
    const float* imp = importance != nullptr ? importance + b * kQkK : nullptr;
    float scales[kQkK / kSub], w[kSub];
    int levels[kQkK];
    for (int j = 0; j < kQkK / kSub; ++j) {
      SubBlockWeights(imp != nullptr ? imp + j * kSub : nullptr, kSub, w);
      scales[j] = FitSymmetric(src + j * kSub, w, kSub, -4, 3, levels + j * kSub);
    }
    int codes[kQkK / kSub];
    block->d = QuantizeSignedScales(scales, kQkK / kSub, -32, 31, codes);
    PackScale6x16(codes, block->scales);
    const float d = Fp16ToFp32(block->d);
    for (int j = 0; j < kQkK / kSub; ++j) {
      FinalSymmetricLevels(src + j * kSub, kSub, d * static_cast<float>(codes[j]), -4, 3,
                           levels + j * kSub);
    }
    for (int& l : levels) l += 4;  // stored unsigned: low 2 bits in qs, bit 2 in hmask
    Pack2Bit(levels, block->qs);
    PackHighBits(levels, 2, block->hmask);
  }
}

template <typename Block>
void QuantizeAffine32(const float* src, Block* block, const float* imp, int max_level,
                      int* levels) {
  constexpr int kSub = 32;
  float scales[kQkK / kSub], mins[kQkK / kSub], w[kSub];
  for (int j = 0; j < kQkK / kSub; ++j) {
    SubBlockWeights(imp != nullptr ? imp + j * kSub : nullptr, kSub, w);
    const AffineFit fit = FitAffine(src + j * kSub, w, kSub, max_level);
    scales[j] = fit.scale;
    mins[j] = fit.min;
  }
  uint8_t scale_codes[kQkK / kSub], min_codes[kQkK / kSub];
  block->d = QuantizeNonNegative(scales, kQkK / kSub, 63, scale_codes);
  block->dmin = QuantizeNonNegative(mins, kQkK / kSub, 63, min_codes);
  PackScaleMin6(scale_codes, min_codes, block->scales);
  const float d = Fp16ToFp32(block->d), dmin = Fp16ToFp32(block->dmin);
  for (int j = 0; j < kQkK / kSub; ++j) {
    FinalAffineLevels(src + j * kSub, kSub, d * scale_codes[j], dmin * min_codes[j], max_level,
                      levels + j * kSub);
  }
}

void QuantizeQ4K(const float* src, void* dst, int64_t blocks, const float* importance) {
  auto* block = static_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQkK) {
    int levels[kQkK];
    QuantizeAffine32(src, block, importance != nullptr ? importance + b * kQkK : nullptr, 15,
                     levels);
    PackNibbles(levels, block->qs);
  }
}

void QuantizeQ5K(const float* src, void* dst, int64_t blocks, const float* importance) {
  auto* block = static_cast<BlockQ5_K*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQkK) {
    int levels[kQkK];
    QuantizeAffine32(src, block, importance != nullptr ? importance + b * kQkK : nullptr, 31,
                     levels);
    PackNibbles(levels, block->qs);
    PackHighBits(levels, 4, block->qh);
  }
}

void QuantizeQ6K(const float* src, void* dst, int64_t blocks, const float* importance) {
  constexpr int kSub = 16;
  auto* block = static_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < blocks; ++b, ++block, src += kQkK) {
    const float* imp = importance != nullptr ? importance + b * kQkK : nullptr;
    float scales[kQkK / kSub], w[kSub];
    int levels[kQkK];
    for (int j = 0; j < kQkK / kSub; ++j) {
      SubBlockWeights(imp != nullptr ? imp + j * kSub : nullptr, kSub, w);
      scales[j] = FitSymmetric(src + j * kSub, w, kSub, -32, 31, levels + j * kSub);
    }
    int codes[kQkK / kSub];
    block->d = QuantizeSignedScales(scales, kQkK / kSub, -128, 127, codes);
    const float d = Fp16ToFp32(block->d);
    for (int j = 0; j < kQkK / kSub; ++j) {
      block->scales[j] = static_cast<int8_t>(codes[j]);
      FinalSymmetricLevels(src + j * kSub, kSub, d * static_cast<float>(codes[j]), -32, 31,
                           levels + j * kSub);
    }
    std::memset(block->ql, 0, sizeof(block->ql));
    std::memset(block->qh, 0, sizeof(block->qh));
    for (int i = 0; i < kQkK; ++i) {
      const int u = levels[i] + 32;
      const int half = i / 128, g = (i % 128) / 32, l = i % 32;
      block->ql[64 * half + 32 * (g & 1) + l] |= static_cast<uint8_t>((u & 0xf) << (4 * (g >> 1)));
      block->qh[32 * half + l] |= static_cast<uint8_t>((u >> 4) << (2 * g));
    }
  }
}

}  // namespace hearth::gguf::detail
