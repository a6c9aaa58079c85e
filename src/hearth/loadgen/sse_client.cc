#include "hearth/loadgen/sse_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <optional>

namespace hearth::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class StreamCall : public std::enable_shared_from_this<StreamCall> {
 public:
  StreamCall(asio::io_context& io, Endpoint endpoint, std::string body,
             std::chrono::seconds timeout, EventHandler on_event, DoneHandler on_done)
      : resolver_(io),
        stream_(io),
        endpoint_(std::move(endpoint)),
        timeout_(timeout),
        on_event_(std::move(on_event)),
        on_done_(std::move(on_done)) {
    request_.method(http::verb::post);
    request_.target(endpoint_.target);
    request_.version(11);
    request_.set(http::field::host, endpoint_.host);
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::accept, "text/event-stream");
    request_.set(http::field::connection, "close");
    if (!endpoint_.api_key.empty()) {
      request_.set(http::field::authorization, "Bearer " + endpoint_.api_key);
    }
    request_.body() = std::move(body);
    request_.prepare_payload();
    parser_.body_limit(std::numeric_limits<uint64_t>::max());
  }

  void Start() {
    stream_.expires_after(timeout_);
    resolver_.async_resolve(endpoint_.host, endpoint_.port,
                            [self = shared_from_this()](beast::error_code ec,
                                                        tcp::resolver::results_type results) {
                              if (ec) return self->Finish(false, "connect", ec.message());
                              self->stream_.async_connect(
                                  results, [self](beast::error_code ec, const tcp::endpoint&) {
                                    if (ec) return self->Finish(false, "connect", ec.message());
                                    self->Send();
                                  });
                            });
  }

 private:
  void Send() {
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Finish(false, "write", ec.message());
                        self->ReadHeader();
                      });
  }

  void ReadHeader() {
    http::async_read_header(stream_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->FailRead(ec);
                              self->status_ = static_cast<int>(self->parser_.get().result_int());
                              self->ReadBody();
                            });
  }

  void ReadBody() {
    if (parser_.is_done()) return Complete();
    parser_.get().body().data = chunk_.data();
    parser_.get().body().size = chunk_.size();
    http::async_read_some(
        stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec == http::error::need_buffer) ec = {};
          if (ec) return self->FailRead(ec);
          size_t got = self->chunk_.size() - self->parser_.get().body().size;
          if (got > 0) self->OnBytes(std::string_view(self->chunk_.data(), got));
          self->ReadBody();
        });
  }

  void OnBytes(std::string_view bytes) {
    if (status_ != 200) {
      if (error_body_.size() < 4096) error_body_.append(bytes.substr(0, 4096));
      return;
    }
    auto now = Clock::now();
    bool event_stream = parser_.get()[http::field::content_type].starts_with("text/event-stream");
    if (!event_stream) {
      whole_body_.append(bytes);
      return;
    }
    splitter_.Feed(bytes, [&](std::string_view data) { on_event_(now, data); });
  }

  void Complete() {
    if (status_ != 200) return Finish(false, "http_" + std::to_string(status_), error_body_);
    if (!whole_body_.empty()) on_event_(Clock::now(), whole_body_);
    Finish(true, "", "");
  }

  void FailRead(beast::error_code ec) {
    if (ec == beast::error::timeout) return Finish(false, "timeout", ec.message());
    if (ec == http::error::end_of_stream || ec == asio::error::eof) {
      return Finish(false, "disconnected", ec.message());
    }
    Finish(false, "read", ec.message());
  }

  void Finish(bool ok, std::string kind, std::string body) {
    if (done_) return;
    done_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    CallOutcome outcome{ok, status_, std::move(kind), std::move(body)};
    on_done_(outcome);
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  Endpoint endpoint_;
  std::chrono::seconds timeout_;
  EventHandler on_event_;
  DoneHandler on_done_;
  http::request<http::string_body> request_;
  http::response_parser<http::buffer_body> parser_;
  beast::flat_buffer buffer_;
  std::array<char, 16384> chunk_{};
  SseSplitter splitter_;
  std::string whole_body_;
  std::string error_body_;
  int status_ = 0;
  bool done_ = false;
};

}  // namespace

bool ParseBaseUrl(std::string_view url, Endpoint* endpoint, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    *error = "URL must start with http:// (got '" + std::string(url) + "')";
    return false;
  }
  url.remove_prefix(kScheme.size());
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  auto colon = authority.rfind(':');
  if (authority.empty()) {
    *error = "URL has no host";
    return false;
  }
  if (colon == std::string_view::npos) {
    endpoint->host = std::string(authority);
    endpoint->port = "80";
  } else {
    endpoint->host = std::string(authority.substr(0, colon));
    endpoint->port = std::string(authority.substr(colon + 1));
    if (endpoint->port.empty() ||
        endpoint->port.find_first_not_of("0123456789") != std::string::npos) {
      *error = "URL has a bad port '" + endpoint->port + "'";
      return false;
    }
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  endpoint->target = std::string(path);
  return true;
}

void SseSplitter::Feed(std::string_view bytes, const std::function<void(std::string_view)>& emit) {
  pending_.append(bytes);
  size_t start = 0;
  for (;;) {
    // Events end with a blank line; accept both \n\n and \r\n\r\n.
    size_t end = pending_.find("\n\n", start);
    size_t crlf = pending_.find("\r\n\r\n", start);
    size_t sep_len = 2;
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      sep_len = 4;
    }
    if (end == std::string::npos) break;
    std::string_view event(pending_.data() + start, end - start);
    std::string data;
    size_t pos = 0;
    while (pos <= event.size()) {
      size_t eol = event.find('\n', pos);
      std::string_view line = event.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.starts_with("data:")) {
        line.remove_prefix(5);
        if (line.starts_with(' ')) line.remove_prefix(1);
        if (!data.empty()) data.push_back('\n');
        data.append(line);
      }
      if (eol == std::string_view::npos) break;
      pos = eol + 1;
    }
    if (!data.empty()) emit(data);
    start = end + sep_len;
  }
  pending_.erase(0, start);
}

void StartStreamCall(boost::asio::io_context& io, const Endpoint& endpoint, std::string body,
                     std::chrono::seconds timeout, EventHandler on_event, DoneHandler on_done) {
  std::make_shared<StreamCall>(io, endpoint, std::move(body), timeout, std::move(on_event),
                               std::move(on_done))
      ->Start();
}

}  // namespace hearth::loadgen
