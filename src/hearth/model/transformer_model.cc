// The llama-block transformer forward pass (llama, qwen2) over a paged KV cache.
//
// One Forward() call runs every token of the batch through each layer together, so each weight
// matrix is streamed once per batch (MatMul with M = batch tokens), not once per token. Only
// attention is per token: each token attends to its own sequence's cached rows.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "hearth/kernels/matmul.h"
#include "hearth/kernels/ops.h"
#include "hearth/model/architecture.h"
#include "hearth/model/model.h"
#include "hearth/model/rotary.h"
#include "hearth/model/transformer_weights.h"

namespace hearth::model {
namespace {

// Buffers of one forward pass, grown to the largest batch seen and then reused: steady-state
// decoding allocates nothing.
struct Scratch {
  int64_t capacity = 0;          // tokens the float buffers hold
  std::vector<float> residual;   // [tokens][embedding_dim]
  std::vector<float> normed;     // [tokens][embedding_dim]
  std::vector<float> q;          // [tokens][heads * head_dim]
  std::vector<float> k;          // [tokens][kv_heads * head_dim]
  std::vector<float> v;          // [tokens][kv_heads * head_dim]
  std::vector<float> attn;       // [tokens][heads * head_dim]
  std::vector<float> proj;       // [tokens][embedding_dim]
  std::vector<float> gate;       // [tokens][ffn_dim]
  std::vector<float> up;         // [tokens][ffn_dim]
  std::vector<float> cos_sin;    // [tokens][rope_dims]
  // Per token: which run of block pointers (a sequence) it reads, and its run's offset.
  std::vector<int64_t> seq_of_token;
  std::vector<int64_t> run_offset;   // per sequence: first index into k_blocks / v_blocks
  std::vector<int64_t> run_blocks;   // per sequence: blocks it spans in this batch
  std::vector<int64_t> run_first_token;
  std::vector<const void*> k_blocks;
  std::vector<const void*> v_blocks;
  std::vector<int64_t> logit_rows;   // batch indices that want logits

  void Reserve(int64_t tokens, const ModelConfig& c) {
    if (tokens <= capacity) return;
    const auto n = static_cast<size_t>(tokens);
    residual.resize(n * c.embedding_dim);
    normed.resize(n * c.embedding_dim);
    q.resize(n * c.heads * c.head_dim);
    attn.resize(n * c.heads * c.head_dim);
    k.resize(n * c.kv_heads * c.head_dim);
    v.resize(n * c.kv_heads * c.head_dim);
    proj.resize(n * c.embedding_dim);
    gate.resize(n * c.ffn_dim);
    up.resize(n * c.ffn_dim);
    cos_sin.resize(n * c.rope_dims);
    seq_of_token.resize(n);
    logit_rows.reserve(n);
    capacity = tokens;
  }
};

// Calls fn(i) for i in [0, n) on the pool; inline when there is one item (decode of one token),
// which saves a pool round trip per call.
template <typename Fn>
void ForEachToken(kernels::ThreadPool& pool, int64_t n, Fn&& fn) {
  if (n == 1) {
    fn(0);
    return;
  }
  pool.ParallelFor(n, [&fn](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

class TransformerModel final : public Model {
 public:
  TransformerModel(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config,
                   TransformerWeights weights, std::vector<double> inv_freq)
      : file_(std::move(file)),
        config_(std::move(config)),
        weights_(std::move(weights)),
        inv_freq_(std::move(inv_freq)) {
    q_width_ = int64_t{config_.heads} * config_.head_dim;
    kv_width_ = int64_t{config_.kv_heads} * config_.head_dim;
    for (const gguf::TensorInfo& t : file_->tensors()) weight_bytes_ += t.size_bytes;
  }

  const ModelConfig& config() const override { return config_; }

  KvCacheGeometry KvGeometry(gguf::TensorType kv_type, int block_tokens) const override {
    KvCacheGeometry g;
    g.layers = config_.layers;
    g.kv_heads = config_.kv_heads;
    g.head_dim = config_.head_dim;
    g.block_tokens = block_tokens;
    g.type = kv_type;
    return g;
  }

  uint64_t WeightBytes() const override { return weight_bytes_; }

  Status Forward(std::span<const BatchToken> batch, KvCacheStorage& kv, std::span<float> logits,
                 kernels::ThreadPool& pool) override;

 private:
  Status Validate(std::span<const BatchToken> batch, KvCacheStorage& kv,
                  std::span<float> logits);
  // Groups the batch's tokens by sequence (runs of consecutive tokens sharing a block table).
  void PlanSequences(std::span<const BatchToken> batch, int block_tokens);
  void FillBlockPointers(std::span<const BatchToken> batch, KvCacheStorage& kv, int layer);
  void Layer(std::span<const BatchToken> batch, KvCacheStorage& kv, int layer,
             kernels::ThreadPool& pool);
  void StoreKv(const BatchToken& token, int64_t i, KvCacheStorage& kv, int layer);
  void Attend(std::span<const BatchToken> batch, const KvCacheStorage& kv,
              kernels::ThreadPool& pool);

  std::shared_ptr<const gguf::GgufFile> file_;
  ModelConfig config_;
  TransformerWeights weights_;
  std::vector<double> inv_freq_;
  int64_t q_width_ = 0;
  int64_t kv_width_ = 0;
  uint64_t weight_bytes_ = 0;
  Scratch s_;
  size_t kv_head_bytes_ = 0;  // bytes of one head's row in the current cache type
};

Status TransformerModel::Validate(std::span<const BatchToken> batch, KvCacheStorage& kv,
                                  std::span<float> logits) {
  const KvCacheGeometry& g = kv.geometry();
  if (g.layers != config_.layers || g.kv_heads != config_.kv_heads ||
      g.head_dim != config_.head_dim) {
    return Status::InvalidArgument(fmt::format(
        "model: kv cache geometry (layers {}, kv_heads {}, head_dim {}) does not fit this model "
        "(layers {}, kv_heads {}, head_dim {})",
        g.layers, g.kv_heads, g.head_dim, config_.layers, config_.kv_heads, config_.head_dim));
  }
  auto head_bytes = kernels::KvHeadBytes(g.type, g.head_dim);
  if (!head_bytes.ok()) return head_bytes.status().WithContext("model");
  kv_head_bytes_ = *head_bytes;
  int64_t want = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchToken& t = batch[i];
    if (t.token < 0 || t.token >= config_.vocab_size) {
      return Status::OutOfRange(fmt::format("model: batch token {}: id {} is outside the "
                                            "vocabulary [0, {})",
                                            i, t.token, config_.vocab_size));
    }
    if (t.position < 0) {
      return Status::OutOfRange(
          fmt::format("model: batch token {}: negative position {}", i, t.position));
    }
    const int64_t needed = t.position / g.block_tokens + 1;
    if (static_cast<int64_t>(t.block_table.size()) < needed) {
      return Status::OutOfRange(fmt::format(
          "model: batch token {}: position {} needs {} KV blocks, its block table has {}", i,
          t.position, needed, t.block_table.size()));
    }
    for (int64_t b = 0; b < needed; ++b) {
      const int32_t block = t.block_table[static_cast<size_t>(b)];
      if (block < 0 || block >= kv.num_blocks()) {
        return Status::OutOfRange(fmt::format(
            "model: batch token {}: block table entry {} is {}, the cache has {} blocks", i, b,
            block, kv.num_blocks()));
      }
    }
    if (t.want_logits) ++want;
  }
  if (static_cast<int64_t>(logits.size()) != want * config_.vocab_size) {
    return Status::InvalidArgument(fmt::format(
        "model: logits buffer holds {} floats, {} tokens want logits of {} each", logits.size(),
        want, config_.vocab_size));
  }
  return Status::Ok();
}

void TransformerModel::PlanSequences(std::span<const BatchToken> batch, int block_tokens) {
  s_.run_offset.clear();
  s_.run_blocks.clear();
  s_.run_first_token.clear();
  int64_t offset = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const BatchToken& t = batch[i];
    const bool same_run = i > 0 && t.block_table.data() == batch[i - 1].block_table.data() &&
                          t.block_table.size() == batch[i - 1].block_table.size();
    if (!same_run) {
      if (!s_.run_blocks.empty()) offset += s_.run_blocks.back();
      s_.run_offset.push_back(offset);
      s_.run_blocks.push_back(0);
      s_.run_first_token.push_back(static_cast<int64_t>(i));
    }
    const int64_t needed = t.position / block_tokens + 1;
    s_.run_blocks.back() = std::max(s_.run_blocks.back(), needed);
    s_.seq_of_token[i] = static_cast<int64_t>(s_.run_offset.size()) - 1;
  }
  if (!s_.run_blocks.empty()) offset += s_.run_blocks.back();
  s_.k_blocks.resize(static_cast<size_t>(offset));
  s_.v_blocks.resize(static_cast<size_t>(offset));
}

void TransformerModel::FillBlockPointers(std::span<const BatchToken> batch, KvCacheStorage& kv,
                                         int layer) {
  for (size_t run = 0; run < s_.run_offset.size(); ++run) {
    const BatchToken& t = batch[static_cast<size_t>(s_.run_first_token[run])];
    for (int64_t b = 0; b < s_.run_blocks[run]; ++b) {
      const int64_t block = t.block_table[static_cast<size_t>(b)];
      s_.k_blocks[static_cast<size_t>(s_.run_offset[run] + b)] = kv.KeyBlock(layer, block);
      s_.v_blocks[static_cast<size_t>(s_.run_offset[run] + b)] = kv.ValueBlock(layer, block);
    }
  }
}

void TransformerModel::StoreKv(const BatchToken& token, int64_t i, KvCacheStorage& kv,
                               int layer) {
  const KvCacheGeometry& g = kv.geometry();
  const int64_t block = token.block_table[static_cast<size_t>(token.position / g.block_tokens)];
  const size_t slot_offset = static_cast<size_t>(token.position % g.block_tokens) * g.RowBytes();
  uint8_t* k_row = kv.KeyBlock(layer, block) + slot_offset;
  uint8_t* v_row = kv.ValueBlock(layer, block) + slot_offset;
  const float* k = s_.k.data() + i * kv_width_;
  const float* v = s_.v.data() + i * kv_width_;
  for (int h = 0; h < config_.kv_heads; ++h) {
    kernels::StoreKvRow(g.type, k + h * config_.head_dim, config_.head_dim,
                        k_row + h * kv_head_bytes_);
    kernels::StoreKvRow(g.type, v + h * config_.head_dim, config_.head_dim,
                        v_row + h * kv_head_bytes_);
  }
}

void TransformerModel::Attend(std::span<const BatchToken> batch, const KvCacheStorage& kv,
                              kernels::ThreadPool& pool) {
  const KvCacheGeometry& g = kv.geometry();
  const int64_t n = static_cast<int64_t>(batch.size());
  const int group = config_.heads / config_.kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));
  const int64_t items = n * config_.kv_heads;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      // Zig-zag over tokens (0, n-1, 1, n-2, ...): under causal attention a prompt's later
      // tokens cost more, and pairing them keeps the pool's contiguous chunks balanced.
      const int64_t slot = item / config_.kv_heads;
      const int kv_head = static_cast<int>(item % config_.kv_heads);
      const int64_t i = (slot % 2 == 0) ? slot / 2 : n - 1 - slot / 2;
      const int64_t run = s_.seq_of_token[static_cast<size_t>(i)];
      kernels::KvView view;
      view.type = g.type;
      view.k_blocks = s_.k_blocks.data() + s_.run_offset[static_cast<size_t>(run)];
      view.v_blocks = s_.v_blocks.data() + s_.run_offset[static_cast<size_t>(run)];
      view.block_tokens = g.block_tokens;
      view.token_stride = g.RowBytes();
      view.head_stride = kv_head_bytes_;
      view.head_dim = config_.head_dim;
      const int64_t head_offset = int64_t{kv_head} * group * config_.head_dim;
      kernels::AttendOneQuery(s_.q.data() + i * q_width_ + head_offset, group, view, kv_head,
                              int64_t{batch[static_cast<size_t>(i)].position} + 1, scale,
                              s_.attn.data() + i * q_width_ + head_offset);
    }
  };
  if (items == 1) {
    body(0, 1);
  } else {
    pool.ParallelFor(items, body);
  }
}

void TransformerModel::Layer(std::span<const BatchToken> batch, KvCacheStorage& kv, int layer,
                             kernels::ThreadPool& pool) {
  const LayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t dim = config_.embedding_dim;
  const int64_t ffn = config_.ffn_dim;

  // Attention block.
  ForEachToken(pool, n, [&](int64_t i) {
    kernels::RmsNorm(s_.residual.data() + i * dim, w.attn_norm.data(), dim, config_.rms_eps,
                     s_.normed.data() + i * dim);
  });
  const kernels::MatMulTarget qkv[] = {
      {&w.q, s_.q.data()}, {&w.k, s_.k.data()}, {&w.v, s_.v.data()}};
  kernels::MatMulGroup(qkv, s_.normed.data(), n, pool);
  ForEachToken(pool, n, [&](int64_t i) {
    float* q = s_.q.data() + i * q_width_;
    float* k = s_.k.data() + i * kv_width_;
    float* v = s_.v.data() + i * kv_width_;
    if (!w.q_bias.empty()) kernels::Add(q, w.q_bias.data(), q_width_, q);
    if (!w.k_bias.empty()) kernels::Add(k, w.k_bias.data(), kv_width_, k);
    if (!w.v_bias.empty()) kernels::Add(v, w.v_bias.data(), kv_width_, v);
    const float* cos_sin = s_.cos_sin.data() + i * config_.rope_dims;
    ApplyRope(q, config_.heads, config_.head_dim, config_.rope_dims, config_.rope_neox, cos_sin);
    ApplyRope(k, config_.kv_heads, config_.head_dim, config_.rope_dims, config_.rope_neox,
              cos_sin);
    StoreKv(batch[static_cast<size_t>(i)], i, kv, layer);
  });
  FillBlockPointers(batch, kv, layer);
  Attend(batch, kv, pool);
  kernels::MatMul(w.output, s_.attn.data(), n, s_.proj.data(), pool);
  ForEachToken(pool, n, [&](int64_t i) {
    float* x = s_.residual.data() + i * dim;
    kernels::Add(x, s_.proj.data() + i * dim, dim, x);
    kernels::RmsNorm(x, w.ffn_norm.data(), dim, config_.rms_eps, s_.normed.data() + i * dim);
  });

  // SwiGLU feed-forward block.
  const kernels::MatMulTarget gate_up[] = {{&w.gate, s_.gate.data()}, {&w.up, s_.up.data()}};
  kernels::MatMulGroup(gate_up, s_.normed.data(), n, pool);
  ForEachToken(pool, n, [&](int64_t i) {
    kernels::SiluMul(s_.gate.data() + i * ffn, s_.up.data() + i * ffn, ffn,
                     s_.gate.data() + i * ffn);
  });
  kernels::MatMul(w.down, s_.gate.data(), n, s_.proj.data(), pool);
  ForEachToken(pool, n, [&](int64_t i) {
    float* x = s_.residual.data() + i * dim;
    kernels::Add(x, s_.proj.data() + i * dim, dim, x);
  });
}

Status TransformerModel::Forward(std::span<const BatchToken> batch, KvCacheStorage& kv,
                                 std::span<float> logits, kernels::ThreadPool& pool) {
  HEARTH_RETURN_IF_ERROR(Validate(batch, kv, logits));
  const int64_t n = static_cast<int64_t>(batch.size());
  if (n == 0) return Status::Ok();
  s_.Reserve(n, config_);
  PlanSequences(batch, kv.geometry().block_tokens);

  const int64_t dim = config_.embedding_dim;
  for (int64_t i = 0; i < n; ++i) {
    const BatchToken& t = batch[static_cast<size_t>(i)];
    HEARTH_RETURN_IF_ERROR(
        kernels::EmbeddingLookup(weights_.token_embedding, t.token, s_.residual.data() + i * dim));
    RopeAngles(inv_freq_, t.position, s_.cos_sin.data() + i * config_.rope_dims);
  }
  for (int layer = 0; layer < config_.layers; ++layer) Layer(batch, kv, layer, pool);

  // Final norm and the vocabulary projection, only for the tokens that asked.
  s_.logit_rows.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (batch[static_cast<size_t>(i)].want_logits) s_.logit_rows.push_back(i);
  }
  const int64_t m = static_cast<int64_t>(s_.logit_rows.size());
  if (m == 0) return Status::Ok();
  ForEachToken(pool, m, [&](int64_t r) {
    kernels::RmsNorm(s_.residual.data() + s_.logit_rows[static_cast<size_t>(r)] * dim,
                     weights_.output_norm.data(), dim, config_.rms_eps,
                     s_.normed.data() + r * dim);
  });
  kernels::MatMul(weights_.output, s_.normed.data(), m, logits.data(), pool);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Model>> Model::Load(std::shared_ptr<const gguf::GgufFile> file) {
  if (file == nullptr) return Status::InvalidArgument("model: no GGUF file given");
  HEARTH_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(*file));
  HEARTH_ASSIGN_OR_RETURN(TransformerWeights weights, LoadTransformerWeights(*file, config));
  HEARTH_ASSIGN_OR_RETURN(std::vector<double> inv_freq,
                          RopeInverseFrequencies(config, weights.rope_freq_factors));
  return std::unique_ptr<Model>(new TransformerModel(std::move(file), std::move(config),
                                                     std::move(weights), std::move(inv_freq)));
}

}  // namespace hearth::model
