#include "hearth/loadgen/request_metrics.h"

#include <gtest/gtest.h>

namespace hearth::loadgen {
namespace {

TEST(RequestMetricsTest, PercentilesInterpolateLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};  // sorted: 1 2 3 4
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 90), 3.7);  // rank 2.7
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4);
  EXPECT_DOUBLE_EQ(Percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(Percentile({7}, 99), 7);
}

TEST(RequestMetricsTest, TpotExcludesFirstTokenAndGoodputAppliesSlos) {
  RequestRecord a;
  a.ok = true;
  a.ttft_s = 1.0;
  a.latency_s = 2.0;
  a.output_tokens = 11;  // 10 gaps over 1 s -> TPOT 0.1 s
  a.prompt_tokens = 100;
  a.itl_s = {0.1, 0.1};
  RequestRecord b = a;
  b.ttft_s = 3.0;
  b.latency_s = 3.5;
  b.output_tokens = 1;  // one token: no TPOT sample
  RequestRecord failed;
  failed.error_kind = "http_503";
  Slo slo;
  slo.ttft_s = 2.0;
  auto s = Summarize({a, b, failed}, 4.0, slo);
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.errors_by_kind.at("http_503"), 1);
  EXPECT_EQ(s.tpot_s.count, 1);
  EXPECT_NEAR(s.tpot_s.mean, 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(s.output_token_throughput, 12.0 / 4.0);
  EXPECT_DOUBLE_EQ(s.input_token_throughput, 200.0 / 4.0);
  EXPECT_DOUBLE_EQ(s.request_throughput, 0.5);
  EXPECT_DOUBLE_EQ(s.goodput, 1.0 / 4.0);  // only a meets TTFT <= 2 s
  EXPECT_DOUBLE_EQ(s.ttft_s.median, 2.0);
  EXPECT_EQ(s.itl_s.count, 4);
}

}  // namespace
}  // namespace hearth::loadgen
