#include "hearth/server/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>

#include "hearth/server/api_error.h"
#include "hearth/server/io_threads.h"
#include "hearth/server/tls_context.h"

namespace hearth::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the server needs of a connection whatever its stream type.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Shutdown: an idle connection closes now, a busy one after its current response.
  virtual void Drain() = 0;
};

struct HttpServer::State {
  HttpServerOptions options;
  RequestHandler handler;
  ServerMetrics* metrics = nullptr;
  std::atomic<int> active{0};
  std::atomic<int> rejected{0};
  std::atomic<bool> draining{false};
  std::mutex mutex;
  std::condition_variable idle_cv;
  std::unordered_map<uint64_t, std::weak_ptr<ConnectionBase>> connections;
  uint64_t next_connection_id = 0;
  // Set when the server speaks TLS. Outlives the io_context (declared before it) and so every
  // connection's TLS stream.
  std::unique_ptr<ssl::context> tls;
  // Declared after everything connections touch: destroying the io_context destroys pending
  // handlers and with them the last references to connections, whose destructors use the
  // members above. The acceptor and the work guard go first, the io_context after them.
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{asio::make_strand(ioc)};

  void CountResponse(std::string_view target, int status) {
    if (metrics) metrics->CountRequest(target, status);
  }
};

namespace {

std::string StatusLine(int status) {
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  return fmt::format("HTTP/1.1 {} {}\r\n", status, std::string_view(reason.data(), reason.size()));
}

constexpr std::string_view kServerHeader = "Server: hearth\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// A handler's channel: one request on one connection. The connection ignores calls that belong
// to an older request.
template <class Conn>
class Exchange : public ResponseChannel {
 public:
  Exchange(std::shared_ptr<Conn> connection, uint64_t serial)
      : connection_(std::move(connection)), serial_(serial) {}

  void Post(std::function<void()> task) override { connection_->Post(std::move(task)); }
  void Respond(int status, std::string_view content_type, std::string body,
               const HeaderList& extra_headers) override {
    connection_->Respond(serial_, status, content_type, std::move(body), extra_headers);
  }
  void BeginStream(int status, std::string_view content_type) override {
    connection_->BeginStream(serial_, status, content_type);
  }
  void Write(std::string data) override { connection_->Write(serial_, std::move(data)); }
  void EndStream() override { connection_->EndStream(serial_); }
  void OnClientGone(std::function<void()> callback) override {
    connection_->SetOnClientGone(serial_, std::move(callback));
  }
  bool client_gone() const override { return connection_->ClientGone(serial_); }
  size_t pending_bytes() const override { return connection_->PendingBytes(serial_); }
  void OnDrained(size_t threshold, std::function<void()> callback) override {
    connection_->SetOnDrained(serial_, threshold, std::move(callback));
  }
  std::string remote_address() const override { return connection_->remote_address(); }

 private:
  std::shared_ptr<Conn> connection_;
  uint64_t serial_;
};

// The peer's IP as text; an IPv4 client of a dual-stack listener as plain IPv4.
std::string RemoteAddressOf(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

// How long a TLS connection that the server closes waits for the client's close_notify. Ours is
// written first; the wait only lets it leave before the socket closes, so it is short.
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};
// Bytes one disconnect-watch read on a TLS stream may take (see WatchForDisconnect).
constexpr size_t kWatchReadBytes = 4096;

}  // namespace

// One client connection over Stream: PlainStream, or TlsStream, which first completes a TLS
// handshake and then behaves the same. Everything runs on the connection's strand.
template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  using State = HttpServer::State;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  template <class... StreamArgs>
  Connection(State* state, bool rejected, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...), state_(state), rejected_(rejected) {
    remote_address_ = RemoteAddressOf(tcp_layer().socket());
    std::lock_guard lock(state_->mutex);
    id_ = state_->next_connection_id++;
  }

  ~Connection() override {
    {
      std::lock_guard lock(state_->mutex);
      state_->connections.erase(id_);
      (rejected_ ? state_->rejected : state_->active).fetch_sub(1);
    }
    state_->idle_cv.notify_all();
  }

  void Start() {
    {
      std::lock_guard lock(state_->mutex);
      state_->connections[id_] = this->weak_from_this();
    }
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->Begin();
      }
    });
  }

  void Drain() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->draining_ = true;
      self->keep_alive_ = false;
      switch (self->phase_) {
        case Phase::kHandshake:
        case Phase::kLingering:
          return self->CloseNow();
        case Phase::kIdle:
          if constexpr (kTls) {
            // The pending header read ends with operation_aborted, and OnReadError then says
            // goodbye with close_notify (a TLS stream cannot be shut down while it is read).
            beast::error_code ignored;
            self->tcp_layer().socket().cancel(ignored);
            return;
          } else {
            return self->CloseNow();
          }
        default:
          return;
      }
    });
  }

  // ResponseChannel operations for request `serial`.
  void Post(std::function<void()> task) { asio::post(stream_.get_executor(), std::move(task)); }

  bool Current(uint64_t serial) const {
    return serial == serial_ && phase_ == Phase::kResponding && !response_done_ && !gone_;
  }

  void Respond(uint64_t serial, int status, std::string_view content_type, std::string body,
               const HeaderList& extra_headers) {
    if (!Current(serial) || streaming_) return;
    std::string out = StatusLine(status);
    out.append(kServerHeader);
    fmt::format_to(std::back_inserter(out), "Content-Type: {}\r\nContent-Length: {}\r\n",
                   content_type, body.size());
    for (const auto& [name, value] : extra_headers) {
      fmt::format_to(std::back_inserter(out), "{}: {}\r\n", name, value);
    }
    out.append(keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    out.append(body);
    state_->CountResponse(target_, status);
    response_done_ = true;
    Queue(std::move(out));
  }

  void BeginStream(uint64_t serial, int status, std::string_view content_type) {
    if (!Current(serial) || streaming_) return;
    std::string out = StatusLine(status);
    out.append(kServerHeader);
    fmt::format_to(std::back_inserter(out),
                   "Content-Type: {}\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n",
                   content_type);
    out.append(keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    state_->CountResponse(target_, status);
    streaming_ = true;
    Queue(std::move(out));
  }

  void Write(uint64_t serial, std::string data) {
    if (!Current(serial) || !streaming_ || data.empty()) return;
    std::string chunk = fmt::format("{:x}\r\n", data.size());
    chunk.append(data).append("\r\n");
    Queue(std::move(chunk));
  }

  void EndStream(uint64_t serial) {
    if (!Current(serial) || !streaming_) return;
    response_done_ = true;
    Queue("0\r\n\r\n");
  }

  void SetOnClientGone(uint64_t serial, std::function<void()> callback) {
    if (serial != serial_) return;
    if (gone_) {
      callback();
      return;
    }
    on_gone_ = std::move(callback);
  }

  bool ClientGone(uint64_t serial) const { return gone_ || serial != serial_; }

  size_t PendingBytes(uint64_t serial) const {
    if (serial != serial_) return 0;
    return out_.size() + (in_flight_.size() - in_flight_written_);
  }

  void SetOnDrained(uint64_t serial, size_t threshold, std::function<void()> callback) {
    if (!Current(serial)) return;
    drain_threshold_ = threshold;
    on_drained_ = std::move(callback);
    NotifyDrained();
  }

  // Fixed at construction, so safe from any thread.
  const std::string& remote_address() const { return remote_address_; }

 private:
  // kLingering: discarding input after an error response; kClosing: TLS close_notify exchange.
  enum class Phase { kHandshake, kIdle, kReadingBody, kResponding, kLingering, kClosing, kClosed };

  // Timeouts, the socket and closing live on the TCP stream below any TLS.
  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream_); }

  // TLS only. The handshake shares the header timeout's budget, so a client that connects and
  // stays silent costs no more than one that never sends a request line.
  void Handshake() {
    phase_ = Phase::kHandshake;
    tcp_layer().expires_after(state_->options.header_timeout);
    stream_.async_handshake(
        ssl::stream_base::server,
        [self = this->shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // A plain-HTTP client, a scanner, no common protocol version or cipher, or a timeout: it
      // costs this connection only.
      spdlog::debug("server: TLS handshake with {} failed: {}", remote_address_, ec.message());
      return CloseNow();
    }
    Begin();
  }

  void Begin() {
    if (rejected_) return RejectOverLimit();
    ReadHeader();
  }

  void ReadHeader() {
    phase_ = Phase::kIdle;
    if (draining_ || state_->draining.load()) return CloseGracefully();
    parser_.emplace();
    parser_->header_limit(state_->options.max_header_bytes);
    parser_->body_limit(state_->options.max_body_bytes);
    tcp_layer().expires_after(state_->options.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) return OnReadError(ec);
    phase_ = Phase::kReadingBody;
    target_ = std::string(parser_->get().target());
    auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      // curl and others wait for this before sending a large body.
      tcp_layer().expires_after(state_->options.write_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->CloseNow();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    tcp_layer().expires_after(state_->options.body_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) return OnReadError(ec);
    tcp_layer().expires_never();
    Dispatch();
  }

  void OnReadError(beast::error_code ec) {
    // Draining cancelled the wait for the next request on an idle TLS connection.
    if (ec == asio::error::operation_aborted && draining_ && phase_ == Phase::kIdle) {
      return CloseGracefully();
    }
    // Label the error response with the route when the request line got parsed (the target is
    // stored as soon as it is; a Content-Length over the limit fails before the header is done).
    target_ = parser_ ? std::string(parser_->get().target()) : std::string();
    if (ec == http::error::header_limit) {
      return RespondAndClose(
          431, ApiError::BadRequest("request header fields too large", "", "header_too_large"));
    }
    if (ec == http::error::body_limit) {
      return RespondAndClose(
          413, ApiError::PayloadTooLarge(fmt::format("request body exceeds the limit of {} bytes",
                                                     state_->options.max_body_bytes)));
    }
    if (ec == beast::error::timeout || ec == http::error::end_of_stream ||
        ec == http::error::partial_message || ec == asio::error::operation_aborted ||
        ec == asio::error::eof || ec == asio::error::connection_reset) {
      return CloseNow();  // idle timeout, slow sender, or the client left
    }
    if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
      // The transport failed (a TLS alert, a record that does not decrypt, a truncated TLS
      // stream): there is no channel left to answer on.
      return CloseNow();
    }
    // A malformed request; the stream cannot be trusted for another.
    RespondAndClose(400, ApiError::BadRequest("malformed HTTP request: " + ec.message(), "",
                                              "bad_http_request"));
  }

  void Dispatch() {
    HttpRequest request = parser_->release();
    parser_.reset();
    ++serial_;
    phase_ = Phase::kResponding;
    keep_alive_ = request.keep_alive() && !draining_ && !state_->draining.load();
    streaming_ = response_done_ = false;
    on_gone_ = nullptr;
    on_drained_ = nullptr;
    WatchForDisconnect();
    auto channel = MakeChannel();
    try {
      state_->handler(request, channel);
    } catch (const std::exception& e) {
      // A handler bug must cost one request, not the server.
      spdlog::error("server: handler for {} threw: {}", target_, e.what());
      Respond(serial_, 500, "application/json", ApiError::Internal("internal error").ToJson(), {});
    }
  }

  std::shared_ptr<ResponseChannel> MakeChannel() {
    return std::make_shared<Exchange<Connection>>(this->shared_from_this(), serial_);
  }

  // While a response is pending the connection is not read for requests, so the watch tells
  // when the client closes (EOF) or resets. Data instead (a pipelined request) is left for the
  // parser and ends the watch.
  void WatchForDisconnect() {
    if constexpr (kTls) {
      // A TLS close_notify is data on the socket, indistinguishable from a pipelined request
      // without decrypting, so the watch is a real read on the TLS stream, into the request
      // buffer, where pipelined bytes stay for the next parser. FinishResponse ends it.
      watch_pending_ = true;
      stream_.async_read_some(
          buffer_.prepare(kWatchReadBytes),
          [self = this->shared_from_this(), serial = serial_](beast::error_code ec, size_t n) {
            self->OnWatchRead(serial, ec, n);
          });
    } else {
      // A readiness wait: it leaves the bytes where they are.
      tcp_layer().socket().async_wait(tcp::socket::wait_read,
                                      [self = this->shared_from_this(), serial = serial_](
                                          beast::error_code ec) { self->OnReadable(serial, ec); });
    }
  }

  void OnReadable(uint64_t serial, beast::error_code ec) {
    if (serial != serial_ || phase_ != Phase::kResponding || response_done_) return;
    if (ec) {
      if (ec != asio::error::operation_aborted) Fail();
      return;
    }
    char byte = 0;
    const ssize_t n =
        ::recv(tcp_layer().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return Fail();
    }
    if (n < 0) WatchForDisconnect();  // spurious wakeup
  }

  void OnWatchRead(uint64_t serial, beast::error_code ec, size_t bytes) {
    watch_pending_ = false;
    if (!ec) buffer_.commit(bytes);
    if (phase_ == Phase::kClosed) return;
    if (resume_after_watch_) {
      // The response is complete and FinishResponse cancelled the watch to go on.
      resume_after_watch_ = false;
      if (ec && ec != asio::error::operation_aborted) return CloseNow();  // the client left
      return FinishResponse();
    }
    if (serial != serial_ || phase_ != Phase::kResponding || response_done_) return;
    if (ec) {
      if (ec != asio::error::operation_aborted) Fail();
      return;
    }
    // Bytes of a pipelined request: the client is still there.
  }

  void RejectOverLimit() {
    phase_ = Phase::kResponding;
    keep_alive_ = false;
    close_after_response_ = true;
    const std::string body =
        ApiError::Overloaded(fmt::format("too many connections (limit {}); retry later",
                                         state_->options.max_connections))
            .ToJson();
    Respond(serial_, 503, "application/json", body, {{"Retry-After", "1"}});
  }

  void RespondAndClose(int status, const ApiError& error) {
    phase_ = Phase::kResponding;
    keep_alive_ = false;
    close_after_response_ = true;
    ++serial_;
    streaming_ = response_done_ = false;
    ApiError e = error;
    e.http_status = status;
    Respond(serial_, status, "application/json", e.ToJson(), {});
  }

  void Queue(std::string data) {
    out_.append(data);
    DoWrite();
  }

  // One write_some at a time, each under its own write_timeout: the timeout measures a stall,
  // not the time a large response takes to reach a slow client.
  void DoWrite() {
    if (writing_ || phase_ == Phase::kClosed) return;
    if (in_flight_written_ == in_flight_.size()) {
      if (out_.empty()) return;
      in_flight_.swap(out_);
      out_.clear();
      in_flight_written_ = 0;
    }
    writing_ = true;
    tcp_layer().expires_after(state_->options.write_timeout);
    stream_.async_write_some(asio::buffer(in_flight_.data() + in_flight_written_,
                                          in_flight_.size() - in_flight_written_),
                             [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                               self->OnWrite(ec, n);
                             });
  }

  void OnWrite(beast::error_code ec, size_t written) {
    writing_ = false;
    in_flight_written_ += written;
    if (in_flight_written_ >= in_flight_.size()) {
      in_flight_.clear();
      in_flight_written_ = 0;
    }
    if (phase_ == Phase::kClosed) return;
    // Without this an expired timer would fail the next operation, e.g. a chunk written after a
    // long wait for the first token.
    tcp_layer().expires_never();
    if (ec) return Fail();
    NotifyDrained();
    if (!in_flight_.empty() || !out_.empty()) return DoWrite();
    if (response_done_) FinishResponse();
  }

  // Posted, never called inline: the callback may write, and its caller is mid-write.
  void NotifyDrained() {
    if (!on_drained_ || PendingBytes(serial_) > drain_threshold_) return;
    auto callback = std::move(on_drained_);
    on_drained_ = nullptr;
    Post([self = this->shared_from_this(), serial = serial_, callback = std::move(callback)] {
      if (self->Current(serial)) callback();
    });
  }

  void FinishResponse() {
    on_drained_ = nullptr;
    if constexpr (kTls) {
      if (watch_pending_) {
        // Whatever comes next reads from or shuts down the TLS stream, which the watch is
        // reading: end the watch first; OnWatchRead comes back here.
        resume_after_watch_ = true;
        beast::error_code ignored;
        tcp_layer().socket().cancel(ignored);
        return;
      }
    }
    if (close_after_response_) return LingerClose();
    if (keep_alive_ && !draining_) return ReadHeader();
    CloseGracefully();
  }

  // After an error response the client may still be sending (an oversized body): closing with
  // unread data would reset the connection and could destroy the response before the client
  // reads it. Half-close, discard what arrives for a moment, then close. On TLS the discarding
  // happens below the encryption: those bytes are never looked at.
  void LingerClose() {
    beast::error_code ignored;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
    phase_ = Phase::kLingering;
    linger_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    DiscardInput();
  }

  void DiscardInput() {
    if (std::chrono::steady_clock::now() >= linger_deadline_) return CloseNow();
    tcp_layer().expires_at(linger_deadline_);
    tcp_layer().async_read_some(asio::buffer(discard_),
                                [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                  if (ec) return self->CloseNow();
                                  self->DiscardInput();
                                });
  }

  // Closes a connection that is between requests or past a complete response. TLS first sends
  // close_notify, so that the client can tell the end of the connection from a truncation.
  void CloseGracefully() {
    if constexpr (kTls) {
      if (phase_ == Phase::kClosed || phase_ == Phase::kClosing) return;
      phase_ = Phase::kClosing;
      tcp_layer().expires_after(kTlsShutdownTimeout);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->CloseNow(); });
    } else {
      CloseNow();
    }
  }

  // The client is gone or unresponsive: tell the handler, then close.
  void Fail() {
    if (phase_ == Phase::kResponding && !response_done_ && !gone_) {
      gone_ = true;
      if (auto callback = std::move(on_gone_)) {
        on_gone_ = nullptr;
        callback();
      }
    }
    gone_ = true;
    CloseNow();
  }

  void CloseNow() {
    on_drained_ = nullptr;  // its captures may refer back to this connection
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    beast::error_code ignored;
    tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_layer().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  State* state_;
  uint64_t id_ = 0;
  bool rejected_ = false;
  std::string remote_address_;
  Phase phase_ = Phase::kIdle;
  uint64_t serial_ = 0;
  std::string target_;
  bool keep_alive_ = false;
  bool draining_ = false;
  bool streaming_ = false;
  bool response_done_ = false;
  bool close_after_response_ = false;
  bool writing_ = false;
  bool gone_ = false;
  // TLS: the disconnect watch's read is in flight / FinishResponse waits for it to end.
  bool watch_pending_ = false;
  bool resume_after_watch_ = false;
  std::string out_;
  std::string in_flight_;
  size_t in_flight_written_ = 0;  // bytes of in_flight_ the socket has taken
  std::function<void()> on_gone_;
  std::function<void()> on_drained_;
  size_t drain_threshold_ = 0;
  std::chrono::steady_clock::time_point linger_deadline_;
  std::array<char, 4096> discard_{};
};

namespace {

void Accept(HttpServer::State* state) {
  state->acceptor.async_accept(
      asio::make_strand(state->ioc), [state](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) return;
        if (ec) {
          // Out of file descriptors and the like: back off briefly instead of spinning.
          spdlog::warn("server: accept failed: {}", ec.message());
          auto timer = std::make_shared<asio::steady_timer>(state->acceptor.get_executor(),
                                                            std::chrono::milliseconds(50));
          timer->async_wait([state, timer](beast::error_code) { Accept(state); });
          return;
        }
        const int limit = state->options.max_connections;
        bool reject = false;
        {
          std::lock_guard lock(state->mutex);
          if (state->active.load() < limit) {
            state->active.fetch_add(1);
          } else if (state->rejected.load() < limit) {
            state->rejected.fetch_add(1);
            reject = true;
          } else {
            // Even the polite refusals are at their limit: drop the connection unanswered.
            beast::error_code ignored;
            socket.close(ignored);
            state->CountResponse("", 503);
            Accept(state);
            return;
          }
        }
        if (state->tls) {
          std::make_shared<Connection<TlsStream>>(state, reject, std::move(socket), *state->tls)
              ->Start();
        } else {
          std::make_shared<Connection<PlainStream>>(state, reject, std::move(socket))->Start();
        }
        Accept(state);
      });
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler, ServerMetrics* metrics)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  state_->options = options_;
  state_->handler = std::move(handler);
  state_->metrics = metrics;
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return Status::InvalidArgument(
        fmt::format("TLS needs both a certificate file and a key file; only the {} was given",
                    options_.tls_cert_file.empty() ? "key" : "certificate"));
  }
  if (!options_.tls_cert_file.empty()) {
    HEARTH_ASSIGN_OR_RETURN(state_->tls,
                            MakeServerTlsContext(options_.tls_cert_file, options_.tls_key_file));
  }
  beast::error_code ec;
  tcp::resolver resolver(state_->ioc);
  auto endpoints =
      resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return Status::InvalidArgument(
        fmt::format("cannot resolve listen address '{}': {}", options_.host, ec.message()));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto& acceptor = state_->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return Status::IoError("cannot open listening socket: " + ec.message());
  }
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    return Status::IoError(
        fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, ec.message()));
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::IoError("cannot listen: " + ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  state_->work.emplace(state_->ioc.get_executor());
  Accept(state_.get());
  StartIoThreads(state_->ioc, options_.io_threads, "server", threads_);
  return Status::Ok();
}

void HttpServer::StopAccepting() {
  if (state_->draining.exchange(true)) return;
  State* state = state_.get();
  // Closed on the acceptor's strand (the accept loop runs there), and waited for, so that no
  // connection is accepted once this returns.
  std::promise<void> closed;
  asio::post(state->acceptor.get_executor(), [state, &closed] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    closed.set_value();
  });
  if (!threads_.empty()) closed.get_future().wait();
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    std::lock_guard lock(state->mutex);
    for (auto& [id, weak] : state->connections) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (auto& connection : open) connection->Drain();
}

int HttpServer::active_connections() const { return state_->active.load(); }

bool HttpServer::WaitForIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->idle_cv.wait_for(
      lock, timeout, [this] { return state_->active.load() == 0 && state_->rejected.load() == 0; });
}

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  state_->draining.store(true);
  state_->work.reset();
  state_->ioc.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace hearth::server
