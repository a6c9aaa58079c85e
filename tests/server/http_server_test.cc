// The HTTP layer alone, over real sockets: framing, keep-alive, limits, timeouts, disconnect
// detection and draining. The handler here is a small scripted one, not the API.
#include "hearth/server/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/http_test_client.h"

namespace hearth::server {
namespace {

using namespace std::chrono_literals;
using testing::Fetch;
using testing::TestConnection;

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<HttpServer>(
        options,
        [this](HttpRequest& r, const std::shared_ptr<ResponseChannel>& c) { Handle(r, c); },
        &metrics_);
    ASSERT_TRUE(server_->Start().ok());
  }

  void Handle(HttpRequest& request, const std::shared_ptr<ResponseChannel>& channel) {
    const std::string target(request.target().data(), request.target().size());
    if (target == "/echo") {
      channel->Respond(200, "text/plain", request.body());
    } else if (target == "/hang") {
      // Never answers; only notices the client leaving.
      channel->OnClientGone([this] { gone_.store(true); });
    } else if (target == "/stream") {
      channel->OnClientGone([this] { gone_.store(true); });
      channel->BeginStream(200, "text/event-stream");
      // Writes from another thread through Post, as the engine's observers do.
      std::thread([channel, this] {
        for (int i = 0; i < stream_chunks_; ++i) {
          std::this_thread::sleep_for(stream_gap_);
          channel->Post([channel, i] { channel->Write("chunk" + std::to_string(i)); });
        }
        channel->Post([channel] { channel->EndStream(); });
      }).detach();
    } else {
      channel->Respond(404, "text/plain", "no");
    }
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  ServerMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> gone_{false};
  int stream_chunks_ = 3;
  std::chrono::milliseconds stream_gap_{5};
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  TestConnection c(server_->port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 5; ++i) {
    const std::string body = "hello " + std::to_string(i);
    ASSERT_TRUE(c.SendRequest("POST", "/echo", body));
    auto r = c.ReadResponse();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, body);
    EXPECT_EQ(r->header("connection"), "keep-alive");
  }
  EXPECT_EQ(metrics_.RequestCount("other", 200), 5u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestConnection c(server_->port());
  std::string two;
  for (const char* body : {"first", "second"}) {
    two += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(strlen(body)) +
           "\r\n\r\n" + body;
  }
  ASSERT_TRUE(c.SendRaw(two));
  auto a = c.ReadResponse();
  auto b = c.ReadResponse();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->body, "first");
  EXPECT_EQ(b->body, "second");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  TestConnection c(server_->port());
  ASSERT_TRUE(c.SendRequest("POST", "/echo", "x", "Connection: close\r\n"));
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.WaitForClose(2s));
}

TEST_F(HttpServerTest, OversizedBodyGets413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  StartServer(options);
  {
    // Declared length over the limit: refused before the body is read.
    TestConnection c(server_->port());
    ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
    auto r = c.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 413);
    auto error = nlohmann::json::parse(r->body);
    EXPECT_EQ(error["error"]["type"], "invalid_request_error");
    EXPECT_EQ(error["error"]["code"], "request_too_large");
    EXPECT_TRUE(c.WaitForClose(5s));
  }
  {
    // Chunked, so the size shows only while reading.
    TestConnection c(server_->port());
    std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) request += "200\r\n" + std::string(512, 'x') + "\r\n";
    request += "0\r\n\r\n";
    ASSERT_TRUE(c.SendRaw(request));
    auto r = c.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 413);
  }
  // A body at the limit is fine.
  auto ok = Fetch(server_->port(), "POST", "/echo", std::string(1024, 'y'));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body.size(), 1024u);
  // "/echo" is not an API route, so it is counted as "other".
  EXPECT_EQ(metrics_.RequestCount("other", 413), 2u);
}

TEST_F(HttpServerTest, OversizedHeaderGets431) {
  HttpServerOptions options;
  options.max_header_bytes = 2048;
  StartServer(options);
  TestConnection c(server_->port());
  ASSERT_TRUE(
      c.SendRaw("GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n"));
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  StartServer();
  TestConnection c(server_->port());
  ASSERT_TRUE(c.SendRaw("THIS IS NOT HTTP\r\n\r\n"));
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.WaitForClose(5s));
}

TEST_F(HttpServerTest, StalledHeaderAndBodyAreDropped) {
  HttpServerOptions options;
  options.header_timeout = 200ms;
  options.body_timeout = 200ms;
  StartServer(options);
  TestConnection header(server_->port());
  ASSERT_TRUE(header.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\n"));  // never finishes
  TestConnection body(server_->port());
  ASSERT_TRUE(body.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"));
  TestConnection idle(server_->port());  // sends nothing at all
  EXPECT_TRUE(header.WaitForClose(3s));
  EXPECT_TRUE(body.WaitForClose(3s));
  EXPECT_TRUE(idle.WaitForClose(3s));
  EXPECT_TRUE(server_->WaitForIdle(3s));
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503WithRetryAfter) {
  HttpServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  TestConnection a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.connected() && b.connected());
  // Make sure both were accepted before the third arrives.
  ASSERT_TRUE(a.SendRequest("POST", "/echo", "a"));
  ASSERT_TRUE(a.ReadResponse().has_value());
  ASSERT_TRUE(b.SendRequest("POST", "/echo", "b"));
  ASSERT_TRUE(b.ReadResponse().has_value());
  TestConnection c(server_->port());
  ASSERT_TRUE(c.SendRequest("POST", "/echo", "c"));
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"]["code"], "overloaded");
  EXPECT_EQ(server_->active_connections(), 2);
  a.Close();
  // Once one closes a new client is served again.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    auto again = Fetch(server_->port(), "POST", "/echo", "d");
    served = again && again->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, ClientDisconnectWhileWaitingIsNoticedAtOnce) {
  StartServer();
  for (bool reset : {false, true}) {
    gone_.store(false);
    TestConnection c(server_->port());
    ASSERT_TRUE(c.SendRequest("GET", "/hang"));
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(gone_.load());
    c.Close(reset);
    for (int i = 0; i < 200 && !gone_.load(); ++i) std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(gone_.load()) << "reset=" << reset;
  }
}

TEST_F(HttpServerTest, StreamsAreChunkedAndKeepTheConnection) {
  StartServer();
  TestConnection c(server_->port());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(c.SendRequest("GET", "/stream"));
    auto r = c.ReadResponse();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->chunked);
    EXPECT_EQ(r->header("content-type"), "text/event-stream");
    EXPECT_EQ(r->chunks, (std::vector<std::string>{"chunk0", "chunk1", "chunk2"}));
  }
}

TEST_F(HttpServerTest, ExpectContinueIsAnswered) {
  StartServer();
  TestConnection c(server_->port());
  ASSERT_TRUE(
      c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                "Expect: 100-continue\r\n\r\n"));
  // The client waits for "100 Continue" before sending the body.
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(c.ReadBytes(interim.size(), 2s), interim);
  ASSERT_TRUE(c.SendRaw("body"));
  auto r = c.ReadResponse(2s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "body");
}

TEST_F(HttpServerTest, DrainLetsStreamsFinishAndClosesIdleConnections) {
  stream_chunks_ = 10;
  stream_gap_ = 30ms;
  StartServer();
  TestConnection idle(server_->port());
  ASSERT_TRUE(idle.SendRequest("POST", "/echo", "x"));
  ASSERT_TRUE(idle.ReadResponse().has_value());
  TestConnection streaming(server_->port());
  ASSERT_TRUE(streaming.SendRequest("GET", "/stream"));
  auto headers = streaming.ReadHeaders();
  ASSERT_TRUE(headers.has_value());
  server_->StopAccepting();
  EXPECT_TRUE(idle.WaitForClose(2s));
  // The in-flight stream still completes, then the connection closes.
  std::vector<std::string> chunks;
  while (auto chunk = streaming.ReadChunk()) chunks.push_back(*chunk);
  EXPECT_EQ(chunks.size(), 10u);
  EXPECT_TRUE(streaming.WaitForClose(2s));
  EXPECT_TRUE(server_->WaitForIdle(2s));
  // New connections are refused.
  auto refused = Fetch(server_->port(), "POST", "/echo", "y");
  EXPECT_FALSE(refused.has_value());
}

}  // namespace
}  // namespace hearth::server
