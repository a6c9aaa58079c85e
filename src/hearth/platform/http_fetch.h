// A small synchronous HTTP/1.1 client (Boost.Beast) for fetching models: GET and HEAD over http
// and https, request headers (Range, Authorization), redirects, timeouts, and a body streamed
// to a callback so multi-gigabyte downloads never sit in memory.
//
// https verifies the server against the system's CA store (or HttpFetchOptions::ca_file) and
// its host name, with SNI. Redirects (301, 302, 303, 307, 308) are followed up to max_redirects,
// absolute and relative Locations alike; each hop opens a new connection. The Authorization
// header is dropped when a redirect leaves the original origin (scheme, host, port), so a token
// for the hub never reaches a CDN. Every failure names the method and URL:
//   kInvalidArgument     a malformed URL or Location, an unsupported scheme
//   kUnavailable         DNS, connect, TLS, a connection that closed early, a malformed response
//   kDeadlineExceeded    connect or a read/write stalled past its timeout
//   kFailedPrecondition  too many redirects, or a redirect without Location
// A non-2xx final status is not an error here: the head callback sees it and decides.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::platform {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string target = "/";  // path and query, never empty; no fragment

  std::string Origin() const;    // "https://host[:port]" (port only when not the default)
  std::string ToString() const;  // Origin() + target
};

Result<Url> ParseUrl(std::string_view text);
// `location` (absolute, scheme-relative, absolute-path or relative, as in RFC 3986 5.2)
// resolved against `base`.
Result<Url> ResolveUrl(const Url& base, std::string_view location);

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
// The first header named `name` (case-insensitive).
std::optional<std::string> FindHeader(const HttpHeaders& headers, std::string_view name);

struct HttpFetchOptions {
  std::chrono::milliseconds connect_timeout{15'000};  // DNS + TCP + TLS handshake
  std::chrono::milliseconds io_timeout{60'000};       // each read or write; a stall fails
  int max_redirects = 10;
  std::string ca_file;  // PEM bundle to trust instead of the system store (tests, private hubs)
  std::string user_agent = "hearth";
};

struct HttpFetchRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  HttpHeaders headers;
};

struct HttpHop {
  int status = 0;
  std::string url;
  HttpHeaders headers;
};

struct HttpFetchResponse {
  int status = 0;
  std::string url;  // after redirects
  HttpHeaders headers;
  std::vector<HttpHop> redirects;  // the redirect responses followed, in order
  std::optional<uint64_t> content_length;
  uint64_t body_bytes = 0;  // handed to the sink
};

// Sees the final response's head before its body; an error stops the transfer and is returned.
using HttpHeadCallback = std::function<Status(const HttpFetchResponse& head)>;
// Receives the body in order, in chunks; an error stops the transfer and is returned.
using HttpBodySink = std::function<Status(std::string_view chunk)>;

Result<HttpFetchResponse> HttpFetch(const HttpFetchRequest& request, const HttpFetchOptions& options,
                               const HttpHeadCallback& on_head, const HttpBodySink& sink);

// GET of a small document (API JSON): fails with kUnavailable past `max_bytes`, and with a
// message carrying the status and the start of the body when the status is not 2xx (kNotFound
// for 404, kUnauthenticated for 401, kPermissionDenied for 403).
Result<std::string> HttpGetText(const std::string& url, const HttpHeaders& headers,
                                const HttpFetchOptions& options, size_t max_bytes = 16 << 20);

// The Status an unexpected final HTTP status maps to, with `what` ("GET url") and the status.
Status HttpStatusError(std::string_view what, int status, std::string_view body_start);

}  // namespace hearth::platform
