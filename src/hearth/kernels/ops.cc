#include "hearth/kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "hearth/base/half.h"
#include "hearth/kernels/dispatch.h"

namespace hearth::kernels {

using internal::Kernels;

void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  const auto& k = Kernels();
  const float mean = k.sum_squares(x, n) / static_cast<float>(n);
  k.mul_scalar_vec(x, 1.0f / std::sqrt(mean + eps), weight, out, n);
}

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const auto& k = Kernels();
  const float m = k.max(x, n);
  // The reciprocal in double, then one float multiply per value: the reference engine's order.
  k.scale(x, static_cast<float>(1.0 / k.exp_sub_sum(x, m, n)), n);
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  Kernels().silu_mul(gate, up, out, n);
}
void Add(const float* a, const float* b, int64_t n, float* out) { Kernels().add(a, b, out, n); }
void Scale(float* x, int64_t n, float s) { Kernels().scale(x, s, n); }
float Dot(const float* a, const float* b, int64_t n) { return Kernels().dot_f32(a, b, n); }
void F16ToF32Row(const uint16_t* src, float* dst, int64_t n) { Kernels().f16_to_f32(src, dst, n); }
void F32ToF16Row(const float* src, uint16_t* dst, int64_t n) { Kernels().f32_to_f16(src, dst, n); }

// ---- Rope ----

Result<RopeTable> RopeTable::Make(const RopeConfig& config, int64_t max_positions) {
  const int64_t rot = config.rotary_dims == 0 ? config.head_dim : config.rotary_dims;
  if (config.head_dim <= 0 || rot <= 0 || rot % 2 != 0 || rot > config.head_dim) {
    return Status::InvalidArgument(fmt::format(
        "rope: rotary dims {} must be even, positive and at most head_dim {}", rot,
        config.head_dim));
  }
  if (!(config.freq_base > 0) || !(config.scaling_factor > 0) || max_positions < 0) {
    return Status::InvalidArgument("rope: frequency base and scaling factor must be positive");
  }
  if (config.scaling == RopeScaling::kLlama3 &&
      (!(config.low_freq_factor > 0) || !(config.high_freq_factor > config.low_freq_factor) ||
       config.original_context <= 0)) {
    return Status::InvalidArgument(
        "rope: llama3 scaling needs 0 < low_freq_factor < high_freq_factor and a positive "
        "original context");
  }
  RopeTable table;
  table.config_ = config;
  table.rotary_dims_ = rot;
  table.max_positions_ = max_positions;
  const int64_t pairs = rot / 2;
  table.inv_freq_.resize(pairs);
  for (int64_t i = 0; i < pairs; ++i) {
    double freq = std::pow(config.freq_base, -2.0 * static_cast<double>(i) / rot);
    switch (config.scaling) {
      case RopeScaling::kNone:
        break;
      case RopeScaling::kLinear:
        freq /= config.scaling_factor;
        break;
      case RopeScaling::kLlama3: {
        // Long wavelengths (low frequencies) are stretched by the factor, short ones kept,
        // and the band between blended linearly in 1/wavelength.
        const double old_ctx = static_cast<double>(config.original_context);
        const double wavelen = 2.0 * std::numbers::pi / freq;
        const double low_freq_wavelen = old_ctx / config.low_freq_factor;
        const double high_freq_wavelen = old_ctx / config.high_freq_factor;
        if (wavelen > low_freq_wavelen) {
          freq /= config.scaling_factor;
        } else if (wavelen >= high_freq_wavelen) {
          const double smooth = (old_ctx / wavelen - config.low_freq_factor) /
                                (config.high_freq_factor - config.low_freq_factor);
          freq = (1.0 - smooth) * freq / config.scaling_factor + smooth * freq;
        }
        break;
      }
    }
    table.inv_freq_[i] = freq;
  }
  table.cos_sin_.resize(static_cast<size_t>(max_positions * pairs * 2));
  for (int64_t p = 0; p < max_positions; ++p) {
    for (int64_t i = 0; i < pairs; ++i) {
      const double theta = static_cast<double>(p) * table.inv_freq_[i];
      table.cos_sin_[(p * pairs + i) * 2] = static_cast<float>(std::cos(theta));
      table.cos_sin_[(p * pairs + i) * 2 + 1] = static_cast<float>(std::sin(theta));
    }
  }
  return table;
}

void RopeTable::Apply(float* x, int64_t n_heads, int64_t head_stride, int64_t pos) const {
  const int64_t pairs = rotary_dims_ / 2;
  thread_local std::vector<float> computed;
  const float* cs;
  if (pos >= 0 && pos < max_positions_) {
    cs = &cos_sin_[pos * pairs * 2];
  } else {
    computed.resize(pairs * 2);
    for (int64_t i = 0; i < pairs; ++i) {
      const double theta = static_cast<double>(pos) * inv_freq_[i];
      computed[2 * i] = static_cast<float>(std::cos(theta));
      computed[2 * i + 1] = static_cast<float>(std::sin(theta));
    }
    cs = computed.data();
  }
  // The second element of pair i is adjacent (normal) or half the rotary span away (neox).
  const bool neox = config_.mode == RopeMode::kNeox;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_stride;
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t a = neox ? i : 2 * i;
      const int64_t b = neox ? i + pairs : 2 * i + 1;
      const float c = cs[2 * i];
      const float s = cs[2 * i + 1];
      const float x0 = v[a];
      const float x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

// ---- KV cache and attention ----

Result<size_t> KvHeadBytes(gguf::TensorType type, int64_t head_dim) {
  if (head_dim <= 0) return Status::InvalidArgument("kv: head_dim must be positive");
  switch (type) {
    case gguf::TensorType::kF32:
    case gguf::TensorType::kF16:
    case gguf::TensorType::kQ8_0: {
      HEARTH_ASSIGN_OR_RETURN(uint64_t bytes, gguf::RowBytes(type, head_dim));
      return static_cast<size_t>(bytes);
    }
    default:
      return Status::InvalidArgument(fmt::format(
          "kv cache type {} is not supported (F32, F16, Q8_0)", gguf::TraitsOf(type).name));
  }
}

void StoreKvRow(gguf::TensorType type, const float* src, int64_t head_dim, void* dst) {
  switch (type) {
    case gguf::TensorType::kF32:
      std::copy(src, src + head_dim, static_cast<float*>(dst));
      return;
    case gguf::TensorType::kF16:
      F32ToF16Row(src, static_cast<uint16_t*>(dst), head_dim);
      return;
    case gguf::TensorType::kQ8_0: {
      auto* blocks = static_cast<gguf::BlockQ8_0*>(dst);
      for (int64_t b = 0; b < head_dim / 32; ++b) {
        const float* x = src + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        blocks[b].d = Fp32ToFp16(d);
        for (int j = 0; j < 32; ++j) {
          blocks[b].qs[j] = static_cast<int8_t>(std::lrint(x[j] * id));
        }
      }
      return;
    }
    default:
      return;  // KvHeadBytes rejects other types before a cache is built.
  }
}

namespace {

constexpr int kMaxGroup = 16;  // query heads per kv head handled in one pass
constexpr int64_t kTile = 32;  // K/V rows widened per step: 32 x head_dim floats stay in L1

const uint8_t* KvRow(const void* const* blocks, const KvView& kv, int kv_head, int64_t t) {
  const auto* block = static_cast<const uint8_t*>(blocks[t / kv.block_tokens]);
  return block + static_cast<size_t>(t % kv.block_tokens) * kv.token_stride +
         static_cast<size_t>(kv_head) * kv.head_stride;
}

// Rounds n floats to their nearest F16 values (ties to even) in place, through the bulk
// conversion kernels (F16C with AVX2) rather than one software conversion per value.
void RoundRowToHalf(float* x, int64_t n) {
  const auto& k = Kernels();
  constexpr int64_t kChunk = 256;
  uint16_t half[kChunk];
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t c = std::min(kChunk, n - i);
    k.f32_to_f16(x + i, half, c);
    k.f16_to_f32(half, x + i, c);
  }
}

// Two passes: all scores, then a softmax over them, then the weighted sum of V rows. With an
// F16 cache the query and the probabilities are rounded to F16 first, as the reference engine
// (llama.cpp) does for its F16 K·Q and V·P products: its logits are what the model tests
// compare with, and the later 8-bit activation rounding turns even such small differences into
// differences of whole quantization steps.
void AttendGroup(const float* q, int group, const KvView& kv, int kv_head, int64_t n_tokens,
                 float scale, float* out) {
  const auto& k = Kernels();
  const int64_t d = kv.head_dim;
  const bool half = kv.type == gguf::TensorType::kF16;
  auto widen = k.dequantize[static_cast<int>(kv.type)];
  thread_local std::vector<float> buffer;
  // K and V rows are widened a tile at a time and each query head takes the whole tile in one
  // kernel call (dot_rows / accumulate_rows), not one call per token.
  buffer.resize(static_cast<size_t>(kTile * d + d * group + n_tokens * group));
  float* rows = buffer.data();              // [kTile][d]
  float* queries = rows + kTile * d;        // [group][d]
  float* probs = queries + d * group;      // [group][n_tokens]
  std::copy_n(q, d * group, queries);
  if (half) RoundRowToHalf(queries, d * group);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTile) {
    const int64_t n = std::min(kTile, n_tokens - t0);
    for (int64_t j = 0; j < n; ++j) widen(KvRow(kv.k_blocks, kv, kv_head, t0 + j), rows + j * d, d);
    for (int g = 0; g < group; ++g) {
      float* p = probs + g * n_tokens + t0;
      k.dot_rows(queries + g * d, rows, n, d, p);
      k.scale(p, scale, n);
    }
  }
  for (int g = 0; g < group; ++g) {
    float* p = probs + g * n_tokens;
    const float inv_sum = static_cast<float>(1.0 / k.exp_sub_sum(p, k.max(p, n_tokens), n_tokens));
    k.scale(p, inv_sum, n_tokens);
    if (half) RoundRowToHalf(p, n_tokens);
    std::fill(out + g * d, out + (g + 1) * d, 0.0f);
  }
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTile) {
    const int64_t n = std::min(kTile, n_tokens - t0);
    for (int64_t j = 0; j < n; ++j) widen(KvRow(kv.v_blocks, kv, kv_head, t0 + j), rows + j * d, d);
    for (int g = 0; g < group; ++g) {
      k.accumulate_rows(probs + g * n_tokens + t0, rows, n, d, out + g * d);
    }
  }
}

}  // namespace

void AttendOneQuery(const float* q, int group_size, const KvView& kv, int kv_head,
                    int64_t n_tokens, float scale, float* out) {
  for (int g0 = 0; g0 < group_size; g0 += kMaxGroup) {
    const int group = std::min(kMaxGroup, group_size - g0);
    AttendGroup(q + g0 * kv.head_dim, group, kv, kv_head, n_tokens, scale,
                out + g0 * kv.head_dim);
  }
}

void Attention(const float* q, int64_t m, int64_t ldq, const int64_t* n_ctx, int n_heads,
               int n_kv_heads, const KvView& kv, float scale, float* out, int64_t ldo,
               ThreadPool& pool) {
  const int group = n_heads / n_kv_heads;
  pool.ParallelFor(m * n_kv_heads, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item / n_kv_heads;
      const int kv_head = static_cast<int>(item % n_kv_heads);
      const int64_t offset = static_cast<int64_t>(kv_head) * group * kv.head_dim;
      AttendOneQuery(q + i * ldq + offset, group, kv, kv_head, n_ctx[i], scale,
                     out + i * ldo + offset);
    }
  });
}

}  // namespace hearth::kernels
