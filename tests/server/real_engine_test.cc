// The API over real sockets on the real engine and fixture models: greedy output equal to an
// independent reference, concurrency equal to sequential, prefix-cache hits in /metrics, the KV
// pool whole again after a storm of cancelled streams, and graceful shutdown mid-stream.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api_test_support.h"
#include "hearth/server/server.h"
#include "support/fixtures.h"

namespace hearth::server {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using nlohmann::json;

ServeOptions StoriesOptions() {
  ServeOptions options;
  options.engine.model_path = hearth::testing::FixturePath("models/stories260K.gguf");
  options.engine.threads = 2;
  options.engine.context_length = 256;
  options.engine.max_parallel = 4;
  options.http.port = 0;
  options.http.io_threads = 2;
  options.model_name = "test-model";
  return options;
}

// One stories260K server for the suite: loading is cheap, but not free under sanitizers.
class RealEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(StoriesOptions().engine.model_path)) return;
    auto server = Server::Start(StoriesOptions());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    HEARTH_REQUIRE_FIXTURE(StoriesOptions().engine.model_path);
    ASSERT_NE(server_, nullptr);
    port_ = server_->port();
  }

  bool WaitForIdleEngine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto s = server_->engine().Stats();
      if (s.running == 0 && s.waiting == 0 && s.kv_blocks_used == 0) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // The value of an unlabelled sample "name value" in Prometheus text, or -1.
  static double MetricValue(const std::string& metrics, const std::string& name) {
    const std::string key = "\n" + name + " ";
    const size_t at = metrics.find(key);
    if (at == std::string::npos) return -1;
    return std::stod(metrics.substr(at + key.size()));
  }

  static Server* server_;
  uint16_t port_ = 0;
};
Server* RealEngineTest::server_ = nullptr;

std::string GreedyCompletion(const json& prompt, int max_tokens, bool stream = false) {
  json body = {{"prompt", prompt},
               {"max_tokens", max_tokens},
               {"temperature", 0},
               {"ignore_eos", true},
               {"stream", stream}};
  return body.dump();
}

TEST_F(RealEngineTest, GreedyOutputMatchesTheIndependentReference) {
  // stories260K_greedy_The_little_dog_32.txt: float64 reference generation (every top-1/top-2
  // margin is above 0.1, so the 32 tokens are unambiguous).
  std::ifstream in(hearth::testing::FixturePath("models/stories260K_greedy_The_little_dog_32.txt"));
  std::string line, text;
  while (std::getline(in, line)) {
    if (line.rfind("text: '", 0) == 0) text = line.substr(7, line.size() - 8);
  }
  ASSERT_EQ(text.rfind("The little dog", 0), 0u) << text;
  const std::string expected = text.substr(std::string("The little dog").size());
  const json prompt = {1, 291, 376, 400, 428};
  auto r = PostJson(port_, "/v1/completions", GreedyCompletion(prompt, 32));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["choices"][0]["text"], expected);
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 32);
  // The same text streamed, and from the text form of the prompt.
  auto s = PostStream(port_, "/v1/completions", GreedyCompletion(prompt, 32, true));
  EXPECT_TRUE(s.done);
  EXPECT_EQ(StreamedText(s), expected);
  auto t = PostJson(port_, "/v1/completions", GreedyCompletion("The little dog", 32));
  EXPECT_EQ(t.body["choices"][0]["text"], expected);
}

TEST_F(RealEngineTest, ConcurrentRequestsGiveTheSequentialGreedyOutputs) {
  const std::vector<std::string> prompts = {"Once upon a time", "The cat", "Lily and Ben went",
                                            "Tom had a red ball"};
  std::vector<std::string> sequential;
  for (const auto& p : prompts) {
    auto r = PostJson(port_, "/v1/completions", GreedyCompletion(p, 24));
    ASSERT_EQ(r.status, 200) << r.body;
    sequential.push_back(r.body["choices"][0]["text"]);
  }
  std::vector<std::string> concurrent(prompts.size() * 2);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < concurrent.size(); ++i) {
    threads.emplace_back([&, i] {
      const auto& p = prompts[i % prompts.size()];
      if (i < prompts.size()) {
        concurrent[i] =
            PostJson(port_, "/v1/completions", GreedyCompletion(p, 24)).body["choices"][0]["text"];
      } else {
        concurrent[i] = StreamedText(
            PostStream(port_, "/v1/completions", GreedyCompletion(p, 24, /*stream=*/true)));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < concurrent.size(); ++i) {
    EXPECT_EQ(concurrent[i], sequential[i % prompts.size()]) << prompts[i % prompts.size()];
  }
  // n choices share the prompt and, greedy, agree with the single one.
  auto n3 = PostJson(port_, "/v1/completions",
                     json({{"prompt", prompts[0]},
                           {"max_tokens", 24},
                           {"temperature", 0},
                           {"ignore_eos", true},
                           {"n", 3}})
                         .dump());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(n3.body["choices"][i]["text"], sequential[0]);
}

TEST_F(RealEngineTest, SharedPromptHitsThePrefixCache) {
  // A 64-token prompt from reference-prompts.txt: four full KV blocks of 16.
  std::ifstream in(hearth::testing::FixturePath("models/reference-prompts.txt"));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  json prompt = json::array();
  std::istringstream ids(line);
  for (int id; ids >> id;) prompt.push_back(id);
  ASSERT_EQ(prompt.size(), 64u);
  const double hits_before =
      MetricValue(Fetch(port_, "GET", "/metrics")->body, "hearth_prefix_cache_hit_tokens_total");
  auto first = PostJson(port_, "/v1/completions", GreedyCompletion(prompt, 4));
  auto second = PostJson(port_, "/v1/completions", GreedyCompletion(prompt, 4));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(first.body["choices"][0]["text"], second.body["choices"][0]["text"]);
  const int cached = second.body["usage"]["prompt_tokens_details"]["cached_tokens"];
  EXPECT_GE(cached, 48) << second.body;
  EXPECT_LT(cached, 64);  // the last prompt token is always computed, for its logits
  // The engine publishes its stats after each step, and a response can reach the client before
  // the step that finished it has published: poll until the released blocks show as cached.
  std::string metrics;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  do {
    metrics = Fetch(port_, "GET", "/metrics")->body;
    if (MetricValue(metrics, "hearth_kv_blocks_cached") > 0.0) break;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_GE(MetricValue(metrics, "hearth_prefix_cache_hit_tokens_total") - hits_before, cached);
  EXPECT_GT(MetricValue(metrics, "hearth_prefix_cache_hit_rate"), 0.0);
  EXPECT_GT(MetricValue(metrics, "hearth_kv_blocks_cached"), 0.0);
}

TEST_F(RealEngineTest, StormOfCancelledStreamsLeavesThePoolFull) {
  ASSERT_TRUE(WaitForIdleEngine(10s));
  const int64_t total = server_->engine().Stats().kv_blocks_total;
  std::vector<std::thread> clients;
  for (int i = 0; i < 24; ++i) {
    clients.emplace_back([this, i] {
      TestConnection c(port_);
      const std::string body =
          i % 2 ? json({{"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}},
                        {"stream", true},
                        {"max_tokens", 200},
                        {"ignore_eos", true},
                        {"seed", i}})
                      .dump()
                : GreedyCompletion("Once upon a time " + std::to_string(i), 200, true);
      c.SendRequest("POST", i % 2 ? "/v1/chat/completions" : "/v1/completions", body);
      c.ReadHeaders();
      for (int k = 0; k < i % 5; ++k) c.ReadChunk();
      c.Close(/*reset=*/i % 3 == 0);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_TRUE(WaitForIdleEngine(20s));
  const auto stats = server_->engine().Stats();
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.kv_blocks_total, total);
  EXPECT_LE(stats.kv_blocks_cached, total);
  // The server still answers normally afterwards.
  EXPECT_EQ(PostJson(port_, "/v1/completions", GreedyCompletion("The", 4)).status, 200);
}

TEST_F(RealEngineTest, ChatAndErrorsOnTheRealModel) {
  auto chat = PostJson(port_, "/v1/chat/completions",
                       json({{"model", "test-model"},
                             {"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                             {"max_tokens", 8},
                             {"temperature", 0}})
                           .dump());
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(chat.body["choices"][0]["message"]["role"], "assistant");
  EXPECT_GT(chat.body["usage"]["prompt_tokens"].get<int>(), 1);
  json long_prompt = json::array();
  for (int i = 0; i < 300; ++i) long_prompt.push_back(300 + i % 100);
  auto too_long = PostJson(port_, "/v1/completions", json({{"prompt", long_prompt}}).dump());
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.body["error"]["code"], "context_length_exceeded");
  const std::string message = too_long.body["error"]["message"];
  EXPECT_NE(message.find("256"), std::string::npos) << message;
  EXPECT_NE(message.find("300"), std::string::npos) << message;
  auto bad_token = PostJson(port_, "/v1/completions", R"({"prompt": [1, 512]})");
  EXPECT_EQ(bad_token.status, 400);
  EXPECT_EQ(bad_token.body["error"]["param"], "prompt[1]");
}

TEST(RealEngineShutdownTest, GracefulShutdownFinishesInFlightStreams) {
  HEARTH_REQUIRE_FIXTURE(StoriesOptions().engine.model_path);
  auto started = Server::Start(StoriesOptions());
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Server> server = std::move(*started);
  TestConnection c(server->port());
  ASSERT_TRUE(c.SendRequest("POST", "/v1/completions", GreedyCompletion("Once", 120, true)));
  ASSERT_TRUE(c.ReadHeaders().has_value());
  std::thread shutdown([&] { server->Shutdown(30s); });
  std::string body;
  while (auto chunk = c.ReadChunk()) body += *chunk;
  shutdown.join();
  const auto events = ParseSse(body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto last = json::parse(events[events.size() - 2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(c.WaitForClose(2s));
}

TEST(RealEngineShutdownTest, DrainTimeoutEndsStreamsWithAnErrorEvent) {
  HEARTH_REQUIRE_FIXTURE(StoriesOptions().engine.model_path);
  auto started = Server::Start(StoriesOptions());
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Server> server = std::move(*started);
  TestConnection c(server->port());
  // Long enough that it cannot finish within the drain time.
  ASSERT_TRUE(c.SendRequest("POST", "/v1/completions", GreedyCompletion("Once", 250, true)));
  ASSERT_TRUE(c.ReadHeaders().has_value());
  ASSERT_TRUE(c.ReadChunk().has_value());
  std::thread shutdown([&] { server->Shutdown(1ms); });
  std::string body;
  while (auto chunk = c.ReadChunk()) body += *chunk;
  shutdown.join();
  const auto events = ParseSse(body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto error = json::parse(events[events.size() - 2]);
  EXPECT_EQ(error["error"]["message"], "the server is shutting down") << error;
}

}  // namespace
}  // namespace hearth::server
