// HttpServer over TLS: a certificate made at test time, a Beast TLS client that trusts exactly
// that certificate (and checks it names 127.0.0.1), and the server behaviours that must hold on
// TLS as on plain connections: keep-alive, streaming, limits, disconnect detection, draining,
// failed handshakes that cost one connection only, and precise start-up errors.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fstream>
#include <optional>
#include <thread>

#include "hearth/server/http_server.h"
#include "support/http_test_client.h"
#include "support/fixtures.h"

namespace hearth::server {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// ---- A self-signed certificate for 127.0.0.1, made with the OpenSSL API -------------------

struct PemPair {
  std::string cert;
  std::string key;
};

EVP_PKEY* NewP256Key() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr);
  EVP_PKEY* key = nullptr;
  if (ctx != nullptr && EVP_PKEY_keygen_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) == 1) {
    EVP_PKEY_keygen(ctx, &key);
  }
  EVP_PKEY_CTX_free(ctx);
  return key;
}

std::string KeyPem(EVP_PKEY* key, const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  const EVP_CIPHER* cipher = passphrase != nullptr ? EVP_aes_128_cbc() : nullptr;
  PEM_write_bio_PrivateKey(
      bio, key, cipher, reinterpret_cast<unsigned char*>(const_cast<char*>(passphrase)),
      passphrase != nullptr ? static_cast<int>(strlen(passphrase)) : 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

// A certificate for `key` with CN and subjectAltName IP:127.0.0.1, valid from a minute ago for
// a day, signed by itself.
std::string SelfSignedCertPem(EVP_PKEY* key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, const_cast<char*>("IP:127.0.0.1"));
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  X509_sign(cert, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

PemPair MakeSelfSigned() {
  EVP_PKEY* key = NewP256Key();
  PemPair pair{SelfSignedCertPem(key), KeyPem(key)};
  EVP_PKEY_free(key);
  return pair;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// ---- A Beast TLS client with deadlines --------------------------------------------------------

using Response = http::response<http::string_body>;

class TlsClient {
 public:
  // Trusts exactly `trusted_cert_pem` and requires it to name 127.0.0.1.
  TlsClient(uint16_t port, const std::string& trusted_cert_pem, int max_version = 0)
      : context_(ssl::context::tls_client) {
    context_.add_certificate_authority(asio::buffer(trusted_cert_pem));
    context_.set_verify_mode(ssl::verify_peer);
    if (max_version != 0) {
      // Old protocol versions also need the lowest security level on OpenSSL 3.
      SSL_CTX_set_security_level(context_.native_handle(), 0);
      SSL_CTX_set_min_proto_version(context_.native_handle(), 0);
      SSL_CTX_set_max_proto_version(context_.native_handle(), max_version);
    }
    stream_.emplace(ioc_, context_);
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    beast::error_code ec;
    beast::get_lowest_layer(*stream_).socket().connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    connected_ = !ec;
  }

  bool connected() const { return connected_; }
  SSL* native() { return stream_->native_handle(); }

  beast::error_code Handshake() {
    return Run([&](auto done) { stream_->async_handshake(ssl::stream_base::client, done); });
  }

  beast::error_code Send(const std::string& method, const std::string& target,
                         const std::string& body = "", bool keep_alive = true) {
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(keep_alive);
    request.body() = body;
    request.prepare_payload();
    return Run([&](auto done) { http::async_write(*stream_, request, done); });
  }

  // One response, or the error that ended the read.
  beast::error_code Read(Response& response) {
    response = {};
    return Run([&](auto done) { http::async_read(*stream_, buffer_, response, done); });
  }

  std::optional<Response> Request(const std::string& method, const std::string& target,
                                  const std::string& body = "") {
    if (Send(method, target, body)) return std::nullopt;
    Response response;
    if (Read(response)) return std::nullopt;
    return response;
  }

  // Sends close_notify and waits for the server's answer (or its closing the connection).
  beast::error_code ShutdownTls() {
    return Run([&](auto done) { stream_->async_shutdown(done); });
  }
  // Closes the TCP connection without any TLS goodbye.
  void CloseAbruptly() {
    beast::error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
  }

 private:
  // Runs one asynchronous operation to completion, or fails it after a deadline so that a
  // broken server fails the test instead of hanging it.
  template <class StartOp>
  beast::error_code Run(StartOp start) {
    std::optional<beast::error_code> result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run_for(10s);
    if (!result) {
      CloseAbruptly();
      ioc_.restart();
      ioc_.run();  // the operation completes with an error, and `result` outlives it
      return asio::error::timed_out;
    }
    return *result;
  }

  asio::io_context ioc_;
  ssl::context context_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// ---- The server under test -----------------------------------------------------------------

class HttpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pem_ = MakeSelfSigned();
    ASSERT_FALSE(pem_.cert.empty());
    ASSERT_FALSE(pem_.key.empty());
    cert_file_ = (dir_ / "cert.pem").string();
    key_file_ = (dir_ / "key.pem").string();
    WriteFile(cert_file_, pem_.cert);
    WriteFile(key_file_, pem_.key);
  }

  HttpServerOptions TlsOptions() const {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.tls_cert_file = cert_file_;
    options.tls_key_file = key_file_;
    return options;
  }

  std::unique_ptr<HttpServer> MakeServer(const HttpServerOptions& options) {
    return std::make_unique<HttpServer>(
        options,
        [this](HttpRequest& r, const std::shared_ptr<ResponseChannel>& c) { Handle(r, c); },
        &metrics_);
  }

  void StartServer(HttpServerOptions options) {
    server_ = MakeServer(options);
    const Status status = server_->Start();
    ASSERT_TRUE(status.ok()) << status.message();
  }

  void Handle(HttpRequest& request, const std::shared_ptr<ResponseChannel>& channel) {
    const std::string target(request.target().data(), request.target().size());
    if (target == "/echo") {
      channel->Respond(200, "text/plain", request.body());
    } else if (target == "/whoami") {
      channel->Respond(200, "text/plain", channel->remote_address());
    } else if (target == "/hang") {
      channel->OnClientGone([this] { gone_.store(true); });
    } else if (target == "/stream") {
      channel->OnClientGone([this] { gone_.store(true); });
      channel->BeginStream(200, "text/event-stream");
      std::thread([channel, this] {
        for (int i = 0; i < stream_chunks_; ++i) {
          std::this_thread::sleep_for(stream_gap_);
          channel->Post([channel, i] { channel->Write("chunk" + std::to_string(i)); });
        }
        channel->Post([channel] { channel->EndStream(); });
      }).detach();
    } else {
      channel->Respond(404, "text/plain", "no");
    }
  }

  bool WaitFor(const std::atomic<bool>& flag, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!flag.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    return flag.load();
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  hearth::testing::TempDir dir_;
  PemPair pem_;
  std::string cert_file_;
  std::string key_file_;
  ServerMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> gone_{false};
  int stream_chunks_ = 3;
  std::chrono::milliseconds stream_gap_{5};
};

TEST_F(HttpTlsTest, ServesSeveralRequestsOnOneVerifiedConnection) {
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_TRUE(client.connected());
  const beast::error_code handshake = client.Handshake();
  ASSERT_FALSE(handshake) << handshake.message();
  EXPECT_GE(SSL_version(client.native()), TLS1_2_VERSION);
  for (int i = 0; i < 3; ++i) {
    const std::string body = "over tls " + std::to_string(i);
    auto response = client.Request("POST", "/echo", body);
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_EQ(response->body(), body);
    EXPECT_TRUE(response->keep_alive());
  }
  EXPECT_EQ(metrics_.RequestCount("other", 200), 3u);
}

TEST_F(HttpTlsTest, StreamsChunkedResponsesAndKeepsTheConnection) {
  stream_chunks_ = 4;
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_TRUE(client.connected());
  ASSERT_FALSE(client.Handshake());
  auto stream = client.Request("GET", "/stream");
  ASSERT_TRUE(stream.has_value());
  EXPECT_EQ(stream->result_int(), 200);
  EXPECT_TRUE(stream->chunked());
  EXPECT_EQ((*stream)[http::field::content_type], "text/event-stream");
  EXPECT_EQ(stream->body(), "chunk0chunk1chunk2chunk3");
  // The connection goes on after the stream (the disconnect watch ended cleanly).
  auto echo = client.Request("POST", "/echo", "after the stream");
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->body(), "after the stream");
  EXPECT_FALSE(gone_.load());
}

TEST_F(HttpTlsTest, PlainHttpClientIsDroppedAndTheServerKeepsServingTls) {
  StartServer(TlsOptions());
  {
    testing::TestConnection plain(server_->port());
    ASSERT_TRUE(plain.connected());
    ASSERT_TRUE(plain.SendRequest("GET", "/echo"));
    EXPECT_TRUE(plain.WaitForClose(5s));
  }
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_TRUE(client.connected());
  ASSERT_FALSE(client.Handshake());
  auto response = client.Request("POST", "/echo", "still here");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "still here");
  EXPECT_EQ(metrics_.RequestCount("other", 200), 1u);  // nothing answered the plain client
}

TEST_F(HttpTlsTest, SilentClientIsDroppedAfterTheHeaderTimeout) {
  HttpServerOptions options = TlsOptions();
  options.header_timeout = 200ms;
  StartServer(options);
  testing::TestConnection silent(server_->port());
  ASSERT_TRUE(silent.connected());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.WaitForClose(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
}

TEST_F(HttpTlsTest, ProtocolsOlderThanTls12AreRefused) {
  StartServer(TlsOptions());
  TlsClient old_client(server_->port(), pem_.cert, TLS1_1_VERSION);
  ASSERT_TRUE(old_client.connected());
  EXPECT_TRUE(old_client.Handshake());
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_FALSE(client.Handshake());
}

TEST_F(HttpTlsTest, ClientThatClosesTheSocketMidResponseIsNoticed) {
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_FALSE(client.Handshake());
  ASSERT_FALSE(client.Send("GET", "/hang"));
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(gone_.load());
  client.CloseAbruptly();
  EXPECT_TRUE(WaitFor(gone_, 5s));
}

TEST_F(HttpTlsTest, ClientThatSaysCloseNotifyMidResponseIsNoticed) {
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_FALSE(client.Handshake());
  ASSERT_FALSE(client.Send("GET", "/hang"));
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(gone_.load());
  const beast::error_code shutdown = client.ShutdownTls();
  EXPECT_NE(shutdown, asio::error::timed_out);  // the server closed instead of hanging on
  EXPECT_TRUE(WaitFor(gone_, 5s));
}

TEST_F(HttpTlsTest, OversizedBodyGets413) {
  HttpServerOptions options = TlsOptions();
  options.max_body_bytes = 1000;
  StartServer(options);
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_FALSE(client.Handshake());
  ASSERT_FALSE(client.Send("POST", "/echo", std::string(5000, 'x')));
  Response response;
  ASSERT_FALSE(client.Read(response));
  EXPECT_EQ(response.result_int(), 413);
  EXPECT_FALSE(response.keep_alive());
}

TEST_F(HttpTlsTest, DrainClosesIdleConnectionsWithCloseNotifyAndLetsStreamsFinish) {
  stream_chunks_ = 5;
  stream_gap_ = 60ms;
  StartServer(TlsOptions());
  TlsClient idle(server_->port(), pem_.cert);
  ASSERT_FALSE(idle.Handshake());
  ASSERT_TRUE(idle.Request("POST", "/echo", "x").has_value());
  TlsClient streaming(server_->port(), pem_.cert);
  ASSERT_FALSE(streaming.Handshake());
  ASSERT_FALSE(streaming.Send("GET", "/stream"));
  std::this_thread::sleep_for(30ms);  // the stream is under way

  server_->StopAccepting();
  // A clean TLS end (close_notify, then EOF), not a truncation.
  Response none;
  EXPECT_EQ(idle.Read(none), http::error::end_of_stream);
  Response stream;
  ASSERT_FALSE(streaming.Read(stream));
  EXPECT_EQ(stream.body(), "chunk0chunk1chunk2chunk3chunk4");
  EXPECT_TRUE(server_->WaitForIdle(5s));
  EXPECT_FALSE(gone_.load());
}

TEST_F(HttpTlsTest, RemoteAddressIsTheClientsIpOnTlsAndPlainConnections) {
  StartServer(TlsOptions());
  TlsClient client(server_->port(), pem_.cert);
  ASSERT_FALSE(client.Handshake());
  auto tls = client.Request("GET", "/whoami");
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->body(), "127.0.0.1");

  HttpServerOptions plain_options;
  plain_options.host = "127.0.0.1";
  auto plain_server = MakeServer(plain_options);
  ASSERT_TRUE(plain_server->Start().ok());
  auto plain = testing::Fetch(plain_server->port(), "GET", "/whoami");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->body, "127.0.0.1");
  plain_server->Stop();
}

// ---- Start-up errors ----------------------------------------------------------------------

TEST_F(HttpTlsTest, StartFailsWhenTheKeyFileIsMissing) {
  HttpServerOptions options = TlsOptions();
  options.tls_key_file = (dir_ / "absent.pem").string();
  auto server = MakeServer(options);
  const Status status = server->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("TLS key file"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find(options.tls_key_file), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("No such file"), std::string::npos) << status.message();
}

TEST_F(HttpTlsTest, StartFailsWhenTheKeyBelongsToAnotherCertificate) {
  EVP_PKEY* other = NewP256Key();
  WriteFile(key_file_, KeyPem(other));
  EVP_PKEY_free(other);
  auto server = MakeServer(TlsOptions());
  const Status status = server->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "TLS key file '" + key_file_ +
                                  "' does not match the certificate in '" + cert_file_ + "'");
}

TEST_F(HttpTlsTest, StartFailsOnFilesWithoutPem) {
  HttpServerOptions options = TlsOptions();
  options.tls_cert_file = key_file_;  // a key where the certificate should be
  Status status = MakeServer(options)->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(
      status.message().find("TLS certificate file '" + key_file_ + "' holds no PEM certificate"),
      std::string::npos)
      << status.message();

  options = TlsOptions();
  options.tls_key_file = cert_file_;  // a certificate where the key should be
  status = MakeServer(options)->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(
      status.message().find("TLS key file '" + cert_file_ + "' holds no usable PEM private key"),
      std::string::npos)
      << status.message();
}

TEST_F(HttpTlsTest, StartFailsOnAnEncryptedKeyWithoutPrompting) {
  EVP_PKEY* key = NewP256Key();
  WriteFile(cert_file_, SelfSignedCertPem(key));
  WriteFile(key_file_, KeyPem(key, "secret"));
  EVP_PKEY_free(key);
  const Status status = MakeServer(TlsOptions())->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("encrypted"), std::string::npos) << status.message();
}

TEST_F(HttpTlsTest, StartNeedsBothCertificateAndKey) {
  HttpServerOptions options = TlsOptions();
  options.tls_key_file.clear();
  const Status status = MakeServer(options)->Start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("both a certificate file and a key file"), std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace hearth::server
