// The server's write side for slow readers: pending_bytes() and OnDrained() report what a
// response still has queued, and write_timeout drops a reader that stalls, not one that is slow
// but steady. The clients are raw sockets with a small receive buffer, so that the kernel does
// not absorb what the tests mean to hold back.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "hearth/server/http_server.h"
#include "support/http_test_client.h"

namespace hearth::server {
namespace {

using namespace std::chrono_literals;

constexpr size_t kBodyBytes = 12u << 20;  // more than the kernel buffers of both sockets hold

class SmallBufferClient {
 public:
  explicit SmallBufferClient(uint16_t port) : fd_(testing::ConnectLoopback(port, 16 << 10)) {
    connected_ = fd_ >= 0 && testing::SendAll(fd_, "GET /big HTTP/1.1\r\nHost: x\r\n"
                                                   "Connection: close\r\n\r\n");
  }
  ~SmallBufferClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }

  // Reads at most `limit` bytes within `timeout`; -1 on EOF or error.
  ssize_t Read(size_t limit, std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return 0;
    std::string buf(limit, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), limit, 0);
    return n <= 0 ? -1 : n;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class HttpWriteProgressTest : public ::testing::Test {
 protected:
  void Start(std::chrono::milliseconds write_timeout, size_t body_bytes = kBodyBytes) {
    HttpServerOptions options;
    options.io_threads = 1;
    options.write_timeout = write_timeout;
    server_ = std::make_unique<HttpServer>(
        options,
        [this, body_bytes](HttpRequest&, const std::shared_ptr<ResponseChannel>& channel) {
          channel->OnClientGone([this] { gone_ = true; });
          channel->BeginStream(200, "application/octet-stream");
          channel->Write(std::string(body_bytes, 'x'));
          pending_after_write_ = static_cast<int64_t>(channel->pending_bytes());
          channel->OnDrained(0, [this, channel] {
            drained_pending_ = static_cast<int64_t>(channel->pending_bytes());
            drained_ = true;
            channel->EndStream();
          });
        },
        nullptr);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int64_t> pending_after_write_{-1};
  std::atomic<int64_t> drained_pending_{-1};
  std::atomic<bool> drained_{false};
  std::atomic<bool> gone_{false};
};

TEST_F(HttpWriteProgressTest, PendingBytesFallAsTheClientReadsAndOnDrainedRunsAtZero) {
  Start(30s);
  SmallBufferClient client(server_->port());
  ASSERT_TRUE(client.connected());
  // Everything is queued at first (the chunk and its framing, and the response head).
  for (int i = 0; i < 500 && pending_after_write_ < 0; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_GT(pending_after_write_.load(), static_cast<int64_t>(kBodyBytes));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(drained_) << "the client has read nothing yet";

  size_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = client.Read(256 << 10, 1s);
    if (n < 0) break;  // EOF: the server ended the stream, after OnDrained
    received += static_cast<size_t>(n);
  }
  EXPECT_GT(received, kBodyBytes);
  EXPECT_TRUE(drained_);
  EXPECT_EQ(drained_pending_.load(), 0);
  EXPECT_FALSE(gone_);
}

TEST_F(HttpWriteProgressTest, ASlowButSteadyReaderOutlastsTheWriteTimeout) {
  // The server's socket takes more as soon as about half its send buffer (at most 2 MiB here)
  // has drained, which this reader does in well under the timeout; the whole body takes longer.
  constexpr auto kWriteTimeout = 1000ms;
  constexpr size_t kLongBody = 2 * kBodyBytes;
  Start(kWriteTimeout, kLongBody);
  SmallBufferClient client(server_->port());
  ASSERT_TRUE(client.connected());
  size_t received = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 60s) {
    const ssize_t n = client.Read(64 << 10, 1s);
    if (n < 0) break;
    received += static_cast<size_t>(n);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GT(std::chrono::steady_clock::now() - start, kWriteTimeout)
      << "the reader was not slower than the timeout; the test proves nothing";
  EXPECT_GT(received, kLongBody);
  EXPECT_TRUE(drained_);
  EXPECT_FALSE(gone_);
}

TEST_F(HttpWriteProgressTest, AReaderThatStallsIsDroppedAfterTheWriteTimeout) {
  Start(300ms);
  SmallBufferClient client(server_->port());
  ASSERT_TRUE(client.connected());
  ASSERT_GT(client.Read(4096, 5s), 0);  // the stream has begun
  for (int i = 0; i < 500 && !gone_; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(gone_);
  EXPECT_FALSE(drained_) << "OnDrained never runs for a client that went away";
}

}  // namespace
}  // namespace hearth::server
