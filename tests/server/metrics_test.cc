#include "hearth/server/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace hearth::server {
namespace {

// Parses "name{labels} value" sample lines into a map; checks every line is a comment or a
// well-formed sample.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    const auto space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

TEST(MetricsTest, RendersCountersGaugesAndEngineStats) {
  ServerMetrics metrics;
  metrics.CountRequest("/v1/chat/completions", 200);
  metrics.CountRequest("/v1/chat/completions?x=1", 200);
  metrics.CountRequest("/v1/completions", 400);
  metrics.CountRequest("/wp-admin", 404);
  engine::EngineStats stats;
  stats.running = 2;
  stats.waiting = 3;
  stats.kv_blocks_total = 100;
  stats.kv_blocks_used = 10;
  stats.kv_blocks_cached = 5;
  stats.prompt_tokens = 200;
  stats.cached_prompt_tokens = 50;
  stats.generated_tokens = 77;
  auto s = Samples(metrics.Render(stats, {4, 1}));
  EXPECT_EQ(s["hearth_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}"], 2);
  EXPECT_EQ(s["hearth_http_requests_total{endpoint=\"/v1/completions\",status=\"400\"}"], 1);
  EXPECT_EQ(s["hearth_http_requests_total{endpoint=\"other\",status=\"404\"}"], 1);
  EXPECT_EQ(s["hearth_sequences_running"], 2);
  EXPECT_EQ(s["hearth_sequences_waiting"], 3);
  EXPECT_EQ(s["hearth_kv_blocks_total"], 100);
  EXPECT_EQ(s["hearth_kv_blocks_used"], 10);
  EXPECT_EQ(s["hearth_kv_blocks_cached"], 5);
  EXPECT_EQ(s["hearth_prompt_tokens_total"], 200);
  EXPECT_EQ(s["hearth_generation_tokens_total"], 77);
  EXPECT_EQ(s["hearth_prefix_cache_hit_tokens_total"], 50);
  EXPECT_DOUBLE_EQ(s["hearth_prefix_cache_hit_rate"], 0.25);
  EXPECT_EQ(s["hearth_http_connections_active"], 4);
  EXPECT_EQ(s["hearth_requests_in_flight"], 1);
  EXPECT_EQ(metrics.RequestCount("/v1/chat/completions", 200), 2u);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  ServerMetrics metrics;
  const double values[] = {0.0005, 0.003, 0.003, 0.2, 100};
  for (double v : values) metrics.ObserveTimeToFirstToken(v);
  auto s = Samples(metrics.Render({}, {}));
  const std::string name = "hearth_time_to_first_token_seconds";
  EXPECT_EQ(s[name + "_bucket{le=\"0.001\"}"], 1);
  EXPECT_EQ(s[name + "_bucket{le=\"0.005\"}"], 3);
  EXPECT_EQ(s[name + "_bucket{le=\"0.25\"}"], 4);
  EXPECT_EQ(s[name + "_bucket{le=\"60\"}"], 4);
  EXPECT_EQ(s[name + "_bucket{le=\"+Inf\"}"], 5);
  EXPECT_EQ(s[name + "_count"], 5);
  EXPECT_NEAR(s[name + "_sum"], 100.2065, 1e-9);
  EXPECT_EQ(s["hearth_prefix_cache_hit_rate"], 0);  // no prompt tokens yet: 0, not NaN
}

}  // namespace
}  // namespace hearth::server
