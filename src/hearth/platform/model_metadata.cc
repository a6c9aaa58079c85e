#include "hearth/platform/model_metadata.h"

#include "hearth/gguf/gguf_file.h"

namespace hearth::platform {

nlohmann::json ModelInfoJson(const gguf::ModelInfo& info, const gguf::MemoryEstimate& m) {
  nlohmann::json mix = nlohmann::json::array();
  for (const auto& u : info.type_mix) {
    mix.push_back(
        {{"type", u.type}, {"tensors", u.tensors}, {"bytes", u.bytes}, {"parameters", u.elements}});
  }
  nlohmann::json rope = {{"freq_base", info.rope_freq_base},
                         {"dimension_count", info.rope_dimension_count}};
  if (!info.rope_scaling_type.empty()) {
    rope["scaling"] = {{"type", info.rope_scaling_type},
                       {"factor", info.rope_scaling_factor},
                       {"original_context_length", info.rope_original_context}};
  }
  nlohmann::json j = {
      {"architecture", info.architecture},
      {"name", info.name},
      {"gguf_version", info.version},
      {"file_bytes", info.file_bytes},
      {"tensor_count", info.tensor_count},
      {"parameters", info.parameters},
      {"layers", info.layers},
      {"heads", info.heads},
      {"kv_heads", info.kv_heads},
      {"embedding_dim", info.embedding_dim},
      {"ffn_dim", info.ffn_dim},
      {"head_dim", info.head_dim},
      {"context_length", info.context_length},
      {"rms_eps", info.rms_eps},
      {"rope", rope},
      {"tied_output", info.tied_output},
      {"tensor_types", mix},
      {"tokenizer",
       {{"model", info.tokenizer_model},
        {"pre", info.tokenizer_pre},
        {"vocab_size", info.vocab_size},
        {"chat_template", info.has_chat_template}}},
      {"memory",
       {{"ctx", m.ctx},
        {"parallel", m.parallel},
        {"weight_bytes", m.weight_bytes},
        {"kv_bytes_per_token",
         {{"f16", m.kv_bytes_per_token_f16}, {"q8_0", m.kv_bytes_per_token_q8_0}}},
        {"kv_bytes", {{"f16", m.kv_bytes_f16}, {"q8_0", m.kv_bytes_q8_0}}},
        {"compute_bytes", m.compute_bytes},
        {"total_bytes", {{"f16_kv", m.total_f16}, {"q8_0_kv", m.total_q8_0}}}}},
  };
  if (info.file_type) j["file_type"] = *info.file_type;
  return j;
}

Result<nlohmann::json> InspectModelFile(const std::filesystem::path& path, int64_t ctx,
                                        int64_t parallel) {
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) return file.status();
  auto info = gguf::DescribeModel(*file);
  if (!info.ok()) return info.status().WithContext(path.string());
  return ModelInfoJson(*info, gguf::EstimateMemory(*info, ctx, parallel));
}

}  // namespace hearth::platform
