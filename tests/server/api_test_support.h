// Shared helpers for the API tests: a server stack (engine + ApiService + HttpServer) on an
// ephemeral port, and JSON request helpers over the raw-socket client.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/server/api_service.h"
#include "hearth/server/http_server.h"
#include "support/http_test_client.h"

namespace hearth::server::testing {

struct JsonReply {
  int status = 0;
  nlohmann::json body;
  HttpResponse raw;
};

// POSTs `body` (a JSON text) and parses the JSON reply (fails the test if it is not JSON).
inline JsonReply PostJson(uint16_t port, const std::string& path, const std::string& body) {
  JsonReply reply;
  auto response = Fetch(port, "POST", path, body);
  if (!response) {
    ADD_FAILURE() << "no response for " << path;
    return reply;
  }
  reply.status = response->status;
  reply.raw = *response;
  reply.body = nlohmann::json::parse(response->body, nullptr, false);
  EXPECT_FALSE(reply.body.is_discarded()) << response->body;
  return reply;
}

// A streamed request: the SSE payloads, parsed (the final "[DONE]" kept as a string).
struct StreamReply {
  int status = 0;
  std::vector<nlohmann::json> events;  // every data: payload but [DONE]
  bool done = false;                   // the last event was [DONE]
  HttpResponse raw;
};

inline StreamReply PostStream(uint16_t port, const std::string& path, const std::string& body) {
  StreamReply reply;
  auto response = Fetch(port, "POST", path, body);
  if (!response) {
    ADD_FAILURE() << "no response for " << path;
    return reply;
  }
  reply.status = response->status;
  reply.raw = *response;
  const auto payloads = ParseSse(response->body);
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (payloads[i] == "[DONE]") {
      EXPECT_EQ(i + 1, payloads.size()) << "[DONE] must be the last event";
      reply.done = true;
      continue;
    }
    auto event = nlohmann::json::parse(payloads[i], nullptr, false);
    EXPECT_FALSE(event.is_discarded()) << payloads[i];
    reply.events.push_back(std::move(event));
  }
  return reply;
}

// Concatenated delta content (chat) or text (completions) of choice `index`.
inline std::string StreamedText(const StreamReply& reply, int index = 0) {
  std::string text;
  for (const auto& e : reply.events) {
    if (!e.contains("choices")) continue;
    for (const auto& c : e["choices"]) {
      if (c["index"] != index) continue;
      if (c.contains("delta") && c["delta"].contains("content")) {
        text += c["delta"]["content"].get<std::string>();
      }
      if (c.contains("text")) text += c["text"].get<std::string>();
    }
  }
  return text;
}

inline std::string StreamedFinishReason(const StreamReply& reply, int index = 0) {
  std::string reason;
  for (const auto& e : reply.events) {
    if (!e.contains("choices")) continue;
    for (const auto& c : e["choices"]) {
      if (c["index"] == index && !c["finish_reason"].is_null()) {
        EXPECT_TRUE(reason.empty()) << "two finish reasons for choice " << index;
        reason = c["finish_reason"].get<std::string>();
      }
    }
  }
  return reason;
}

inline std::string ChatBody(const std::string& user, const std::string& extra = "") {
  nlohmann::json body = {{"model", "test-model"},
                         {"messages", {{{"role", "user"}, {"content", user}}}}};
  std::string text = body.dump();
  if (!extra.empty()) text = text.substr(0, text.size() - 1) + "," + extra + "}";
  return text;
}

}  // namespace hearth::server::testing
