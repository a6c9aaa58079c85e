#include "hearth/gguf/synth.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/gguf_writer.h"
#include "hearth/gguf/quantize_model.h"

namespace hearth::gguf {
namespace {

struct Preset {
  std::string_view name;
  ModelShape shape;
};

ModelShape Shape(std::string arch, std::string name, int64_t layers, int64_t embd, int64_t ff,
                 int64_t heads, int64_t kv_heads, int64_t vocab, int64_t context, float theta,
                 float eps, bool tied) {
  ModelShape s;
  s.arch = std::move(arch);
  s.name = std::move(name);
  s.n_layers = layers;
  s.n_embd = embd;
  s.n_ff = ff;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.vocab = vocab;
  s.context = context;
  s.rope_theta = theta;
  s.rms_eps = eps;
  s.tied_output = tied;
  s.qkv_bias = s.arch == "qwen2";
  return s;
}

// Published configurations (config.json of each model).
const std::vector<Preset>& Presets() {
  static const std::vector<Preset> presets = {
      {"tiny", Shape("llama", "tiny", 2, 128, 256, 4, 2, 320, 2048, 10000.0f, 1e-5f, false)},
      {"smollm-135m",
       Shape("llama", "SmolLM-135M", 30, 576, 1536, 9, 3, 49152, 2048, 10000.0f, 1e-5f, true)},
      {"qwen2.5-0.5b",
       Shape("qwen2", "Qwen2.5-0.5B", 24, 896, 4864, 14, 2, 151936, 32768, 1e6f, 1e-6f, true)},
      {"qwen2.5-1.5b",
       Shape("qwen2", "Qwen2.5-1.5B", 28, 1536, 8960, 12, 2, 151936, 32768, 1e6f, 1e-6f, true)},
      {"llama-3.2-1b", Shape("llama", "Llama-3.2-1B", 16, 2048, 8192, 32, 8, 128256, 131072,
                             500000.0f, 1e-5f, true)},
      {"deepseek-r1-distill-qwen-1.5b", Shape("qwen2", "DeepSeek-R1-Distill-Qwen-1.5B", 28, 1536,
                                              8960, 12, 2, 151936, 131072, 10000.0f, 1e-6f, false)},
      {"deepseek-r1-distill-qwen-7b", Shape("qwen2", "DeepSeek-R1-Distill-Qwen-7B", 28, 3584, 18944,
                                            28, 4, 152064, 131072, 10000.0f, 1e-6f, false)},
  };
  return presets;
}

// SplitMix64: tiny, fast, and the same on every platform (std:: distributions are not).
uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t HashName(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : name) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// Approximately standard normal: the sum of four 16-bit uniforms has variance 4/12.
float NextNormal(uint64_t& state) {
  const uint64_t bits = SplitMix(state);
  float sum = 0;
  for (int k = 0; k < 4; ++k) sum += static_cast<float>((bits >> (16 * k)) & 0xffff);
  constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(3) / 2^16
  return (sum - 2.0f * 65535.0f) * kScale;
}

enum class Fill { kWeight, kNorm, kBias };

struct PlannedTensor {
  std::string name;
  std::vector<int64_t> dims;
  Fill fill;
};

std::vector<PlannedTensor> PlanTensors(const ModelShape& s) {
  const int64_t q_dim = s.n_heads * s.head_dim();
  const int64_t kv_dim = s.n_kv_heads * s.head_dim();
  std::vector<PlannedTensor> out;
  out.push_back({"token_embd.weight", {s.n_embd, s.vocab}, Fill::kWeight});
  if (!s.tied_output) out.push_back({"output.weight", {s.n_embd, s.vocab}, Fill::kWeight});
  out.push_back({"output_norm.weight", {s.n_embd}, Fill::kNorm});
  for (int64_t i = 0; i < s.n_layers; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    out.push_back({p + "attn_norm.weight", {s.n_embd}, Fill::kNorm});
    out.push_back({p + "attn_q.weight", {s.n_embd, q_dim}, Fill::kWeight});
    if (s.qkv_bias) out.push_back({p + "attn_q.bias", {q_dim}, Fill::kBias});
    out.push_back({p + "attn_k.weight", {s.n_embd, kv_dim}, Fill::kWeight});
    if (s.qkv_bias) out.push_back({p + "attn_k.bias", {kv_dim}, Fill::kBias});
    out.push_back({p + "attn_v.weight", {s.n_embd, kv_dim}, Fill::kWeight});
    if (s.qkv_bias) out.push_back({p + "attn_v.bias", {kv_dim}, Fill::kBias});
    out.push_back({p + "attn_output.weight", {q_dim, s.n_embd}, Fill::kWeight});
    out.push_back({p + "ffn_norm.weight", {s.n_embd}, Fill::kNorm});
    out.push_back({p + "ffn_gate.weight", {s.n_embd, s.n_ff}, Fill::kWeight});
    out.push_back({p + "ffn_up.weight", {s.n_embd, s.n_ff}, Fill::kWeight});
    out.push_back({p + "ffn_down.weight", {s.n_ff, s.n_embd}, Fill::kWeight});
  }
  return out;
}

// GPT-2's reversible byte-to-unicode mapping: printable bytes stand for themselves, the others
// are shifted to code points 256 and up.
std::string ByteToken(int byte) {
  const bool printable =
      (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
  int code_point = byte;
  if (!printable) {
    int shifted = 0;
    for (int b = 0; b < byte; ++b) {
      const bool p = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      if (!p) ++shifted;
    }
    code_point = 256 + shifted;
  }
  std::string out;
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else {
    out.push_back(static_cast<char>(0xc0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3f)));
  }
  return out;
}

Status ValidateShape(const ModelShape& s) {
  if (s.arch != "llama" && s.arch != "qwen2") {
    return Status::InvalidArgument(
        fmt::format("synth: unknown architecture '{}' (llama or qwen2)", s.arch));
  }
  if (s.n_layers <= 0 || s.n_embd <= 0 || s.n_ff <= 0 || s.n_heads <= 0 || s.n_kv_heads <= 0 ||
      s.vocab <= 0 || s.context <= 0) {
    return Status::InvalidArgument("synth: every dimension must be positive");
  }
  if (s.n_embd % s.n_heads != 0 || s.n_heads % s.n_kv_heads != 0) {
    return Status::InvalidArgument(
        fmt::format("synth: embedding {} must divide into {} heads, and heads into {} KV heads",
                    s.n_embd, s.n_heads, s.n_kv_heads));
  }
  return Status::Ok();
}

}  // namespace

Result<ModelShape> ShapePreset(std::string_view preset, std::string_view arch) {
  for (const auto& p : Presets()) {
    if (p.name != preset) continue;
    ModelShape shape = p.shape;
    if (preset == "tiny") {
      if (!arch.empty()) shape.arch = std::string(arch);
      if (shape.arch == "qwen2") {
        shape.qkv_bias = true;
        shape.tied_output = true;
        shape.rope_theta = 1e6f;
        shape.rms_eps = 1e-6f;
      }
      shape.name = "tiny-" + shape.arch;
      HEARTH_RETURN_IF_ERROR(ValidateShape(shape));
    } else if (!arch.empty() && arch != shape.arch) {
      return Status::InvalidArgument(
          fmt::format("synth: preset '{}' is a {} model, not {}", preset, shape.arch, arch));
    }
    return shape;
  }
  std::string known;
  for (const auto& p : Presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
  return Status::InvalidArgument(
      fmt::format("synth: unknown preset '{}' (known: {})", preset, known));
}

std::vector<std::string_view> ShapePresetNames() {
  std::vector<std::string_view> names;
  for (const auto& p : Presets()) names.push_back(p.name);
  return names;
}

SynthVocab BuiltinVocab(int64_t size) {
  SynthVocab v;
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(ByteToken(b));
    v.token_types.push_back(1);
  }
  // Frequent English pairs; "Ġ" is the mapped space.
  static constexpr std::string_view kPairs[] = {
      "t h", "h e", "i n", "e r", "a n", "r e", "o n", "a t", "e n", "n d", "t i", "e s",
      "o r", "t e", "o f", "e d", "i s", "i t", "a l", "a r", "s t", "t o", "n t", "n g",
      "s e", "h a", "a s", "o u", "i o", "l e", "v e", "c o", "m e", "d e", "h i", "r i",
      "r o", "i c", "n e", "e a", "r a", "c e", "l i", "c h", "l l", "b e", "m a", "s i",
      "o m", "u r", "Ġ t", "Ġ a", "Ġ s", "Ġ w", "Ġ o", "Ġ b", "Ġ c", "Ġ m", "Ġ f", "Ġ p"};
  for (std::string_view pair : kPairs) {
    v.merges.emplace_back(pair);
    std::string merged(pair);
    merged.erase(merged.find(' '), 1);
    v.tokens.push_back(merged);
    v.token_types.push_back(1);
  }
  for (std::string_view special :
       {"<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"}) {
    v.tokens.emplace_back(special);
    v.token_types.push_back(3);
  }
  v.bos = static_cast<int32_t>(v.tokens.size()) - 4;
  v.eos = static_cast<int32_t>(v.tokens.size()) - 3;
  for (int64_t i = 0; static_cast<int64_t>(v.tokens.size()) < size; ++i) {
    v.tokens.push_back(fmt::format("<|extra_{}|>", i));
    v.token_types.push_back(1);
  }
  return v;
}

Status SynthesizeModel(const std::filesystem::path& output, const SynthOptions& options) {
  ModelShape shape = options.shape;
  if (options.context_length > 0) shape.context = options.context_length;
  HEARTH_RETURN_IF_ERROR(ValidateShape(shape));
  HEARTH_ASSIGN_OR_RETURN(const QuantRecipe recipe, FindRecipe(options.type));

  GgufWriter writer;
  const std::string& a = shape.arch;
  writer.SetString("general.architecture", a);
  writer.SetString("general.name", shape.name.empty() ? "synthetic" : shape.name);
  writer.SetUint32("general.file_type", recipe.file_type);
  // Written by every converter, float files included (engines read it to reject old formats).
  writer.SetUint32("general.quantization_version", 2);

  // Vocabulary: copied from a vocab file, or the built-in one padded to the preset's size.
  if (!options.vocab_from.empty()) {
    HEARTH_ASSIGN_OR_RETURN(const GgufFile vocab, GgufFile::Open(options.vocab_from));
    auto tokens = vocab.GetStringArray("tokenizer.ggml.tokens");
    if (!tokens.ok()) {
      return tokens.status().WithContext(
          fmt::format("synth: vocabulary {}", options.vocab_from.string()));
    }
    shape.vocab = static_cast<int64_t>(tokens->size());
    for (const auto& kv : vocab.metadata()) {
      if (kv.key.substr(0, 10) == "tokenizer.") writer.Set(kv.key, MetaValue::FromValue(kv.value));
    }
  } else {
    const SynthVocab v = BuiltinVocab(shape.vocab);
    shape.vocab = static_cast<int64_t>(v.tokens.size());
    writer.SetString("tokenizer.ggml.model", "gpt2");
    writer.SetString("tokenizer.ggml.pre", "default");
    writer.Set("tokenizer.ggml.tokens", MetaValue::StringArray(v.tokens));
    writer.Set("tokenizer.ggml.scores",
               MetaValue::Float32Array(std::vector<float>(v.tokens.size(), 0.0f)));
    writer.Set("tokenizer.ggml.token_type", MetaValue::Int32Array(v.token_types));
    writer.Set("tokenizer.ggml.merges", MetaValue::StringArray(v.merges));
    writer.SetUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos));
    writer.SetUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos));
    writer.SetBool("tokenizer.ggml.add_bos_token", a == "llama");
  }

  writer.SetUint32(a + ".block_count", static_cast<uint32_t>(shape.n_layers));
  writer.SetUint32(a + ".context_length", static_cast<uint32_t>(shape.context));
  writer.SetUint32(a + ".embedding_length", static_cast<uint32_t>(shape.n_embd));
  writer.SetUint32(a + ".feed_forward_length", static_cast<uint32_t>(shape.n_ff));
  writer.SetUint32(a + ".attention.head_count", static_cast<uint32_t>(shape.n_heads));
  writer.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(shape.n_kv_heads));
  writer.SetFloat32(a + ".attention.layer_norm_rms_epsilon", shape.rms_eps);
  writer.SetFloat32(a + ".rope.freq_base", shape.rope_theta);
  writer.SetUint32(a + ".rope.dimension_count", static_cast<uint32_t>(shape.head_dim()));
  writer.SetUint32(a + ".vocab_size", static_cast<uint32_t>(shape.vocab));

  const std::vector<PlannedTensor> plan = PlanTensors(shape);
  TensorContext context;
  context.n_layers = shape.n_layers;
  context.n_gqa = shape.n_heads / shape.n_kv_heads;
  context.has_output = !shape.tied_output;
  std::vector<TensorType> types;
  for (const auto& t : plan) {
    context.name = t.name;
    context.dims = t.dims;
    types.push_back(ChooseTensorType(recipe, context));
    HEARTH_RETURN_IF_ERROR(writer.AddTensor(t.name, t.dims, types.back()));
  }
  HEARTH_RETURN_IF_ERROR(writer.Begin(output));

  uint64_t total = 0;
  for (const auto& spec : writer.tensors()) total += spec.size_bytes;
  ProgressBar progress("synthesizing", total, options.progress);
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedTensor& t = plan[i];
    const TensorSpec& spec = writer.tensors()[i];
    if (options.zero_weights) {
      static const std::vector<uint8_t> kZeros(1 << 20, 0);
      for (uint64_t left = spec.size_bytes; left > 0;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
        HEARTH_RETURN_IF_ERROR(writer.Append(kZeros.data(), n));
        left -= n;
      }
      progress.Add(spec.size_bytes);
      continue;
    }
    const int64_t row_length = t.dims[0];
    const int64_t rows = t.dims.size() > 1 ? t.dims[1] : 1;
    const uint64_t tensor_seed = HashName(t.name) ^ (options.seed * 0x9e3779b97f4a7c15ull);
    const Fill fill = t.fill;
    RowSource source = [tensor_seed, row_length, fill](int64_t first, int64_t count, float* dst) {
      for (int64_t r = 0; r < count; ++r) {
        uint64_t state = tensor_seed + static_cast<uint64_t>(first + r) * 0xd1b54a32d192ed03ull;
        SplitMix(state);  // decorrelate neighbouring rows
        float* row = dst + r * row_length;
        for (int64_t c = 0; c < row_length; ++c) {
          const float z = NextNormal(state);
          row[c] = fill == Fill::kNorm ? 1.0f + 0.02f * z : 0.02f * z;
        }
      }
      return Status::Ok();
    };
    HEARTH_RETURN_IF_ERROR(StreamTensorRows(writer, types[i], rows, row_length, source,
                                            options.threads, [&](uint64_t n) { progress.Add(n); }));
  }
  HEARTH_RETURN_IF_ERROR(writer.Finish());
  progress.Finish();
  return Status::Ok();
}

}  // namespace hearth::gguf
