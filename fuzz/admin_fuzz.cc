// Fuzzes the admin API's readers of outside input: the request target (path segments and query,
// percent-decoding), JSON request bodies read field by field (every kind of field), and
// timestamps (Unix ms or ISO-8601). Input layout: the first byte picks the reader, the rest is
// its text. A crash, sanitizer report, uncaught exception or broken invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "hearth/platform/admin_http.h"
#include "hearth/platform/admin_time.h"

namespace {

void FuzzTarget(std::string_view text) {
  auto target = hearth::platform::admin::ParseRequestTarget(text);
  if (!target.ok()) {
    if (target.status().message().empty()) std::abort();
    return;
  }
  // Decoding never grows the text: every segment and query part is at most as long as it.
  for (const std::string& segment : target->path) {
    if (segment.size() > text.size()) std::abort();
  }
  for (const auto& [key, value] : target->query) {
    if (key.size() + value.size() > text.size()) std::abort();
  }
}

void FuzzBody(std::string_view text) {
  using hearth::platform::admin::JsonFields;
  JsonFields fields(text);
  (void)fields.String("name");
  (void)fields.Bool("disabled");
  (void)fields.Int("requests_per_minute", 1);
  (void)fields.StringList("deployments");
  (void)fields.Time("expires_at");
  if (auto error = fields.error()) {
    if (error->http_status != 400 || error->message.empty()) std::abort();
    (void)error->ToJson();
  }
}

void FuzzTime(std::string_view text) {
  auto ms = hearth::platform::ParseTimestamp(text);
  if (ms.ok()) (void)hearth::platform::FormatIso8601(*ms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzTarget(text);
      break;
    case 1:
      FuzzBody(text);
      break;
    default:
      FuzzTime(text);
      break;
  }
  return 0;
}
