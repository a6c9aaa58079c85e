// Shared helpers of the model tests: the fixtures' reference files, an error measure, and a
// small driver that runs a Model over one sequence with its own KV cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hearth/gguf/gguf_file.h"
#include "hearth/kernels/thread_pool.h"
#include "hearth/model/model.h"

namespace hearth::model::testing {

// One prompt of a fixture's *.ref.txt (see shared/fixtures/models/README.md).
struct ReferencePrompt {
  std::vector<int32_t> ids;
  std::map<int, std::vector<double>> logits;  // position -> all logits (`pos` lines)
  std::vector<int32_t> greedy;
  std::vector<double> greedy_margin;
};

// Parses a *.ref.txt; fails the test on malformed content.
std::vector<ReferencePrompt> ReadReferenceFile(const std::filesystem::path& path);

// sqrt(sum (ours - ref)^2) / sqrt(sum (ref - mean ref)^2) over all given values.
double NormalizedRmsError(std::span<const float> ours, std::span<const double> ref);
// The same accumulated over several rows (each row's values are concatenated).
struct ErrorAccumulator {
  double diff2 = 0, sum = 0, sum2 = 0;
  int64_t count = 0;
  void Add(std::span<const float> ours, std::span<const double> ref);
  double Error() const;
};

int32_t ArgMax(std::span<const float> logits);

// A loaded model plus a KV cache with room for a few sequences.
struct LoadedModel {
  std::shared_ptr<const gguf::GgufFile> file;
  std::unique_ptr<Model> model;
};
// Fails the test (returns nullptr model) when loading fails.
LoadedModel LoadModel(const std::filesystem::path& path);

// One sequence: owns its block table in a cache shared with other sessions.
class Session {
 public:
  explicit Session(std::vector<int32_t> block_table) : block_table_(std::move(block_table)) {}

  std::span<const int32_t> block_table() const { return block_table_; }
  int32_t next_position = 0;

 private:
  std::vector<int32_t> block_table_;
};

// Evaluates `tokens` as the next positions of `session` in one Forward call and returns the
// logits of every token (want_logits on all) — [tokens][vocab].
std::vector<std::vector<float>> Evaluate(Model& model, KvCacheStorage& kv, Session& session,
                                         std::span<const int32_t> tokens,
                                         kernels::ThreadPool& pool);

// A cache for `sequences` sequences of up to `tokens` tokens each.
std::unique_ptr<KvCacheStorage> MakeCache(const Model& model, int sequences, int tokens,
                                          gguf::TensorType type = gguf::TensorType::kF16,
                                          int block_tokens = 16);

// Blocks [first, first + count) in order.
std::vector<int32_t> Blocks(int32_t first, int32_t count);

}  // namespace hearth::model::testing
