#include "hearth/platform/engine_probe.h"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace hearth::platform {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Asynchronous operations on one private io_context: Beast's tcp_stream deadlines apply only
// to asynchronous calls, and the deadline is what keeps a hung engine from hanging its prober.
Result<ProbeReply> LoopbackGet(uint16_t port, std::string_view target,
                               std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  http::request<http::empty_body> request{http::verb::get, std::string(target), 11};
  request.set(http::field::host, fmt::format("127.0.0.1:{}", port));
  request.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16u << 20);
  beast::error_code failure;
  const char* failed_step = nullptr;
  auto fail = [&](const char* step, beast::error_code ec) {
    failure = ec;
    failed_step = step;
  };

  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
  stream.expires_after(timeout);
  stream.async_connect(endpoint, [&](beast::error_code ec) {
    if (ec) return fail("connect", ec);
    http::async_write(stream, request, [&](beast::error_code ec, size_t) {
      if (ec) return fail("write", ec);
      http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) {
        if (ec) return fail("read", ec);
      });
    });
  });
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);

  if (failed_step != nullptr) {
    const std::string what = fmt::format("GET 127.0.0.1:{}{}: {}: {}", port, target, failed_step,
                                         failure.message());
    if (failure == beast::error::timeout) return Status::DeadlineExceeded(what);
    return Status::Unavailable(what);
  }
  ProbeReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.body = std::move(parser.get().body());
  return reply;
}

bool EngineHealthy(uint16_t port, std::chrono::milliseconds timeout) {
  Result<ProbeReply> reply = LoopbackGet(port, "/health", timeout);
  return reply.ok() && reply->status == 200;
}

}  // namespace hearth::platform
