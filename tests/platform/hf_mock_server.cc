#include "hf_mock_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "hearth/platform/crypto.h"

namespace hearth::platform::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Head(int status, std::string_view reason, uint64_t length,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                                status, reason, length);
  for (const auto& [name, value] : headers) out += fmt::format("{}: {}\r\n", name, value);
  return out + "\r\n";
}

}  // namespace

struct HfMockServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
};

HfMockServer::HfMockServer() : impl_(new Impl) {
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  thread_ = std::thread([this] { Serve(); });
}

HfMockServer::~HfMockServer() {
  stopping_ = true;
  // Wake the blocking accept with a connection of our own.
  try {
    asio::io_context ioc;
    tcp::socket wake(ioc);
    wake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
  } catch (const std::exception&) {
  }
  thread_.join();
  delete impl_;
}

std::string HfMockServer::endpoint() const { return fmt::format("http://127.0.0.1:{}", port_); }

void HfMockServer::AddFile(const std::string& repo, const std::string& path, std::string bytes) {
  std::lock_guard lock(mu_);
  std::string sha = Sha256Hex(bytes);
  files_.push_back(File{repo, path, std::move(bytes), sha});
}

void HfMockServer::DisconnectAfter(std::optional<uint64_t> body_bytes, int times) {
  std::lock_guard lock(mu_);
  disconnect_after_ = body_bytes;
  disconnect_times_ = times;
}
void HfMockServer::CorruptServedBytes(bool corrupt) {
  std::lock_guard lock(mu_);
  corrupt_ = corrupt;
}
void HfMockServer::IgnoreRange(bool ignore) {
  std::lock_guard lock(mu_);
  ignore_range_ = ignore;
}
void HfMockServer::HideTreeApi(bool hide) {
  std::lock_guard lock(mu_);
  hide_tree_ = hide;
}
void HfMockServer::AdvertiseWrongSize(bool wrong) {
  std::lock_guard lock(mu_);
  wrong_size_ = wrong;
}

std::vector<HfMockServer::LoggedRequest> HfMockServer::requests() const {
  std::lock_guard lock(mu_);
  return log_;
}

void HfMockServer::Serve() {
  while (!stopping_) {
    tcp::socket socket(impl_->ioc);
    beast::error_code ec;
    impl_->acceptor.accept(socket, ec);
    if (ec || stopping_) continue;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) continue;
    LoggedRequest logged{std::string(request.method_string()), std::string(request.target()),
                         std::string(request[http::field::range]),
                         std::string(request[http::field::authorization])};
    Reply reply = Handle(logged);
    asio::write(socket, asio::buffer(reply.head), ec);
    if (ec) continue;
    std::string_view body = reply.body;
    if (logged.method == "HEAD") body = {};
    if (reply.drop_after && *reply.drop_after < body.size()) body = body.substr(0, *reply.drop_after);
    asio::write(socket, asio::buffer(body.data(), body.size()), ec);
    if (reply.file_bytes) body_bytes_served_ += body.size();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }
}

HfMockServer::Reply HfMockServer::Handle(const LoggedRequest& request) {
  std::lock_guard lock(mu_);
  log_.push_back(request);
  std::string target = request.target;
  std::string path = target.substr(0, target.find('?'));
  auto not_found = [] {
    std::string body = R"({"error":"Repository not found"})";
    return Reply{Head(404, "Not Found", body.size()), body, std::nullopt};
  };
  auto json_reply = [](const nlohmann::json& json) {
    std::string body = json.dump();
    return Reply{Head(200, "OK", body.size(), {{"Content-Type", "application/json"}}), body,
                 std::nullopt};
  };
  auto files_of = [&](std::string_view repo) {
    std::vector<const File*> out;
    for (const File& f : files_) {
      if (f.repo == repo) out.push_back(&f);
    }
    return out;
  };
  uint64_t size_skew = wrong_size_ ? 1 : 0;

  if (path.starts_with("/api/models/")) {
    std::string rest = path.substr(12);
    if (rest.ends_with("/tree/main")) {
      if (hide_tree_) return not_found();
      auto files = files_of(rest.substr(0, rest.size() - 10));
      if (files.empty()) return not_found();
      nlohmann::json tree = nlohmann::json::array();
      tree.push_back({{"type", "directory"}, {"path", "docs"}, {"oid", "0"}, {"size", 0}});
      for (const File* f : files) {
        uint64_t size = f->bytes.size() + size_skew;
        tree.push_back({{"type", "file"},
                        {"path", f->path},
                        {"oid", "0123456789abcdef0123456789abcdef01234567"},
                        {"size", size},
                        {"lfs", {{"oid", f->sha256}, {"size", size}, {"pointerSize", 134}}}});
      }
      return json_reply(tree);
    }
    auto files = files_of(rest);
    if (files.empty()) return not_found();
    nlohmann::json siblings = nlohmann::json::array();
    siblings.push_back({{"rfilename", "README.md"}});
    for (const File* f : files) siblings.push_back({{"rfilename", f->path}});
    return json_reply({{"id", rest}, {"siblings", siblings}});
  }

  size_t resolve = path.find("/resolve/main/");
  if (resolve != std::string::npos) {
    std::string repo = path.substr(1, resolve - 1);
    std::string file = path.substr(resolve + 14);
    for (const File* f : files_of(repo)) {
      if (f->path != file) continue;
      std::string location = fmt::format("/cdn/{}/{}?signature=abc", f->sha256, f->path);
      return Reply{Head(302, "Found", 0,
                        {{"Location", location},
                         {"X-Linked-Etag", "\"" + f->sha256 + "\""},
                         {"X-Linked-Size", std::to_string(f->bytes.size() + size_skew)}}),
                   "", std::nullopt};
    }
    return not_found();
  }

  if (path.starts_with("/cdn/")) {
    std::string rest = path.substr(5);
    std::string sha = rest.substr(0, rest.find('/'));
    const File* found = nullptr;
    for (const File& f : files_) {
      if (f.sha256 == sha) found = &f;
    }
    if (found == nullptr) return not_found();
    std::string bytes = found->bytes;
    if (corrupt_ && !bytes.empty()) bytes[bytes.size() / 2] ^= 0x5a;
    uint64_t total = bytes.size();
    Reply reply;
    reply.file_bytes = true;
    if (disconnect_after_ && disconnect_times_ > 0) {
      reply.drop_after = disconnect_after_;
      --disconnect_times_;
    }
    std::vector<std::pair<std::string, std::string>> headers = {
        {"ETag", "\"" + sha + "\""}, {"Accept-Ranges", "bytes"}};
    uint64_t start = 0;
    if (!request.range.empty() && !ignore_range_ && request.range.starts_with("bytes=") &&
        request.range.ends_with("-")) {
      start = std::stoull(request.range.substr(6, request.range.size() - 7));
      if (start >= total) {
        reply.head = Head(416, "Range Not Satisfiable", 0,
                          {{"Content-Range", fmt::format("bytes */{}", total)}});
        return reply;
      }
      headers.emplace_back("Content-Range", fmt::format("bytes {}-{}/{}", start, total - 1, total));
      reply.body = bytes.substr(start);
      reply.head = Head(206, "Partial Content", reply.body.size(), headers);
      return reply;
    }
    reply.body = bytes;
    reply.head = Head(200, "OK", reply.body.size(), headers);
    return reply;
  }
  return not_found();
}

}  // namespace hearth::platform::testing
