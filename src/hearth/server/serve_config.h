// ServeOptions from the layered configuration (defaults < file < HEARTH_* < flags), for
// `hearth serve` and `hearth engine`. The keys are listed in src/hearth/cli/config_schema.cc
// and docs/API.md.
#pragma once

#include "hearth/base/config.h"
#include "hearth/server/server.h"

namespace hearth::server {

// The listener's settings (server.host, port, tls_cert/tls_key, write_timeout_ms,
// max_connections, max_body), shared by `hearth engine` and the platform's `hearth serve`.
Result<HttpServerOptions> HttpOptionsFromConfig(const Config& config);

// Fails (one clear message) on a missing model or values out of range.
Result<ServeOptions> ServeOptionsFromConfig(const Config& config);

}  // namespace hearth::server
