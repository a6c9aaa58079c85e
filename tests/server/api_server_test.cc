// The OpenAI-compatible API over real sockets, on a deterministic fake engine (fake_engine.h):
// response shapes, SSE framing, stop strings, n, logprobs, every error status, disconnects and
// graceful shutdown. The same paths on the real engine are in real_engine_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "api_test_support.h"
#include "fake_engine.h"

namespace hearth::server {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using nlohmann::json;

std::vector<int32_t> TokensOf(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

const std::string kReply = "Hello, world! Grüße 🎉 and STOP then more";

class ApiServerTest : public ::testing::Test {
 protected:
  void Start(FakeEngine::Options engine_options = {}, ApiServiceOptions api_options = {},
             HttpServerOptions http_options = {}) {
    engine_ = std::make_unique<FakeEngine>(
        engine_options, [this](const engine::GenerationRequest& r) { return script_(r); });
    api_options.model_name = "test-model";
    api_ = std::make_unique<ApiService>(*engine_, codec_, metrics_, api_options);
    http_options.port = 0;
    http_ = std::make_unique<HttpServer>(
        http_options,
        [this](HttpRequest& r, const std::shared_ptr<ResponseChannel>& c) { api_->Handle(r, c); },
        &metrics_);
    api_->set_connection_count([this] { return http_->active_connections(); });
    ASSERT_TRUE(http_->Start().ok());
    port_ = http_->port();
  }

  void TearDown() override {
    // Engine first: its last callbacks post into the I/O context, which must still exist.
    if (engine_) engine_->Shutdown(0);
    if (http_) http_->Stop();
  }

  // Waits until the engine holds no sequence and the server no job.
  bool WaitForQuiet(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto stats = engine_->Stats();
      if (stats.running == 0 && stats.waiting == 0 && stats.kv_blocks_used == 0 &&
          api_->jobs_in_flight() == 0 && api_->live_sequences() == 0) {
        return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  std::function<std::vector<int32_t>(const engine::GenerationRequest&)> script_ =
      [](const engine::GenerationRequest&) { return TokensOf(kReply); };
  FakeCodec codec_;
  ServerMetrics metrics_;
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<HttpServer> http_;
  uint16_t port_ = 0;
};

TEST_F(ApiServerTest, NonStreamingChatHasTheOpenAiShape) {
  Start();
  auto r = PostJson(port_, "/v1/chat/completions", ChatBody("hi"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.raw.header("content-type"), "application/json");
  const json& b = r.body;
  EXPECT_EQ(b["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(b["object"], "chat.completion");
  EXPECT_EQ(b["model"], "test-model");
  EXPECT_TRUE(b["created"].is_number_integer());
  ASSERT_EQ(b["choices"].size(), 1u);
  EXPECT_EQ(b["choices"][0]["index"], 0);
  EXPECT_EQ(b["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(b["choices"][0]["message"]["content"], kReply);
  EXPECT_EQ(b["choices"][0]["finish_reason"], "stop");
  const int prompt =
      static_cast<int>(FakeCodec::Bytes(FakeCodec::RenderChat({{"user", "hi"}})).size());
  EXPECT_EQ(b["usage"]["prompt_tokens"], prompt);
  EXPECT_EQ(b["usage"]["completion_tokens"], kReply.size());
  EXPECT_EQ(b["usage"]["total_tokens"], prompt + static_cast<int>(kReply.size()));
}

TEST_F(ApiServerTest, StreamingChatIsFramedAsOpenAiClientsExpect) {
  Start();
  auto r =
      PostStream(port_, "/v1/chat/completions",
                 ChatBody("hi", R"("stream": true, "stream_options": {"include_usage": true})"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.raw.header("content-type"), "text/event-stream");
  EXPECT_TRUE(r.raw.chunked);
  EXPECT_TRUE(r.done);
  ASSERT_GE(r.events.size(), 4u);
  const std::string id = r.events[0]["id"];
  EXPECT_EQ(id.rfind("chatcmpl-", 0), 0u);
  for (const auto& e : r.events) {
    EXPECT_EQ(e["id"], id);
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["model"], "test-model");
  }
  // First: the role, with empty content.
  EXPECT_EQ(r.events[0]["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(r.events[0]["choices"][0]["finish_reason"].is_null());
  // Then content, then an empty delta with the finish reason, then usage with no choices.
  const json& last_choice = r.events[r.events.size() - 2]["choices"][0];
  EXPECT_EQ(last_choice["delta"], json::object());
  EXPECT_EQ(last_choice["finish_reason"], "stop");
  const json& usage = r.events.back();
  EXPECT_EQ(usage["choices"], json::array());
  EXPECT_EQ(usage["usage"]["completion_tokens"], kReply.size());
  EXPECT_EQ(StreamedText(r), kReply);
  // Multi-byte characters arrive whole: no chunk carries a broken sequence (the JSON would hold
  // U+FFFD then, and the text would differ).
  EXPECT_EQ(StreamedFinishReason(r), "stop");
  // Without include_usage there is no usage chunk.
  auto plain = PostStream(port_, "/v1/chat/completions", ChatBody("hi", R"("stream": true)"));
  EXPECT_TRUE(plain.done);
  for (const auto& e : plain.events) EXPECT_FALSE(e.contains("usage"));
}

TEST_F(ApiServerTest, CompletionsStreamingAndNot) {
  Start();
  auto r = PostJson(port_, "/v1/completions", R"({"prompt": "Once", "max_tokens": 100})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(r.body["object"], "text_completion");
  EXPECT_EQ(r.body["choices"][0]["text"], kReply);
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 5);  // BOS + 4 bytes

  auto s = PostStream(port_, "/v1/completions",
                      R"({"prompt": [256, 79, 110], "max_tokens": 100, "stream": true})");
  ASSERT_EQ(s.status, 200);
  EXPECT_TRUE(s.done);
  for (const auto& e : s.events) EXPECT_EQ(e["object"], "text_completion");
  EXPECT_EQ(StreamedText(s), kReply);
  EXPECT_EQ(StreamedFinishReason(s), "stop");
  // OpenAI's default of 16 tokens when max_tokens is absent.
  auto d = PostJson(port_, "/v1/completions", R"({"prompt": "x"})");
  EXPECT_EQ(d.body["choices"][0]["text"], kReply.substr(0, 16));
  EXPECT_EQ(d.body["choices"][0]["finish_reason"], "length");
}

TEST_F(ApiServerTest, StopStringsEndTheTextAcrossTokenBoundaries) {
  Start();
  for (const std::string& stop : std::vector<std::string>{"STOP", "world!", "🎉", "Grü"}) {
    const std::string expected = kReply.substr(0, kReply.find(stop));
    const std::string extra = "\"stop\": [\"nowhere\", " + json(stop).dump() + "]";
    auto r = PostJson(port_, "/v1/chat/completions", ChatBody("hi", extra));
    EXPECT_EQ(r.body["choices"][0]["message"]["content"], expected) << stop;
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
    auto s =
        PostStream(port_, "/v1/chat/completions", ChatBody("hi", extra + ", \"stream\": true"));
    EXPECT_EQ(StreamedText(s), expected) << stop;
    EXPECT_EQ(StreamedFinishReason(s), "stop");
    EXPECT_TRUE(s.done);
  }
  // The sequence is cancelled as soon as the stop string completes.
  EXPECT_TRUE(WaitForQuiet());
  EXPECT_GE(engine_->cancelled(), 8);
}

TEST_F(ApiServerTest, MaxTokensEndsWithLengthAndIsClippedToTheContext) {
  FakeEngine::Options options;
  options.context_length = 64;
  Start(options);
  auto r = PostJson(port_, "/v1/chat/completions", ChatBody("hi", R"("max_tokens": 5)"));
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], kReply.substr(0, 5));
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 5);
  // Far beyond the context: clipped to what fits (documented in docs/API.md).
  script_ = [](const engine::GenerationRequest&) { return TokensOf(std::string(200, 'z')); };
  auto clipped = PostJson(port_, "/v1/completions", R"({"prompt": "abc", "max_tokens": 100000})");
  ASSERT_EQ(clipped.status, 200) << clipped.body;
  EXPECT_EQ(clipped.body["usage"]["completion_tokens"], 64 - 4);
  EXPECT_EQ(clipped.body["choices"][0]["finish_reason"], "length");
}

TEST_F(ApiServerTest, SeveralChoicesShareThePrompt) {
  Start();
  script_ = [](const engine::GenerationRequest& r) {
    // Each choice gets its own seed; make the output depend on it.
    return TokensOf("seed " + std::to_string(r.sampling.seed % 1000));
  };
  auto r = PostJson(port_, "/v1/chat/completions", ChatBody("hi", R"("n": 3, "seed": 7)"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.body["choices"][i]["index"], i);
    EXPECT_EQ(r.body["choices"][i]["message"]["content"], "seed " + std::to_string(7 + i));
  }
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 18);
  auto s = PostStream(port_, "/v1/chat/completions",
                      ChatBody("hi", R"("n": 2, "seed": 1, "stream": true)"));
  EXPECT_EQ(StreamedText(s, 0), "seed 1");
  EXPECT_EQ(StreamedText(s, 1), "seed 2");
  EXPECT_EQ(StreamedFinishReason(s, 0), "stop");
  EXPECT_EQ(StreamedFinishReason(s, 1), "stop");
}

TEST_F(ApiServerTest, LogprobsInBothFormats) {
  Start();
  script_ = [](const engine::GenerationRequest&) { return TokensOf("ab"); };
  auto chat = PostJson(port_, "/v1/chat/completions",
                       ChatBody("hi", R"("logprobs": true, "top_logprobs": 1)"));
  const json& content = chat.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["token"], "a");
  EXPECT_FLOAT_EQ(content[0]["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(content[0]["bytes"], json::array({97}));
  EXPECT_EQ(content[1]["top_logprobs"][0]["token"], "b");
  auto legacy = PostJson(port_, "/v1/completions", R"({"prompt": "x", "logprobs": 1})");
  const json& lp = legacy.body["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], json::array({"a", "b"}));
  EXPECT_EQ(lp["text_offset"], json::array({0, 1}));
  EXPECT_FLOAT_EQ(lp["top_logprobs"][1]["b"].get<float>(), -0.5f);
  auto none = PostJson(port_, "/v1/chat/completions", ChatBody("hi"));
  EXPECT_TRUE(none.body["choices"][0]["logprobs"].is_null());
}

void ExpectError(const JsonReply& r, int status, const std::string& code,
                 const std::string& param = "") {
  EXPECT_EQ(r.status, status) << r.body;
  ASSERT_TRUE(r.body.contains("error")) << r.body;
  const json& e = r.body["error"];
  EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
  EXPECT_TRUE(e["type"].is_string());
  if (code.empty()) {
    EXPECT_TRUE(e["code"].is_null()) << e;
  } else {
    EXPECT_EQ(e["code"], code) << e;
  }
  if (param.empty()) {
    EXPECT_TRUE(e["param"].is_null()) << e;
  } else {
    EXPECT_EQ(e["param"], param) << e;
  }
}

TEST_F(ApiServerTest, BadRequestsGetPreciseErrors) {
  FakeEngine::Options options;
  options.context_length = 32;
  HttpServerOptions http;
  http.max_body_bytes = 4096;
  Start(options, {}, http);
  const std::string chat = "/v1/chat/completions";
  ExpectError(PostJson(port_, chat, "{\"messages\": "), 400, "invalid_json");
  ExpectError(PostJson(port_, chat, ChatBody("x", R"("temperature": "hot")")), 400, "",
              "temperature");
  ExpectError(PostJson(port_, chat, R"({"model": "test-model"})"), 400, "", "messages");
  ExpectError(PostJson(port_, chat, R"({"messages": []})"), 400, "", "messages");
  ExpectError(PostJson(port_, chat,
                       R"({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]})"),
              404, "model_not_found", "model");
  auto long_prompt =
      PostJson(port_, "/v1/completions", json({{"prompt", std::string(40, 'x')}}).dump());
  ExpectError(long_prompt, 400, "context_length_exceeded", "prompt");
  const std::string message = long_prompt.body["error"]["message"];
  EXPECT_NE(message.find("32"), std::string::npos) << message;  // the context
  EXPECT_NE(message.find("41"), std::string::npos) << message;  // the prompt (BOS + 40)
  ExpectError(PostJson(port_, "/v1/completions", R"({"prompt": [1, 9999]})"), 400, "", "prompt[1]");
  ExpectError(PostJson(port_, chat, ChatBody("x", R"("logit_bias": {"100000": 1})")), 400, "",
              "logit_bias");
  ExpectError(PostJson(port_, chat, ChatBody(std::string(5000, 'x'))), 413, "request_too_large");
  ExpectError(PostJson(port_, "/v1/nothing", "{}"), 404, "not_found");
  auto get_chat = Fetch(port_, "GET", chat);
  ASSERT_TRUE(get_chat.has_value());
  EXPECT_EQ(get_chat->status, 405);
  EXPECT_EQ(get_chat->header("allow"), "POST");
  EXPECT_EQ(metrics_.RequestCount(chat, 400), 5u);
  EXPECT_EQ(metrics_.RequestCount(chat, 404), 1u);
  EXPECT_EQ(metrics_.RequestCount(chat, 413), 1u);
  // The server is still fine.
  EXPECT_EQ(PostJson(port_, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})").status, 200);
}

TEST_F(ApiServerTest, OverloadGets503WithRetryAfter) {
  ApiServiceOptions api;
  api.max_live_sequences = 2;
  Start({}, api);
  engine_->SetPaused(true);
  TestConnection busy(port_);
  ASSERT_TRUE(
      busy.SendRequest("POST", "/v1/chat/completions", ChatBody("x", R"("n": 2, "stream": true)")));
  ASSERT_TRUE(busy.ReadHeaders().has_value());
  auto r = PostJson(port_, "/v1/chat/completions", ChatBody("y"));
  ExpectError(r, 503, "overloaded");
  EXPECT_EQ(r.raw.header("retry-after"), "1");
  // Engine-side refusal (its queue is full) maps to 503 as well.
  engine_->SetPaused(false);
  busy.Close();
  ASSERT_TRUE(WaitForQuiet());
}

TEST_F(ApiServerTest, EngineRefusalIsA503) {
  FakeEngine::Options options;
  options.max_queued = 0;
  Start(options);
  ExpectError(PostJson(port_, "/v1/chat/completions", ChatBody("y")), 503, "overloaded");
  EXPECT_EQ(api_->live_sequences(), 0);
  EXPECT_EQ(api_->jobs_in_flight(), 0);
}

TEST_F(ApiServerTest, ModelsHealthAndMetrics) {
  Start();
  auto models = Fetch(port_, "GET", "/v1/models");
  ASSERT_TRUE(models.has_value());
  auto list = json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"][0]["id"], "test-model");
  EXPECT_EQ(list["data"][0]["object"], "model");
  EXPECT_EQ(Fetch(port_, "GET", "/v1/models/test-model")->status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/v1/models/other")->status, 404);
  auto health = Fetch(port_, "GET", "/health");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  for (int i = 0; i < 3; ++i) PostJson(port_, "/v1/chat/completions", ChatBody("hi"));
  auto metrics = Fetch(port_, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics->body;
  EXPECT_NE(
      text.find("hearth_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 3"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("hearth_time_to_first_token_seconds_count 3\n"), std::string::npos);
  const std::string itl =
      "hearth_inter_token_latency_seconds_count " + std::to_string(3 * (kReply.size() - 1)) + "\n";
  EXPECT_NE(text.find(itl), std::string::npos) << itl;
  EXPECT_NE(text.find("hearth_generation_tokens_total " + std::to_string(3 * kReply.size())),
            std::string::npos);
  EXPECT_NE(text.find("hearth_kv_blocks_total 256"), std::string::npos);
}

TEST_F(ApiServerTest, ClientDisconnectMidStreamCancelsTheSequence) {
  Start();
  engine_->SetTokenInterval(20ms);
  TestConnection c(port_);
  ASSERT_TRUE(c.SendRequest("POST", "/v1/chat/completions", ChatBody("x", R"("stream": true)")));
  ASSERT_TRUE(c.ReadHeaders().has_value());
  ASSERT_TRUE(c.ReadChunk().has_value());  // the role chunk
  ASSERT_TRUE(c.ReadChunk().has_value());  // some content
  EXPECT_EQ(engine_->Stats().running, 1);
  c.Close();
  EXPECT_TRUE(WaitForQuiet(2s));
  EXPECT_EQ(engine_->cancelled(), 1);
}

TEST_F(ApiServerTest, StormOfCancelledStreamsLeavesThePoolFull) {
  FakeEngine::Options options;
  options.max_running = 8;
  options.token_interval = 2ms;
  Start(options);
  constexpr int kClients = 40;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([this, i] {
      TestConnection c(port_);
      const std::string path = i % 2 ? "/v1/chat/completions" : "/v1/completions";
      const std::string body = i % 2 ? ChatBody("x", R"("stream": true, "n": 2)")
                                     : R"({"prompt": "p", "stream": true, "max_tokens": 500})";
      ASSERT_TRUE(c.SendRequest("POST", path, body));
      c.ReadHeaders();
      for (int k = 0; k < i % 4; ++k) c.ReadChunk();
      c.Close(/*reset=*/i % 3 == 0);
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_TRUE(WaitForQuiet(10s));
  const auto stats = engine_->Stats();
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.running + stats.waiting, 0);
  // Streams that had not finished were cancelled, and every sequence was accounted for.
  EXPECT_EQ(engine_->submitted(), kClients / 2 * 2 + kClients / 2);
}

TEST_F(ApiServerTest, GracefulShutdownLetsStreamsFinish) {
  Start();
  engine_->SetTokenInterval(3ms);
  TestConnection c(port_);
  ASSERT_TRUE(c.SendRequest("POST", "/v1/chat/completions", ChatBody("x", R"("stream": true)")));
  ASSERT_TRUE(c.ReadHeaders().has_value());
  http_->StopAccepting();
  api_->BeginDrain();
  EXPECT_TRUE(api_->WaitForJobs(5s));
  std::string body;
  while (auto chunk = c.ReadChunk()) body += *chunk;
  auto events = ParseSse(body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto e = json::parse(events[i]);
    if (e["choices"][0]["delta"].contains("content")) text += e["choices"][0]["delta"]["content"];
  }
  EXPECT_EQ(text, kReply);
  EXPECT_TRUE(c.WaitForClose(2s));
}

TEST_F(ApiServerTest, DrainTimeoutEndsStreamsCleanly) {
  Start();
  engine_->SetPaused(true);
  TestConnection streaming(port_);
  ASSERT_TRUE(
      streaming.SendRequest("POST", "/v1/chat/completions", ChatBody("x", R"("stream": true)")));
  TestConnection waiting(port_);
  ASSERT_TRUE(waiting.SendRequest("POST", "/v1/completions", R"({"prompt": "x"})"));
  ASSERT_TRUE(streaming.ReadHeaders().has_value());
  while (api_->jobs_in_flight() < 2) std::this_thread::sleep_for(2ms);
  http_->StopAccepting();
  api_->BeginDrain();
  EXPECT_EQ(Fetch(port_, "GET", "/health"), std::nullopt);  // no new connections
  EXPECT_FALSE(api_->WaitForJobs(100ms));
  api_->AbortAll("the server is shutting down");
  // The stream ends with an error event, [DONE], and the chunked terminator.
  std::string body;
  std::optional<std::string> chunk;
  while ((chunk = streaming.ReadChunk())) body += *chunk;
  auto events = ParseSse(body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto error = json::parse(events[events.size() - 2]);
  EXPECT_EQ(error["error"]["message"], "the server is shutting down");
  auto r = waiting.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(streaming.WaitForClose(2s));
  EXPECT_TRUE(waiting.WaitForClose(2s));
  EXPECT_TRUE(WaitForQuiet(2s));
  EXPECT_TRUE(http_->WaitForIdle(2s));
}

}  // namespace
}  // namespace hearth::server
