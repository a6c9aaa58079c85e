// Times in the admin API and `hearth usage`: clients may give either Unix milliseconds or an
// ISO-8601 UTC instant; responses carry Unix milliseconds (and text output ISO-8601).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::platform {

// Accepts "1700000000000" (Unix ms), "2024-05-01" (midnight UTC), "2024-05-01T12:30:00Z",
// "2024-05-01T12:30:00.250+02:00" (fractions to milliseconds; an offset or Z is required when a
// time of day is given, so a local-time reading cannot slip in). kInvalidArgument otherwise.
Result<int64_t> ParseTimestamp(std::string_view text);

// "2024-05-01T12:30:00.250Z".
std::string FormatIso8601(int64_t unix_ms);

}  // namespace hearth::platform
