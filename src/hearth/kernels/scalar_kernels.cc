// Scalar reference kernels: plain loops written for obvious correctness. Every faster level is
// tested against these, and they are the fallback on CPUs without AVX2.
#include <cmath>
#include <cstring>

#include "hearth/base/half.h"
#include "hearth/kernels/dispatch.h"

namespace hearth::kernels::internal {
namespace {

using gguf::BlockQ2_K;
using gguf::BlockQ3_K;
using gguf::BlockQ4_0;
using gguf::BlockQ4_1;
using gguf::BlockQ4_K;
using gguf::BlockQ5_0;
using gguf::BlockQ5_1;
using gguf::BlockQ5_K;
using gguf::BlockQ6_K;
using gguf::BlockQ8_0;
using gguf::BlockQ8_K;
using gguf::kQkK;

// ---- Dequantization, one function per storage type ----

void DequantF32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void DequantF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFp32(h[i]);
}

void DequantBF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFp32(h[i]);
}

void DequantQ4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const float d = Fp16ToFp32(blocks[b].d);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * ((blocks[b].qs[j] & 0xF) - 8);
      dst[j + 16] = d * ((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

void DequantQ4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const float d = Fp16ToFp32(blocks[b].d);
    const float m = Fp16ToFp32(blocks[b].m);
    for (int j = 0; j < 16; ++j) {
      dst[j] = std::fma(d, static_cast<float>(blocks[b].qs[j] & 0xF), m);
      dst[j + 16] = std::fma(d, static_cast<float>(blocks[b].qs[j] >> 4), m);
    }
  }
}

uint32_t HighBits(const uint8_t qh[4]) {
  return qh[0] | (uint32_t{qh[1]} << 8) | (uint32_t{qh[2]} << 16) | (uint32_t{qh[3]} << 24);
}

void DequantQ5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const float d = Fp16ToFp32(blocks[b].d);
    const uint32_t qh = HighBits(blocks[b].qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = (blocks[b].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (blocks[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = d * (lo - 16);
      dst[j + 16] = d * (hi - 16);
    }
  }
}

void DequantQ5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const float d = Fp16ToFp32(blocks[b].d);
    const float m = Fp16ToFp32(blocks[b].m);
    const uint32_t qh = HighBits(blocks[b].qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = (blocks[b].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int hi = (blocks[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = std::fma(d, static_cast<float>(lo), m);
      dst[j + 16] = std::fma(d, static_cast<float>(hi), m);
    }
  }
}

void DequantQ8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const float d = Fp16ToFp32(blocks[b].d);
    for (int j = 0; j < 32; ++j) dst[j] = d * blocks[b].qs[j];
  }
}

void DequantQ2_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < n / kQkK; ++b) {
    const float d = Fp16ToFp32(blocks[b].d);
    const float dmin = Fp16ToFp32(blocks[b].dmin);
    // Weight 128*half + 32*shift_index + l uses 2 bits at `shift` of qs[32*half + l]; each run of
    // 16 weights has its own 4-bit scale (low nibble) and min (high nibble).
    int group = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = blocks[b].qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int sub = 0; sub < 2; ++sub, ++group) {
          const uint8_t sc = blocks[b].scales[group];
          const float dl = d * (sc & 0xF);
          const float ml = dmin * (sc >> 4);
          for (int l = 0; l < 16; ++l) *dst++ = dl * ((q[16 * sub + l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// 6-bit signed scale i (0..15) of Q3_K: low 4 bits in scales[0..7] nibbles, high 2 bits in
// scales[8..11].
int Q3KScale(const uint8_t* s, int i) {
  const int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
  const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void DequantQ3_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < n / kQkK; ++b) {
    const float d = Fp16ToFp32(blocks[b].d);
    int group = 0;
    int mask_bit = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = blocks[b].qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2, ++mask_bit) {
        for (int sub = 0; sub < 2; ++sub, ++group) {
          const float dl = d * Q3KScale(blocks[b].scales, group);
          for (int l = 0; l < 16; ++l) {
            const int idx = 16 * sub + l;
            const int high = (blocks[b].hmask[idx] >> mask_bit) & 1;
            *dst++ = dl * (((q[idx] >> shift) & 3) - (high ? 0 : 4));
          }
        }
      }
    }
  }
}

void DequantQ4_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / kQkK; ++b) {
    const float d = Fp16ToFp32(blocks[b].d);
    const float dmin = Fp16ToFp32(blocks[b].dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = blocks[b].qs + 32 * chunk;
      uint8_t sc0, m0, sc1, m1;
      UnpackKScale(blocks[b].scales, 2 * chunk, &sc0, &m0);
      UnpackKScale(blocks[b].scales, 2 * chunk + 1, &sc1, &m1);
      for (int l = 0; l < 32; ++l) *dst++ = d * sc0 * (q[l] & 0xF) - dmin * m0;
      for (int l = 0; l < 32; ++l) *dst++ = d * sc1 * (q[l] >> 4) - dmin * m1;
    }
  }
}

void DequantQ5_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / kQkK; ++b) {
    const float d = Fp16ToFp32(blocks[b].d);
    const float dmin = Fp16ToFp32(blocks[b].dmin);
    for (int chunk = 0; chunk < 4; ++chunk) {
      const uint8_t* q = blocks[b].qs + 32 * chunk;
      const uint8_t* qh = blocks[b].qh;
      uint8_t sc0, m0, sc1, m1;
      UnpackKScale(blocks[b].scales, 2 * chunk, &sc0, &m0);
      UnpackKScale(blocks[b].scales, 2 * chunk + 1, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        const int v = (q[l] & 0xF) | (((qh[l] >> (2 * chunk)) & 1) << 4);
        *dst++ = d * sc0 * v - dmin * m0;
      }
      for (int l = 0; l < 32; ++l) {
        const int v = (q[l] >> 4) | (((qh[l] >> (2 * chunk + 1)) & 1) << 4);
        *dst++ = d * sc1 * v - dmin * m1;
      }
    }
  }
}

// Q6_K weight index -> 6-bit unsigned quant (0..63) and scale group.
int Q6KQuant(const BlockQ6_K& b, int i) {
  const int half = i / 128;
  const int r = i % 128;
  const int quarter = r / 32;
  const int l = r % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  const int low = (quarter & 1) ? ql[l + 32] : ql[l];
  const int low4 = (quarter < 2) ? (low & 0xF) : (low >> 4);
  const int high2 = (qh[l] >> (2 * quarter)) & 3;
  return low4 | (high2 << 4);
}

void DequantQ6_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kQkK; ++b) {
    const float d = Fp16ToFp32(blocks[b].d);
    for (int i = 0; i < kQkK; ++i) {
      *dst++ = d * blocks[b].scales[i / 16] * (Q6KQuant(blocks[b], i) - 32);
    }
  }
}

// ---- Lossless conversion of offset formats to Q8_0 ----

void Q4_0ToQ8_0(const void* src, BlockQ8_0* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b) {
    dst[b].d = blocks[b].d;
    for (int j = 0; j < 16; ++j) {
      dst[b].qs[j] = static_cast<int8_t>((blocks[b].qs[j] & 0xF) - 8);
      dst[b].qs[j + 16] = static_cast<int8_t>((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

void Q5_0ToQ8_0(const void* src, BlockQ8_0* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint32_t qh = HighBits(blocks[b].qh);
    dst[b].d = blocks[b].d;
    for (int j = 0; j < 16; ++j) {
      const int lo = (blocks[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
      const int hi = (blocks[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[b].qs[j] = static_cast<int8_t>(lo - 16);
      dst[b].qs[j + 16] = static_cast<int8_t>(hi - 16);
    }
  }
}

// ---- Activation quantization ----

// Both formats follow the reference engine (llama.cpp) bit for bit: its logits are the
// fixtures' reference, and activation rounding noise of a different scale rounding moves logits
// by about as much as the quantization of the weights themselves.

// Q8_0/Q8_1 blocks: quants round(x * 127 / amax) (nearest even), scale and sum as fp16 values.
float RoundToHalf(float v) { return Fp16ToFp32(Fp32ToFp16(v)); }

void QuantizeQ8(const float* x, ActQ8* out, int64_t k) {
  for (int64_t b = 0; b < k / 32; ++b, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      out[b].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
      sum += out[b].qs[j];
    }
    out[b].d = RoundToHalf(d);
    out[b].s = RoundToHalf(d * static_cast<float>(sum));
  }
}

// Q8_K blocks: the scale comes from the first element of largest magnitude with its sign
// (iscale = -127 / max, so d = 1 / iscale is negative when max is positive), quants
// min(127, round(iscale * x)) (nearest even), d kept as a float.
void QuantizeQ8K(const float* x, BlockQ8_K* out, int64_t k) {
  for (int64_t b = 0; b < k / kQkK; ++b, x += kQkK) {
    float amax = 0;
    float max = 0;
    for (int j = 0; j < kQkK; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float iscale = amax != 0 ? -127.0f / max : 0.0f;
    const float d = amax != 0 ? 1.0f / iscale : 0.0f;
    for (int j = 0; j < kQkK; ++j) {
      out[b].qs[j] = static_cast<int8_t>(std::fmin(127.0f, std::nearbyint(iscale * x[j])));
    }
    for (int g = 0; g < kQkK / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += out[b].qs[16 * g + j];
      out[b].bsums[g] = static_cast<int16_t>(sum);
    }
    out[b].d = d;
  }
}

// ---- Dot products of one weight row with nt activation rows ----

template <typename Act>
const Act* ActRow(const void* act, size_t stride, int t) {
  return reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + stride * t);
}

void DotF32(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  const auto* wf = static_cast<const float*>(w);
  for (int t = 0; t < nt; ++t) {
    const float* a = ActRow<float>(act, stride, t);
    float sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += wf[i] * a[i];
    out[t] = sum;
  }
}

void DotF16(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  const auto* wh = static_cast<const uint16_t*>(w);
  for (int t = 0; t < nt; ++t) {
    const float* a = ActRow<float>(act, stride, t);
    float sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += Fp16ToFp32(wh[i]) * a[i];
    out[t] = sum;
  }
}

void DotQ8_0(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  const auto* wb = static_cast<const BlockQ8_0*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8* a = ActRow<ActQ8>(act, stride, t);
    float sum = 0;
    for (int64_t b = 0; b < k / 32; ++b) {
      int isum = 0;
      for (int j = 0; j < 32; ++j) isum += wb[b].qs[j] * a[b].qs[j];
      sum += Fp16ToFp32(wb[b].d) * a[b].d * static_cast<float>(isum);
    }
    out[t] = sum;
  }
}

// One fused multiply-add of each block's whole integer dot into a single float, in block order:
// the reference engine's (llama.cpp) repacked x86 Q4_0 kernels accumulate exactly so, and the
// model tests compare logits with it closely enough that the order shows.
void DotQ4_0(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  const auto* wb = static_cast<const BlockQ4_0*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8* a = ActRow<ActQ8>(act, stride, t);
    float sum = 0;
    for (int64_t b = 0; b < k / 32; ++b) {
      int isum = 0;
      for (int j = 0; j < 16; ++j) {
        isum += ((wb[b].qs[j] & 0xF) - 8) * a[b].qs[j];
        isum += ((wb[b].qs[j] >> 4) - 8) * a[b].qs[j + 16];
      }
      sum = std::fma(static_cast<float>(isum), Fp16ToFp32(wb[b].d) * a[b].d, sum);
    }
    out[t] = sum;
  }
}

// Q8_0 blocks that came from Q4_0 weights (to_q8_0), in Q4_0's accumulation order.
void DotQ8_0InQ4_0Order(int64_t k, const void* w, const void* act, size_t stride, int nt,
                        float* out) {
  const auto* wb = static_cast<const BlockQ8_0*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8* a = ActRow<ActQ8>(act, stride, t);
    float sum = 0;
    for (int64_t b = 0; b < k / 32; ++b) {
      int isum = 0;
      for (int j = 0; j < 32; ++j) isum += wb[b].qs[j] * a[b].qs[j];
      sum = std::fma(static_cast<float>(isum), Fp16ToFp32(wb[b].d) * a[b].d, sum);
    }
    out[t] = sum;
  }
}

// Q4_1 and Q5_1 weights are d * q + m with unsigned quants q, so a block contributes
// d * d_a * sum(q * qa) + m * s_a. Q5_0 weights are d * (q - 16): the offset stays in the
// integer sum (s_a is only fp16-precise).
template <typename Block, bool kFiveBit, bool kHasMin>
void DotUnsigned32(int64_t k, const void* w, const void* act, size_t stride, int nt,
                   float* out) {
  const auto* wb = static_cast<const Block*>(w);
  for (int t = 0; t < nt; ++t) {
    const ActQ8* a = ActRow<ActQ8>(act, stride, t);
    float sum = 0;
    for (int64_t b = 0; b < k / 32; ++b) {
      uint32_t qh = 0;
      if constexpr (kFiveBit) qh = HighBits(wb[b].qh);
      int isum = 0;
      for (int j = 0; j < 16; ++j) {
        const int lo = (wb[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1) << 4);
        const int hi = (wb[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
        const int offset = kHasMin ? 0 : 16;
        isum += (lo - offset) * a[b].qs[j] + (hi - offset) * a[b].qs[j + 16];
      }
      sum += Fp16ToFp32(wb[b].d) * a[b].d * static_cast<float>(isum);
      if constexpr (kHasMin) sum += Fp16ToFp32(wb[b].m) * a[b].s;
    }
    out[t] = sum;
  }
}

// Q4_K and Q5_K share the scale layout; `high` supplies the fifth bit (Q5_K) or nothing.
template <typename Block, bool kHasHigh>
void DotQ45K(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  const auto* wb = static_cast<const Block*>(w);
  for (int t = 0; t < nt; ++t) {
    const BlockQ8_K* a = ActRow<BlockQ8_K>(act, stride, t);
    float sum = 0;
    for (int64_t b = 0; b < k / kQkK; ++b) {
      int sumi = 0;
      int summ = 0;
      for (int chunk = 0; chunk < 4; ++chunk) {
        const uint8_t* q = wb[b].qs + 32 * chunk;
        for (int part = 0; part < 2; ++part) {
          const int sub = 2 * chunk + part;
          uint8_t sc, m;
          UnpackKScale(wb[b].scales, sub, &sc, &m);
          int dot = 0;
          for (int l = 0; l < 32; ++l) {
            int v = part == 0 ? (q[l] & 0xF) : (q[l] >> 4);
            if constexpr (kHasHigh) v |= ((wb[b].qh[l] >> sub) & 1) << 4;
            dot += v * a[b].qs[32 * sub + l];
          }
          sumi += sc * dot;
          summ += m * (a[b].bsums[2 * sub] + a[b].bsums[2 * sub + 1]);
        }
      }
      sum += a[b].d * (Fp16ToFp32(wb[b].d) * static_cast<float>(sumi) -
                       Fp16ToFp32(wb[b].dmin) * static_cast<float>(summ));
    }
    out[t] = sum;
  }
}

void DotQ6_K(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  const auto* wb = static_cast<const BlockQ6_K*>(w);
  for (int t = 0; t < nt; ++t) {
    const BlockQ8_K* a = ActRow<BlockQ8_K>(act, stride, t);
    float sum = 0;
    for (int64_t b = 0; b < k / kQkK; ++b) {
      int sumi = 0;
      for (int g = 0; g < 16; ++g) {
        int dot = 0;
        for (int l = 0; l < 16; ++l) {
          dot += (Q6KQuant(wb[b], 16 * g + l) - 32) * a[b].qs[16 * g + l];
        }
        sumi += wb[b].scales[g] * dot;
      }
      sum += a[b].d * Fp16ToFp32(wb[b].d) * static_cast<float>(sumi);
    }
    out[t] = sum;
  }
}

// ---- Row operations ----

float DotRow(const float* a, const float* b, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void DotRows(const float* q, const float* rows, int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] = DotRow(q, rows + j * d, d);
}

void AccumulateRows(const float* p, const float* rows, int64_t n, int64_t d, float* out) {
  for (int64_t j = 0; j < n; ++j) Axpy(p[j], rows + j * d, out, d);
}

float SumSquares(const float* x, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

void MulScalarVec(const float* x, float s, const float* w, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * s * (w != nullptr ? w[i] : 1.0f);
}

float Max(const float* x, int64_t n) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, x[i]);
  return m;
}

double ExpSubSum(float* x, float m, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  return sum;
}

void SiluMul(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void Add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void Scale(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void F16ToF32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFp32(src[i]);
}

void F32ToF16(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Fp32ToFp16(src[i]);
}

template <gguf::TensorType kType>
constexpr int Slot() {
  return static_cast<int>(kType);
}

}  // namespace

void FillScalarKernels(KernelTable& t) {
  using gguf::TensorType;
  t.level = IsaLevel::kScalar;
  t.dequantize[Slot<TensorType::kF32>()] = DequantF32;
  t.dequantize[Slot<TensorType::kF16>()] = DequantF16;
  t.dequantize[Slot<TensorType::kBF16>()] = DequantBF16;
  t.dequantize[Slot<TensorType::kQ4_0>()] = DequantQ4_0;
  t.dequantize[Slot<TensorType::kQ4_1>()] = DequantQ4_1;
  t.dequantize[Slot<TensorType::kQ5_0>()] = DequantQ5_0;
  t.dequantize[Slot<TensorType::kQ5_1>()] = DequantQ5_1;
  t.dequantize[Slot<TensorType::kQ8_0>()] = DequantQ8_0;
  t.dequantize[Slot<TensorType::kQ2_K>()] = DequantQ2_K;
  t.dequantize[Slot<TensorType::kQ3_K>()] = DequantQ3_K;
  t.dequantize[Slot<TensorType::kQ4_K>()] = DequantQ4_K;
  t.dequantize[Slot<TensorType::kQ5_K>()] = DequantQ5_K;
  t.dequantize[Slot<TensorType::kQ6_K>()] = DequantQ6_K;

  t.to_q8_0[Slot<TensorType::kQ4_0>()] = Q4_0ToQ8_0;
  t.to_q8_0[Slot<TensorType::kQ5_0>()] = Q5_0ToQ8_0;

  t.dot[Slot<TensorType::kF32>()] = DotF32;
  t.dot[Slot<TensorType::kF16>()] = DotF16;
  t.dot[Slot<TensorType::kQ8_0>()] = DotQ8_0;
  t.dot[Slot<TensorType::kQ4_0>()] = DotQ4_0;
  t.unpacked_dot[Slot<TensorType::kQ4_0>()] = DotQ8_0InQ4_0Order;
  t.dot[Slot<TensorType::kQ4_1>()] = DotUnsigned32<BlockQ4_1, false, true>;
  t.dot[Slot<TensorType::kQ5_0>()] = DotUnsigned32<BlockQ5_0, true, false>;
  t.dot[Slot<TensorType::kQ5_1>()] = DotUnsigned32<BlockQ5_1, true, true>;
  t.dot[Slot<TensorType::kQ4_K>()] = DotQ45K<BlockQ4_K, false>;
  t.dot[Slot<TensorType::kQ5_K>()] = DotQ45K<BlockQ5_K, true>;
  t.dot[Slot<TensorType::kQ6_K>()] = DotQ6_K;

  t.quantize_q8 = QuantizeQ8;
  t.quantize_q8k = QuantizeQ8K;
  t.dot_f32 = DotRow;
  t.axpy = Axpy;
  t.dot_rows = DotRows;
  t.accumulate_rows = AccumulateRows;
  t.sum_squares = SumSquares;
  t.mul_scalar_vec = MulScalarVec;
  t.max = Max;
  t.exp_sub_sum = ExpSubSum;
  t.silu_mul = SiluMul;
  t.add = Add;
  t.scale = Scale;
  t.f16_to_f32 = F16ToF32;
  t.f32_to_f16 = F32ToF16;
}

}  // namespace hearth::kernels::internal
