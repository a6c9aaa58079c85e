// Sampler: turns one position's logits into the next token, for one sequence.
//
// A Sampler belongs to one sequence and carries everything that sequence's choices depend on:
// its own random stream (seeded from SamplingParams::seed, advanced exactly once per sampled
// token) and the tokens it has seen. So a sequence's output depends only on its seed, its prompt
// and the logits it is given, never on which other sequences share the batch.
//
// The pipeline, in order:
//   1. logit_bias is added to the named tokens;
//   2. repetition penalty (llama.cpp / CTRL style) over every token of prompt + generated text:
//      a positive logit is divided by the penalty, a negative one multiplied;
//   3. presence and frequency penalties (OpenAI semantics) over generated tokens only:
//      logit -= frequency_penalty * count + presence_penalty * (count > 0);
//   4. temperature: logits / T (T == 0 selects greedy: the largest logit, lowest id on ties);
//   5. truncation on the tempered distribution: top-k, then top-p over what top-k kept
//      (renormalized), then min-p (keep p >= min_p * p_max);
//   6. one uniform draw picks a token from the kept set in proportion to its probability.
// Reported log-probabilities are those of the distribution after steps 1-4 and before
// truncation (at T == 0 the untempered distribution after steps 1-3). That is what OpenAI's
// `logprobs` describe: how likely the model, as configured by the request's penalties and
// temperature, found each token; truncation is a sampling device and would report -inf for
// every alternative outside the kept set.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/engine/engine.h"

namespace hearth::engine {

// Most alternatives a request may ask for per token (OpenAI's limit).
inline constexpr int kMaxTopLogprobs = 20;

// A small, fast, well-mixed 64-bit generator (xoshiro256**), seeded through splitmix64 so that
// nearby seeds give unrelated streams. Written out here so that the sequence of draws is fixed
// by this code, not by a standard library's distribution implementation.
class SamplerRng {
 public:
  explicit SamplerRng(uint64_t seed);
  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double NextDouble();

 private:
  uint64_t state_[4];
};

// Checks every field against its allowed range; the message names the field and the value.
Status ValidateSamplingParams(const SamplingParams& params, int vocab_size);

class Sampler {
 public:
  // `params` must have passed ValidateSamplingParams for this vocab_size.
  Sampler(const SamplingParams& params, int vocab_size);

  // Records the prompt (for the repetition penalty). Call once before the first Sample.
  void AddPrompt(std::span<const int32_t> prompt);
  // Records a generated token (for all three penalties). Sample() does not do this itself so
  // the caller decides what counts as generated.
  void AddGenerated(int32_t token);

  // Picks the next token from `logits` (vocab_size values), which is used as scratch space and
  // left modified. Advances the random stream by exactly one draw when sampling (not greedy).
  TokenEvent Sample(std::span<float> logits);

  const SamplingParams& params() const { return params_; }

 private:
  void ApplyBiasAndPenalties(std::span<float> logits) const;
  // Draws from `scaled_logits` after truncation; probs_ holds their softmax.
  int32_t SampleFromTruncated(std::span<const float> scaled_logits, float max_logit,
                              float max_prob);

  SamplingParams params_;
  int vocab_size_;
  SamplerRng rng_;
  std::unordered_set<int32_t> seen_tokens_;             // prompt + generated
  std::unordered_map<int32_t, int> generated_counts_;   // generated only
  // Scratch reused between calls: the softmax of the processed logits, candidate ids, and
  // the top-p bin of each candidate.
  std::vector<float> probs_;
  std::vector<int32_t> candidate_ids_;
  std::vector<uint16_t> candidate_bins_;
};

}  // namespace hearth::engine
