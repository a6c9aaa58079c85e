#include "hearth/gguf/quantize_model.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/quantize.h"

namespace hearth::gguf {
namespace {

constexpr std::array<QuantRecipe, 15> kRecipes = {{
    {RecipeId::kF32, "F32", TensorType::kF32, 0},
    {RecipeId::kF16, "F16", TensorType::kF16, 1},
    {RecipeId::kBF16, "BF16", TensorType::kBF16, 32},
    {RecipeId::kQ8_0, "Q8_0", TensorType::kQ8_0, 7},
    {RecipeId::kQ4_0, "Q4_0", TensorType::kQ4_0, 2},
    {RecipeId::kQ4_1, "Q4_1", TensorType::kQ4_1, 3},
    {RecipeId::kQ5_0, "Q5_0", TensorType::kQ5_0, 8},
    {RecipeId::kQ5_1, "Q5_1", TensorType::kQ5_1, 9},
    {RecipeId::kQ2_K, "Q2_K", TensorType::kQ2_K, 10},
    {RecipeId::kQ3_K_M, "Q3_K_M", TensorType::kQ3_K, 12},
    {RecipeId::kQ4_K_S, "Q4_K_S", TensorType::kQ4_K, 14},
    {RecipeId::kQ4_K_M, "Q4_K_M", TensorType::kQ4_K, 15},
    {RecipeId::kQ5_K_S, "Q5_K_S", TensorType::kQ5_K, 16},
    {RecipeId::kQ5_K_M, "Q5_K_M", TensorType::kQ5_K, 17},
    {RecipeId::kQ6_K, "Q6_K", TensorType::kQ6_K, 18},
}};

// Chunk of float rows converted at once per worker: bounds memory independently of tensor size.
constexpr int64_t kFloatsPerWorkerChunk = 1 << 20;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The layers that get extra bits in the _M mixes: the first and last eighth, and every third
// layer in between.
bool UseMoreBits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// A type whose block fits rows that K-quants cannot take.
TensorType FallbackFor(TensorType type) {
  switch (type) {
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
      return TensorType::kQ4_0;
    case TensorType::kQ4_K:
      return TensorType::kQ5_0;
    case TensorType::kQ5_K:
      return TensorType::kQ5_1;
    case TensorType::kQ6_K:
      return TensorType::kQ8_0;
    default:
      return TensorType::kF16;
  }
}

bool IsFloatType(TensorType type) {
  return type == TensorType::kF32 || type == TensorType::kF16 || type == TensorType::kBF16;
}

}  // namespace

Result<QuantRecipe> FindRecipe(std::string_view name) {
  for (const auto& r : kRecipes) {
    if (r.name.size() != name.size()) continue;
    bool equal = true;
    for (size_t i = 0; i < name.size(); ++i) {
      if (std::toupper(static_cast<unsigned char>(name[i])) != r.name[i]) equal = false;
    }
    if (equal) return r;
  }
  std::string known;
  for (const auto& r : kRecipes) known += (known.empty() ? "" : ", ") + std::string(r.name);
  return Status::InvalidArgument(
      fmt::format("unknown quantization type '{}' (known: {})", name, known));
}

std::vector<std::string_view> RecipeNames() {
  std::vector<std::string_view> names;
  for (const auto& r : kRecipes) names.push_back(r.name);
  return names;
}

int64_t LayerIndexOf(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int64_t layer = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
    layer = layer * 10 + (name[i] - '0');
    if (layer > (int64_t{1} << 40)) return -1;
    ++i;
  }
  return i < name.size() && name[i] == '.' ? layer : -1;
}

TensorType ChooseTensorType(const QuantRecipe& recipe, const TensorContext& t) {
  // Norms, biases and other vectors are tiny and precision-critical.
  if (t.dims.size() < 2) return TensorType::kF32;
  const TensorType base = recipe.base;
  if (IsFloatType(base)) return base;

  const int64_t row_length = t.dims[0];
  const bool is_output =
      t.name == "output.weight" || (!t.has_output && t.name == "token_embd.weight");
  TensorType chosen = base;
  if (is_output) {
    chosen = base == TensorType::kQ8_0 ? TensorType::kQ8_0 : TensorType::kQ6_K;
  } else {
    const int64_t layer = LayerIndexOf(t.name);
    const int64_t n = t.n_layers;
    const RecipeId id = recipe.id;
    if (EndsWith(t.name, "attn_v.weight") && layer >= 0) {
      if (id == RecipeId::kQ2_K) {
        chosen = t.n_gqa >= 4 ? TensorType::kQ4_K : TensorType::kQ3_K;
      } else if (id == RecipeId::kQ3_K_M) {
        chosen = layer < 2 ? TensorType::kQ5_K : TensorType::kQ4_K;
      } else if (id == RecipeId::kQ4_K_S) {
        if (layer < 4) chosen = TensorType::kQ5_K;
      } else if ((id == RecipeId::kQ4_K_M || id == RecipeId::kQ5_K_M) && UseMoreBits(layer, n)) {
        chosen = TensorType::kQ6_K;
      }
    } else if (EndsWith(t.name, "ffn_down.weight") && layer >= 0) {
      if (id == RecipeId::kQ2_K) {
        chosen = TensorType::kQ3_K;
      } else if (id == RecipeId::kQ3_K_M) {
        chosen = layer < n / 16 ? TensorType::kQ5_K : TensorType::kQ4_K;
      } else if (id == RecipeId::kQ4_K_S) {
        if (layer < n / 8) chosen = TensorType::kQ5_K;
      } else if ((id == RecipeId::kQ4_K_M || id == RecipeId::kQ5_K_M) && UseMoreBits(layer, n)) {
        chosen = TensorType::kQ6_K;
      }
    } else if (EndsWith(t.name, "attn_output.weight")) {
      if (id == RecipeId::kQ2_K) chosen = TensorType::kQ3_K;
      if (id == RecipeId::kQ3_K_M) chosen = TensorType::kQ4_K;
    }
  }
  while (!IsFloatType(chosen) && row_length % TraitsOf(chosen).block_size != 0) {
    chosen = FallbackFor(chosen);
  }
  return chosen;
}

Status StreamTensorRows(GgufWriter& writer, TensorType type, int64_t rows, int64_t row_length,
                        const RowSource& source, int threads,
                        const std::function<void(uint64_t)>& on_bytes) {
  HEARTH_ASSIGN_OR_RETURN(const uint64_t row_bytes, RowBytes(type, row_length));
  threads = std::max(1, threads);
  const int64_t rows_per_worker =
      std::max<int64_t>(1, kFloatsPerWorkerChunk / std::max<int64_t>(1, row_length));
  const int64_t rows_per_chunk = rows_per_worker * threads;
  std::vector<float> floats(static_cast<size_t>(std::min(rows, rows_per_chunk) * row_length));
  std::vector<uint8_t> out(static_cast<size_t>(std::min(rows, rows_per_chunk)) * row_bytes);
  for (int64_t chunk = 0; chunk < rows; chunk += rows_per_chunk) {
    const int64_t chunk_rows = std::min(rows_per_chunk, rows - chunk);
    std::vector<Status> results(static_cast<size_t>(threads));
    auto work = [&](int worker) {
      const int64_t first = static_cast<int64_t>(worker) * rows_per_worker;
      const int64_t count = std::min(rows_per_worker, chunk_rows - first);
      if (count <= 0) return;
      float* f = floats.data() + first * row_length;
      Status s = source(chunk + first, count, f);
      for (int64_t r = 0; s.ok() && r < count; ++r) {
        s = QuantizeRow(type, f + r * row_length, out.data() + (first + r) * row_bytes, row_length);
      }
      results[static_cast<size_t>(worker)] = std::move(s);
    };
    const int workers = static_cast<int>(
        std::min<int64_t>(threads, (chunk_rows + rows_per_worker - 1) / rows_per_worker));
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& th : pool) th.join();
    for (const auto& s : results) HEARTH_RETURN_IF_ERROR(s);
    const uint64_t chunk_bytes = static_cast<uint64_t>(chunk_rows) * row_bytes;
    HEARTH_RETURN_IF_ERROR(writer.Append(out.data(), chunk_bytes));
    if (on_bytes) on_bytes(chunk_bytes);
  }
  return Status::Ok();
}

Result<QuantizeReport> QuantizeModel(const std::filesystem::path& input,
                                     const std::filesystem::path& output,
                                     const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  HEARTH_ASSIGN_OR_RETURN(const QuantRecipe recipe, FindRecipe(options.type));
  HEARTH_ASSIGN_OR_RETURN(const GgufFile in, GgufFile::Open(input));
  std::error_code ec;
  if (std::filesystem::exists(output, ec) && std::filesystem::equivalent(input, output, ec)) {
    return Status::InvalidArgument("quantize: output would overwrite the input");
  }

  GgufWriter writer;
  HEARTH_RETURN_IF_ERROR(writer.SetAlignment(in.alignment()));
  for (const auto& kv : in.metadata()) {
    if (kv.key == "general.alignment") continue;
    writer.Set(kv.key, MetaValue::FromValue(kv.value));
  }
  writer.SetUint32("general.file_type", recipe.file_type);
  // Written by every converter, float files included (engines read it to reject old formats).
  writer.SetUint32("general.quantization_version", 2);

  TensorContext context;
  context.n_layers = static_cast<int64_t>(in.ArchUint("block_count").value_or(0));
  const uint64_t heads = in.ArchUint("attention.head_count").value_or(1);
  const uint64_t kv_heads = in.ArchUint("attention.head_count_kv").value_or(heads);
  context.n_gqa = kv_heads > 0 ? static_cast<int64_t>(heads / kv_heads) : 1;
  context.has_output = in.FindTensor("output.weight") != nullptr;

  QuantizeReport report;
  std::vector<TensorType> types;
  for (const auto& t : in.tensors()) {
    context.name = t.name;
    context.dims = t.dims;
    TensorType type = ChooseTensorType(recipe, context);
    // Tensors of a type we cannot write (a type with no quantizer) are copied as they are.
    if (!CanQuantizeTo(type)) type = t.type;
    types.push_back(type);
    HEARTH_RETURN_IF_ERROR(writer.AddTensor(t.name, t.dims, type));
    report.input_bytes += t.size_bytes;
  }
  HEARTH_RETURN_IF_ERROR(writer.Begin(output));

  uint64_t total_out = 0;
  for (const auto& spec : writer.tensors()) total_out += spec.size_bytes;
  ProgressBar progress("quantizing", total_out, options.progress);
  for (size_t i = 0; i < in.tensors().size(); ++i) {
    const TensorInfo& t = in.tensors()[i];
    ++report.tensors;
    if (types[i] == t.type) {
      HEARTH_RETURN_IF_ERROR(writer.WriteTensor(t.name, {t.data, t.size_bytes}));
      progress.Add(t.size_bytes);
      continue;
    }
    ++report.requantized;
    HEARTH_ASSIGN_OR_RETURN(const uint64_t src_row_bytes, RowBytes(t.type, t.row_length()));
    RowSource source = [&t, src_row_bytes](int64_t first, int64_t count, float* dst) {
      for (int64_t r = 0; r < count; ++r) {
        DequantizeRow(t.type, t.data + (first + r) * src_row_bytes, dst + r * t.row_length(),
                      t.row_length());
      }
      return Status::Ok();
    };
    Status s = StreamTensorRows(writer, types[i], t.rows(), t.row_length(), source, options.threads,
                                [&](uint64_t n) { progress.Add(n); });
    if (!s.ok()) return s.WithContext(fmt::format("tensor '{}'", t.name));
  }
  HEARTH_RETURN_IF_ERROR(writer.Finish());
  progress.Finish();
  report.output_bytes = std::filesystem::file_size(output, ec);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Add(uint64_t amount) {
  if (!enabled_) return;
  done_ += amount;
  const int percent =
      total_ == 0 ? 100 : static_cast<int>(std::min<uint64_t>(100, done_ * 100 / total_));
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 40;
  const int filled = percent * kWidth / 100;
  std::fprintf(stderr, "\r%s [%s%s] %3d%%", label_.c_str(), std::string(filled, '=').c_str(),
               std::string(kWidth - filled, ' ').c_str(), percent);
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  std::fprintf(stderr, "\n");
  enabled_ = false;
}

}  // namespace hearth::gguf
