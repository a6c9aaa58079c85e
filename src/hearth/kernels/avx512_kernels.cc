// AVX-512 (F/BW/VL/VNNI) versions of the hottest dot products (Q8_0, Q4_K, Q6_K) and of the
// panel GEMM micro-kernel.
//
// They keep the AVX2 structure (one weight row against up to kMaxTokens activation rows) and
// replace the maddubs+madd pair with one VNNI dpbusd on 256-bit registers: fewer uops and no
// int16 saturation. 256-bit width avoids the frequency drop of 512-bit code on older Xeons.
// Everything else is inherited from the AVX2 table.
#include "hearth/kernels/dispatch.h"
#include "hearth/kernels/isa.h"

#if HEARTH_X86

namespace hearth::kernels::internal {
namespace {

using gguf::BlockQ4_K;
using gguf::BlockQ6_K;
using gguf::BlockQ8_0;
using gguf::BlockQ8_K;
using gguf::kQkK;

HEARTH_AVX512 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

HEARTH_AVX512 inline int HorizontalSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

template <typename Act>
inline const Act* ActRow(const void* act, size_t stride, int t) {
  return reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + stride * t);
}

template <int NT>
HEARTH_AVX512 void DotQ8_0N(int64_t k, const void* w, const void* act, size_t stride,
                            float* out) {
  const auto* wb = static_cast<const BlockQ8_0*>(w);
  const ActQ8* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = ActRow<ActQ8>(act, stride, t);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < k / 32; ++b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs));
    const __m256i q_abs = _mm256_abs_epi8(q);  // dpbusd's unsigned operand; sign moves to y
    const float d = _cvtsh_ss(wb[b].d);
    for (int t = 0; t < NT; ++t) {
      const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].qs));
      const __m256i dot =
          _mm256_dpbusd_epi32(_mm256_setzero_si256(), q_abs, _mm256_sign_epi8(y, q));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a[t][b].d), _mm256_cvtepi32_ps(dot), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = HorizontalSum(acc[t]);
}

template <int NT>
HEARTH_AVX512 void DotQ4KN(int64_t k, const void* w, const void* act, size_t stride,
                           float* out) {
  const auto* wb = static_cast<const BlockQ4_K*>(w);
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
    uint8_t scales[8], mins[8];
    for (int j = 0; j < 8; ++j) UnpackKScale(wb[b].scales, j, &scales[j], &mins[j]);
    const __m128i m16 =
        _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins)));
    const __m256i mins_pairs =
        _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
    const float d = _cvtsh_ss(wb[b].d);
    const float dmin = _cvtsh_ss(wb[b].dmin);
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    for (int chunk = 0; chunk < 4; ++chunk) {
      const __m256i packed =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs + 32 * chunk));
      const __m256i lo = _mm256_and_si256(packed, low_mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_mask);
      const __m256i scale_lo = _mm256_set1_epi32(scales[2 * chunk]);
      const __m256i scale_hi = _mm256_set1_epi32(scales[2 * chunk + 1]);
      for (int t = 0; t < NT; ++t) {
        const int8_t* y = a[t][b].qs + 64 * chunk;
        const __m256i p_lo = _mm256_dpbusd_epi32(
            _mm256_setzero_si256(), lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y)));
        const __m256i p_hi = _mm256_dpbusd_epi32(
            _mm256_setzero_si256(), hi,
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32)));
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_mullo_epi32(p_lo, scale_lo),
                                                             _mm256_mullo_epi32(p_hi, scale_hi)));
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
HEARTH_AVX512 void DotQ6KN(int64_t k, const void* w, const void* act, size_t stride,
                           float* out) {
  const auto* wb = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = ActRow<BlockQ8_K>(act, stride, t);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  for (int64_t b = 0; b < k / kQkK; ++b) {
    const float d = _cvtsh_ss(wb[b].d);
    const __m256i scales16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].scales)));
    __m256i sumi[NT];
    for (int t = 0; t < NT; ++t) sumi[t] = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = wb[b].ql + 64 * half;
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i qh =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qh + 32 * half));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low_mask),
                             _mm256_slli_epi16(_mm256_and_si256(qh, two_bits), 4));
      q[1] = _mm256_or_si256(
          _mm256_and_si256(ql1, low_mask),
          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two_bits), 4));
      q[2] = _mm256_or_si256(
          _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_mask),
          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two_bits), 4));
      q[3] = _mm256_or_si256(
          _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_mask),
          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two_bits), 4));
      for (int j = 0; j < 4; ++j) {
        // dpbusd lanes 0-3 cover the first 16 weights (group g), lanes 4-7 group g+1.
        const int g = 8 * half + 2 * j;
        const __m256i sc = _mm256_set_m128i(_mm_set1_epi32(wb[b].scales[g + 1]),
                                            _mm_set1_epi32(wb[b].scales[g]));
        for (int t = 0; t < NT; ++t) {
          const __m256i y = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(a[t][b].qs + 128 * half + 32 * j));
          const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q[j], y);
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(p, sc));
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

// The AVX2 panel micro-kernel (avx2_kernels.cc, PanelGemm) with one dpbusd in place of its
// maddubs+madd pair: the same 2-row x 4-token tile, the same exact per-lane integers (sums of
// four u8 x s8 products, no int16 saturation either way) and the same float steps, so results
// stay bit-identical to DotQ8_0N and to the AVX2 kernels.
HEARTH_AVX512 void PanelGemm(int64_t k, const int8_t* w, const float* ws, const int8_t* a,
                             const float* as, size_t s_stride, int nr, int nt, float* y,
                             int64_t ldy) {
  constexpr int NR = kPanelRows, NT = kPanelTokens;
  const int64_t nb = k / 32;
  __m256 acc[NR * NT];  // flat: GCC keeps a flat array in registers, not a 2-D one
#pragma GCC unroll 16
  for (int i = 0; i < NR * NT; ++i) acc[i] = _mm256_setzero_ps();
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
        const __m256i q_abs = _mm256_abs_epi8(q);
#pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) {
          const __m256i yq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 32 * t));
          const __m256i dot =
              _mm256_dpbusd_epi32(_mm256_setzero_si256(), q_abs, _mm256_sign_epi8(yq, q));
          acc[r * NT + t] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r * NT + t][b - c]),
                                            _mm256_cvtepi32_ps(dot), acc[r * NT + t]);
        }
      }
    }
  }
  // Fully unrolled so that `acc` stays in registers (see the AVX2 StoreTile).
  float sums[NR * NT];
#pragma GCC unroll 16
  for (int i = 0; i < NR * NT; ++i) sums[i] = HorizontalSum(acc[i]) + 0.0f;
  for (int r = 0; r < nr; ++r) {
    for (int t = 0; t < nt; ++t) y[t * ldy + r] = sums[r * NT + t];
  }
}

template <void (*K1)(int64_t, const void*, const void*, size_t, float*),
          void (*K2)(int64_t, const void*, const void*, size_t, float*),
          void (*K3)(int64_t, const void*, const void*, size_t, float*),
          void (*K4)(int64_t, const void*, const void*, size_t, float*)>
void DispatchTokens(int64_t k, const void* w, const void* act, size_t stride, int nt,
                    float* out) {
  switch (nt) {
    case 1:
      return K1(k, w, act, stride, out);
    case 2:
      return K2(k, w, act, stride, out);
    case 3:
      return K3(k, w, act, stride, out);
    default:
      return K4(k, w, act, stride, out);
  }
}

int Slot(gguf::TensorType type) { return static_cast<int>(type); }

}  // namespace

void FillAvx512Kernels(KernelTable& t) {
  using gguf::TensorType;
  t.level = IsaLevel::kAvx512;
  t.dot[Slot(TensorType::kQ8_0)] =
      DispatchTokens<DotQ8_0N<1>, DotQ8_0N<2>, DotQ8_0N<3>, DotQ8_0N<4>>;
  // The VNNI row kernel (one dpbusd instead of maddubs+madd) replaces the AVX2 pair kernel.
  t.dot2[Slot(TensorType::kQ8_0)] = nullptr;
  t.panel_gemm = PanelGemm;  // packing is inherited from the AVX2 table
  t.dot[Slot(TensorType::kQ4_K)] = DispatchTokens<DotQ4KN<1>, DotQ4KN<2>, DotQ4KN<3>, DotQ4KN<4>>;
  t.dot[Slot(TensorType::kQ6_K)] = DispatchTokens<DotQ6KN<1>, DotQ6KN<2>, DotQ6KN<3>, DotQ6KN<4>>;
}

}  // namespace hearth::kernels::internal

#else
namespace hearth::kernels::internal {
void FillAvx512Kernels(KernelTable& t) { t.level = IsaLevel::kAvx512; }
}  // namespace hearth::kernels::internal
#endif
