// PlatformOptions from the layered configuration (defaults < file < HEARTH_* < flags), for
// `hearth serve`. The keys are listed in src/hearth/cli/config_schema.cc; docs/PLATFORM.md says
// which ones the platform reads.
#pragma once

#include "hearth/base/config.h"
#include "hearth/platform/platform_server.h"

namespace hearth::platform {

// Fails (one clear message) on values out of range, half a TLS pair, or a missing model file.
Result<PlatformOptions> PlatformOptionsFromConfig(const Config& config);

}  // namespace hearth::platform
