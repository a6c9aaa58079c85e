// Synthetic models: `hearth model synth`. Writes a GGUF file with the real published shapes of a
// model family (or a tiny one for tests) and deterministic pseudo-random weights, complete with
// the metadata and vocabulary any GGUF engine needs to load and run it.
//
// Weights are approximately normal(0, 0.02) (sum of four uniforms, scaled), norm weights are
// 1 ± 0.02 and biases normal(0, 0.02): activations stay bounded, so generation does not blow up.
// Every row draws from its own stream seeded by (seed, tensor name, row), so the bytes depend
// only on the seed and the shape — not on the thread count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::gguf {

struct ModelShape {
  std::string arch = "llama";  // llama | qwen2
  std::string name;            // general.name
  int64_t n_layers = 2;
  int64_t n_embd = 128;
  int64_t n_ff = 256;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 2;
  int64_t vocab = 320;  // replaced by the vocabulary's size when one is copied in
  int64_t context = 2048;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // no output.weight: the output reuses token_embd
  bool qkv_bias = false;     // attn_q/k/v.bias (qwen2)

  int64_t head_dim() const { return n_embd / n_heads; }
};

// Presets: tiny, smollm-135m, qwen2.5-0.5b, qwen2.5-1.5b, llama-3.2-1b,
// deepseek-r1-distill-qwen-1.5b, deepseek-r1-distill-qwen-7b. `arch` may be empty; when given it
// must match the preset, except for "tiny", which takes the architecture from it (qwen2: biases
// and tied output, like the real family).
Result<ModelShape> ShapePreset(std::string_view preset, std::string_view arch);
std::vector<std::string_view> ShapePresetNames();

struct SynthOptions {
  ModelShape shape;
  std::string type = "f16";  // a quantization recipe name (see quantize_model.h)
  uint64_t seed = 0;
  std::filesystem::path vocab_from;  // copy every tokenizer.* key from this GGUF file
  int64_t context_length = 0;        // overrides shape.context when > 0
  int threads = 2;
  bool progress = false;  // progress bar on stderr (only when it is a terminal)
  // All-zero weight bytes (a valid value in every type) instead of random ones: writes a
  // full-size file at disk speed, for benchmarks of paths that do not read weights.
  bool zero_weights = false;
};

Status SynthesizeModel(const std::filesystem::path& output, const SynthOptions& options);

// The built-in byte-level BPE vocabulary: 256 byte tokens (GPT-2 byte-to-unicode mapping),
// merges of common English pairs, and special tokens; padded with "<|extra_N|>" tokens up to
// `size` when that is larger. Exposed for tests.
struct SynthVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> token_types;  // 1 normal, 3 control
  std::vector<std::string> merges;
  int32_t bos = 0;
  int32_t eos = 0;
};
SynthVocab BuiltinVocab(int64_t size);

}  // namespace hearth::gguf
