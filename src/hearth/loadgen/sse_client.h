// One streaming HTTP request against an OpenAI-compatible server, on an Asio io_context.
//
// StreamCall POSTs a JSON body over its own TCP connection and reads the response as it arrives,
// handing each server-sent event's data to the caller with the time it was received. All
// callbacks run on the io_context's thread; one thread can drive thousands of calls without
// distorting their timings because nothing blocks.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace hearth::loadgen {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string target = "/v1/completions";
  std::string api_key;  // sent as a bearer token when not empty
};

// Splits "http://host:port/path" into an Endpoint (path becomes the default target prefix).
bool ParseBaseUrl(std::string_view url, Endpoint* endpoint, std::string* error);

struct CallOutcome {
  bool ok = false;
  int http_status = 0;
  std::string error_kind;  // "connect", "http_503", "read", "timeout", "protocol"
  std::string error_body;  // the server's error text, for the report
};

using Clock = std::chrono::steady_clock;
using EventHandler = std::function<void(Clock::time_point, std::string_view data)>;
using DoneHandler = std::function<void(const CallOutcome&)>;

// Starts the call; `on_event` gets the data of every SSE event (without "data: "), `on_done`
// once at the end. A non-streaming response body is delivered as one event.
void StartStreamCall(boost::asio::io_context& io, const Endpoint& endpoint, std::string body,
                     std::chrono::seconds timeout, EventHandler on_event, DoneHandler on_done);

// Splits a growing SSE byte stream into events; keeps partial events between calls.
class SseSplitter {
 public:
  // Appends bytes and calls `emit(data)` for every complete event's data field(s).
  void Feed(std::string_view bytes, const std::function<void(std::string_view)>& emit);

 private:
  std::string pending_;
};

}  // namespace hearth::loadgen
