#include "hearth/gguf/model_info.h"

#include <algorithm>
#include <map>

namespace hearth::gguf {
namespace {

constexpr int64_t kComputeBatch = 512;
constexpr uint64_t kComputeSlack = 64ull << 20;

// Hyperparameters beyond 2^40 are nonsense; clamping keeps the arithmetic below from overflowing
// on hostile files.
constexpr uint64_t kMaxHyperparameter = uint64_t{1} << 40;

int64_t ArchInt(const GgufFile& file, std::string_view suffix) {
  auto v = file.ArchUint(suffix);
  return v.ok() ? static_cast<int64_t>(std::min(*v, kMaxHyperparameter)) : 0;
}

uint64_t U(int64_t x) { return x > 0 ? static_cast<uint64_t>(x) : 0; }

}  // namespace

Result<ModelInfo> DescribeModel(const GgufFile& file) {
  ModelInfo info;
  info.architecture = std::string(file.architecture());
  if (info.architecture.empty()) {
    return Status::InvalidArgument("gguf: no general.architecture: not a model file");
  }
  info.name = std::string(file.GetString("general.name").value_or(""));
  info.version = file.version();
  info.file_bytes = file.file_size();
  info.tensor_count = static_cast<int64_t>(file.tensors().size());
  info.layers = ArchInt(file, "block_count");
  info.heads = ArchInt(file, "attention.head_count");
  info.kv_heads = file.ArchUint("attention.head_count_kv").ok()
                      ? ArchInt(file, "attention.head_count_kv")
                      : info.heads;
  info.embedding_dim = ArchInt(file, "embedding_length");
  info.ffn_dim = ArchInt(file, "feed_forward_length");
  info.head_dim = ArchInt(file, "attention.key_length");
  if (info.head_dim == 0 && info.heads > 0) info.head_dim = info.embedding_dim / info.heads;
  info.context_length = ArchInt(file, "context_length");
  info.rms_eps = file.ArchFloat("attention.layer_norm_rms_epsilon").value_or(0);
  info.rope_freq_base = file.ArchFloat("rope.freq_base").value_or(0);
  info.rope_dimension_count = ArchInt(file, "rope.dimension_count");
  info.rope_scaling_type =
      std::string(file.GetString(info.architecture + ".rope.scaling.type").value_or(""));
  info.rope_scaling_factor = file.ArchFloat("rope.scaling.factor").value_or(0);
  info.rope_original_context = ArchInt(file, "rope.scaling.original_context_length");
  info.tied_output = file.FindTensor("output.weight") == nullptr;
  if (auto ft = file.GetUint("general.file_type"); ft.ok() && *ft <= 0xffffffffu) {
    info.file_type = static_cast<uint32_t>(*ft);
  }

  std::map<std::string, TensorTypeUsage> mix;
  for (const auto& t : file.tensors()) {
    info.parameters += t.element_count;
    info.weight_bytes += t.size_bytes;
    auto& usage = mix[std::string(TraitsOf(t.type).name)];
    usage.type = std::string(TraitsOf(t.type).name);
    ++usage.tensors;
    usage.bytes += t.size_bytes;
    usage.elements += t.element_count;
  }
  for (auto& [name, usage] : mix) info.type_mix.push_back(usage);
  std::stable_sort(info.type_mix.begin(), info.type_mix.end(),
                   [](const auto& a, const auto& b) { return a.bytes > b.bytes; });

  info.tokenizer_model = std::string(file.GetString("tokenizer.ggml.model").value_or(""));
  info.tokenizer_pre = std::string(file.GetString("tokenizer.ggml.pre").value_or(""));
  if (const Value* tokens = file.Find("tokenizer.ggml.tokens");
      tokens != nullptr && tokens->type == ValueType::kArray) {
    info.vocab_size = static_cast<int64_t>(tokens->elements.size());
  } else {
    info.vocab_size = ArchInt(file, "vocab_size");
  }
  info.has_chat_template = file.Find("tokenizer.chat_template") != nullptr;
  return info;
}

MemoryEstimate EstimateMemory(const ModelInfo& info, int64_t ctx, int64_t parallel) {
  MemoryEstimate m;
  m.ctx = ctx > 0 ? ctx : info.context_length;
  m.parallel = std::max<int64_t>(1, parallel);
  m.weight_bytes = info.weight_bytes;
  const uint64_t kv_elements_per_token =
      2ull * U(info.layers) * U(info.kv_heads) * U(info.head_dim);
  m.kv_bytes_per_token_f16 = kv_elements_per_token * 2;
  m.kv_bytes_per_token_q8_0 = kv_elements_per_token * 34 / 32;
  const uint64_t tokens = U(m.ctx) * U(m.parallel);
  m.kv_bytes_f16 = m.kv_bytes_per_token_f16 * tokens;
  m.kv_bytes_q8_0 = m.kv_bytes_per_token_q8_0 * tokens;
  const uint64_t batch = kComputeBatch;
  const uint64_t activations = batch * (4 * U(info.embedding_dim) + 2 * U(info.ffn_dim)) * 4;
  const uint64_t logits = batch * U(info.vocab_size) * 4;
  const uint64_t scores = batch * U(info.heads) * U(m.ctx) * 4;
  m.compute_bytes = activations + logits + scores + kComputeSlack;
  m.total_f16 = m.weight_bytes + m.kv_bytes_f16 + m.compute_bytes;
  m.total_q8_0 = m.weight_bytes + m.kv_bytes_q8_0 + m.compute_bytes;
  return m;
}

}  // namespace hearth::gguf
