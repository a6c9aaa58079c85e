#include "hearth/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "hearth/kernels/ops.h"

namespace hearth::engine {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t RotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Larger value first, lower id on ties: a strict total order, so results never depend on the
// sort algorithm's treatment of equal keys.
struct ByValueDesc {
  std::span<const float> values;
  bool operator()(int32_t a, int32_t b) const {
    if (values[a] != values[b]) return values[a] > values[b];
    return a < b;
  }
};

// Tokens whose logit trails the best by more than this carry a probability below
// e^-40 / e^0 = 4e-18 relative to it; even 150k of them together change no decision, so
// truncation and sampling skip them instead of computing their exponentials.
constexpr float kNegligibleLogitGap = 40.0f;

// The largest value's index, the lowest one on ties. The maximum is found with eight
// independent running maxima (a single one makes every step wait for the previous compare,
// which over a 150k vocabulary costs more than the rest of greedy sampling).
int32_t ArgMax(std::span<const float> values) {
  constexpr size_t kLanes = 8;
  float lane_max[kLanes];
  std::fill(std::begin(lane_max), std::end(lane_max), -std::numeric_limits<float>::infinity());
  const size_t n = values.size();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      lane_max[j] = values[i + j] > lane_max[j] ? values[i + j] : lane_max[j];
    }
  }
  float best = *std::max_element(std::begin(lane_max), std::end(lane_max));
  for (; i < n; ++i) best = values[i] > best ? values[i] : best;
  for (size_t k = 0; k < n; ++k) {
    if (values[k] == best) return static_cast<int32_t>(k);
  }
  return 0;  // every value is -inf: any index is as good
}

// Reorders ids[0, n) so that its first m entries are the shortest prefix of the descending
// order whose weights sum to at least top_p of the total (in no particular order); returns
// m (at least 1). `weight[id]` is token id's probability. Sorting a
// 150k vocabulary per token would cost milliseconds, so candidates are binned by their gap to
// the best logit: every bin above the one where the running mass crosses the target is kept
// whole, and only that boundary bin is sorted.
size_t TopPrefixReachingMass(std::vector<int32_t>& ids, size_t n, std::span<const float> logits,
                             float max_logit, std::span<const float> weight,
                             const ByValueDesc& order, double top_p,
                             std::vector<uint16_t>& bin_of_id) {
  constexpr int kBins = 512;
  constexpr float kBinsPerUnit = kBins / kNegligibleLogitGap;
  double total = 0;
  double bin_mass[kBins] = {};
  bin_of_id.resize(logits.size());
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    const int bin = std::min(kBins - 1, static_cast<int>((max_logit - logits[id]) * kBinsPerUnit));
    bin_of_id[id] = static_cast<uint16_t>(bin);
    bin_mass[bin] += weight[id];
    total += weight[id];
  }
  const double target = top_p * total;
  int boundary = 0;
  double cumulative = 0;  // mass of the bins before `boundary`
  while (boundary < kBins - 1 && cumulative + bin_mass[boundary] < target) {
    cumulative += bin_mass[boundary++];
  }
  // Bins before the boundary (kept whole, in any order), then the boundary bin (sorted, kept
  // up to the target), then the rest (dropped). A bin's logits all exceed the next bin's, so
  // this is exactly the prefix of the fully sorted order.
  const auto end = ids.begin() + static_cast<long>(n);
  auto upper_end =
      std::partition(ids.begin(), end, [&](int32_t id) { return bin_of_id[id] < boundary; });
  auto boundary_end =
      std::partition(upper_end, end, [&](int32_t id) { return bin_of_id[id] == boundary; });
  std::sort(upper_end, boundary_end, order);
  size_t m = static_cast<size_t>(upper_end - ids.begin());
  const size_t limit = static_cast<size_t>(boundary_end - ids.begin());
  while (m < limit && cumulative < target) cumulative += weight[ids[m++]];
  return std::max<size_t>(m, 1);
}

}  // namespace

SamplerRng::SamplerRng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : state_) s = SplitMix64(x);
}

uint64_t SamplerRng::NextU64() {
  const uint64_t result = RotateLeft(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = RotateLeft(state_[3], 45);
  return result;
}

double SamplerRng::NextDouble() {
  return static_cast<double>(NextU64() >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

Status ValidateSamplingParams(const SamplingParams& p, int vocab_size) {
  if (!std::isfinite(p.temperature) || p.temperature < 0) {
    return Status::InvalidArgument(
        fmt::format("temperature {} is invalid: it must be a finite number >= 0", p.temperature));
  }
  if (p.top_k < 0) {
    return Status::InvalidArgument(fmt::format("top_k {} is invalid: it must be >= 0", p.top_k));
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) {
    return Status::InvalidArgument(
        fmt::format("top_p {} is invalid: it must be in (0, 1]", p.top_p));
  }
  if (!(p.min_p >= 0 && p.min_p <= 1)) {
    return Status::InvalidArgument(
        fmt::format("min_p {} is invalid: it must be in [0, 1]", p.min_p));
  }
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0) {
    return Status::InvalidArgument(fmt::format(
        "repetition_penalty {} is invalid: it must be a finite number > 0", p.repetition_penalty));
  }
  if (!(p.presence_penalty >= -2 && p.presence_penalty <= 2)) {
    return Status::InvalidArgument(fmt::format(
        "presence_penalty {} is invalid: it must be in [-2, 2]", p.presence_penalty));
  }
  if (!(p.frequency_penalty >= -2 && p.frequency_penalty <= 2)) {
    return Status::InvalidArgument(fmt::format(
        "frequency_penalty {} is invalid: it must be in [-2, 2]", p.frequency_penalty));
  }
  if (p.top_logprobs < 0 || p.top_logprobs > kMaxTopLogprobs) {
    return Status::InvalidArgument(fmt::format("top_logprobs {} is invalid: it must be in [0, {}]",
                                               p.top_logprobs, kMaxTopLogprobs));
  }
  for (const auto& [token, bias] : p.logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return Status::InvalidArgument(fmt::format(
          "logit_bias names token {}, outside the vocabulary [0, {})", token, vocab_size));
    }
    if (!(bias >= -100 && bias <= 100)) {
      return Status::InvalidArgument(fmt::format(
          "logit_bias {} for token {} is invalid: it must be in [-100, 100]", bias, token));
    }
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplingParams& params, int vocab_size)
    : params_(params), vocab_size_(vocab_size), rng_(params.seed) {}

void Sampler::AddPrompt(std::span<const int32_t> prompt) {
  if (params_.repetition_penalty == 1.0f) return;
  seen_tokens_.insert(prompt.begin(), prompt.end());
}

void Sampler::AddGenerated(int32_t token) {
  if (params_.repetition_penalty != 1.0f) seen_tokens_.insert(token);
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    ++generated_counts_[token];
  }
}

void Sampler::ApplyBiasAndPenalties(std::span<float> logits) const {
  // A NaN would break every comparison below; a model that produces one gets it treated as
  // "never pick this token" rather than undefined behaviour.
  for (float& v : logits) {
    if (std::isnan(v)) v = kNegInf;
  }
  for (const auto& [token, bias] : params_.logit_bias) logits[token] += bias;
  const float penalty = params_.repetition_penalty;
  for (int32_t token : seen_tokens_) {
    if (token < 0 || token >= vocab_size_) continue;
    float& v = logits[token];
    v = v > 0 ? v / penalty : v * penalty;
  }
  for (const auto& [token, count] : generated_counts_) {
    if (token < 0 || token >= vocab_size_) continue;
    logits[token] -= params_.frequency_penalty * static_cast<float>(count) +
                     params_.presence_penalty * (count > 0 ? 1.0f : 0.0f);
  }
}

TokenEvent Sampler::Sample(std::span<float> logits) {
  ApplyBiasAndPenalties(logits);
  const bool greedy = params_.temperature == 0.0f;
  if (!greedy) {
    const float inv_t = 1.0f / params_.temperature;
    for (float& v : logits) v *= inv_t;
  }
  const int32_t max_id = ArgMax(logits);
  const float max_logit = logits[max_id];

  TokenEvent event;
  if (!std::isfinite(max_logit)) {
    // Every token is impossible (only a broken model gets here): answer deterministically.
    event.token = max_id;
    event.logprob = kNegInf;
    return event;
  }
  const bool want_logprobs = params_.logprobs || params_.top_logprobs > 0;
  double log_z = 0;  // log of the softmax normalizer
  if (!greedy || want_logprobs) {
    // One vectorized softmax serves both sampling (probabilities) and log-probabilities:
    // p_max = exp(0) / Z, so log Z = max - log p_max.
    probs_.assign(logits.begin(), logits.end());
    kernels::Softmax(probs_.data(), vocab_size_);
    log_z = static_cast<double>(max_logit) - std::log(static_cast<double>(probs_[max_id]));
  }
  event.token = greedy ? max_id : SampleFromTruncated(logits, max_logit, probs_[max_id]);

  if (want_logprobs) {
    event.logprob = static_cast<float>(logits[event.token] - log_z);
    if (params_.top_logprobs > 0) {
      const int n = std::min(params_.top_logprobs, vocab_size_);
      candidate_ids_.resize(vocab_size_);
      std::iota(candidate_ids_.begin(), candidate_ids_.end(), 0);
      std::partial_sort(candidate_ids_.begin(), candidate_ids_.begin() + n, candidate_ids_.end(),
                        ByValueDesc{logits});
      event.top_logprobs.reserve(n);
      for (int i = 0; i < n; ++i) {
        const int32_t id = candidate_ids_[i];
        event.top_logprobs.emplace_back(id, static_cast<float>(logits[id] - log_z));
      }
    }
  }
  return event;
}

int32_t Sampler::SampleFromTruncated(std::span<const float> scaled, float max_logit,
                                     float max_prob) {
  const double u = rng_.NextDouble();  // always exactly one draw per sampled token
  const ByValueDesc order{scaled};
  // Candidates: tokens within kNegligibleLogitGap of the best, and with top-k only the k best
  // of those. Neither step needs an exponential.
  const float floor = max_logit - kNegligibleLogitGap;
  std::vector<int32_t>& ids = candidate_ids_;
  ids.clear();
  if (params_.top_k > 0 && params_.top_k < vocab_size_) {
    // One pass with a heap of the k best so far, worst on top: most tokens lose a single
    // comparison against the heap top.
    const auto k = static_cast<size_t>(params_.top_k);
    for (int32_t id = 0; id < vocab_size_; ++id) {
      if (scaled[id] < floor) continue;
      if (ids.size() < k) {
        ids.push_back(id);
        std::push_heap(ids.begin(), ids.end(), order);
      } else if (order(id, ids.front())) {
        std::pop_heap(ids.begin(), ids.end(), order);
        ids.back() = id;
        std::push_heap(ids.begin(), ids.end(), order);
      }
    }
  } else {
    for (int32_t id = 0; id < vocab_size_; ++id) {
      if (scaled[id] >= floor) ids.push_back(id);
    }
  }
  size_t kept = ids.size();

  const std::span<const float> weight = probs_;

  // Top-p over the top-k set: the shortest prefix in descending order whose mass reaches
  // top_p of the set's mass.
  if (params_.top_p < 1.0f) {
    kept = TopPrefixReachingMass(ids, kept, scaled, max_logit, weight, order, params_.top_p,
                                 candidate_bins_);
  }

  // Min-p: keep p >= min_p * p_max (the argmax survives top-k and top-p, and always this).
  // The order of the kept ids does not matter from here on.
  if (params_.min_p > 0.0f) {
    const float threshold = params_.min_p * max_prob;
    const auto end = std::partition(ids.begin(), ids.begin() + static_cast<long>(kept),
                                    [&](int32_t id) { return weight[id] >= threshold; });
    kept = std::max<size_t>(static_cast<size_t>(end - ids.begin()), 1);
  }

  double total = 0;
  for (size_t i = 0; i < kept; ++i) total += weight[ids[i]];
  const double threshold = u * total;
  double cumulative = 0;
  for (size_t i = 0; i < kept; ++i) {
    cumulative += weight[ids[i]];
    if (threshold < cumulative) return ids[i];
  }
  return ids[kept - 1];  // rounding left u * total at the very top
}

}  // namespace hearth::engine
