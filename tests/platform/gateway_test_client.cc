#include "gateway_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace hearth::platform::testing {

std::string ClientResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

ClientConnection::ClientConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

ClientConnection::~ClientConnection() { Close(); }

void ClientConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool ClientConnection::Send(const std::string& method, const std::string& target,
                            const std::string& body, const std::string& headers) {
  if (fd_ < 0) return false;
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers;
  if (method == "POST" || !body.empty()) {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool ClientConnection::Fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0) return false;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char data[16384];
  const ssize_t n = ::recv(fd_, data, sizeof(data), 0);
  if (n <= 0) return false;
  buffer_.append(data, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> ClientConnection::ReadLine(
    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const size_t eol = buffer_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 2);
      return line;
    }
    if (!Fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> ClientConnection::ReadExactly(
    size_t n, std::chrono::steady_clock::time_point deadline) {
  while (buffer_.size() < n) {
    if (!Fill(deadline)) return std::nullopt;
  }
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n);
  return out;
}

std::optional<ClientResponse> ClientConnection::ReadHeaders(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto status_line = ReadLine(deadline);
  if (!status_line || status_line->size() < 12) return std::nullopt;
  ClientResponse response;
  response.status = std::stoi(status_line->substr(9, 3));
  for (;;) {
    auto line = ReadLine(deadline);
    if (!line) return std::nullopt;
    if (line->empty()) break;
    const size_t colon = line->find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string name = line->substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line->substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    response.headers[name] = value;
  }
  response.chunked = response.header("transfer-encoding") == "chunked";
  return response;
}

std::optional<std::string> ClientConnection::ReadChunk(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto size_line = ReadLine(deadline);
  if (!size_line) return std::nullopt;
  const size_t size = std::stoul(*size_line, nullptr, 16);
  if (size == 0) {
    ReadLine(deadline);  // the blank line after the last chunk
    return std::nullopt;
  }
  auto data = ReadExactly(size + 2, deadline);
  if (!data) return std::nullopt;
  data->resize(size);
  return data;
}

bool ClientConnection::ReadBody(ClientResponse* response, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (response->chunked) {
    for (;;) {
      auto size_line = ReadLine(deadline);
      if (!size_line) return false;
      const size_t size = std::stoul(*size_line, nullptr, 16);
      if (size == 0) return ReadLine(deadline).has_value();
      auto data = ReadExactly(size + 2, deadline);
      if (!data) return false;
      data->resize(size);
      response->body += *data;
      response->chunks.push_back(std::move(*data));
    }
  }
  const std::string length = response->header("content-length");
  auto body = ReadExactly(length.empty() ? 0 : std::stoul(length), deadline);
  if (!body) return false;
  response->body = std::move(*body);
  return true;
}

std::optional<ClientResponse> ClientConnection::ReadResponse(std::chrono::milliseconds timeout) {
  auto response = ReadHeaders(timeout);
  if (!response || !ReadBody(&*response, timeout)) return std::nullopt;
  return response;
}

std::string Bearer(const std::string& key) { return "Authorization: Bearer " + key + "\r\n"; }

std::optional<ClientResponse> Call(uint16_t port, const std::string& method,
                                   const std::string& target, const std::string& body,
                                   const std::string& headers) {
  ClientConnection connection(port);
  if (!connection.Send(method, target, body, headers)) return std::nullopt;
  return connection.ReadResponse();
}

std::vector<std::string> SsePayloads(const std::string& body) {
  std::vector<std::string> payloads;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string event = body.substr(pos, end - pos);
    if (event.starts_with("data: ")) payloads.push_back(event.substr(6));
    pos = end + 2;
  }
  return payloads;
}

}  // namespace hearth::platform::testing
