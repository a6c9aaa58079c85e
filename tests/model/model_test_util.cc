#include "model/model_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

namespace hearth::model::testing {
namespace {

template <typename T>
std::vector<T> ParseNumbers(const std::string& text) {
  std::istringstream in(text);
  std::vector<T> values;
  T v;
  while (in >> v) values.push_back(v);
  return values;
}

}  // namespace

std::vector<ReferencePrompt> ReadReferenceFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<ReferencePrompt> prompts;
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string head = line.substr(0, colon);
    const std::string rest = line.substr(colon + 1);
    if (head.rfind("prompt ", 0) == 0) {
      prompts.emplace_back();
      prompts.back().ids = ParseNumbers<int32_t>(rest);
    } else if (prompts.empty()) {
      ADD_FAILURE() << path << ": data before the first prompt line";
      return {};
    } else if (head.rfind("pos ", 0) == 0) {
      prompts.back().logits[std::stoi(head.substr(4))] = ParseNumbers<double>(rest);
    } else if (head == "greedy") {
      prompts.back().greedy = ParseNumbers<int32_t>(rest);
    } else if (head == "greedy_margin") {
      prompts.back().greedy_margin = ParseNumbers<double>(rest);
    }
  }
  return prompts;
}

void ErrorAccumulator::Add(std::span<const float> ours, std::span<const double> ref) {
  EXPECT_EQ(ours.size(), ref.size());
  for (size_t i = 0; i < std::min(ours.size(), ref.size()); ++i) {
    const double d = ours[i] - ref[i];
    diff2 += d * d;
    sum += ref[i];
    sum2 += ref[i] * ref[i];
    ++count;
  }
}

double ErrorAccumulator::Error() const {
  if (count == 0) return INFINITY;
  const double mean = sum / static_cast<double>(count);
  const double spread = sum2 - static_cast<double>(count) * mean * mean;
  return std::sqrt(diff2) / std::sqrt(std::max(spread, 1e-300));
}

double NormalizedRmsError(std::span<const float> ours, std::span<const double> ref) {
  ErrorAccumulator acc;
  acc.Add(ours, ref);
  return acc.Error();
}

int32_t ArgMax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

LoadedModel LoadModel(const std::filesystem::path& path) {
  LoadedModel loaded;
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) {
    ADD_FAILURE() << file.status().ToString();
    return loaded;
  }
  loaded.file = std::make_shared<const gguf::GgufFile>(std::move(file).value());
  auto model = Model::Load(loaded.file);
  if (!model.ok()) {
    ADD_FAILURE() << path << ": " << model.status().ToString();
    return loaded;
  }
  loaded.model = std::move(model).value();
  return loaded;
}

std::vector<std::vector<float>> Evaluate(Model& model, KvCacheStorage& kv, Session& session,
                                         std::span<const int32_t> tokens,
                                         kernels::ThreadPool& pool) {
  std::vector<BatchToken> batch;
  for (int32_t token : tokens) {
    batch.push_back({token, session.next_position++, session.block_table(), true});
  }
  const int vocab = model.config().vocab_size;
  std::vector<float> logits(tokens.size() * static_cast<size_t>(vocab));
  Status status = model.Forward(batch, kv, logits, pool);
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::vector<std::vector<float>> rows;
  for (size_t i = 0; i < tokens.size(); ++i) {
    rows.emplace_back(logits.begin() + static_cast<ptrdiff_t>(i * vocab),
                      logits.begin() + static_cast<ptrdiff_t>((i + 1) * vocab));
  }
  return rows;
}

std::unique_ptr<KvCacheStorage> MakeCache(const Model& model, int sequences, int tokens,
                                          gguf::TensorType type, int block_tokens) {
  const KvCacheGeometry g = model.KvGeometry(type, block_tokens);
  const int64_t blocks =
      int64_t{sequences} * ((tokens + block_tokens - 1) / block_tokens);
  auto kv = KvCacheStorage::Create(g, static_cast<uint64_t>(blocks) * g.BytesPerBlock(), blocks);
  EXPECT_TRUE(kv.ok()) << kv.status().ToString();
  return kv.ok() ? std::move(kv).value() : nullptr;
}

std::vector<int32_t> Blocks(int32_t first, int32_t count) {
  std::vector<int32_t> blocks(static_cast<size_t>(count));
  std::iota(blocks.begin(), blocks.end(), first);
  return blocks;
}

}  // namespace hearth::model::testing
