#include "e2e_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace hearth::e2e {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

// Closes the descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on `fd` until the deadline; false on timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

HttpReply HttpCall(uint16_t port, std::string_view method, std::string_view target,
                   std::string_view body, const Headers& headers,
                   std::chrono::milliseconds timeout) {
  HttpReply reply;
  const auto deadline = Clock::now() + timeout;
  Fd sock{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (sock.fd < 0) {
    reply.error = std::string("socket: ") + std::strerror(errno);
    return reply;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS || !WaitFor(sock.fd, POLLOUT, deadline)) {
      reply.error = std::string("connect: ") + std::strerror(errno);
      return reply;
    }
    int so_error = 0;
    socklen_t length = sizeof so_error;
    getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
    if (so_error != 0) {
      reply.error = std::string("connect: ") + std::strerror(so_error);
      return reply;
    }
  }

  std::string request = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  request += "Host: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(sock.fd, POLLOUT, deadline)) {
        reply.error = "timed out sending the request";
        return reply;
      }
    } else {
      reply.error = std::string("send: ") + std::strerror(errno);
      return reply;
    }
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.eager(true);
  std::string pending;
  char buffer[16384];
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    ssize_t n = recv(sock.fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        if (!WaitFor(sock.fd, POLLIN, deadline)) {
          reply.error = "timed out waiting for the response";
          break;
        }
        continue;
      }
      reply.error = std::string("recv: ") + std::strerror(errno);
      break;
    }
    if (n == 0) {
      parser.put_eof(ec);
      if (ec) reply.error = "connection closed early: " + ec.message();
      break;
    }
    pending.append(buffer, static_cast<size_t>(n));
    while (!pending.empty() && !parser.is_done()) {
      size_t used = parser.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) {
        reply.error = "bad response: " + ec.message();
        break;
      }
      if (used == 0) break;
    }
    if (!reply.error.empty()) break;
  }
  if (parser.is_header_done()) {
    const auto& message = parser.get();
    reply.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      reply.headers[Lower(std::string_view(field.name_string().data(),
                                           field.name_string().size()))] =
          std::string(field.value().data(), field.value().size());
    }
    reply.body = message.body();
  }
  reply.complete = parser.is_done() && reply.error.empty();
  if (!reply.complete && reply.error.empty()) reply.error = "incomplete response";
  return reply;
}

Headers JsonWithBearer(const std::string& token) {
  Headers headers = {{"Content-Type", "application/json"}};
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

uint16_t FreeLoopbackPort() {
  Fd sock{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (sock.fd < 0 || bind(sock.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(sock.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  return ntohs(address.sin_port);
}

}  // namespace hearth::e2e
