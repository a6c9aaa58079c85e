// Model: a loaded GGUF transformer (llama or qwen2 family) and its batched forward pass.
//
// Forward() evaluates a batch of tokens that may come from many sequences at once (continuous
// batching): each token names its sequence's block table and its position. For every layer the
// batch's K/V rows are written into the KV storage first, then each token attends causally to
// positions [0, position] of its own sequence through the block table. Logits are produced only
// for tokens that ask for them (the last prompt token of a chunk, every decode token).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/kernels/thread_pool.h"
#include "hearth/model/kv_cache.h"

namespace hearth::model {

// Hyperparameters read from GGUF metadata (see architecture.h for the per-architecture table).
struct ModelConfig {
  std::string architecture;  // "llama", "qwen2"
  int vocab_size = 0;
  int context_length = 0;
  int embedding_dim = 0;
  int ffn_dim = 0;
  int layers = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.f;
  int rope_dims = 0;
  bool rope_neox = false;  // qwen2: rotate halves; llama: adjacent pairs
  // llama3-style rope frequency scaling (factor 0 when absent).
  float rope_scaling_factor = 0.f;
  float rope_low_freq_factor = 1.f;
  float rope_high_freq_factor = 4.f;
  int rope_original_context = 0;
  // Linear rope scaling ("rope.scaling.type" = linear): positions are multiplied by this.
  float rope_freq_scale = 1.f;
  bool tied_output = false;
  bool qkv_bias = false;
};

// One token of a forward batch.
struct BatchToken {
  int32_t token = 0;
  int32_t position = 0;                          // position within its sequence
  std::span<const int32_t> block_table;          // the sequence's KV blocks (covers position)
  bool want_logits = false;
};

class Model {
 public:
  // Loads weights from `file` (kept mapped; the GgufFile must outlive the Model). Fails on an
  // unsupported architecture or a missing/mis-shaped tensor, naming it.
  static Result<std::unique_ptr<Model>> Load(std::shared_ptr<const gguf::GgufFile> file);
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  // KV geometry for this model with the given cache type and block size.
  virtual KvCacheGeometry KvGeometry(gguf::TensorType kv_type, int block_tokens) const = 0;
  // Bytes of weights (mapped).
  virtual uint64_t WeightBytes() const = 0;

  // Evaluates `batch`; writes vocab_size logits for each token with want_logits, in batch order,
  // into `logits` (sized count(want_logits) * vocab_size). Not reentrant: scratch buffers are
  // reused across calls, so one Forward at a time per Model.
  virtual Status Forward(std::span<const BatchToken> batch, KvCacheStorage& kv,
                         std::span<float> logits, kernels::ThreadPool& pool) = 0;
};

}  // namespace hearth::model
