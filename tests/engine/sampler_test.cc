#include "hearth/engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <vector>

namespace hearth::engine {
namespace {

// Reference: log-softmax in double, the plain textbook way.
std::vector<double> RefLogSoftmax(const std::vector<double>& x) {
  double m = *std::max_element(x.begin(), x.end());
  double s = 0;
  for (double v : x) s += std::exp(v - m);
  std::vector<double> out;
  for (double v : x) out.push_back(v - m - std::log(s));
  return out;
}

std::vector<double> RefSoftmax(const std::vector<double>& x) {
  std::vector<double> out = RefLogSoftmax(x);
  for (double& v : out) v = std::exp(v);
  return out;
}

std::vector<double> ToDouble(const std::vector<float>& x) { return {x.begin(), x.end()}; }

// Draws `n` tokens from fresh copies of `logits` with one sampler; returns counts per token.
std::map<int32_t, int> Draw(Sampler& sampler, const std::vector<float>& logits, int n) {
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> scratch = logits;
    ++counts[sampler.Sample(scratch).token];
  }
  return counts;
}

// Checks that empirical frequencies match `expected` probabilities (indexed by token) within an
// absolute tolerance of 5 standard errors (the seed is fixed, so this is deterministic; the
// tolerance only makes the check meaningful rather than tuned to one stream).
void ExpectFrequencies(const std::map<int32_t, int>& counts, const std::vector<double>& expected,
                       int n) {
  for (size_t token = 0; token < expected.size(); ++token) {
    const double p = expected[token];
    auto it = counts.find(static_cast<int32_t>(token));
    const double observed = it == counts.end() ? 0.0 : static_cast<double>(it->second) / n;
    const double tolerance = 5 * std::sqrt(std::max(p * (1 - p), 1e-6) / n) + 1e-9;
    EXPECT_NEAR(observed, p, tolerance) << "token " << token;
  }
}

const std::vector<float> kLogits = {1.0f, 2.5f, -0.5f, 0.3f, 2.0f, -3.0f, 1.7f, 0.0f};

TEST(SamplerRngTest, DeterministicAndUniform) {
  SamplerRng a(42), b(42), c(43);
  std::vector<uint64_t> sa, sc;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    sa.push_back(x);
    sc.push_back(c.NextU64());
  }
  EXPECT_NE(sa, sc);
  SamplerRng r(7);
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double u = r.NextDouble();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
}

TEST(SamplerValidateTest, RejectsOutOfRangeFieldsByName) {
  struct Case {
    const char* field;
    void (*mutate)(SamplingParams&);
  };
  const Case cases[] = {
      {"temperature", [](SamplingParams& p) { p.temperature = -0.1f; }},
      {"temperature", [](SamplingParams& p) { p.temperature = NAN; }},
      {"top_k", [](SamplingParams& p) { p.top_k = -1; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 0.0f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 1.5f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = -0.5f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 0.0f; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = 2.5f; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = -3.0f; }},
      {"top_logprobs", [](SamplingParams& p) { p.top_logprobs = 21; }},
      {"logit_bias", [](SamplingParams& p) { p.logit_bias = {{8, 1.0f}}; }},
      {"logit_bias", [](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; }},
      {"logit_bias", [](SamplingParams& p) { p.logit_bias = {{3, 101.0f}}; }},
  };
  for (const Case& c : cases) {
    SamplingParams p;
    c.mutate(p);
    Status s = ValidateSamplingParams(p, 8);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
  }
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}, 8).ok());
}

TEST(SamplerTest, GreedyPicksArgmaxLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 8);
  std::vector<float> l = kLogits;
  EXPECT_EQ(s.Sample(l).token, 1);
  std::vector<float> tie = {0.f, 3.f, 1.f, 3.f};
  Sampler s4(p, 4);
  EXPECT_EQ(s4.Sample(tie).token, 1);
}

TEST(SamplerTest, LogprobsAreLogSoftmaxOfTemperedLogits) {
  for (float temperature : {0.0f, 0.5f, 1.0f, 1.7f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.logprobs = true;
    p.top_logprobs = 3;
    Sampler s(p, 8);
    std::vector<double> ref_in = ToDouble(kLogits);
    if (temperature > 0) {
      for (double& v : ref_in) v /= temperature;
    }
    std::vector<double> ref = RefLogSoftmax(ref_in);
    std::vector<float> l = kLogits;
    TokenEvent e = s.Sample(l);
    EXPECT_NEAR(e.logprob, ref[e.token], 1e-5) << "T=" << temperature;
    // Top-3 by logit: ids 1 (2.5), 4 (2.0), 6 (1.7).
    ASSERT_EQ(e.top_logprobs.size(), 3u);
    const int32_t want[] = {1, 4, 6};
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(e.top_logprobs[i].first, want[i]);
      EXPECT_NEAR(e.top_logprobs[i].second, ref[want[i]], 1e-5);
    }
  }
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  p.logprobs = true;
  Sampler s(p, 8);
  const std::vector<int32_t> prompt = {1, 5};
  s.AddPrompt(prompt);
  s.AddGenerated(4);
  std::vector<double> ref = ToDouble(kLogits);
  ref[1] /= 2;  // 2.5 -> 1.25
  ref[5] *= 2;  // -3 -> -6
  ref[4] /= 2;  // 2.0 -> 1.0
  std::vector<double> ref_lp = RefLogSoftmax(ref);
  std::vector<float> l = kLogits;
  TokenEvent e = s.Sample(l);
  EXPECT_EQ(e.token, 6);  // 1.7 is now the largest
  EXPECT_NEAR(e.logprob, ref_lp[6], 1e-5);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(l[i], ref[i], 1e-6) << i;
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesCountGeneratedOnly) {
  SamplingParams p;
  p.temperature = 0;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p, 8);
  const std::vector<int32_t> prompt = {6, 6, 6};  // the prompt must not count
  s.AddPrompt(prompt);
  s.AddGenerated(1);
  s.AddGenerated(1);
  s.AddGenerated(4);
  std::vector<double> ref = ToDouble(kLogits);
  ref[1] -= 0.25 * 2 + 0.5;  // 1.5
  ref[4] -= 0.25 * 1 + 0.5;  // 1.25
  std::vector<float> l = kLogits;
  EXPECT_EQ(s.Sample(l).token, 6);  // 1.7 untouched
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(l[i], ref[i], 1e-6) << i;
}

TEST(SamplerTest, LogitBiasIsAdded) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{5, 6.0f}, {1, -100.0f}};
  Sampler s(p, 8);
  std::vector<float> l = kLogits;
  EXPECT_EQ(s.Sample(l).token, 5);  // -3 + 6 = 3 beats 2.5 - 100
  EXPECT_FLOAT_EQ(l[1], 2.5f - 100.0f);
}

TEST(SamplerTest, TemperatureSamplingMatchesSoftmaxFrequencies) {
  SamplingParams p;
  p.temperature = 0.8f;
  p.seed = 1234;
  Sampler s(p, 8);
  const int n = 40000;
  auto counts = Draw(s, kLogits, n);
  std::vector<double> x = ToDouble(kLogits);
  for (double& v : x) v /= 0.8;
  ExpectFrequencies(counts, RefSoftmax(x), n);
}

TEST(SamplerTest, TopKNeverSamplesOutsideKAndRenormalizes) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;
  p.seed = 99;
  Sampler s(p, 8);
  const int n = 30000;
  auto counts = Draw(s, kLogits, n);
  const std::set<int32_t> allowed = {1, 4, 6};
  for (const auto& [token, c] : counts) EXPECT_TRUE(allowed.count(token)) << token;
  std::vector<double> x = ToDouble(kLogits);
  for (int i = 0; i < 8; ++i) {
    if (!allowed.count(i)) x[i] = -1e300;
  }
  ExpectFrequencies(counts, RefSoftmax(x), n);
}

// Reference top-p: sort descending, keep the shortest prefix whose mass reaches p.
std::set<int32_t> RefTopP(const std::vector<double>& probs, double top_p) {
  std::vector<int32_t> ids(probs.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
  std::set<int32_t> kept;
  double cum = 0;
  for (int32_t id : ids) {
    if (cum >= top_p) break;
    kept.insert(id);
    cum += probs[id];
  }
  return kept;
}

TEST(SamplerTest, TopPKeepsShortestPrefixReachingMass) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.7f;
  p.seed = 5;
  Sampler s(p, 8);
  std::vector<double> probs = RefSoftmax(ToDouble(kLogits));
  std::set<int32_t> allowed = RefTopP(probs, 0.7);
  ASSERT_EQ(allowed, (std::set<int32_t>{1, 4, 6}));  // 0.39 + 0.24 + 0.18 reaches 0.7
  const int n = 30000;
  auto counts = Draw(s, kLogits, n);
  for (const auto& [token, c] : counts) EXPECT_TRUE(allowed.count(token)) << token;
  std::vector<double> x = ToDouble(kLogits);
  for (int i = 0; i < 8; ++i) {
    if (!allowed.count(i)) x[i] = -1e300;
  }
  ExpectFrequencies(counts, RefSoftmax(x), n);
}

TEST(SamplerTest, TopPOnLargeVocabularyMatchesReferenceSet) {
  // 5000 tokens exercise the incremental partial sort (more than its first 64 candidates).
  const int vocab = 5000;
  std::vector<float> logits(vocab);
  SamplerRng gen(3);
  for (float& v : logits) v = static_cast<float>(gen.NextDouble() * 2.0);
  SamplingParams p;
  p.top_p = 0.5f;
  p.seed = 11;
  Sampler s(p, vocab);
  std::set<int32_t> allowed = RefTopP(RefSoftmax(ToDouble(logits)), 0.5);
  ASSERT_GT(allowed.size(), 64u);
  auto counts = Draw(s, logits, 1000);
  for (const auto& [token, c] : counts) EXPECT_TRUE(allowed.count(token)) << token;
  EXPECT_GT(counts.size(), allowed.size() / 4);  // it really samples across the kept set
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfMax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.4f;
  p.seed = 8;
  Sampler s(p, 8);
  std::vector<double> probs = RefSoftmax(ToDouble(kLogits));
  const double pmax = *std::max_element(probs.begin(), probs.end());
  std::set<int32_t> allowed;
  for (int i = 0; i < 8; ++i) {
    if (probs[i] >= 0.4 * pmax) allowed.insert(i);
  }
  ASSERT_EQ(allowed, (std::set<int32_t>{1, 4, 6}));
  const int n = 30000;
  auto counts = Draw(s, kLogits, n);
  for (const auto& [token, c] : counts) EXPECT_TRUE(allowed.count(token)) << token;
  std::vector<double> x = ToDouble(kLogits);
  for (int i = 0; i < 8; ++i) {
    if (!allowed.count(i)) x[i] = -1e300;
  }
  ExpectFrequencies(counts, RefSoftmax(x), n);
}

TEST(SamplerTest, TruncationsCompose) {
  // top_k 4 keeps {1,4,6,0}; top_p 0.6 of that set (renormalized) keeps {1,4}; min_p 0.7
  // then drops 4 (p4/p1 = e^-0.5 = 0.61 < 0.7), leaving only token 1.
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 4;
  p.top_p = 0.6f;
  p.min_p = 0.7f;
  Sampler s(p, 8);
  auto counts = Draw(s, kLogits, 500);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.begin()->first, 1);
}

TEST(SamplerTest, SameSeedSameStreamOneDrawPerToken) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 77;
  Sampler a(p, 8), b(p, 8);
  // Different first inputs (one of them forces a single candidate) consume one draw each, so
  // the second tokens agree: a sequence's stream does not depend on what its logits were.
  std::vector<float> first_a = kLogits;
  std::vector<float> first_b = {0, 0, 0, 0, 0, 0, 0, 100};
  a.Sample(first_a);
  b.Sample(first_b);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> la = kLogits, lb = kLogits;
    EXPECT_EQ(a.Sample(la).token, b.Sample(lb).token);
  }
  SamplingParams other = p;
  other.seed = 78;
  Sampler c(p, 8), d(other, 8);
  std::vector<int32_t> tc, td;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> lc = kLogits, ld = kLogits;
    tc.push_back(c.Sample(lc).token);
    td.push_back(d.Sample(ld).token);
  }
  EXPECT_NE(tc, td);
}

TEST(SamplerTest, NanLogitsAreNeverChosen) {
  SamplingParams p;
  p.temperature = 1.0f;
  Sampler s(p, 4);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> l = {NAN, 1.0f, NAN, 0.5f};
    int32_t t = s.Sample(l).token;
    EXPECT_TRUE(t == 1 || t == 3);
  }
}

}  // namespace
}  // namespace hearth::engine
