#include "support/http_test_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace hearth::server::testing {

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

int ConnectLoopback(uint16_t port, int receive_buffer_bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (receive_buffer_bytes > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

TestConnection::TestConnection(uint16_t port) : fd_(ConnectLoopback(port)) {}

TestConnection::~TestConnection() { Close(); }

void TestConnection::Close(bool reset) {
  if (fd_ < 0) return;
  if (reset) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  ::close(fd_);
  fd_ = -1;
}

bool TestConnection::SendRaw(const std::string& bytes) { return SendAll(fd_, bytes); }

bool TestConnection::SendRequest(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& extra_headers) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty() || method == "POST") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += extra_headers + "\r\n" + body;
  return SendRaw(request);
}

bool TestConnection::Fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char data[65536];
  const ssize_t n = ::recv(fd_, data, sizeof(data), 0);
  if (n <= 0) return false;
  buffer_.append(data, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> TestConnection::ReadLine(
    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto pos = buffer_.find("\r\n");
    if (pos != std::string::npos) {
      std::string line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 2);
      return line;
    }
    if (!Fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> TestConnection::ReadExactly(
    size_t n, std::chrono::steady_clock::time_point deadline) {
  while (buffer_.size() < n) {
    if (!Fill(deadline)) return std::nullopt;
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

std::optional<HttpResponse> TestConnection::ReadHeaders(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  HttpResponse response;
  for (;;) {
    auto status_line = ReadLine(deadline);
    if (!status_line) return std::nullopt;
    // "HTTP/1.1 200 OK"
    if (status_line->rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
    response.status = std::atoi(status_line->c_str() + 9);
    response.headers.clear();
    for (;;) {
      auto line = ReadLine(deadline);
      if (!line) return std::nullopt;
      if (line->empty()) break;
      auto colon = line->find(':');
      if (colon == std::string::npos) return std::nullopt;
      std::string name = line->substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      std::string value = line->substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      response.headers[name] = value;
    }
    if (response.status != 100) break;  // interim response: the real one follows
  }
  response.chunked = response.header("transfer-encoding") == "chunked";
  return response;
}

std::optional<std::string> TestConnection::ReadChunk(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto size_line = ReadLine(deadline);
  if (!size_line) return std::nullopt;
  const size_t size = std::stoul(*size_line, nullptr, 16);
  if (size == 0) {
    ReadLine(deadline);  // the blank line after the last chunk
    return std::nullopt;
  }
  auto data = ReadExactly(size, deadline);
  auto crlf = ReadExactly(2, deadline);
  if (!data || !crlf || *crlf != "\r\n") return std::nullopt;
  return data;
}

bool TestConnection::ReadBody(HttpResponse* response, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (response->chunked) {
    for (;;) {
      auto size_line = ReadLine(deadline);
      if (!size_line) return false;
      const size_t size = std::stoul(*size_line, nullptr, 16);
      if (size == 0) return ReadLine(deadline).has_value();
      auto data = ReadExactly(size, deadline);
      auto crlf = ReadExactly(2, deadline);
      if (!data || !crlf || *crlf != "\r\n") return false;
      response->chunks.push_back(*data);
      response->body += *data;
    }
  }
  const std::string length = response->header("content-length");
  if (length.empty()) return false;
  auto body = ReadExactly(std::stoul(length), deadline);
  if (!body) return false;
  response->body = *body;
  return true;
}

std::optional<HttpResponse> TestConnection::ReadResponse(std::chrono::milliseconds timeout) {
  auto response = ReadHeaders(timeout);
  if (!response || !ReadBody(&*response, timeout)) return std::nullopt;
  return response;
}

bool TestConnection::WaitForClose(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char data[4096];
    const ssize_t n = ::recv(fd_, data, sizeof(data), 0);
    if (n <= 0) return true;
    buffer_.append(data, static_cast<size_t>(n));
  }
  return false;
}

std::optional<HttpResponse> Fetch(uint16_t port, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  const std::string& extra_headers) {
  TestConnection connection(port);
  if (!connection.connected() || !connection.SendRequest(method, target, body, extra_headers)) {
    return std::nullopt;
  }
  return connection.ReadResponse();
}

std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

std::vector<std::string> ParseSse(const std::string& body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "SSE event not terminated by a blank line: " << body.substr(pos);
      break;
    }
    const std::string event = body.substr(pos, end - pos);
    if (event.rfind("data: ", 0) != 0 || event.find('\n') != std::string::npos) {
      ADD_FAILURE() << "SSE event is not a single data line: " << event;
    }
    events.push_back(event.substr(std::min<size_t>(6, event.size())));
    pos = end + 2;
  }
  return events;
}

}  // namespace hearth::server::testing
