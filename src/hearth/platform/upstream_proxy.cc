#include "hearth/platform/upstream_proxy.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "hearth/server/io_threads.h"

namespace hearth::platform {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class ProxyCall;

struct UpstreamProxy::State {
  UpstreamProxyOptions options;
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::mutex mutex;
  std::unordered_map<uint64_t, std::weak_ptr<ProxyCall>> calls;
  uint64_t next_id = 0;
};

class ProxyCall : public UpstreamCall, public std::enable_shared_from_this<ProxyCall> {
 public:
  ProxyCall(std::shared_ptr<UpstreamProxy::State> state, UpstreamRequest request,
            UpstreamHandler handler)
      : state_(std::move(state)),
        request_(std::move(request)),
        handler_(std::move(handler)),
        stream_(asio::make_strand(state_->ioc)),
        resolver_(stream_.get_executor()) {
    std::lock_guard lock(state_->mutex);
    id_ = state_->next_id++;
  }

  ~ProxyCall() override {
    std::lock_guard lock(state_->mutex);
    state_->calls.erase(id_);
  }

  void Begin() {
    {
      std::lock_guard lock(state_->mutex);
      state_->calls[id_] = weak_from_this();
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Resolve(); });
  }

  void Acknowledge(size_t bytes) override {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), bytes] {
      if (self->finished_) return;
      self->unacknowledged_ -= std::min(bytes, self->unacknowledged_);
      if (self->paused_ && self->unacknowledged_ < self->request_.receive_window) {
        self->paused_ = false;
        self->ReadBody();
      }
    });
  }

  void Cancel() override {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->finished_) return;
      self->finished_ = true;
      self->handler_ = {};
      self->Close();
    });
  }

 private:
  void Resolve() {
    if (finished_) return;
    resolver_.async_resolve(
        request_.host, std::to_string(request_.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          if (self->finished_) return;
          if (ec) {
            return self->Finish(Status::Unavailable(
                fmt::format("cannot resolve replica {}:{}: {}", self->request_.host,
                            self->request_.port, ec.message())));
          }
          self->Connect(results);
        });
  }

  void Connect(const tcp::resolver::results_type& results) {
    stream_.expires_after(state_->options.connect_timeout);
    stream_.async_connect(
        results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          if (self->finished_) return;
          if (ec) {
            return self->Finish(Status::Unavailable(
                fmt::format("cannot connect to replica {}:{}: {}", self->request_.host,
                            self->request_.port, ec.message())));
          }
          self->WriteRequest();
        });
  }

  void WriteRequest() {
    if (finished_) return;
    auto verb = http::string_to_verb(request_.method);
    outgoing_.method(verb == http::verb::unknown ? http::verb::post : verb);
    outgoing_.target(request_.target);
    outgoing_.version(11);
    outgoing_.set(http::field::host, fmt::format("{}:{}", request_.host, request_.port));
    outgoing_.set(http::field::user_agent, "hearth-gateway");
    outgoing_.set(http::field::connection, "close");
    if (!request_.body.empty() || outgoing_.method() == http::verb::post) {
      outgoing_.set(http::field::content_type, request_.content_type);
    }
    outgoing_.body() = std::move(request_.body);
    outgoing_.prepare_payload();
    stream_.expires_after(state_->options.write_timeout);
    http::async_write(stream_, outgoing_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (self->finished_) return;
                        if (ec) return self->Failed("sending the request", ec);
                        self->ReadHeader();
                      });
  }

  void ReadHeader() {
    // Streams are as long as the generation. (Not boost::none: Boost 1.74 compares a
    // Content-Length against an empty limit as if it were exceeded.)
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    stream_.expires_after(state_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (self->finished_) return;
                              if (ec) return self->Failed("reading the response header", ec);
                              self->OnHeader();
                            });
  }

  void OnHeader() {
    const auto& message = parser_.get();
    server::HeaderList headers;
    for (const auto& field : message) {
      headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    if (handler_.on_headers) handler_.on_headers(message.result_int(), std::move(headers));
    if (finished_) return;
    ReadBody();
  }

  void ReadBody() {
    if (parser_.is_done()) return Finish(Status::Ok());
    if (request_.receive_window > 0 && unacknowledged_ >= request_.receive_window) {
      // The consumer's window is full: stop reading until Acknowledge. No timer runs meanwhile
      // (an expired one would fail the next read).
      paused_ = true;
      stream_.expires_never();
      return;
    }
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    stream_.expires_after(state_->options.idle_timeout);
    http::async_read_some(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (finished_) return;
    if (ec == http::error::need_buffer) ec = {};
    const size_t produced = chunk_.size() - parser_.get().body().size;
    if (produced > 0 && handler_.on_data) {
      if (request_.receive_window > 0) unacknowledged_ += produced;
      handler_.on_data(std::string(chunk_.data(), produced));
      if (finished_) return;
    }
    if (ec) return Failed("reading the response body", ec);
    ReadBody();
  }

  void Failed(std::string_view during, beast::error_code ec) {
    if (ec == beast::error::timeout) {
      return Finish(Status::DeadlineExceeded(
          fmt::format("replica {}:{} went silent while {}", request_.host, request_.port, during)));
    }
    Finish(Status::IoError(fmt::format("replica {}:{} failed while {}: {}", request_.host,
                                       request_.port, during, ec.message())));
  }

  void Finish(Status status) {
    if (finished_) return;
    finished_ = true;
    auto on_complete = std::move(handler_.on_complete);
    handler_ = {};
    Close();
    if (on_complete) on_complete(std::move(status));
  }

  void Close() {
    resolver_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  // Keeps the io_context alive as long as any call (its socket belongs to it).
  std::shared_ptr<UpstreamProxy::State> state_;
  UpstreamRequest request_;
  UpstreamHandler handler_;
  beast::tcp_stream stream_;
  tcp::resolver resolver_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> outgoing_;
  http::response_parser<http::buffer_body> parser_;
  std::array<char, 16 * 1024> chunk_{};
  uint64_t id_ = 0;
  bool finished_ = false;
  size_t unacknowledged_ = 0;  // body bytes delivered and not yet acknowledged
  bool paused_ = false;        // waiting for Acknowledge to read on
};

UpstreamProxy::UpstreamProxy(UpstreamProxyOptions options) : state_(std::make_shared<State>()) {
  state_->options = options;
  state_->work.emplace(state_->ioc.get_executor());
  server::StartIoThreads(state_->ioc, options.io_threads, "gateway: upstream", threads_);
}

UpstreamProxy::~UpstreamProxy() {
  // Closing every socket completes every pending operation; the threads then run out of work
  // and return, leaving nothing queued that could keep a call (and this state) alive.
  std::vector<std::shared_ptr<ProxyCall>> open;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& [id, weak] : state_->calls) {
      if (auto call = weak.lock()) open.push_back(std::move(call));
    }
  }
  for (auto& call : open) call->Cancel();
  open.clear();
  state_->work.reset();
  for (auto& thread : threads_) thread.join();
}

std::shared_ptr<UpstreamCall> UpstreamProxy::Start(UpstreamRequest request,
                                                   UpstreamHandler handler) {
  auto call = std::make_shared<ProxyCall>(state_, std::move(request), std::move(handler));
  call->Begin();
  return call;
}

}  // namespace hearth::platform
