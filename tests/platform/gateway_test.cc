// The gateway over real sockets: a platform HttpServer with the Gateway in front of real engine
// servers (stories260K, in-process) and of scripted upstreams (a real HttpServer whose stream the
// test holds and releases, to observe streaming, disconnects, concurrency and routing exactly).
// Identity, quotas and usage live in a real SQLite store.
#include "hearth/platform/gateway.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backends.h"
#include "gateway_test_support.h"
#include "hearth/server/server.h"
#include "hearth/server/sse.h"
#include "support/fixtures.h"
#include "support/http_test_client.h"

namespace hearth::platform {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using server::testing::Bearer;
using server::testing::Fetch;
using server::testing::HttpResponse;
using server::testing::ParseSse;
using server::testing::TestConnection;
using testing::Eventually;
using testing::GatewayFront;
using testing::TestDirectory;

// A real HttpServer that answers every request with an SSE stream: one content event at once,
// the rest (another content event, the usage chunk, [DONE]) when the test releases it.
class ScriptedUpstream {
 public:
  ScriptedUpstream() {
    server::HttpServerOptions options;
    options.io_threads = 1;
    server_ = std::make_unique<server::HttpServer>(
        options,
        [this](server::HttpRequest& request,
               const std::shared_ptr<server::ResponseChannel>& channel) {
          {
            // Counted before anything is sent: a client that sees the stream sees it held.
            std::lock_guard lock(mu_);
            bodies_.push_back(request.body());
            held_.push_back(channel);
            ++received_;
          }
          channel->OnClientGone([this] { gone_.fetch_add(1); });
          channel->BeginStream(200, "text/event-stream");
          channel->Write(server::SseEvent(Chunk("Hello").dump()));
        },
        nullptr);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~ScriptedUpstream() { Kill(); }

  static json Chunk(const std::string& content) {
    return {{"id", "chatcmpl-1"},
            {"object", "chat.completion.chunk"},
            {"created", 1},
            {"model", "engine-own-name"},
            {"choices",
             {{{"index", 0}, {"delta", {{"content", content}}}, {"finish_reason", nullptr}}}}};
  }
  static constexpr int kPromptTokens = 7;
  static constexpr int kCompletionTokens = 2;

  uint16_t port() const { return port_ ? port_ : server_->port(); }
  int received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  int held() {
    std::lock_guard lock(mu_);
    return static_cast<int>(held_.size());
  }
  int gone() const { return gone_.load(); }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  // Finishes every held stream: a second content event, the usage chunk, [DONE].
  void ReleaseAll() {
    std::vector<std::shared_ptr<server::ResponseChannel>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& channel : held) {
      channel->Post([channel] {
        channel->Write(server::SseEvent(Chunk(" world").dump()));
        json usage = Chunk("");
        usage["choices"] = json::array();
        usage["usage"] = {{"prompt_tokens", kPromptTokens},
                          {"completion_tokens", kCompletionTokens},
                          {"total_tokens", kPromptTokens + kCompletionTokens}};
        channel->Write(server::SseEvent(usage.dump()));
        channel->Write(std::string(server::kSseDone));
        channel->EndStream();
      });
    }
  }

  // The process "dies": every connection closes without finishing its response.
  void Kill() {
    if (!server_) return;
    port_ = server_->port();
    server_->Stop();
    {
      std::lock_guard lock(mu_);
      held_.clear();
    }
    server_.reset();
  }

 private:
  std::unique_ptr<server::HttpServer> server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<std::shared_ptr<server::ResponseChannel>> held_;
  std::vector<std::string> bodies_;
  int received_ = 0;
  std::atomic<int> gone_{0};
};

server::ServeOptions EngineOptions() {
  server::ServeOptions options;
  options.engine.model_path = hearth::testing::FixturePath("models/stories260K.gguf");
  options.engine.threads = 1;
  options.engine.context_length = 256;
  options.engine.max_parallel = 4;
  options.http.port = 0;
  options.http.io_threads = 1;
  options.model_name = "stories-engine";
  return options;
}

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(EngineOptions().engine.model_path)) return;
    for (auto*& engine : engines_) {
      auto started = server::Server::Start(EngineOptions());
      ASSERT_TRUE(started.ok()) << started.status().ToString();
      engine = std::move(*started).release();
    }
  }
  static void TearDownTestSuite() {
    for (auto*& engine : engines_) {
      delete engine;
      engine = nullptr;
    }
  }

  void SetUp() override {
    HEARTH_REQUIRE_FIXTURE(EngineOptions().engine.model_path);
    ASSERT_NE(engines_[0], nullptr);
    auto store = OpenSqliteStore(dir_ / "store.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    identity_ = std::make_unique<Identity>(
        *store_, testing::TestIdentityOptions([this] { return now_.load(); }));
    ASSERT_OK_AND_ASSIGN(tenant_a_, store_->CreateTenant("tenant-a"));
    ASSERT_OK_AND_ASSIGN(tenant_b_, store_->CreateTenant("tenant-b"));
    ASSERT_OK_AND_ASSIGN(IssuedApiKey a, identity_->IssueApiKey(tenant_a_.id, "a"));
    ASSERT_OK_AND_ASSIGN(IssuedApiKey b, identity_->IssueApiKey(tenant_b_.id, "b"));
    ASSERT_OK_AND_ASSIGN(IssuedApiKey scoped,
                         identity_->IssueApiKey(tenant_a_.id, "scoped", {"story-x"}));
    key_a_ = a.plaintext;
    key_a_id_ = a.key.id;
    key_b_ = b.plaintext;
    key_scoped_ = scoped.plaintext;

    const uint16_t e1 = engines_[0]->port(), e2 = engines_[1]->port();
    directory_.Set("story-a", {tenant_a_.id}, {{1, "127.0.0.1", e1}, {2, "127.0.0.1", e2}});
    directory_.Set("story-b", {tenant_b_.id}, {{1, "127.0.0.1", e1}});
    directory_.Set("story-x", {tenant_a_.id}, {{2, "127.0.0.1", e2}});
    directory_.Set("idle", {tenant_a_.id}, {});
    directory_.Set("scripted", {tenant_a_.id}, {{10, "127.0.0.1", scripted_.port()}});
    directory_.Set("pair", {tenant_a_.id},
                   {{20, "127.0.0.1", pair_[0].port()}, {21, "127.0.0.1", pair_[1].port()}});

    ASSERT_OK_AND_ASSIGN(
        front_, GatewayFront::Start(*store_, *identity_, directory_,
                                    testing::TestGatewayOptions([this] { return now_.load(); }),
                                    /*io_threads=*/2));
    gateway_ = &front_->gateway();
    port_ = front_->port();
  }

  void TearDown() override { front_.reset(); }

  static std::string Completion(const std::string& model, int max_tokens, bool stream,
                                const std::string& extra = "") {
    json body = {{"prompt", "Once upon a time"},
                 {"max_tokens", max_tokens},
                 {"temperature", 0},
                 {"ignore_eos", true},
                 {"stream", stream}};
    if (!model.empty()) body["model"] = model;
    std::string text = body.dump();
    if (!extra.empty()) text = text.substr(0, text.size() - 1) + "," + extra + "}";
    return text;
  }
  static std::string Chat(const std::string& model) {
    return json{
        {"model", model}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
        .dump();
  }

  std::optional<HttpResponse> Post(const std::string& path, const std::string& body,
                                   const std::string& key) {
    return Fetch(port_, "POST", path, body, key.empty() ? "" : Bearer(key));
  }

  std::vector<UsageTotals> Usage(int64_t tenant) {
    auto totals = store_->QueryUsage(tenant, 0, now_.load() + 1);
    EXPECT_TRUE(totals.ok()) << totals.status().ToString();
    return totals.ok() ? *totals : std::vector<UsageTotals>{};
  }

  static server::Server* engines_[2];
  hearth::testing::TempDir dir_;
  std::atomic<int64_t> now_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Identity> identity_;
  Tenant tenant_a_, tenant_b_;
  std::string key_a_, key_b_, key_scoped_;
  int64_t key_a_id_ = 0;
  ScriptedUpstream scripted_;
  ScriptedUpstream pair_[2];
  TestDirectory directory_;
  std::unique_ptr<GatewayFront> front_;
  Gateway* gateway_ = nullptr;  // front_'s
  uint16_t port_ = 0;
};
server::Server* GatewayTest::engines_[2] = {nullptr, nullptr};

TEST_F(GatewayTest, EveryRouteNeedsAValidKey) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey revoked, identity_->IssueApiKey(tenant_a_.id, "revoked"));
  ASSERT_TRUE(store_->RevokeApiKey(revoked.key.id).ok());
  ASSERT_OK_AND_ASSIGN(IssuedApiKey expiring,
                       identity_->IssueApiKey(tenant_a_.id, "expiring", {}, now_ + 1000));
  now_ += 2000;
  const std::string wrong_secret = key_a_.substr(0, key_a_.size() - 4) + "AAAA";
  struct Case {
    std::string headers;
    std::string message_part;
  };
  const std::vector<Case> cases = {{"", "Missing API key"},
                                   {"Authorization: Basic abc\r\n", "Missing API key"},
                                   {Bearer("not-a-key"), ""},
                                   {Bearer(wrong_secret), ""},
                                   {Bearer(revoked.plaintext), "revoked"},
                                   {Bearer(expiring.plaintext), "expired"}};
  for (const auto& c : cases) {
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/v1/models"}, {"POST", "/v1/completions"}}) {
      auto r = Fetch(port_, method, path, method == "POST" ? Completion("story-a", 2, false) : "",
                     c.headers);
      ASSERT_TRUE(r) << c.headers;
      EXPECT_EQ(r->status, 401) << c.headers << " " << path;
      EXPECT_EQ(r->header("www-authenticate"), "Bearer");
      json body = json::parse(r->body);
      EXPECT_EQ(body["error"]["code"], "invalid_api_key");
      EXPECT_NE(body["error"]["message"].get<std::string>().find(c.message_part), std::string::npos)
          << body;
    }
  }
  EXPECT_EQ(scripted_.received(), 0);
}

TEST_F(GatewayTest, ModelsListsOnlyWhatTheKeyMayUse) {
  auto names = [&](const std::string& key) {
    auto r = Fetch(port_, "GET", "/v1/models", "", Bearer(key));
    EXPECT_TRUE(r && r->status == 200);
    json body = json::parse(r->body);
    EXPECT_EQ(body["object"], "list");
    std::vector<std::string> out;
    for (const auto& m : body["data"]) {
      EXPECT_EQ(m["object"], "model");
      EXPECT_EQ(m["owned_by"], "hearth");
      EXPECT_EQ(m["created"], 1'700'000'000);
      out.push_back(m["id"]);
    }
    return out;
  };
  EXPECT_EQ(names(key_a_),
            (std::vector<std::string>{"idle", "pair", "scripted", "story-a", "story-x"}));
  EXPECT_EQ(names(key_b_), (std::vector<std::string>{"story-b"}));
  EXPECT_EQ(names(key_scoped_), (std::vector<std::string>{"story-x"}));
}

TEST_F(GatewayTest, AnotherTenantsDeploymentLooksExactlyLikeAMissingOne) {
  // "story-b" exists (tenant B's); "story-q" does not. Same status, headers and body shape.
  auto theirs = Post("/v1/completions", Completion("story-b", 2, false), key_a_);
  auto missing = Post("/v1/completions", Completion("story-q", 2, false), key_a_);
  ASSERT_TRUE(theirs && missing);
  EXPECT_EQ(theirs->status, 404);
  EXPECT_EQ(missing->status, 404);
  std::string expected = missing->body;
  expected.replace(expected.find("story-q"), 7, "story-b");
  EXPECT_EQ(theirs->body, expected);
  EXPECT_EQ(theirs->headers.size(), missing->headers.size());
  EXPECT_EQ(json::parse(theirs->body)["error"]["message"], "The model 'story-b' does not exist");
  auto get_theirs = Fetch(port_, "GET", "/v1/models/story-b", "", Bearer(key_a_));
  auto get_missing = Fetch(port_, "GET", "/v1/models/story-q", "", Bearer(key_a_));
  ASSERT_TRUE(get_theirs && get_missing);
  EXPECT_EQ(get_theirs->status, 404);
  expected = get_missing->body;
  expected.replace(expected.find("story-q"), 7, "story-b");
  EXPECT_EQ(get_theirs->body, expected);
  // Tenant B itself can use it.
  auto own = Post("/v1/completions", Completion("story-b", 2, false), key_b_);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200) << own->body;
}

TEST_F(GatewayTest, AKeyScopedToDeploymentsCannotUseOthers) {
  auto other = Post("/v1/completions", Completion("story-a", 2, false), key_scoped_);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  EXPECT_EQ(json::parse(other->body)["error"]["message"], "The model 'story-a' does not exist");
  auto allowed = Post("/v1/completions", Completion("story-x", 2, false), key_scoped_);
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200) << allowed->body;
}

TEST_F(GatewayTest, CompletionEqualsTheEnginesAndIsBilledBeforeItArrives) {
  // The reference: the same request straight to an engine.
  auto direct =
      Fetch(engines_[0]->port(), "POST", "/v1/completions", Completion("", 12, false), "");
  ASSERT_TRUE(direct && direct->status == 200) << (direct ? direct->body : "");
  const json reference = json::parse(direct->body);

  auto r = Post("/v1/completions", Completion("story-a", 12, false), key_a_);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json body = json::parse(r->body);
  EXPECT_EQ(body["model"], "story-a");  // the deployment's name, not the engine's
  EXPECT_EQ(body["choices"][0]["text"], reference["choices"][0]["text"]);
  EXPECT_EQ(body["usage"]["prompt_tokens"], reference["usage"]["prompt_tokens"]);
  EXPECT_EQ(body["usage"]["completion_tokens"], 12);
  // Already committed when the response arrived: no flush, no wait.
  auto usage = Usage(tenant_a_.id);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].key_id, key_a_id_);
  EXPECT_EQ(usage[0].deployment, "story-a");
  EXPECT_EQ(usage[0].requests, 1);
  EXPECT_EQ(usage[0].prompt_tokens, reference["usage"]["prompt_tokens"].get<int64_t>());
  EXPECT_EQ(usage[0].completion_tokens, 12);
  EXPECT_TRUE(Usage(tenant_b_.id).empty());
}

TEST_F(GatewayTest, StreamedUsageIsBilledAndStrippedUnlessAskedFor) {
  auto direct =
      Fetch(engines_[0]->port(), "POST", "/v1/completions", Completion("", 10, false), "");
  ASSERT_TRUE(direct && direct->status == 200);
  const json reference = json::parse(direct->body);
  const int64_t prompt_tokens = reference["usage"]["prompt_tokens"];

  auto plain = Post("/v1/completions", Completion("story-a", 10, true), key_a_);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  EXPECT_TRUE(plain->chunked);
  auto payloads = ParseSse(plain->body);
  ASSERT_FALSE(payloads.empty());
  EXPECT_EQ(payloads.back(), "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    json event = json::parse(payloads[i]);
    EXPECT_FALSE(event.contains("usage")) << "usage chunk leaked: " << payloads[i];
    EXPECT_EQ(event["model"], "story-a");
    for (const auto& c : event["choices"]) text += c["text"].get<std::string>();
  }
  EXPECT_EQ(text, reference["choices"][0]["text"]);

  auto with_usage =
      Post("/v1/completions",
           Completion("story-a", 10, true, R"("stream_options":{"include_usage":true})"), key_a_);
  ASSERT_TRUE(with_usage && with_usage->status == 200);
  payloads = ParseSse(with_usage->body);
  ASSERT_GE(payloads.size(), 2u);
  json usage_chunk = json::parse(payloads[payloads.size() - 2]);
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(usage_chunk["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"], 10);
  EXPECT_EQ(usage_chunk["model"], "story-a");

  auto usage = Usage(tenant_a_.id);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].requests, 2);
  EXPECT_EQ(usage[0].prompt_tokens, 2 * prompt_tokens);
  EXPECT_EQ(usage[0].completion_tokens, 20);
}

TEST_F(GatewayTest, StreamsPassThroughBeforeTheUpstreamFinishes) {
  TestConnection client(port_);
  ASSERT_TRUE(client.SendRequest("POST", "/v1/chat/completions", Chat("scripted"), Bearer(key_a_)));
  auto headers = client.ReadHeaders();
  ASSERT_TRUE(headers);
  ASSERT_EQ(headers->status, 200);
  EXPECT_EQ(headers->header("content-type"), "text/event-stream");
  // The first event arrives while the upstream is still holding its stream open.
  auto first = client.ReadChunk(10s);
  ASSERT_TRUE(first);
  EXPECT_EQ(scripted_.held(), 1) << "the upstream must not have finished yet";
  json event = json::parse(ParseSse(*first).at(0));
  EXPECT_EQ(event["choices"][0]["delta"]["content"], "Hello");
  EXPECT_EQ(event["model"], "scripted");
  // What the engine got: no "model", include_usage forced on.
  json forwarded = json::parse(scripted_.bodies().at(0));
  EXPECT_FALSE(forwarded.contains("model"));
  EXPECT_EQ(forwarded["stream_options"]["include_usage"], true);
  EXPECT_TRUE(Usage(tenant_a_.id).empty());

  scripted_.ReleaseAll();
  HttpResponse rest = *headers;
  ASSERT_TRUE(client.ReadBody(&rest));
  auto payloads = ParseSse(rest.body);
  ASSERT_EQ(payloads.size(), 2u);  // " world" and [DONE]; the usage chunk was stripped
  EXPECT_EQ(json::parse(payloads[0])["choices"][0]["delta"]["content"], " world");
  EXPECT_EQ(payloads[1], "[DONE]");
  auto usage = Usage(tenant_a_.id);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].prompt_tokens, ScriptedUpstream::kPromptTokens);
  EXPECT_EQ(usage[0].completion_tokens, ScriptedUpstream::kCompletionTokens);
}

TEST_F(GatewayTest, AnUpstreamThatDiesMidStreamEndsTheClientStreamCleanly) {
  TestConnection client(port_);
  ASSERT_TRUE(client.SendRequest("POST", "/v1/chat/completions", Chat("scripted"), Bearer(key_a_)));
  auto headers = client.ReadHeaders();
  ASSERT_TRUE(headers && headers->status == 200);
  ASSERT_TRUE(client.ReadChunk(10s));
  scripted_.Kill();
  HttpResponse rest = *headers;
  ASSERT_TRUE(client.ReadBody(&rest, 10s)) << "the stream must end, not hang";
  auto payloads = ParseSse(rest.body);
  ASSERT_EQ(payloads.size(), 2u) << rest.body;
  json error = json::parse(payloads[0]);
  EXPECT_EQ(error["error"]["code"], "upstream_error");
  EXPECT_EQ(payloads[1], "[DONE]");
  // What was delivered is billed: one content event, no prompt.
  auto usage = Usage(tenant_a_.id);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].prompt_tokens, 0);
  EXPECT_EQ(usage[0].completion_tokens, 1);
  EXPECT_EQ(usage[0].errors, 1);
  // A dead replica that cannot even be reached: 503 with Retry-After, an error without tokens.
  auto refused = Post("/v1/chat/completions", Chat("scripted"), key_a_);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_FALSE(refused->header("retry-after").empty());
  EXPECT_EQ(Usage(tenant_a_.id)[0].requests, 2);
  EXPECT_EQ(Usage(tenant_a_.id)[0].errors, 2);
  EXPECT_EQ(Usage(tenant_a_.id)[0].completion_tokens, 1);
}

TEST_F(GatewayTest, AClientThatLeavesCancelsTheUpstreamRequest) {
  {
    TestConnection client(port_);
    ASSERT_TRUE(
        client.SendRequest("POST", "/v1/chat/completions", Chat("scripted"), Bearer(key_a_)));
    auto headers = client.ReadHeaders();
    ASSERT_TRUE(headers && headers->status == 200);
    ASSERT_TRUE(client.ReadChunk(10s));
  }  // closed
  EXPECT_TRUE(Eventually([&] { return scripted_.gone() == 1; }))
      << "the gateway must close its upstream connection";
  EXPECT_TRUE(gateway_->WaitForRequests(5s));
  EXPECT_EQ(gateway_->outstanding(10), 0);
  // One usage row: it got a 200 and part of the stream, which is not an error.
  EXPECT_TRUE(Eventually([&] {
    auto usage = Usage(tenant_a_.id);
    return usage.size() == 1 && usage[0].requests == 1;
  }));
  auto usage = Usage(tenant_a_.id);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].errors, 0);
}

TEST_F(GatewayTest, AClientThatLeavesBeforeAnyAnswerIsOneErrorRow) {
  {
    // Not streamed: the gateway buffers the (held, never finished) upstream answer, so the client
    // leaves before it has received anything.
    json body = json::parse(Chat("scripted"));
    body["stream"] = false;
    TestConnection client(port_);
    ASSERT_TRUE(client.SendRequest("POST", "/v1/chat/completions", body.dump(), Bearer(key_a_)));
    ASSERT_TRUE(Eventually([&] { return scripted_.received() == 1; }));
  }  // closed
  EXPECT_TRUE(Eventually([&] { return scripted_.gone() == 1; }));
  EXPECT_TRUE(gateway_->WaitForRequests(5s));
  EXPECT_TRUE(Eventually([&] {
    auto usage = Usage(tenant_a_.id);
    return usage.size() == 1 && usage[0].requests == 1;
  }));
  auto usage = Usage(tenant_a_.id);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].errors, 1);
  EXPECT_EQ(usage[0].deployment, "scripted");
}

TEST_F(GatewayTest, NoReadyReplicaIs503WithRetryAfter) {
  auto r = Post("/v1/completions", Completion("idle", 2, false), key_a_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "2");
  EXPECT_NE(r->body.find("no ready replica"), std::string::npos) << r->body;
  auto usage = Usage(tenant_a_.id);  // a failed request: counted, no tokens
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].requests, 1);
  EXPECT_EQ(usage[0].errors, 1);
  EXPECT_EQ(usage[0].prompt_tokens + usage[0].completion_tokens, 0);
}

TEST_F(GatewayTest, EmbeddingsAreNotSupported) {
  auto r = Post("/v1/embeddings", R"({"model":"story-a","input":"hello"})", key_a_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["message"],
            "The model 'story-a' does not support embeddings");
  auto theirs = Post("/v1/embeddings", R"({"model":"story-b","input":"hello"})", key_a_);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 404);
}

TEST_F(GatewayTest, RequestsPerMinuteHoldUnderConcurrentLoad) {
  ASSERT_TRUE(store_->SetQuota(QuotaSubject::ApiKey(key_a_id_), testing::Rpm(3)).ok());
  constexpr int kThreads = 8;
  std::vector<int> status(kThreads);
  std::vector<std::string> retry_after(kThreads), type(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = Post("/v1/completions", Completion("story-a", 2, false), key_a_);
      if (!r) return;
      status[i] = r->status;
      retry_after[i] = r->header("retry-after");
      if (r->status == 429) type[i] = json::parse(r->body)["error"]["type"];
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0, limited = 0;
  for (int i = 0; i < kThreads; ++i) {
    if (status[i] == 200) ++ok;
    if (status[i] == 429) {
      ++limited;
      EXPECT_GE(std::stoi(retry_after[i]), 1);
      EXPECT_LE(std::stoi(retry_after[i]), 60);
      EXPECT_EQ(type[i], "rate_limit_exceeded");
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(limited, kThreads - 3);
  // Refusals are requests too: errors without tokens.
  EXPECT_EQ(Usage(tenant_a_.id).at(0).requests, kThreads);
  EXPECT_EQ(Usage(tenant_a_.id).at(0).errors, kThreads - 3);
}

TEST_F(GatewayTest, ConcurrentRequestsAreCappedUnderLoad) {
  ASSERT_TRUE(store_->SetQuota(QuotaSubject::Tenant(tenant_a_.id), testing::Concurrent(2)).ok());
  constexpr int kThreads = 6;
  std::vector<int> status(kThreads);
  std::vector<std::unique_ptr<TestConnection>> clients;
  for (int i = 0; i < kThreads; ++i) clients.push_back(std::make_unique<TestConnection>(port_));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      if (!clients[i]->SendRequest("POST", "/v1/chat/completions", Chat("scripted"),
                                   Bearer(key_a_)))
        return;
      auto headers = clients[i]->ReadHeaders();
      if (headers) status[i] = headers->status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(status.begin(), status.end(), 200), 2);
  EXPECT_EQ(std::count(status.begin(), status.end(), 429), kThreads - 2);
  EXPECT_EQ(scripted_.received(), 2);
  scripted_.ReleaseAll();
  EXPECT_TRUE(gateway_->WaitForRequests(10s));
  // The slots are free again.
  TestConnection again(port_);
  ASSERT_TRUE(again.SendRequest("POST", "/v1/chat/completions", Chat("scripted"), Bearer(key_a_)));
  auto headers = again.ReadHeaders();
  ASSERT_TRUE(headers);
  EXPECT_EQ(headers->status, 200);
  scripted_.ReleaseAll();
  EXPECT_TRUE(again.ReadBody(&*headers));
}

TEST_F(GatewayTest, TokensPerMinuteCountRealUsage) {
  // Measure one request's real usage on tenant B, then allow key A exactly its estimate plus
  // one real usage: two requests fit (estimate, then real + estimate), the third does not.
  const std::string body = Completion("story-a", 8, false);
  auto probe = Post("/v1/completions", Completion("story-b", 8, false), key_b_);
  ASSERT_TRUE(probe && probe->status == 200);
  const int64_t real = json::parse(probe->body)["usage"]["total_tokens"];
  const int64_t estimate = static_cast<int64_t>(body.size() / 4);
  ASSERT_TRUE(
      store_->SetQuota(QuotaSubject::ApiKey(key_a_id_), testing::Tpm(real + estimate)).ok());
  for (int i = 0; i < 2; ++i) {
    auto r = Post("/v1/completions", body, key_a_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i << " " << r->body;
  }
  auto refused = Post("/v1/completions", body, key_a_);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_NE(refused->body.find("tokens per minute"), std::string::npos) << refused->body;
  EXPECT_GE(std::stoi(refused->header("retry-after")), 1);
}

TEST_F(GatewayTest, RequestsGoToTheLeastBusyReplica) {
  auto open_stream = [&]() {
    auto client = std::make_unique<TestConnection>(port_);
    EXPECT_TRUE(client->SendRequest("POST", "/v1/chat/completions", Chat("pair"), Bearer(key_a_)));
    auto headers = client->ReadHeaders();
    EXPECT_TRUE(headers && headers->status == 200);
    return client;
  };
  std::vector<std::unique_ptr<TestConnection>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(open_stream());
    // Each new request lands where fewer are running: the loads never differ by more than one.
    EXPECT_LE(std::abs(pair_[0].held() - pair_[1].held()), 1) << i;
  }
  EXPECT_EQ(pair_[0].held(), 2);
  EXPECT_EQ(pair_[1].held(), 2);
  EXPECT_EQ(gateway_->outstanding(20), 2);
  pair_[0].ReleaseAll();
  ASSERT_TRUE(Eventually([&] { return gateway_->outstanding(20) == 0; }));
  for (int i = 0; i < 2; ++i) open.push_back(open_stream());
  EXPECT_EQ(pair_[0].held(), 2) << "both new requests go to the idle replica";
  EXPECT_EQ(pair_[1].held(), 2);
  pair_[0].ReleaseAll();
  pair_[1].ReleaseAll();
  EXPECT_TRUE(gateway_->WaitForRequests(10s));
}

TEST_F(GatewayTest, MetricsCountOutcomes) {
  Post("/v1/completions", Completion("story-a", 2, false), "");
  Post("/v1/completions", Completion("story-a", 2, false), key_a_);
  const std::string metrics = gateway_->RenderMetrics();
  EXPECT_NE(metrics.find("hearth_gateway_requests_total{outcome=\"ok\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("hearth_gateway_requests_total{outcome=\"unauthorized\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("hearth_gateway_usage_events_total{result=\"committed\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace hearth::platform
