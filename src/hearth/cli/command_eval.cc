// `hearth model eval MODEL.gguf --tokens "1 2 3"`: runs the forward pass over a token sequence
// (one batch) and prints each position's logits — the top N, all of them, or JSON. A debugging
// and cross-checking tool: its numbers can be compared with another engine's.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "hearth/cli/commands.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/kernels/thread_pool.h"
#include "hearth/model/kv_cache.h"
#include "hearth/model/model.h"

namespace hearth::cli {
namespace {

struct EvalArgs {
  std::string file;
  std::string tokens;
  int top = 5;
  bool all_logits = false;
  bool json = false;
  int threads = 0;
  std::string kv_type = "f16";
};

// Token ids separated by spaces and/or commas.
Result<std::vector<int32_t>> ParseTokens(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == ',' || text[i] == '\t' || text[i] == '\n') {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] != ' ' && text[end] != ',' && text[end] != '\t' &&
           text[end] != '\n') {
      ++end;
    }
    int32_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + end, id);
    if (ec != std::errc() || ptr != text.data() + end) {
      return Status::InvalidArgument(
          fmt::format("--tokens: '{}' is not a token id", text.substr(i, end - i)));
    }
    ids.push_back(id);
    i = end;
  }
  if (ids.empty()) return Status::InvalidArgument("--tokens: no token ids given");
  return ids;
}

Result<std::vector<float>> Evaluate(const EvalArgs& args, const std::vector<int32_t>& tokens,
                                    int* vocab_out) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile opened, gguf::GgufFile::Open(args.file));
  auto file = std::make_shared<const gguf::GgufFile>(std::move(opened));
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model, model::Model::Load(file));
  const auto kv_type = gguf::TensorTypeFromName(args.kv_type);
  if (!kv_type || (*kv_type != gguf::TensorType::kF16 && *kv_type != gguf::TensorType::kQ8_0 &&
                   *kv_type != gguf::TensorType::kF32)) {
    return Status::InvalidArgument(
        fmt::format("--kv-type: '{}' is not one of f16, q8_0, f32", args.kv_type));
  }
  constexpr int kBlockTokens = 16;
  const model::KvCacheGeometry geometry = model->KvGeometry(*kv_type, kBlockTokens);
  const int64_t blocks = (static_cast<int64_t>(tokens.size()) + kBlockTokens - 1) / kBlockTokens;
  HEARTH_ASSIGN_OR_RETURN(
      std::unique_ptr<model::KvCacheStorage> kv,
      model::KvCacheStorage::Create(geometry, static_cast<uint64_t>(blocks) *
                                                  geometry.BytesPerBlock(), blocks));
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  std::iota(table.begin(), table.end(), 0);
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.push_back({tokens[i], static_cast<int32_t>(i), table, true});
  }
  const int vocab = model->config().vocab_size;
  std::vector<float> logits(tokens.size() * static_cast<size_t>(vocab));
  kernels::ThreadPool pool(args.threads);
  HEARTH_RETURN_IF_ERROR(model->Forward(batch, *kv, logits, pool));
  *vocab_out = vocab;
  return logits;
}

int RunEval(const EvalArgs& args) {
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "hearth: %s\n", s.message().c_str());
    return 1;
  };
  auto tokens = ParseTokens(args.tokens);
  if (!tokens.ok()) return fail(tokens.status());
  int vocab = 0;
  auto logits = Evaluate(args, *tokens, &vocab);
  if (!logits.ok()) return fail(logits.status());
  auto row = [&](size_t pos) {
    return std::span<const float>(logits->data() + pos * static_cast<size_t>(vocab),
                                  static_cast<size_t>(vocab));
  };
  if (args.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t pos = 0; pos < tokens->size(); ++pos) {
      const auto r = row(pos);
      rows.push_back(std::vector<float>(r.begin(), r.end()));
    }
    const nlohmann::json out = {{"tokens", *tokens}, {"logits", rows}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  for (size_t pos = 0; pos < tokens->size(); ++pos) {
    const auto r = row(pos);
    std::string line = fmt::format("pos {} token {}:", pos, (*tokens)[pos]);
    if (args.all_logits) {
      for (float v : r) line += fmt::format(" {:.6g}", v);
    } else {
      std::vector<int32_t> order(r.size());
      std::iota(order.begin(), order.end(), 0);
      const size_t n = std::min(order.size(), static_cast<size_t>(args.top));
      std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(n), order.end(),
                        [&](int32_t a, int32_t b) { return r[a] > r[b] || (r[a] == r[b] && a < b); });
      for (size_t k = 0; k < n; ++k) line += fmt::format(" {}:{:.6f}", order[k], r[order[k]]);
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

void RegisterModelEval(CLI::App& model_subcommand, GlobalOptions& /*globals*/, Action* action) {
  auto args = std::make_shared<EvalArgs>();
  auto* eval = model_subcommand.add_subcommand(
      "eval", "Evaluate a token sequence in one batch and print each position's logits");
  eval->add_option("file", args->file, "GGUF model")->required();
  eval->add_option("--tokens", args->tokens, "token ids, e.g. \"1 423 277\"")->required();
  eval->add_option("--top", args->top, "print the N largest logits per position (default 5)")
      ->check(CLI::PositiveNumber);
  eval->add_flag("--all-logits", args->all_logits, "print every logit");
  eval->add_flag("--json", args->json,
                 "print {\"tokens\": [...], \"logits\": [[...], ...]} (all logits)");
  eval->add_option("--threads", args->threads, "threads (default: one per core)")
      ->check(CLI::NonNegativeNumber);
  eval->add_option("--kv-type", args->kv_type, "KV cache type: f16 (default), q8_0, f32");
  eval->callback([args, action] { *action = [args] { return RunEval(*args); }; });
}

}  // namespace hearth::cli
