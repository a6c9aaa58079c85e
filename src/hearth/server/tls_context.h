// The server's TLS policy and the loading of its certificate and key.
//
// Policy: TLS 1.2 or newer; TLS 1.2 only with forward-secret AEAD cipher suites (ECDHE with
// AES-GCM or ChaCha20-Poly1305; TLS 1.3 suites are all AEAD); no compression (CRIME); no
// renegotiation (a cheap way for a client to make the server burn CPU).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "hearth/base/status.h"

namespace hearth::server {

// A server context from a PEM certificate file (the leaf first, then any intermediates) and a PEM
// private key file (unencrypted). Fails with a message that names the file and what is wrong
// with it: missing or unreadable, no PEM certificate or key in it, or a key that does not belong
// to the certificate.
Result<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file);

}  // namespace hearth::server
