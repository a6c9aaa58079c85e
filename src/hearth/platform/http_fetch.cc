#include "hearth/platform/http_fetch.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <limits>

namespace hearth::platform {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using beast::error_code;

constexpr size_t kChunk = 64 * 1024;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

uint16_t DefaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// RFC 3986 5.2.4, for the path part of a resolved relative reference.
std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  bool trailing_slash = false;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view segment = path.substr(pos, next - pos);
    trailing_slash = false;
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
      trailing_slash = true;
    } else if (segment == ".") {
      trailing_slash = true;
    } else if (!segment.empty() || next == path.size()) {
      out.push_back(segment);
    }
    pos = next + 1;
  }
  std::string result;
  for (std::string_view segment : out) {
    result += '/';
    result += segment;
  }
  if (result.empty() || trailing_slash) result += '/';
  return result;
}

// Runs the io_context until the operation started by `start` completes; returns its error.
template <typename Start>
error_code RunOne(asio::io_context& ioc, Start&& start) {
  error_code result = asio::error::would_block;
  start([&result](error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

std::string Seconds(std::chrono::milliseconds ms) {
  return fmt::format("{:g} s", static_cast<double>(ms.count()) / 1000.0);
}

Status NetworkError(std::string_view what, std::string_view step, const error_code& ec,
                    std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return Status::DeadlineExceeded(
        fmt::format("{}: {} timed out after {}", what, step, Seconds(timeout)));
  }
  return Status::Unavailable(fmt::format("{}: {}: {}", what, step, ec.message()));
}

struct HopResult {
  int status = 0;
  HttpHeaders headers;
};

class Exchange {
 public:
  Exchange(const HttpFetchOptions& options, std::string what)
      : options_(options), what_(std::move(what)) {}

  // Sends `request` over `stream` (connected) and reads the head; for a final (non-redirect)
  // response also streams the body. `stream` is beast::tcp_stream or an ssl_stream over one.
  template <typename Stream>
  Result<HopResult> Run(asio::io_context& ioc, Stream& stream,
                        const http::request<http::empty_body>& request, HttpFetchResponse& response,
                        const HttpHeadCallback& on_head, const HttpBodySink& sink) {
    auto& tcp_layer = beast::get_lowest_layer(stream);
    tcp_layer.expires_after(options_.io_timeout);
    error_code ec = RunOne(ioc, [&](auto handler) { http::async_write(stream, request, handler); });
    if (ec) return NetworkError(what_, "sending the request", ec, options_.io_timeout);

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    if (request.method() == http::verb::head) parser.skip(true);
    beast::flat_buffer buffer;
    tcp_layer.expires_after(options_.io_timeout);
    ec = RunOne(ioc, [&](auto handler) { http::async_read_header(stream, buffer, parser, handler); });
    if (ec) return NetworkError(what_, "reading the response head", ec, options_.io_timeout);

    HopResult hop;
    hop.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      hop.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    if (IsRedirect(hop.status) && FindHeader(hop.headers, "location")) return hop;

    response.status = hop.status;
    response.headers = hop.headers;
    if (auto length = parser.content_length()) response.content_length = *length;
    if (on_head) HEARTH_RETURN_IF_ERROR(on_head(response));

    std::vector<char> chunk(kChunk);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      tcp_layer.expires_after(options_.io_timeout);
      ec = RunOne(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
      if (ec == http::error::need_buffer) ec = {};
      size_t got = chunk.size() - parser.get().body().size;
      if (got > 0) {
        response.body_bytes += got;
        if (sink) HEARTH_RETURN_IF_ERROR(sink(std::string_view(chunk.data(), got)));
      }
      if (ec == http::error::partial_message || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
        return Status::Unavailable(fmt::format(
            "{}: the connection closed after {} of {} body bytes", what_, response.body_bytes,
            response.content_length ? std::to_string(*response.content_length) : "the"));
      }
      if (ec) return NetworkError(what_, "reading the body", ec, options_.io_timeout);
    }
    return hop;
  }

 private:
  const HttpFetchOptions& options_;
  std::string what_;
};

Result<tcp::resolver::results_type> Resolve(asio::io_context& ioc, const Url& url,
                                            const HttpFetchOptions& options,
                                            std::string_view what) {
  tcp::resolver resolver(ioc);
  error_code result = asio::error::would_block;
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(url.host, std::to_string(url.port),
                         [&](error_code ec, tcp::resolver::results_type found) {
                           result = ec;
                           endpoints = std::move(found);
                         });
  ioc.restart();
  ioc.run_for(options.connect_timeout);
  if (result == asio::error::would_block) {
    resolver.cancel();
    ioc.restart();
    ioc.run();
    return Status::DeadlineExceeded(fmt::format("{}: resolving {} timed out after {}", what,
                                                url.host, Seconds(options.connect_timeout)));
  }
  if (result) {
    return Status::Unavailable(
        fmt::format("{}: cannot resolve {}: {}", what, url.host, result.message()));
  }
  return endpoints;
}

// One request/response over a new connection to `url`.
Result<HopResult> OneHop(const Url& url, const http::request<http::empty_body>& request,
                         const HttpFetchOptions& options, std::string_view what,
                         HttpFetchResponse& response, const HttpHeadCallback& on_head,
                         const HttpBodySink& sink) {
  asio::io_context ioc;
  HEARTH_ASSIGN_OR_RETURN(auto endpoints, Resolve(ioc, url, options, what));
  Exchange exchange(options, std::string(what));
  if (url.scheme == "http") {
    beast::tcp_stream stream(ioc);
    stream.expires_after(options.connect_timeout);
    error_code ec = RunOne(ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
    if (ec) return NetworkError(what, "connect", ec, options.connect_timeout);
    return exchange.Run(ioc, stream, request, response, on_head, sink);
  }

  ssl::context context(ssl::context::tls_client);
  error_code ec;
  if (options.ca_file.empty()) {
    context.set_default_verify_paths(ec);
  } else {
    context.load_verify_file(options.ca_file, ec);
  }
  if (ec) {
    return Status::FailedPrecondition(
        fmt::format("{}: cannot load trusted CA certificates{}: {}", what,
                    options.ca_file.empty() ? "" : " from " + options.ca_file, ec.message()));
  }
  context.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  // SNI: virtual-hosted servers (CDNs) choose the certificate by it.
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    return Status::Internal(fmt::format("{}: cannot set the TLS server name", what));
  }
  beast::get_lowest_layer(stream).expires_after(options.connect_timeout);
  ec = RunOne(ioc, [&](auto handler) {
    beast::get_lowest_layer(stream).async_connect(endpoints, handler);
  });
  if (ec) return NetworkError(what, "connect", ec, options.connect_timeout);
  beast::get_lowest_layer(stream).expires_after(options.connect_timeout);
  ec = RunOne(ioc, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
  if (ec) {
    if (ec == beast::error::timeout) {
      return NetworkError(what, "TLS handshake", ec, options.connect_timeout);
    }
    return Status::Unavailable(fmt::format("{}: TLS handshake with {}: {}", what, url.host,
                                           ec.message()));
  }
  return exchange.Run(ioc, stream, request, response, on_head, sink);
}

}  // namespace

std::string Url::Origin() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port == DefaultPort(scheme)) return fmt::format("{}://{}", scheme, host_part);
  return fmt::format("{}://{}:{}", scheme, host_part, port);
}

std::string Url::ToString() const { return Origin() + target; }

Result<Url> ParseUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("malformed URL '{}': {}", text, why));
  };
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) return bad("no scheme (expected http:// or https://)");
  Url url;
  url.scheme = Lower(text.substr(0, colon));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::InvalidArgument(
        fmt::format("unsupported URL scheme '{}' in '{}' (expected http or https)", url.scheme,
                    text));
  }
  std::string_view rest = text.substr(colon + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? "" : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) return bad("credentials in URLs are refused");
  std::string_view port_text;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    size_t port_colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, port_colon));
    if (port_colon != std::string_view::npos) port_text = authority.substr(port_colon + 1);
  }
  if (url.host.empty()) return bad("no host");
  for (char c : url.host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '\\') return bad("bad host");
  }
  url.port = DefaultPort(url.scheme);
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return bad("bad port");
    }
    url.port = static_cast<uint16_t>(value);
  }
  tail = tail.substr(0, tail.find('#'));
  for (char c : tail) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return bad("spaces or control characters in the path (percent-encode them)");
    }
  }
  if (tail.empty()) {
    url.target = "/";
  } else if (tail[0] == '?') {
    url.target = "/" + std::string(tail);
  } else {
    url.target = std::string(tail);
  }
  return url;
}

Result<Url> ResolveUrl(const Url& base, std::string_view location) {
  while (!location.empty() && (location.front() == ' ' || location.front() == '\t')) {
    location.remove_prefix(1);
  }
  while (!location.empty() && (location.back() == ' ' || location.back() == '\t')) {
    location.remove_suffix(1);
  }
  if (location.empty()) return Status::InvalidArgument("empty redirect Location");
  // An absolute URI has a scheme: letters, digits, '+', '-', '.' before the first ':'.
  size_t colon = location.find(':');
  size_t first_delimiter = location.find_first_of("/?#");
  if (colon != std::string_view::npos && colon < first_delimiter && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(location[0]))) {
    return ParseUrl(location);
  }
  if (location.starts_with("//")) return ParseUrl(base.scheme + ":" + std::string(location));
  location = location.substr(0, location.find('#'));
  Url url = base;
  std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  std::string path;
  std::string query;
  size_t question = location.find('?');
  std::string_view reference_path = location.substr(0, question);
  if (question != std::string_view::npos) query = std::string(location.substr(question));
  if (reference_path.empty()) {
    path = std::string(base_path);
    if (query.empty()) {
      size_t base_question = base.target.find('?');
      if (base_question != std::string::npos) query = base.target.substr(base_question);
    }
  } else if (reference_path[0] == '/') {
    path = RemoveDotSegments(reference_path);
  } else {
    std::string merged(base_path.substr(0, base_path.rfind('/') + 1));
    merged += reference_path;
    path = RemoveDotSegments(merged);
  }
  for (char c : location) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Status::InvalidArgument(
          fmt::format("malformed redirect Location '{}': spaces or control characters", location));
    }
  }
  url.target = path + query;
  return url;
}

std::optional<std::string> FindHeader(const HttpHeaders& headers, std::string_view name) {
  std::string wanted = Lower(name);
  for (const auto& [key, value] : headers) {
    if (Lower(key) == wanted) return value;
  }
  return std::nullopt;
}

Status HttpStatusError(std::string_view what, int status, std::string_view body_start) {
  std::string message = fmt::format("{}: HTTP {}", what, status);
  std::string excerpt;
  for (char c : body_start.substr(0, 200)) {
    excerpt += static_cast<unsigned char>(c) < ' ' ? ' ' : c;
  }
  if (!excerpt.empty()) message += ": " + excerpt;
  switch (status) {
    case 401:
      return Status::Unauthenticated(message);
    case 403:
      return Status::PermissionDenied(message);
    case 404:
      return Status::NotFound(message);
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return Status::Unavailable(message);
    default:
      return Status::FailedPrecondition(message);
  }
}

Result<HttpFetchResponse> HttpFetch(const HttpFetchRequest& request, const HttpFetchOptions& options,
                               const HttpHeadCallback& on_head, const HttpBodySink& sink) {
  std::string method = request.method;
  if (method != "GET" && method != "HEAD") {
    return Status::InvalidArgument(
        fmt::format("HTTP method '{}' is not supported (GET or HEAD)", method));
  }
  HEARTH_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  const std::string first_origin = url.Origin();
  HttpFetchResponse response;
  for (int hop = 0;; ++hop) {
    std::string what = fmt::format("{} {}", method, url.ToString());
    http::request<http::empty_body> message{
        method == "HEAD" ? http::verb::head : http::verb::get, url.target, 11};
    bool default_port = url.port == DefaultPort(url.scheme);
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    message.set(http::field::host, default_port ? host : fmt::format("{}:{}", host, url.port));
    message.set(http::field::user_agent, options.user_agent);
    message.set(http::field::connection, "close");
    bool same_origin = url.Origin() == first_origin;
    for (const auto& [name, value] : request.headers) {
      if (!same_origin && Lower(name) == "authorization") continue;
      for (char c : name + value) {
        if (c == '\r' || c == '\n' || c == '\0') {
          return Status::InvalidArgument(
              fmt::format("{}: header '{}' holds a line break or NUL", what, name));
        }
      }
      message.set(name, value);
    }
    HEARTH_ASSIGN_OR_RETURN(HopResult result,
                            OneHop(url, message, options, what, response, on_head, sink));
    if (!IsRedirect(result.status) || !FindHeader(result.headers, "location")) {
      response.url = url.ToString();
      return response;
    }
    if (hop >= options.max_redirects) {
      return Status::FailedPrecondition(fmt::format(
          "{} {}: too many redirects (more than {})", method, request.url, options.max_redirects));
    }
    std::string location = *FindHeader(result.headers, "location");
    auto next = ResolveUrl(url, location);
    if (!next.ok()) return next.status().WithContext(what);
    response.redirects.push_back(HttpHop{result.status, url.ToString(), result.headers});
    if (result.status == 303) method = "GET";
    url = *next;
  }
}

Result<std::string> HttpGetText(const std::string& url, const HttpHeaders& headers,
                                const HttpFetchOptions& options, size_t max_bytes) {
  std::string body;
  HttpFetchRequest request{"GET", url, headers};
  HEARTH_ASSIGN_OR_RETURN(
      HttpFetchResponse response,
      HttpFetch(request, options, nullptr, [&](std::string_view chunk) -> Status {
        if (body.size() + chunk.size() > max_bytes) {
          return Status::Unavailable(
              fmt::format("GET {}: the response is larger than {} bytes", url, max_bytes));
        }
        body.append(chunk);
        return Status::Ok();
      }));
  if (response.status < 200 || response.status > 299) {
    return HttpStatusError(fmt::format("GET {}", response.url), response.status, body);
  }
  return body;
}

}  // namespace hearth::platform
