// Slow clients: a streaming client that stops reading must not make the gateway buffer the
// engine's stream. A raw-socket upstream floods an SSE stream of many MiB (and counts what its
// socket accepted); a raw-socket client with a small receive buffer reads the headers and then
// stops. The gateway's held bytes stay within its window, the upstream's writes block, other
// clients are served, and when the client reads on it receives every event in order. A client
// that never reads on is dropped after the server's write timeout, and the upstream with it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include <gtest/gtest.h>

#include "backends.h"
#include "gateway_test_support.h"
#include "hearth/platform/gateway.h"
#include "support/fixtures.h"
#include "support/http_test_client.h"

namespace hearth::platform {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using server::testing::SendAll;
using testing::Eventually;
using testing::GatewayFront;
using testing::TestDirectory;

constexpr size_t kContentBytes = 4000;  // per event: a sequence number and padding

std::string ContentOf(int seq) {
  std::string content = fmt::format("{:08d}", seq);
  content.resize(kContentBytes, static_cast<char>('a' + seq % 26));
  return content;
}

// One content event exactly as the upstream writes it.
std::string EventText(int seq) {
  json chunk = {{"id", "c"},
                {"object", "chat.completion.chunk"},
                {"created", 1},
                {"model", "flood"},
                {"choices", {{{"index", 0}, {"delta", {{"content", ContentOf(seq)}}}}}}};
  return "data: " + chunk.dump() + "\n\n";
}

// An engine stand-in on a raw socket: answers every request with an SSE stream of
// body["max_tokens"] content events (then usage and [DONE]), written as fast as its socket (with
// a small send buffer) accepts them.
class FloodUpstream {
 public:
  FloodUpstream() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~FloodUpstream() {
    stop_ = true;
    acceptor_.join();
    ::close(listen_fd_);
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : servers_) t.join();
    for (int fd : fds_) ::close(fd);
  }

  uint16_t port() const { return port_; }
  // Stream body bytes the upstream socket has accepted, over all requests.
  int64_t sent() const { return sent_.load(); }
  int finished() const { return finished_.load(); }
  int broken() const { return broken_.load(); }  // streams whose connection the gateway closed

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      servers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    const int sndbuf = 32 << 10;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    std::string in;
    char buf[4096];
    size_t header_end = std::string::npos;
    size_t length = 0;
    for (;;) {
      if (header_end != std::string::npos && in.size() >= header_end + 4 + length) break;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != in.npos) {
        std::string lower = in.substr(0, header_end);
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        const size_t at = lower.find("content-length:");
        if (at != std::string::npos) length = std::stoul(lower.substr(at + 15));
      }
    }
    const json body = json::parse(in.substr(header_end + 4, length));
    const int events = body.value("max_tokens", 1);
    if (!SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Connection: close\r\n\r\n")) {
      return;
    }
    for (int i = 0; i < events; ++i) {
      const std::string event = EventText(i);
      if (!SendAll(fd, event)) {
        broken_.fetch_add(1);
        return;
      }
      sent_.fetch_add(static_cast<int64_t>(event.size()));
    }
    json usage = json::parse(EventText(0).substr(6));
    usage["choices"] = json::array();
    usage["usage"] = {{"prompt_tokens", 3}, {"completion_tokens", events}};
    if (!SendAll(fd, "data: " + usage.dump() + "\n\ndata: [DONE]\n\n")) {
      broken_.fetch_add(1);
      return;
    }
    ::shutdown(fd, SHUT_WR);
    finished_.fetch_add(1);
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> servers_;
  std::atomic<int64_t> sent_{0};
  std::atomic<int> finished_{0};
  std::atomic<int> broken_{0};
};

// A client on a raw socket with a small receive buffer, so that the kernel does not absorb what
// the test means to hold back.
class SlowClient {
 public:
  explicit SlowClient(uint16_t port)
      : fd_(server::testing::ConnectLoopback(port, 16 << 10)), connected_(fd_ >= 0) {}
  ~SlowClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool Send(const std::string& key, const std::string& body) {
    return connected_ &&
           SendAll(fd_, fmt::format("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                    "Authorization: Bearer {}\r\nContent-Type: application/json\r\n"
                                    "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                                    key, body.size(), body));
  }
  // Reads up to the end of the response head; what follows stays in `pending_`.
  std::string ReadHead() {
    while (pending_.find("\r\n\r\n") == std::string::npos) {
      if (!ReadSome(5s)) return "";
    }
    const size_t end = pending_.find("\r\n\r\n") + 4;
    std::string head = pending_.substr(0, end);
    pending_.erase(0, end);
    return head;
  }
  // Everything up to EOF, de-chunked.
  std::optional<std::string> ReadChunkedToEnd(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (ReadSome(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()))) {
    }
    if (!eof_) return std::nullopt;
    std::string body;
    size_t pos = 0;
    for (;;) {
      const size_t eol = pending_.find("\r\n", pos);
      if (eol == std::string::npos) return std::nullopt;
      const size_t size = std::stoul(pending_.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) return body;
      body.append(pending_, eol + 2, size);
      pos = eol + 2 + size + 2;
    }
  }
  // True when the server closed the connection (EOF or reset) within the timeout, reading and
  // discarding whatever arrives meanwhile.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && std::chrono::steady_clock::now() < deadline) {
      ReadSome(20ms);
      pending_.clear();
    }
    return eof_;
  }

 private:
  bool ReadSome(std::chrono::milliseconds timeout) {
    if (eof_ || timeout.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[64 << 10];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string pending_;
};

class GatewayBackpressureTest : public ::testing::Test {
 protected:
  void Start(std::chrono::milliseconds write_timeout) {
    auto store = OpenSqliteStore(dir_ / "store.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    identity_ = std::make_unique<Identity>(*store_);
    auto tenant = store_->CreateTenant("t");
    ASSERT_TRUE(tenant.ok());
    auto issued = identity_->IssueApiKey(tenant->id, "k");
    ASSERT_TRUE(issued.ok());
    key_ = issued->plaintext;
    directory_.Set("flood", {tenant->id}, {{1, "127.0.0.1", upstream_.port()}}, 1);
    GatewayOptions options;
    options.upstream.io_threads = 2;
    options.stream_window_bytes = kWindow;
    server::HttpServerOptions http;
    http.io_threads = 2;
    http.write_timeout = write_timeout;
    ASSERT_OK_AND_ASSIGN(front_,
                         GatewayFront::Start(*store_, *identity_, directory_, options, http));
    gateway_ = &front_->gateway();
  }
  void TearDown() override { front_.reset(); }

  static std::string Body(int events) {
    return json{{"model", "flood"},
                {"stream", true},
                {"max_tokens", events},
                {"messages", {{{"role", "user"}, {"content", "hi"}}}}}
        .dump();
  }

  // Waits until the upstream's byte count has not moved for `quiet`.
  int64_t WaitForUpstreamToStall(std::chrono::milliseconds quiet) {
    int64_t last = -1;
    auto since = std::chrono::steady_clock::now();
    const auto deadline = since + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      const int64_t now = upstream_.sent();
      if (now != last) {
        last = now;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since >= quiet) {
        return last;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

  static constexpr size_t kWindow = 64 << 10;
  static constexpr int kEvents = 12'000;  // about 48 MiB of stream
  hearth::testing::TempDir dir_;
  FloodUpstream upstream_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Identity> identity_;
  TestDirectory directory_;
  std::unique_ptr<GatewayFront> front_;
  Gateway* gateway_ = nullptr;  // front_'s
  std::string key_;
};

TEST_F(GatewayBackpressureTest, AStalledClientHoldsAWindowNotTheStream) {
  Start(60s);
  SlowClient slow(front_->port());
  ASSERT_TRUE(slow.Send(key_, Body(kEvents)));
  const std::string head = slow.ReadHead();
  ASSERT_NE(head.find("200 OK"), std::string::npos) << head;

  // The client reads nothing more: the upstream's writes block well before the end.
  const int64_t stalled_at = WaitForUpstreamToStall(500ms);
  ASSERT_GT(stalled_at, 0);
  const int64_t total = static_cast<int64_t>(kEvents) * (kContentBytes + 100);
  EXPECT_LT(stalled_at, total / 2) << "the upstream was not held back";
  EXPECT_EQ(upstream_.finished(), 0);
  const StreamBufferStats held = gateway_->stream_buffer_stats();
  RecordProperty("upstream_bytes_when_stalled", std::to_string(stalled_at));
  RecordProperty("peak_held_bytes", std::to_string(held.peak_held_bytes));
  RecordProperty("peak_client_queue_bytes", std::to_string(held.peak_client_queue_bytes));
  EXPECT_LE(held.held_bytes, static_cast<int64_t>(kWindow + (16 << 10)));
  EXPECT_LE(held.peak_held_bytes, static_cast<int64_t>(kWindow + (16 << 10)));
  // Queued on the client connection: at most what was read past the low-water mark.
  EXPECT_LE(held.peak_client_queue_bytes, static_cast<int64_t>(2 * kWindow + (16 << 10)));

  // Meanwhile another client is served in full.
  auto other = server::testing::Fetch(front_->port(), "POST", "/v1/chat/completions", Body(5),
                                      server::testing::Bearer(key_));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 200);
  auto events = server::testing::ParseSse(other->body);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_TRUE(Eventually([&] { return upstream_.finished() == 1; }));
  int64_t small_stream = 0;
  for (int i = 0; i < 5; ++i) small_stream += static_cast<int64_t>(EventText(i).size());
  EXPECT_EQ(upstream_.sent(), stalled_at + small_stream) << "the stalled stream stayed stalled";

  // The client reads on and receives every event, in order.
  auto body = slow.ReadChunkedToEnd(60s);
  ASSERT_TRUE(body.has_value()) << "the stream did not complete";
  std::vector<std::string> payloads = server::testing::ParseSse(*body);
  ASSERT_EQ(payloads.size(), static_cast<size_t>(kEvents) + 1);
  for (int i = 0; i < kEvents; ++i) {
    const json chunk = json::parse(payloads[static_cast<size_t>(i)], nullptr, false);
    ASSERT_TRUE(chunk.is_object()) << i;
    ASSERT_EQ(chunk["model"], "flood");
    ASSERT_EQ(chunk["choices"][0]["delta"]["content"], ContentOf(i)) << "event " << i;
  }
  EXPECT_EQ(payloads.back(), "[DONE]");
  EXPECT_EQ(upstream_.finished(), 2);
  EXPECT_TRUE(Eventually([&] { return gateway_->requests_in_flight() == 0; }));
  EXPECT_EQ(gateway_->stream_buffer_stats().held_bytes, 0);
  EXPECT_LE(gateway_->stream_buffer_stats().peak_held_bytes,
            static_cast<int64_t>(kWindow + (16 << 10)));
}

TEST_F(GatewayBackpressureTest, AClientThatNeverReadsOnIsDroppedWithItsUpstream) {
  Start(300ms);
  SlowClient slow(front_->port());
  ASSERT_TRUE(slow.Send(key_, Body(kEvents)));
  ASSERT_NE(slow.ReadHead().find("200 OK"), std::string::npos);
  // No progress for the write timeout: the platform closes the client, then the upstream.
  EXPECT_TRUE(Eventually([&] { return upstream_.broken() == 1; }, 20s));
  EXPECT_TRUE(Eventually([&] { return gateway_->requests_in_flight() == 0; }));
  EXPECT_EQ(gateway_->stream_buffer_stats().held_bytes, 0);
  EXPECT_EQ(upstream_.finished(), 0);
  EXPECT_NE(gateway_->RenderMetrics().find("hearth_gateway_requests_total{outcome=\"client_gone\"} 1"),
            std::string::npos)
      << gateway_->RenderMetrics();
  EXPECT_TRUE(slow.ClosedWithin(5s));
}

}  // namespace
}  // namespace hearth::platform
