// Whole-model (re)quantization: `hearth model quantize IN OUT --type q4_k_m`.
//
// A recipe names the file-level type a user asks for ("q4_k_m"); ChooseTensorType applies the
// usual mix rules per tensor (the ones llama.cpp's quantizer uses, so files match theirs tensor
// for tensor): 1-D tensors (norms, biases) stay F32; the output projection (output.weight, or
// token_embd.weight when the output is tied to it) gets Q6_K; the _M mixes give attn_v and
// ffn_down more bits in some layers; rows whose length is not a multiple of the chosen type's
// block fall back to a 32-block type (or F16).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/gguf_writer.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::gguf {

enum class RecipeId {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ2_K,
  kQ3_K_M,
  kQ4_K_S,
  kQ4_K_M,
  kQ5_K_S,
  kQ5_K_M,
  kQ6_K,
};

struct QuantRecipe {
  RecipeId id;
  std::string_view name;  // "Q4_K_M"
  TensorType base;        // the type most weights get
  uint32_t file_type;     // general.file_type (llama_ftype) value
};

// Case-insensitive ("q4_k_m", "F16"). InvalidArgument listing the known names otherwise.
Result<QuantRecipe> FindRecipe(std::string_view name);
std::vector<std::string_view> RecipeNames();

struct TensorContext {
  std::string_view name;
  std::vector<int64_t> dims;
  int64_t n_layers = 0;
  int64_t n_gqa = 1;       // head_count / head_count_kv
  bool has_output = true;  // false when output.weight is absent (tied to token_embd)
};

// Layer index of "blk.N.xxx", or -1.
int64_t LayerIndexOf(std::string_view tensor_name);

TensorType ChooseTensorType(const QuantRecipe& recipe, const TensorContext& tensor);

// Fills float rows [first_row, first_row + count) of a tensor into `dst` (count * row_length).
// Called from several threads at once with disjoint ranges.
using RowSource = std::function<Status(int64_t first_row, int64_t count, float* dst)>;

// Converts a tensor of `rows` rows of `row_length` floats (produced by `source`) into `type`
// and appends its bytes to `writer`, `threads` workers over rows, bounded memory (a few MB
// per worker regardless of tensor size). `on_bytes` (may be null) receives each chunk's output
// size, for progress.
Status StreamTensorRows(GgufWriter& writer, TensorType type, int64_t rows, int64_t row_length,
                        const RowSource& source, int threads,
                        const std::function<void(uint64_t)>& on_bytes = nullptr);

struct QuantizeOptions {
  std::string type = "q8_0";  // recipe name
  int threads = 2;
  bool progress = true;  // drawn on stderr, and only when stderr is a terminal
};

struct QuantizeReport {
  uint64_t input_bytes = 0;   // tensor data read
  uint64_t output_bytes = 0;  // size of the written file
  int64_t tensors = 0;
  int64_t requantized = 0;  // tensors whose type changed
  double seconds = 0;
};

Result<QuantizeReport> QuantizeModel(const std::filesystem::path& input,
                                     const std::filesystem::path& output,
                                     const QuantizeOptions& options);

// Draws "label [=====     ] 42%" on stderr when it is a terminal; silent otherwise.
class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total, bool enabled);
  ~ProgressBar();
  void Add(uint64_t amount);
  void Finish();

 private:
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  int last_percent_ = -1;
  bool enabled_;
};

}  // namespace hearth::gguf
