// Engine: continuous-batching text generation over one loaded model.
//
// Submit() hands the engine a tokenized request and an observer; the engine's scheduler thread
// admits it when KV blocks and the token budget allow, prefills it in chunks interleaved with
// other sequences' decode steps, reuses cached prefix blocks, and reports every generated token
// to the observer as soon as it is sampled. Observers are called on the engine thread and must
// not block (the server hands tokens to its own I/O threads).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::tokenizer {
class Tokenizer;
}
namespace hearth::model {
struct ModelConfig;
}

namespace hearth::engine {

struct SamplingParams {
  float temperature = 1.0f;  // 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;  // same seed and input give the same output
  std::vector<std::pair<int32_t, float>> logit_bias;
  int top_logprobs = 0;   // report this many alternatives per token (0: none)
  bool logprobs = false;  // report the chosen token's log-probability
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int max_tokens = 256;
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;  // in addition to the model's end-of-generation tokens
  int priority = 0;                     // higher runs first; FIFO within a priority
};

struct TokenEvent {
  int32_t token = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

enum class FinishReason { kStop, kLength, kCancelled, kError };

class SequenceObserver {
 public:
  virtual ~SequenceObserver() = default;
  // Called once when the prompt has been processed (before the first OnToken); reports how many
  // prompt tokens came from the prefix cache.
  virtual void OnPrefillDone(int /*cached_prompt_tokens*/) {}
  virtual void OnToken(const TokenEvent& event) = 0;
  // Called exactly once, last. `status` is OK unless reason is kError.
  virtual void OnFinish(FinishReason reason, const Status& status) = 0;
};

struct EngineOptions {
  std::filesystem::path model_path;
  int threads = 0;               // 0: one per core
  int context_length = 0;        // per sequence; 0: the model's (capped at 4096)
  int max_parallel = 16;         // sequences decoded together
  uint64_t kv_budget_bytes = 0;  // 0: enough for context_length * max_parallel tokens
  gguf::TensorType kv_type = gguf::TensorType::kF16;
  int kv_block_tokens = 16;
  int max_batch_tokens = 512;  // tokens per forward step when no sequence is decoding
  // Tokens per forward step while sequences decode (their decodes + prefill chunks): bounds the
  // time between two tokens, at little cost since a step costs about the same per token from
  // ~32 tokens up. 0: max_batch_tokens.
  int step_tokens = 128;
  bool prefix_cache = true;
  // Weights read into huge-page-backed private memory (gguf MapMode::kPrivateHugePages) rather
  // than a shared map of the file: fewer TLB misses while decode streams them.
  bool huge_pages = true;
};

struct EngineStats {
  int running = 0;
  int waiting = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;    // referenced by a live sequence
  int64_t kv_blocks_cached = 0;  // unreferenced but holding a reusable prefix
  uint64_t prompt_tokens = 0;
  uint64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
  uint64_t generated_tokens = 0;
  uint64_t preemptions = 0;
};

using SequenceId = uint64_t;

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);
  virtual ~Engine() = default;

  // Validates the request (prompt fits the context, max_tokens > 0, ids in vocab) and queues it.
  virtual Result<SequenceId> Submit(GenerationRequest request,
                                    std::shared_ptr<SequenceObserver> observer) = 0;
  // Stops a sequence and frees its KV blocks at once; the observer gets kCancelled. Unknown or
  // finished ids are ignored.
  virtual void Cancel(SequenceId id) = 0;
  virtual EngineStats Stats() const = 0;

  virtual const tokenizer::Tokenizer& tokenizer() const = 0;
  virtual const model::ModelConfig& model_config() const = 0;
  virtual std::string model_name() const = 0;
  // The GGUF's chat template (empty if none).
  virtual std::string chat_template() const = 0;
  virtual int context_length() const = 0;

  // Finishes (or cancels, after `drain_ms`) every sequence and stops the scheduler thread.
  virtual void Shutdown(int drain_ms) = 0;
};

}  // namespace hearth::engine
