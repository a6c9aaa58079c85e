// Element-wise and row operations of a transformer forward pass: RMS norm, rotary position
// embedding, softmax, SwiGLU, add/scale, F16 conversions, and attention of a query token
// against a (paged) KV cache. All use the active instruction-set level (cpu_features.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/tensor_type.h"
#include "hearth/kernels/thread_pool.h"

namespace hearth::kernels {

// ---- Row operations (in and out may alias unless stated) ----

// out = x / sqrt(mean(x²) + eps) * weight; weight may be null (no per-channel scale).
void RmsNorm(const float* x, const float* weight, int64_t n, float eps, float* out);
// x = exp(x - max) / sum, in place; stable for any finite input.
void Softmax(float* x, int64_t n);
// out = silu(gate) * up, silu(v) = v / (1 + exp(-v)) (the SwiGLU feed-forward gate).
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
// out = a + b.
void Add(const float* a, const float* b, int64_t n, float* out);
// x *= s.
void Scale(float* x, int64_t n, float s);
// Sum of a[i] * b[i] in F32.
float Dot(const float* a, const float* b, int64_t n);

// IEEE half <-> float rows (F16C when available; round-to-nearest-even).
void F16ToF32Row(const uint16_t* src, float* dst, int64_t n);
void F32ToF16Row(const float* src, uint16_t* dst, int64_t n);

// ---- Rotary position embedding ----

enum class RopeMode {
  kNormal,  // llama: rotate adjacent pairs (x[2i], x[2i+1])
  kNeox,    // neox/qwen2: rotate (x[i], x[i + rotary_dims/2])
};

enum class RopeScaling {
  kNone,
  kLinear,  // positions divided by scaling_factor
  kLlama3,  // Llama 3.1 per-frequency scaling (factor, low/high freq factor, original context)
};

struct RopeConfig {
  int64_t head_dim = 0;
  int64_t rotary_dims = 0;  // dimensions rotated (from the front); 0 means head_dim
  double freq_base = 10000.0;
  RopeMode mode = RopeMode::kNormal;
  RopeScaling scaling = RopeScaling::kNone;
  double scaling_factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_context = 8192;
};

// Precomputed cos/sin for positions [0, max_positions); later positions are computed on the fly.
class RopeTable {
 public:
  // InvalidArgument for odd/zero rotary dims, rotary_dims > head_dim, bad factors.
  static Result<RopeTable> Make(const RopeConfig& config, int64_t max_positions);

  // Rotates n_heads vectors at `pos`: head h is x[h * head_stride .. + head_dim).
  void Apply(float* x, int64_t n_heads, int64_t head_stride, int64_t pos) const;

  const RopeConfig& config() const { return config_; }
  // Angle per position of each pair (after scaling): theta_i = pos * inv_freq[i].
  const std::vector<double>& inv_freq() const { return inv_freq_; }

 private:
  RopeConfig config_;
  int64_t rotary_dims_ = 0;
  int64_t max_positions_ = 0;
  std::vector<double> inv_freq_;
  std::vector<float> cos_sin_;  // [pos][pair] interleaved cos, sin
};

// ---- KV cache and attention ----
//
// KV layout contract: the cache for one layer is a sequence of blocks ("pages") of
// `block_tokens` token rows. k_blocks[b] / v_blocks[b] point at the first row of block b, which
// holds tokens [b * block_tokens, (b + 1) * block_tokens). Within a block, token t's row starts
// `token_stride` bytes after token t-1's; within a row, kv head h starts at h * head_stride
// bytes and is `head_dim` values of `type` (F32, F16, or Q8_0 blocks of 32). A contiguous cache
// is one block with block_tokens >= the sequence length; a paged cache passes its page table.
struct KvView {
  gguf::TensorType type = gguf::TensorType::kF16;
  const void* const* k_blocks = nullptr;
  const void* const* v_blocks = nullptr;
  int64_t block_tokens = 0;
  size_t token_stride = 0;
  size_t head_stride = 0;
  int64_t head_dim = 0;
};

// Bytes of one head's row of `head_dim` values; InvalidArgument for unsupported types or a
// head_dim Q8_0 cannot hold (not a multiple of 32).
Result<size_t> KvHeadBytes(gguf::TensorType type, int64_t head_dim);
// Writes one head's row into the cache format (F32, F16, Q8_0).
void StoreKvRow(gguf::TensorType type, const float* src, int64_t head_dim, void* dst);

// One query token, one kv head: `group_size` query heads (consecutive, head_dim floats each —
// grouped-query attention) attend over tokens [0, n_tokens) of kv head `kv_head`.
// out[g * head_dim + d] = sum_t softmax_t(scale * q_g·k_t) v_t[d], softmax in F32. With an F16
// cache, q and the probabilities are rounded to F16 for the two products (as llama.cpp does).
// n_tokens must be >= 1.
void AttendOneQuery(const float* q, int group_size, const KvView& kv, int kv_head,
                    int64_t n_tokens, float scale, float* out);

// Several query tokens of one sequence, every head: query i (q + i * ldq, n_heads × head_dim)
// sees tokens [0, n_ctx[i]). Query head h uses kv head h / (n_heads / n_kv_heads); n_heads
// must be a multiple of n_kv_heads. Output rows out + i * ldo. Work is split over
// (query, kv head) pairs across the pool.
void Attention(const float* q, int64_t m, int64_t ldq, const int64_t* n_ctx, int n_heads,
               int n_kv_heads, const KvView& kv, float scale, float* out, int64_t ldo,
               ThreadPool& pool);

}  // namespace hearth::kernels
