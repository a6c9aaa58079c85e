#include "hearth/server/tls_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <string_view>

#include "hearth/base/file_util.h"

namespace hearth::server {
namespace {

// TLS 1.2 suites with forward secrecy and authenticated encryption (the TLS 1.3 defaults are all
// of that kind already). Both ECDSA and RSA certificates are served.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// OpenSSL's reasons for the last failure (its error queue, oldest first); empties the queue.
std::string TakeOpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    if (!out.empty()) out.append("; ");
    out.append(reason != nullptr ? reason : fmt::format("error {:#x}", code));
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

// The server runs unattended: an encrypted key must fail, not prompt on the terminal (OpenSSL's
// default password callback reads from the tty).
int RefusePassword(char*, int, int, void*) { return -1; }

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

bool IsEndOfPem() {
  const unsigned long code = ERR_peek_last_error();
  return ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
}

Status LoadCertificateChain(SSL_CTX* ctx, const std::string& cert_file, const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, RefusePassword, nullptr));
  if (!leaf) {
    return Status::InvalidArgument(fmt::format(
        "TLS certificate file '{}' holds no PEM certificate ({})", cert_file, TakeOpenSslErrors()));
  }
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
    return Status::InvalidArgument(
        fmt::format("TLS certificate in '{}' is not usable ({})", cert_file, TakeOpenSslErrors()));
  }
  // Intermediates follow the leaf; the end of the file shows up as "no start line".
  for (;;) {
    X509Ptr intermediate(PEM_read_bio_X509(bio.get(), nullptr, RefusePassword, nullptr));
    if (!intermediate) {
      if (IsEndOfPem()) break;
      return Status::InvalidArgument(
          fmt::format("TLS certificate file '{}' holds a malformed chain certificate ({})",
                      cert_file, TakeOpenSslErrors()));
    }
    if (SSL_CTX_add1_chain_cert(ctx, intermediate.get()) != 1) {
      return Status::InvalidArgument(fmt::format("TLS chain certificate in '{}' is not usable ({})",
                                                 cert_file, TakeOpenSslErrors()));
    }
  }
  ERR_clear_error();
  // An expired certificate still starts the server (renewal may be on its way), but loudly.
  if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0) {
    spdlog::warn("server: the TLS certificate in '{}' has expired; clients will reject it",
                 cert_file);
  } else if (X509_cmp_current_time(X509_get0_notBefore(leaf.get())) > 0) {
    spdlog::warn("server: the TLS certificate in '{}' is not valid yet", cert_file);
  }
  return Status::Ok();
}

Status LoadPrivateKey(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                      const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassword, nullptr));
  if (!key) {
    const bool encrypted = pem.find("ENCRYPTED") != std::string::npos;
    return Status::InvalidArgument(
        fmt::format("TLS key file '{}' holds no usable PEM private key{} ({})", key_file,
                    encrypted ? " (it is encrypted; give the server an unencrypted key)" : "",
                    TakeOpenSslErrors()));
  }
  // Checked here rather than left to SSL_CTX_use_PrivateKey, whose failure for a key of another
  // type than the certificate's does not say "mismatch".
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (leaf == nullptr || X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(fmt::format(
        "TLS key file '{}' does not match the certificate in '{}'", key_file, cert_file));
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument(
        fmt::format("TLS key in '{}' is not usable ({})", key_file, TakeOpenSslErrors()));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file) {
  auto cert_pem = ReadFileToString(cert_file);
  if (!cert_pem.ok()) return cert_pem.status().WithContext("TLS certificate file");
  auto key_pem = ReadFileToString(key_file);
  if (!key_pem.ok()) return key_pem.status().WithContext("TLS key file");

  ERR_clear_error();
  auto context = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Status::Internal("cannot apply the TLS policy: " + TakeOpenSslErrors());
  }
  HEARTH_RETURN_IF_ERROR(LoadCertificateChain(ctx, cert_file, *cert_pem));
  HEARTH_RETURN_IF_ERROR(LoadPrivateKey(ctx, cert_file, key_file, *key_pem));
  return context;
}

}  // namespace hearth::server
