// AVX2 + FMA + F16C kernels. Every function here carries HEARTH_AVX2 (isa.h) and is reached
// only through the dispatch table, so the rest of the program stays baseline x86-64.
//
// Dot products handle one weight row against up to kMaxTokens activation rows: the weights are
// loaded and unpacked once and multiplied into every token's accumulator, which is what makes
// prompt processing (many tokens per call) cheaper per token than decode.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "hearth/kernels/dispatch.h"
#include "hearth/kernels/isa.h"

#if HEARTH_X86

namespace hearth::kernels::internal {
namespace {

using gguf::BlockQ4_0;
using gguf::BlockQ4_K;
using gguf::BlockQ5_K;
using gguf::BlockQ6_K;
using gguf::BlockQ8_0;
using gguf::BlockQ8_K;
using gguf::kQkK;

HEARTH_AVX2 inline float HalfToFloat(uint16_t h) { return _cvtsh_ss(h); }

HEARTH_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

HEARTH_AVX2 inline int HorizontalSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

HEARTH_AVX2 inline float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

template <typename Act>
inline const Act* ActRow(const void* act, size_t stride, int t) {
  return reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + stride * t);
}

// ---- F32 / F16 ----

template <int NT, bool kHalf>
HEARTH_AVX2 void DotFloatN(int64_t k, const void* w, const void* act, size_t stride,
                           float* out) {
  const float* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = ActRow<float>(act, stride, t);
  // Two accumulators per token keep the FMA latency hidden when NT is small.
  __m256 acc0[NT], acc1[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  auto load = [w](int64_t i) HEARTH_AVX2 {
    if constexpr (kHalf) {
      return _mm256_cvtph_ps(_mm_loadu_si128(
          reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
    } else {
      return _mm256_loadu_ps(static_cast<const float*>(w) + i);
    }
  };
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256 w0 = load(i);
    const __m256 w1 = load(i + 8);
    for (int t = 0; t < NT; ++t) {
      acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a[t] + i), acc0[t]);
      acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(a[t] + i + 8), acc1[t]);
    }
  }
  for (; i + 8 <= k; i += 8) {
    const __m256 w0 = load(i);
    for (int t = 0; t < NT; ++t) acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(a[t] + i), acc0[t]);
  }
  for (int t = 0; t < NT; ++t) {
    float sum = HorizontalSum(_mm256_add_ps(acc0[t], acc1[t]));
    for (int64_t j = i; j < k; ++j) {
      const float wj = kHalf ? HalfToFloat(static_cast<const uint16_t*>(w)[j])
                             : static_cast<const float*>(w)[j];
      sum += wj * a[t][j];
    }
    out[t] = sum;
  }
}

// ---- 32-weight block formats against 8-bit activation blocks ----
//
// Each format turns one block into 32 quant bytes in weight order and its scale d:
//   Q8_0: q signed, w = d q          Q4_0: q = nibble - 8, w = d q     Q5_0: q = 5-bit - 16, w = d q
//   Q4_1: q = nibble, w = d q + m    Q5_1: q = 5-bit value, w = d q + m
// Signed quants go through maddubs as |q| with the sign moved onto the activations (one
// vpsignb per row and token, the same cost as subtracting an offset afterwards, and no offset
// vectors competing for the 16 registers); Q4_1/Q5_1 add m * s_a per block. Q5_0's dot kernels
// take the unsigned 5-bit value instead (FormatQ5_0Offset16), with the same integer lanes.

// 32 bytes, 0xFF where bit i of `bits` is set (lane i <-> bit i).
HEARTH_AVX2 inline __m256i SpreadBits(uint32_t bits) {
  const __m256i bytes = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i select = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, select), select);
}

// Low nibbles are weights 0..15, high nibbles 16..31. (One broadcast load and one variable
// shift of the upper half: a uop less than shifting a copy and inserting it.)
HEARTH_AVX2 inline __m256i Nibbles(const uint8_t* qs) {
  const __m256i packed =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(packed, _mm256_setr_epi64x(0, 0, 4, 4)),
                          _mm256_set1_epi8(0x0F));
}

HEARTH_AVX2 inline uint32_t HighBits32(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return bits;
}

struct FormatQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true, kHasMin = false, kBlockSum = false;
  HEARTH_AVX2 static __m256i Quants(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
};
// Q8_0 blocks unpacked from Q4_0 weights (to_q8_0), multiplied in Q4_0's order.
struct FormatQ8_0InQ4_0Order : FormatQ8_0 {
  static constexpr bool kBlockSum = true;
};
struct FormatQ4_0 {
  using Block = BlockQ4_0;
  // Block sums: the reference engine's (llama.cpp) repacked x86 Q4_0 kernels add each block's
  // whole integer dot into one float per (row, token) with one FMA, and the model tests compare
  // logits with it closely enough that the summation order shows.
  static constexpr bool kSigned = true, kHasMin = false, kBlockSum = true;
  HEARTH_AVX2 static __m256i Quants(const Block& b) {
    return _mm256_sub_epi8(Nibbles(b.qs), _mm256_set1_epi8(8));
  }
};
struct FormatQ5_0 {
  using Block = gguf::BlockQ5_0;
  static constexpr bool kSigned = true, kHasMin = false, kBlockSum = false;
  // nibble - 16 when the fifth bit is clear is the nibble with 0xF0 on top, as a signed byte.
  HEARTH_AVX2 static __m256i Quants(const Block& b) {
    return _mm256_or_si256(Nibbles(b.qs), _mm256_andnot_si256(SpreadBits(HighBits32(b.qh)),
                                                              _mm256_set1_epi8(-16)));
  }
};
// Q5_0 for the dot kernels: the 5-bit value u = q + 16 (0..31) as an unsigned byte, so maddubs
// takes it directly and the -16 comes off each 16-bit pair sum as 16 * (the pair's activation
// sum), shared by every row of a tile. Integer sums are exact, so every 32-bit lane ends up
// holding the same value as FormatQ5_0's sign-trick dot, and Dot32Offset16 accumulates them in
// Dot32's float order: the results are bit-identical (the panels rely on that).
struct FormatQ5_0Offset16 {
  using Block = gguf::BlockQ5_0;
  static constexpr bool kSigned = false, kHasMin = false, kBlockSum = false;
  HEARTH_AVX2 static __m256i Quants(const Block& b) {
    return _mm256_or_si256(Nibbles(b.qs), _mm256_and_si256(SpreadBits(HighBits32(b.qh)),
                                                           _mm256_set1_epi8(0x10)));
  }
};
struct FormatQ4_1 {
  using Block = gguf::BlockQ4_1;
  static constexpr bool kSigned = false, kHasMin = true, kBlockSum = false;
  HEARTH_AVX2 static __m256i Quants(const Block& b) { return Nibbles(b.qs); }
};
struct FormatQ5_1 {
  using Block = gguf::BlockQ5_1;
  static constexpr bool kSigned = false, kHasMin = true, kBlockSum = false;
  HEARTH_AVX2 static __m256i Quants(const Block& b) {
    return _mm256_or_si256(Nibbles(b.qs), _mm256_and_si256(SpreadBits(HighBits32(b.qh)),
                                                           _mm256_set1_epi8(0x10)));
  }
};

template <typename F>
HEARTH_AVX2 void ToQ8_0(const void* src, BlockQ8_0* dst, int64_t n) {
  const auto* blocks = static_cast<const typename F::Block*>(src);
  for (int64_t b = 0; b < n / 32; ++b) {
    dst[b].d = blocks[b].d;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[b].qs), F::Quants(blocks[b]));
  }
}

// NR weight rows (w_stride bytes apart) against NT activation rows; out[r * kMaxTokens + t].
// Every (row, token) pair does the same arithmetic in the same order whatever NR and NT are,
// so results do not depend on how a matmul was tiled.
template <typename F, int NR, int NT>
HEARTH_AVX2 void Dot32(int64_t k, const void* w, size_t w_stride, const void* act,
                       size_t stride, float* out) {
  using Block = typename F::Block;
  const Block* wb[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    wb[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + w_stride * r);
  }
  const ActQ8* a[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) a[t] = ActRow<ActQ8>(act, stride, t);
  __m256 acc[NR * NT];  // flat: GCC keeps a flat array in registers, not a 2-D one
  float min_acc[NR * NT];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      acc[r * NT + t] = _mm256_setzero_ps();
      min_acc[r * NT + t] = 0;
    }
  }
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < k / 32; ++b) {
    // Row by row, so that only one row's quants are live next to the NR x NT accumulators
    // (AVX2 has 16 vector registers).
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m256i q = F::Quants(wb[r][b]);
      __m256i q_abs = q;
      if constexpr (F::kSigned) q_abs = _mm256_sign_epi8(q, q);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(wb[r][b].d));
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].qs));
        __m256i dot;
        if constexpr (F::kSigned) {
          dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q_abs, _mm256_sign_epi8(y, q)), ones);
        } else {
          dot = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones);
        }
        acc[r * NT + t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(&a[t][b].d)),
                                    _mm256_cvtepi32_ps(dot), acc[r * NT + t]);
        if constexpr (F::kHasMin) {
          // Fused, as the reference engine's compiler contracts its `summs += m * s`.
          min_acc[r * NT + t] =
              std::fma(HalfToFloat(wb[r][b].m), a[t][b].s, min_acc[r * NT + t]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) out[r * kMaxTokens + t] = HorizontalSum(acc[r * NT + t]) + min_acc[r * NT + t];
  }
}

// Dot32's arithmetic for FormatQ5_0Offset16: lane i of a block's integer dot is
// sum(u * y) - 16 * sum(y) over the lane's four weights, which is exactly sum(q * y).
template <typename F, int NR, int NT>
HEARTH_AVX2 void Dot32Offset16(int64_t k, const void* w, size_t w_stride, const void* act,
                               size_t stride, float* out) {
  static_assert(!F::kSigned && !F::kHasMin && !F::kBlockSum, "unsigned quants, offset 16");
  using Block = typename F::Block;
  const Block* wb[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    wb[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + w_stride * r);
  }
  const ActQ8* a[NT];
#pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) a[t] = ActRow<ActQ8>(act, stride, t);
  __m256 acc[NR * NT];
#pragma GCC unroll 16
  for (int i = 0; i < NR * NT; ++i) acc[i] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i sixteen = _mm256_set1_epi8(16);
  for (int64_t b = 0; b < k / 32; ++b) {
    // 16 * (pair sums of the activations), per token: |16 * 2 * 128| fits 16 bits, and so does
    // every difference below (|u * y| pair sums are at most 2 * 31 * 128).
    __m256i offset[NT];
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      offset[t] = _mm256_maddubs_epi16(
          sixteen, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].qs)));
    }
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m256i u = F::Quants(wb[r][b]);
      const __m256 dw = _mm256_set1_ps(HalfToFloat(wb[r][b].d));
#pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].qs));
        const __m256i dot =
            _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(u, y), offset[t]), ones);
        acc[r * NT + t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(&a[t][b].d)),
                                          _mm256_cvtepi32_ps(dot), acc[r * NT + t]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      // "+ 0.0f" as Dot32 adds its (zero) min sum: -0 becomes +0 the same way.
      out[r * kMaxTokens + t] = HorizontalSum(acc[r * NT + t]) + 0.0f;
    }
  }
}

// Eight blocks' 8-lane integer dots -> one vector of their eight totals (lane i: block i).
HEARTH_AVX2 inline __m256i SumEachOf8(const __m256i d[8]) {
  // Each hadd pair leaves block i's low-half total in lane i of the low 128 bits and its
  // high-half total in lane i of the high 128 bits (blocks 0-3 in x, 4-7 in y).
  const __m256i x = _mm256_hadd_epi32(_mm256_hadd_epi32(d[0], d[1]), _mm256_hadd_epi32(d[2], d[3]));
  const __m256i y = _mm256_hadd_epi32(_mm256_hadd_epi32(d[4], d[5]), _mm256_hadd_epi32(d[6], d[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(x, y, 0x20),
                          _mm256_permute2x128_si256(x, y, 0x31));
}

// acc = fma(s[i], c[i], acc) for i = 0..7 in order, on scalar lanes.
HEARTH_AVX2 inline __m128 FmaInOrder(__m256 s, __m256 c, __m128 acc) {
  alignas(32) float sv[8], cv[8];
  _mm256_store_ps(sv, s);
  _mm256_store_ps(cv, c);
  for (int i = 0; i < 8; ++i) acc = _mm_fmadd_ss(_mm_load_ss(sv + i), _mm_load_ss(cv + i), acc);
  return acc;
}

// The kBlockSum order: per (row, token), acc = fma(float(block's integer dot), d_w * d_a, acc)
// block after block, which is the scalar reference's order, so the results are bit-identical to
// it whatever NR and NT are. Blocks go eight at a time: their integer dots reduce together into
// one vector, and only the chain of fused multiply-adds is serial.
template <typename F, int NR, int NT>
HEARTH_AVX2 void Dot32BlockSum(int64_t k, const void* w, size_t w_stride, const void* act,
                               size_t stride, float* out) {
  static_assert(F::kSigned && !F::kHasMin);
  using Block = typename F::Block;
  const Block* wb[NR];
  for (int r = 0; r < NR; ++r) {
    wb[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + w_stride * r);
  }
  const ActQ8* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = ActRow<ActQ8>(act, stride, t);
  __m128 acc[NR * NT];
  for (int i = 0; i < NR * NT; ++i) acc[i] = _mm_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  auto block_dot = [&ones](__m256i q, __m256i q_abs, const ActQ8& y) HEARTH_AVX2 {
    const __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y.qs));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q_abs, _mm256_sign_epi8(yq, q)), ones);
  };
  const int64_t nb = k / 32;
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    __m256i q[NR][8], q_abs[NR][8];
    __m256 dw[NR];
    for (int r = 0; r < NR; ++r) {
      alignas(32) float d[8];
      for (int i = 0; i < 8; ++i) {
        q[r][i] = F::Quants(wb[r][b + i]);
        q_abs[r][i] = _mm256_sign_epi8(q[r][i], q[r][i]);
        d[i] = HalfToFloat(wb[r][b + i].d);
      }
      dw[r] = _mm256_load_ps(d);
    }
    for (int t = 0; t < NT; ++t) {
      const ActQ8* y = a[t] + b;
      const __m256 da = _mm256_setr_ps(y[0].d, y[1].d, y[2].d, y[3].d, y[4].d, y[5].d, y[6].d,
                                       y[7].d);
      for (int r = 0; r < NR; ++r) {
        __m256i dots[8];
        for (int i = 0; i < 8; ++i) dots[i] = block_dot(q[r][i], q_abs[r][i], y[i]);
        const __m256 sums = _mm256_cvtepi32_ps(SumEachOf8(dots));
        acc[r * NT + t] = FmaInOrder(sums, _mm256_mul_ps(dw[r], da), acc[r * NT + t]);
      }
    }
  }
  for (; b < nb; ++b) {
    for (int r = 0; r < NR; ++r) {
      const __m256i q = F::Quants(wb[r][b]);
      const __m256i q_abs = _mm256_sign_epi8(q, q);
      const float dw = HalfToFloat(wb[r][b].d);
      for (int t = 0; t < NT; ++t) {
        const float sum = static_cast<float>(HorizontalSumI32(block_dot(q, q_abs, a[t][b])));
        acc[r * NT + t] = _mm_fmadd_ss(_mm_set_ss(sum), _mm_set_ss(dw * a[t][b].d),
                                       acc[r * NT + t]);
      }
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int t = 0; t < NT; ++t) out[r * kMaxTokens + t] = _mm_cvtss_f32(acc[r * NT + t]);
  }
}

template <typename F, int NR, int NT>
HEARTH_AVX2 void Dot32Any(int64_t k, const void* w, size_t w_stride, const void* act,
                          size_t stride, float* out) {
  if constexpr (F::kBlockSum) {
    Dot32BlockSum<F, NR, NT>(k, w, w_stride, act, stride, out);
  } else if constexpr (std::is_same_v<F, FormatQ5_0Offset16>) {
    Dot32Offset16<F, NR, NT>(k, w, w_stride, act, stride, out);
  } else {
    Dot32<F, NR, NT>(k, w, w_stride, act, stride, out);
  }
}

template <typename F>
void Dot32Row(int64_t k, const void* w, const void* act, size_t stride, int nt, float* out) {
  switch (nt) {
    case 1:
      return Dot32Any<F, 1, 1>(k, w, 0, act, stride, out);
    case 2:
      return Dot32Any<F, 1, 2>(k, w, 0, act, stride, out);
    case 3:
      return Dot32Any<F, 1, 3>(k, w, 0, act, stride, out);
    default:
      return Dot32Any<F, 1, 4>(k, w, 0, act, stride, out);
  }
}

template <typename F>
void Dot32Pair(int64_t k, const void* w, size_t w_stride, const void* act, size_t stride, int nt,
               float* out) {
  switch (nt) {
    case 1:
      return Dot32Any<F, 2, 1>(k, w, w_stride, act, stride, out);
    case 2:
      return Dot32Any<F, 2, 2>(k, w, w_stride, act, stride, out);
    case 3:
      return Dot32Any<F, 2, 3>(k, w, w_stride, act, stride, out);
    default:
      return Dot32Any<F, 2, 4>(k, w, w_stride, act, stride, out);
  }
}

// ---- Panels: blocked GEMM over 32-weight blocks (dispatch.h, kPanelScaleGroup) ----
//
// Per (row, token) this does exactly what Dot32 does for the signed, min-free formats (Q8_0,
// Q5_0), so results match the dot kernels bit for bit; the gain is in the loads. A 2-row x
// 4-token tile keeps its eight accumulators in registers, each weight block is loaded once for
// four tokens and each activation block once for two rows, from interleaved panels (one
// sequential stream each, activations of a panel staying in L1 across all row pairs), and the
// fl(d_w * d_a) factors are made eight blocks per multiply instead of one per block.
// (Int16 panels, which need no vpsignb, were ~7% faster with everything in L1 but slower in a
// real matmul, where their doubled footprint spills from L2.)

// Reduces a kPanelRows x kPanelTokens tile of accumulators and stores its first nr x nt sums.
// The reductions are unrolled over the whole tile: indexing `acc` with the run-time bounds
// would make GCC keep the accumulators in memory through the multiply loop.
HEARTH_AVX2 inline void StoreTile(const __m256* acc, int nr, int nt, float* y, int64_t ldy) {
  constexpr int NR = kPanelRows, NT = kPanelTokens;
  float sums[NR * NT];
#pragma GCC unroll 16
  for (int i = 0; i < NR * NT; ++i) {
    // "+ 0.0f" as Dot32 adds its (zero) min sum: -0 becomes +0 the same way.
    sums[i] = HorizontalSum(acc[i]) + 0.0f;
  }
  for (int r = 0; r < nr; ++r) {
    for (int t = 0; t < nt; ++t) y[t * ldy + r] = sums[r * NT + t];
  }
}

template <typename F>
HEARTH_AVX2 void PanelPackRows(const void* src, int64_t k, int8_t* panel, int members,
                               int member, float* scales) {
  static_assert(F::kSigned && !F::kHasMin && !F::kBlockSum);
  const auto* blocks = static_cast<const typename F::Block*>(src);
  const int64_t nb = k / 32;
  int8_t* dst = panel + 32 * member;
  for (int64_t b = 0; b < nb; ++b, dst += 32 * members) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), F::Quants(blocks[b]));
    scales[b] = HalfToFloat(blocks[b].d);
  }
  for (int64_t b = nb; b < PanelScalesPerRow(k); ++b) scales[b] = 0;
}

HEARTH_AVX2 void PanelPackAct(const ActQ8* src, int64_t k, int8_t* panel, int members,
                              int member, float* scales) {
  const int64_t nb = k / 32;
  int8_t* dst = panel + 32 * member;
  for (int64_t b = 0; b < nb; ++b, dst += 32 * members) {
    std::memcpy(dst, src[b].qs, 32);
    scales[b] = src[b].d;
  }
  for (int64_t b = nb; b < PanelScalesPerRow(k); ++b) scales[b] = 0;
}

HEARTH_AVX2 void PanelGemm(int64_t k, const int8_t* w, const float* ws, const int8_t* a,
                           const float* as, size_t s_stride, int nr, int nt, float* y,
                           int64_t ldy) {
  constexpr int NR = kPanelRows, NT = kPanelTokens;
  const int64_t nb = k / 32;
  __m256 acc[NR * NT];
#pragma GCC unroll 16
  for (int i = 0; i < NR * NT; ++i) acc[i] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  constexpr int64_t kChunk = 64;
  alignas(32) float scale[NR * NT][kChunk];
  for (int64_t c = 0; c < nb; c += kChunk) {
    const int64_t c_end = nb - c < kChunk ? nb : c + kChunk;
    for (int64_t g = c; g < c_end; g += kPanelScaleGroup) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const __m256 dw = _mm256_loadu_ps(ws + r * s_stride + g);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          _mm256_store_ps(scale[r * NT + t] + (g - c),
                          _mm256_mul_ps(dw, _mm256_loadu_ps(as + t * s_stride + g)));
        }
      }
    }
    const int8_t* wb = w + 32 * NR * c;
    const int8_t* ab = a + 32 * NT * c;
    for (int64_t b = c; b < c_end; ++b, wb += 32 * NR, ab += 32 * NT) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 32 * r));
        const __m256i q_abs = _mm256_sign_epi8(q, q);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 32 * t));
          const __m256i dot =
              _mm256_madd_epi16(_mm256_maddubs_epi16(q_abs, _mm256_sign_epi8(yq, q)), ones);
          acc[r * NT + t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r * NT + t][b - c]),
                                            _mm256_cvtepi32_ps(dot), acc[r * NT + t]);
        }
      }
    }
  }
  StoreTile(acc, nr, nt, y, ldy);
}

// ---- K-quants against Q8_K activation blocks ----

// Per sub-block scale and min of a Q4_K/Q5_K super-block as 16-bit lanes: the scales in lanes
// 0-7 of both 128-bit halves (for BroadcastLane16), the mins with each value repeated for
// the two 16-weight halves its sub-block covers (lane 2j and 2j+1 hold entry j), so one madd
// against the activation bsums yields the per-sub-block min terms.
HEARTH_AVX2 inline void KScales(const uint8_t* packed, __m256i* scales16, __m256i* mins_pairs) {
  uint64_t scales, mins;
  UnpackKScales(packed, &scales, &mins);
  *scales16 = _mm256_broadcastsi128_si256(
      _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scales))));
  const __m128i m16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mins)));
  *mins_pairs = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
}

// Every 16-bit lane set to lane `lane` (0-7) of each 128-bit half of v: one byte shuffle (its
// control a constant once the loops are unrolled) instead of moving a scalar scale into a
// vector and broadcasting it.
HEARTH_AVX2 inline __m256i BroadcastLane16(__m256i v, int lane) {
  const int pick = (2 * lane) | ((2 * lane + 1) << 8);
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(static_cast<int16_t>(pick)));
}

// The same with lane `low` of the low 128-bit half in the low half and lane `high` of the high
// half in the high half (the byte shuffle works on each half with its own control).
HEARTH_AVX2 inline __m256i BroadcastLanes16(__m256i v, int low, int high) {
  const int pick_low = (2 * low) | ((2 * low + 1) << 8);
  const int pick_high = (2 * high) | ((2 * high + 1) << 8);
  return _mm256_shuffle_epi8(v, _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(pick_high)),
                                                 _mm_set1_epi16(static_cast<int16_t>(pick_low))));
}

// 16 in every byte of v whose bit `bit` is set, 0 elsewhere: the bit shifted into place (16-bit
// shifts; what crosses into the neighbouring byte is masked off).
HEARTH_AVX2 inline __m256i BitToSixteen(__m256i v, int bit) {
  const __m256i moved = bit <= 4 ? _mm256_slli_epi16(v, 4 - bit) : _mm256_srli_epi16(v, bit - 4);
  return _mm256_and_si256(moved, _mm256_set1_epi8(16));
}

template <int NT, bool kQ5>
HEARTH_AVX2 void DotQ45KN(int64_t k, const void* w, const void* act, size_t stride,
                          float* out) {
  using Block = std::conditional_t<kQ5, BlockQ5_K, BlockQ4_K>;
  const auto* wb = static_cast<const Block*>(w);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = ActRow<BlockQ8_K>(act, stride, t);
  __m256 acc[NT];
  float min_acc[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm256_setzero_ps();
    min_acc[t] = 0;
  }
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < k / kQkK; ++b) {
    __m256i scales16, mins_pairs;
    KScales(wb[b].scales, &scales16, &mins_pairs);
    const float d = HalfToFloat(wb[b].d);
    const float dmin = HalfToFloat(wb[b].dmin);
    __m256i high_bits = _mm256_setzero_si256();
    if constexpr (kQ5) {
      high_bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qh));
    }
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int chunk = 0; chunk < 4; ++chunk) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs + 32 * chunk));
      __m256i lo = _mm256_and_si256(packed, low_mask);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_mask);
      if constexpr (kQ5) {
        // Bit (2*chunk) of qh[l] is the fifth bit of the low-nibble weight l, bit (2*chunk+1)
        // that of the high-nibble one.
        lo = _mm256_or_si256(lo, BitToSixteen(high_bits, 2 * chunk));
        hi = _mm256_or_si256(hi, BitToSixteen(high_bits, 2 * chunk + 1));
      }
      const __m256i scale_lo = BroadcastLane16(scales16, 2 * chunk);
      const __m256i scale_hi = BroadcastLane16(scales16, 2 * chunk + 1);
      for (int t = 0; t < NT; ++t) {
        const int8_t* y = a[t][b].qs + 64 * chunk;
        const __m256i y_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y));
        const __m256i y_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32));
        const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y_lo), scale_lo);
        const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y_hi), scale_hi);
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p_lo, p_hi));
      }
    }
    for (int t = 0; t < NT; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].bsums));
      const int mins_dot = HorizontalSumI32(_mm256_madd_epi16(bsums, mins_pairs));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[t][b].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      min_acc[t] += dmin * a[t][b].d * static_cast<float>(mins_dot);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = HorizontalSum(acc[t]) - min_acc[t];
}

template <int NT>
HEARTH_AVX2 void DotQ6KN(int64_t k, const void* w, const void* act, size_t stride, float* out) {
  const auto* wb = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = ActRow<BlockQ8_K>(act, stride, t);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i high_pair = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < k / kQkK; ++b) {
    const float d = HalfToFloat(wb[b].d);
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].scales)));
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      // This half's eight group scales in both 128-bit halves, for BroadcastLane16.
      const __m256i half_scales =
          half == 0 ? _mm256_permute2x128_si256(scales16, scales16, 0x00)
                    : _mm256_permute2x128_si256(scales16, scales16, 0x11);
      const uint8_t* ql = wb[b].ql + 64 * half;
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qh + 32 * half));
      // Quarter j covers weights 128*half + 32*j + l: low 4 bits from ql (low nibbles for j<2),
      // high 2 bits from qh bits 2j..2j+1. Values are 0..63; the -32 is applied via bsums.
      __m256i q[4];
      // The qh pair of quarter j shifted straight into bits 4-5 (16-bit shifts: what crosses
      // into the neighbouring byte is masked off).
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                             _mm256_and_si256(_mm256_slli_epi16(qh, 4), high_pair));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low_mask),
                             _mm256_and_si256(_mm256_slli_epi16(qh, 2), high_pair));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
                             _mm256_and_si256(qh, high_pair));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
                             _mm256_and_si256(_mm256_srli_epi16(qh, 2), high_pair));
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        // Scales of the two 16-weight groups of this quarter (8 * half + 2 * j and the next):
        // lanes 0-7 and 8-15.
        const __m256i sc = BroadcastLanes16(half_scales, 2 * j, 2 * j + 1);
        for (int t = 0; t < NT; ++t) {
          const __m256i y = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(a[t][b].qs + 128 * half + 32 * j));
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], y), sc));
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].bsums));
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(bsums, scales16), 5);  // *32
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[t][b].d),
                               _mm256_cvtepi32_ps(_mm256_sub_epi32(sumi[t], offset)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = HorizontalSum(acc[t]);
}

// Turns a kernel templated on the token count into a RowDotFn.
template <template <int> class Kernel>
void DispatchTokens(int64_t k, const void* w, const void* act, size_t stride, int nt,
                    float* out) {
  switch (nt) {
    case 1:
      return Kernel<1>::Run(k, w, act, stride, out);
    case 2:
      return Kernel<2>::Run(k, w, act, stride, out);
    case 3:
      return Kernel<3>::Run(k, w, act, stride, out);
    default:
      return Kernel<4>::Run(k, w, act, stride, out);
  }
}

#define HEARTH_KERNEL_ADAPTER(Name, ...)                                               \
  template <int NT>                                                                    \
  struct Name {                                                                        \
    static void Run(int64_t k, const void* w, const void* act, size_t stride, float* out) { \
      __VA_ARGS__(k, w, act, stride, out);                                             \
    }                                                                                  \
  };
HEARTH_KERNEL_ADAPTER(F32Kernel, DotFloatN<NT, false>)
HEARTH_KERNEL_ADAPTER(F16Kernel, DotFloatN<NT, true>)
HEARTH_KERNEL_ADAPTER(Q4KKernel, DotQ45KN<NT, false>)
HEARTH_KERNEL_ADAPTER(Q5KKernel, DotQ45KN<NT, true>)
HEARTH_KERNEL_ADAPTER(Q6KKernel, DotQ6KN<NT>)
#undef HEARTH_KERNEL_ADAPTER

// ---- Activation quantization (bit-identical to the scalar reference) ----

// Quantizes 8 floats already multiplied by the inverse scale to int32 (round to nearest even,
// as std::nearbyint in the default rounding mode).
HEARTH_AVX2 inline __m256i RoundToInt(__m256 v) { return _mm256_cvtps_epi32(v); }

// Packs 32 int32 (four vectors, each in order) into 32 int8 in order.
HEARTH_AVX2 inline __m256i PackToInt8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // lanes interleave by 128-bit halves
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);
  // After the two packs, 32-bit groups are in order 0 2 4 6 1 3 5 7; undo it.
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

HEARTH_AVX2 inline float AbsMax(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  return HorizontalMax(m);
}

HEARTH_AVX2 inline __m256i Quantize32(const float* x, float id) {
  const __m256 s = _mm256_set1_ps(id);
  return PackToInt8(RoundToInt(_mm256_mul_ps(_mm256_loadu_ps(x), s)),
                    RoundToInt(_mm256_mul_ps(_mm256_loadu_ps(x + 8), s)),
                    RoundToInt(_mm256_mul_ps(_mm256_loadu_ps(x + 16), s)),
                    RoundToInt(_mm256_mul_ps(_mm256_loadu_ps(x + 24), s)));
}

HEARTH_AVX2 inline float RoundToHalf(float v) {
  return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT));
}

HEARTH_AVX2 void QuantizeQ8(const float* x, ActQ8* out, int64_t k) {
  for (int64_t b = 0; b < k / 32; ++b, x += 32) {
    const float amax = AbsMax(x, 32);
    const float d = amax / 127.0f;
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    const __m256i q = Quantize32(x, id);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs), q);
    const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q),
                                           _mm256_set1_epi16(1));
    out[b].d = RoundToHalf(d);
    out[b].s = RoundToHalf(d * static_cast<float>(HorizontalSumI32(sums)));
  }
}

HEARTH_AVX2 void QuantizeQ8K(const float* x, BlockQ8_K* out, int64_t k) {
  for (int64_t b = 0; b < k / kQkK; ++b, x += kQkK) {
    // The signed element of largest magnitude (the first one on ties) sets the scale.
    const float amax = AbsMax(x, kQkK);
    float max = 0;
    for (int j = 0; j < kQkK; ++j) {
      if (std::fabs(x[j]) == amax) {
        max = x[j];
        break;
      }
    }
    const float iscale = amax != 0 ? -127.0f / max : 0.0f;
    const float d = amax != 0 ? 1.0f / iscale : 0.0f;
    for (int j = 0; j < kQkK; j += 32) {
      // Saturating packs give the min(127, q) of the scalar reference.
      const __m256i q = Quantize32(x + j, iscale);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].qs + j), q);
      // Pairwise sums to 16 int16, then pairs of those: 8 per-16 groups... only 2 groups here.
      const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);  // 16 sums of 2
      const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));  // 8 sums of 4
      alignas(32) int32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s32);
      out[b].bsums[j / 16] = static_cast<int16_t>(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
      out[b].bsums[j / 16 + 1] = static_cast<int16_t>(lanes[4] + lanes[5] + lanes[6] + lanes[7]);
    }
    out[b].d = d;
  }
}

// ---- Row operations ----

// exp(x) for 8 lanes, by the same algorithm as the reference engine's (llama.cpp's) vector
// exp, so that softmax and SiLU round like it: n = round(x / ln2) through the 1.5 * 2^23 shift,
// r = x - n ln2 with ln2 in two parts, exp(r) - 1 by a degree-5 polynomial evaluated in two
// halves, scaled by 2^n through the exponent bits. Lanes with |n| > 126 (results that overflow,
// are denormal or are 0, including x = -inf) take std::exp.
HEARTH_AVX2 inline __m256 Exp(__m256 x) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  // z's low mantissa bits hold n: shifted into the exponent field and added to 1.0f's bits.
  const __m256 two_n = _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(z), 23),
                       _mm256_castps_si256(_mm256_set1_ps(1.0f))));
  const __m256 r2 = _mm256_mul_ps(r, r);
  const __m256 high = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), r,
                                      _mm256_set1_ps(0x1.573e2ep-5f));
  const __m256 low = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), r,
                                     _mm256_set1_ps(0x1.fffdb6p-2f));
  const __m256 expm1 = _mm256_fmadd_ps(_mm256_fmadd_ps(high, r2, low), r2,
                                       _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), r));
  __m256 result = _mm256_fmadd_ps(expm1, two_n, two_n);
  const __m256 out_of_range = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n),
                                            _mm256_set1_ps(126.0f), _CMP_GT_OQ);
  if (_mm256_movemask_ps(out_of_range) != 0) {
    alignas(32) float in[8], out[8], mask[8];
    _mm256_store_ps(in, x);
    _mm256_store_ps(out, result);
    _mm256_store_ps(mask, out_of_range);
    for (int i = 0; i < 8; ++i) {
      if (mask[i] != 0) out[i] = std::exp(in[i]);
    }
    result = _mm256_load_ps(out);
  }
  return result;
}

HEARTH_AVX2 float DotRow(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

HEARTH_AVX2 void Axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// Four rows at a time share each load of q and give four independent FMA chains (one row alone
// is bound by FMA latency at head sizes like 64); the four sums reduce together.
HEARTH_AVX2 void DotRows(const float* q, const float* rows, int64_t n, int64_t d, float* out) {
  const int64_t d8 = d & ~int64_t{7};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r0 = rows + j * d;
    const float* r1 = r0 + d;
    const float* r2 = r1 + d;
    const float* r3 = r2 + d;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < d8; i += 8) {
      const __m256 qi = _mm256_loadu_ps(q + i);
      a0 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(r0 + i), a0);
      a1 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(r1 + i), a1);
      a2 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(r2 + i), a2);
      a3 = _mm256_fmadd_ps(qi, _mm256_loadu_ps(r3 + i), a3);
    }
    // hadd pairs: lanes end up as (row0, row1, row2, row3) per 128-bit half; add the halves.
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m128 sums = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, sums);
    for (int64_t i = d8; i < d; ++i) {
      lanes[0] += q[i] * r0[i];
      lanes[1] += q[i] * r1[i];
      lanes[2] += q[i] * r2[i];
      lanes[3] += q[i] * r3[i];
    }
    for (int r = 0; r < 4; ++r) out[j + r] = lanes[r];
  }
  for (; j < n; ++j) out[j] = DotRow(q, rows + j * d, d);
}

HEARTH_AVX2 void AccumulateRows(const float* p, const float* rows, int64_t n, int64_t d,
                                float* out) {
  int64_t i = 0;
  // 64 outputs at a time: eight independent FMA chains keep both FMA pipes busy.
  for (; i + 64 <= d; i += 64) {
    __m256 acc[8];
    for (int c = 0; c < 8; ++c) acc[c] = _mm256_loadu_ps(out + i + 8 * c);
    for (int64_t j = 0; j < n; ++j) {
      const float* row = rows + j * d + i;
      const __m256 pj = _mm256_broadcast_ss(p + j);
      for (int c = 0; c < 8; ++c) acc[c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row + 8 * c), acc[c]);
    }
    for (int c = 0; c < 8; ++c) _mm256_storeu_ps(out + i + 8 * c, acc[c]);
  }
  for (; i + 32 <= d; i += 32) {
    __m256 acc0 = _mm256_loadu_ps(out + i), acc1 = _mm256_loadu_ps(out + i + 8);
    __m256 acc2 = _mm256_loadu_ps(out + i + 16), acc3 = _mm256_loadu_ps(out + i + 24);
    for (int64_t j = 0; j < n; ++j) {
      const float* row = rows + j * d + i;
      const __m256 pj = _mm256_broadcast_ss(p + j);
      acc0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row), acc0);
      acc1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row + 8), acc1);
      acc2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row + 16), acc2);
      acc3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(row + 24), acc3);
    }
    _mm256_storeu_ps(out + i, acc0);
    _mm256_storeu_ps(out + i + 8, acc1);
    _mm256_storeu_ps(out + i + 16, acc2);
    _mm256_storeu_ps(out + i + 24, acc3);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 acc = _mm256_loadu_ps(out + i);
    for (int64_t j = 0; j < n; ++j) {
      acc = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(rows + j * d + i), acc);
    }
    _mm256_storeu_ps(out + i, acc);
  }
  for (; i < d; ++i) {
    float acc = out[i];
    for (int64_t j = 0; j < n; ++j) acc += p[j] * rows[j * d + i];
    out[i] = acc;
  }
}

HEARTH_AVX2 float SumSquares(const float* x, int64_t n) { return DotRow(x, x, n); }

HEARTH_AVX2 void MulScalarVec(const float* x, float s, const float* w, float* out, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
    if (w != nullptr) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
    _mm256_storeu_ps(out + i, v);
  }
  for (; i < n; ++i) out[i] = x[i] * s * (w != nullptr ? w[i] : 1.0f);
}

HEARTH_AVX2 float Max(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  float out = HorizontalMax(m);
  for (; i < n; ++i) out = x[i] > out ? x[i] : out;
  return out;
}

// Per 8 values a float horizontal sum, added in double: the reference engine's order. A tail
// runs as a whole vector padded with -inf (exp 0), like the reference's masked rows.
HEARTH_AVX2 double ExpSubSum(float* x, float m, int64_t n) {
  const __m256 vm = _mm256_set1_ps(m);
  double total = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = Exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    total += HorizontalSum(e);
  }
  if (i < n) {
    alignas(32) float tail[8];
    const int rest = static_cast<int>(n - i);
    for (int j = 0; j < 8; ++j) tail[j] = j < rest ? x[i + j] - m : -__builtin_inff();
    const __m256 e = Exp(_mm256_load_ps(tail));
    _mm256_store_ps(tail, e);
    std::memcpy(x + i, tail, rest * sizeof(float));
    total += HorizontalSum(e);
  }
  return total;
}

HEARTH_AVX2 inline __m256 SiluTimes(__m256 g, __m256 u) {
  const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

HEARTH_AVX2 void SiluMul(const float* g, const float* u, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, SiluTimes(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
  }
  if (i < n) {
    alignas(32) float gt[8] = {}, ut[8] = {}, ot[8];
    const int rest = static_cast<int>(n - i);
    std::memcpy(gt, g + i, rest * sizeof(float));
    std::memcpy(ut, u + i, rest * sizeof(float));
    _mm256_store_ps(ot, SiluTimes(_mm256_load_ps(gt), _mm256_load_ps(ut)));
    std::memcpy(out + i, ot, rest * sizeof(float));
  }
}

HEARTH_AVX2 void Add(const float* a, const float* b, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  }
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

HEARTH_AVX2 void Scale(float* x, float s, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
  for (; i < n; ++i) x[i] *= s;
}

HEARTH_AVX2 void F16ToF32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}

HEARTH_AVX2 void F32ToF16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

HEARTH_AVX2 void DequantF16(const void* src, float* dst, int64_t n) {
  F16ToF32(static_cast<const uint16_t*>(src), dst, n);
}

HEARTH_AVX2 void DequantQ8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
    const __m256 d = _mm256_set1_ps(HalfToFloat(blocks[b].d));
    for (int j = 0; j < 32; j += 8) {
      const __m256i q = _mm256_cvtepi8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[b].qs + j)));
      _mm256_storeu_ps(dst + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
    }
  }
}

int Slot(gguf::TensorType type) { return static_cast<int>(type); }

}  // namespace

void FillAvx2Kernels(KernelTable& t) {
  using gguf::TensorType;
  t.level = IsaLevel::kAvx2;
  t.dot[Slot(TensorType::kF32)] = DispatchTokens<F32Kernel>;
  t.dot[Slot(TensorType::kF16)] = DispatchTokens<F16Kernel>;
  t.dot[Slot(TensorType::kQ8_0)] = Dot32Row<FormatQ8_0>;
  t.dot[Slot(TensorType::kQ4_0)] = Dot32Row<FormatQ4_0>;
  t.dot[Slot(TensorType::kQ5_0)] = Dot32Row<FormatQ5_0Offset16>;
  t.dot[Slot(TensorType::kQ4_1)] = Dot32Row<FormatQ4_1>;
  t.dot[Slot(TensorType::kQ5_1)] = Dot32Row<FormatQ5_1>;
  t.dot2[Slot(TensorType::kQ8_0)] = Dot32Pair<FormatQ8_0>;
  t.to_q8_0[Slot(TensorType::kQ4_0)] = ToQ8_0<FormatQ4_0>;
  t.to_q8_0[Slot(TensorType::kQ5_0)] = ToQ8_0<FormatQ5_0>;
  t.dot2[Slot(TensorType::kQ4_0)] = Dot32Pair<FormatQ4_0>;
  t.dot2[Slot(TensorType::kQ5_0)] = Dot32Pair<FormatQ5_0Offset16>;
  t.unpacked_dot[Slot(TensorType::kQ4_0)] = Dot32Row<FormatQ8_0InQ4_0Order>;
  t.unpacked_dot2[Slot(TensorType::kQ4_0)] = Dot32Pair<FormatQ8_0InQ4_0Order>;
  // Q4_1/Q5_1 keep one row at a time: their per-(row, token) min sums would not fit in
  // registers next to a pair's accumulators.
  t.dot[Slot(TensorType::kQ4_K)] = DispatchTokens<Q4KKernel>;
  t.dot[Slot(TensorType::kQ5_K)] = DispatchTokens<Q5KKernel>;
  t.dot[Slot(TensorType::kQ6_K)] = DispatchTokens<Q6KKernel>;
  t.dequantize[Slot(TensorType::kF16)] = DequantF16;
  t.dequantize[Slot(TensorType::kQ8_0)] = DequantQ8_0;
  t.panel_pack_rows[Slot(TensorType::kQ8_0)] = PanelPackRows<FormatQ8_0>;
  t.panel_pack_rows[Slot(TensorType::kQ5_0)] = PanelPackRows<FormatQ5_0>;
  t.panel_pack_act = PanelPackAct;
  t.panel_gemm = PanelGemm;
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

#else
namespace hearth::kernels::internal {
void FillAvx2Kernels(KernelTable& t) { t.level = IsaLevel::kAvx2; }
}  // namespace hearth::kernels::internal
#endif
