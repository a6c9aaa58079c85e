// Workloads for the serving benchmark: what each simulated user sends next.
//
// A workload produces PlannedRequests; the runner turns them into HTTP bodies. Prompts are
// token-exact when a TextCodec (the model's tokenizer) is given: random and shared-prefix prompts
// are then drawn as token ids and sent as ids to /v1/completions (or decoded to text for chat).
// Without a codec, prompts are made of common English words (about one token each) and the
// server's reported usage gives the true counts.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::loadgen {

struct TextCodec {
  std::function<std::vector<int32_t>(std::string_view)> encode;
  std::function<std::string(const std::vector<int32_t>&)> decode;
  std::function<bool(int32_t)> is_plain_token;  // usable in random prompts (no control tokens)
  int32_t vocab_size = 0;
};

enum class WorkloadKind { kRandom, kSharedPrefix, kMultiTurn, kJsonl };

struct WorkloadOptions {
  WorkloadKind kind = WorkloadKind::kRandom;
  bool chat = false;            // /v1/chat/completions (messages) instead of /v1/completions
  int input_len = 256;          // prompt tokens (random, multi-turn user turns)
  int output_len = 64;          // max_tokens
  double range_ratio = 0.0;     // lengths uniform in [len*(1-r), len*(1+r)]
  int prefix_len = 1024;        // shared-prefix: common prefix tokens
  int suffix_len = 32;          // shared-prefix: unique tokens per request
  int turns = 3;                // multi-turn: user turns per conversation
  std::string jsonl_path;       // jsonl: prompts file
  uint64_t seed = 0;
};

struct PlannedRequest {
  nlohmann::json prompt;        // completions: string or array of ids
  nlohmann::json messages;      // chat: array of {role, content}
  int max_tokens = 0;
  int64_t prompt_tokens = 0;    // known count (token-exact), else an estimate
  bool token_exact = false;
};

class Workload {
 public:
  virtual ~Workload() = default;
  // The next request for `user` (closed loop) or arrival (open loop: user is the arrival index).
  virtual PlannedRequest Next(int user) = 0;
  // The generated text of the user's last request (multi-turn keeps the conversation).
  virtual void OnResponse(int /*user*/, const std::string& /*text*/) {}
};

// Builds the workload; fails on a bad option or an unreadable/malformed JSONL file (naming the
// line).
Result<std::unique_ptr<Workload>> MakeWorkload(const WorkloadOptions& options,
                                               std::shared_ptr<const TextCodec> codec);

}  // namespace hearth::loadgen
