// A tiny HTTP/1.1 client for the engine processes the platform supervises on loopback: one GET,
// one connection, a hard deadline. The supervisor probes readiness with GET /health; tests use
// it to reach a replica's API.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::platform {

struct ProbeReply {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:<port><target>. kUnavailable when nothing answers (refused, reset, closed
// early); kDeadlineExceeded when the whole exchange took longer than `timeout`.
Result<ProbeReply> LoopbackGet(uint16_t port, std::string_view target,
                               std::chrono::milliseconds timeout);

// True when GET /health on `port` answers 200 within `timeout`.
bool EngineHealthy(uint16_t port, std::chrono::milliseconds timeout);

}  // namespace hearth::platform
