#include "admin_test_support.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace hearth::platform::testing {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;

std::string AdminResponse::error_code() const {
  if (!body.is_object() || !body.contains("error")) return "";
  const auto& code = body["error"]["code"];
  return code.is_string() ? code.get<std::string>() : "";
}

std::string AdminResponse::error_param() const {
  if (!body.is_object() || !body.contains("error")) return "";
  const auto& param = body["error"]["param"];
  return param.is_string() ? param.get<std::string>() : "";
}

AdminResponse SendAdmin(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& token) {
  AdminResponse out;
  boost::asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return out;
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request, ec);
  if (ec) return out;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  if (ec) return out;
  out.status = static_cast<int>(response.result_int());
  out.raw = response.body();
  out.body = nlohmann::json::parse(out.raw, nullptr, false);
  if (out.body.is_discarded()) out.body = nullptr;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

void AdminApiTest::SetUp() {
  BackendTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  IdentityOptions options;
  options.clock = [this] { return now_ms; };
  options.password_params = {1, 8, 1};  // cheapest argon2id: the tests check logic, not cost
  identity_ = std::make_unique<Identity>(store(), options);
  AdminApiOptions api_options = ApiOptions();
  if (HasFatalFailure()) return;
  api_ = std::make_unique<AdminApi>(store(), *identity_, api_options);
  server::HttpServerOptions server_options;
  server_options.io_threads = 1;
  server_ = std::make_unique<server::HttpServer>(
      server_options,
      [this](server::HttpRequest& request,
             const std::shared_ptr<server::ResponseChannel>& channel) {
        api_->Handle(request, channel);
      },
      nullptr);
  ASSERT_OK(server_->Start());

  ASSERT_OK_AND_ASSIGN(acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(beta, store().CreateTenant("beta"));
  ASSERT_OK_AND_ASSIGN(
      root, identity().CreateUser(std::nullopt, "root", Role::kPlatformAdmin, kPassword));
  ASSERT_OK_AND_ASSIGN(alice,
                       identity().CreateUser(acme.id, "alice", Role::kTenantAdmin, kPassword));
  ASSERT_OK_AND_ASSIGN(bob, identity().CreateUser(beta.id, "bob", Role::kTenantAdmin, kPassword));
  ASSERT_OK_AND_ASSIGN(carol, identity().CreateUser(acme.id, "carol", Role::kMember, kPassword));
  root_token = LoginAs("root", kPassword);
  alice_token = LoginAs("alice", kPassword);
  bob_token = LoginAs("bob", kPassword);
  carol_token = LoginAs("carol", kPassword);
}

void AdminApiTest::TearDown() {
  if (server_) server_->Stop();
  // The API's workers may still hold response channels (and through them connections) of calls
  // in flight: they finish before the server that owns the connections' state is destroyed,
  // and before the store goes.
  api_.reset();
  server_.reset();
  identity_.reset();
  BeforeStoreCloses();
  BackendTest::TearDown();
}

AdminResponse AdminApiTest::Call(const std::string& token, const std::string& method,
                                 const std::string& target, const nlohmann::json& body) {
  return CallRaw(token, method, target, body.is_null() ? "" : body.dump());
}

AdminResponse AdminApiTest::CallRaw(const std::string& token, const std::string& method,
                                    const std::string& target, const std::string& body) {
  return SendAdmin(port(), method, target, body, token);
}

std::string AdminApiTest::LoginAs(const std::string& username, const std::string& password) {
  AdminResponse r =
      Call("", "POST", "/admin/v1/login", {{"username", username}, {"password", password}});
  EXPECT_EQ(r.status, 200) << r.raw;
  if (r.status != 200 || !r.body.contains("token")) return "";
  return r.body["token"].get<std::string>();
}

std::vector<AuditEntry> AdminApiTest::AuditAfter(int64_t after_id) {
  AuditFilter filter;
  filter.limit = 1000;
  auto entries = store().QueryAudit(filter);
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<AuditEntry> out;
  if (!entries.ok()) return out;
  for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
    if (it->id > after_id) out.push_back(*it);
  }
  return out;
}

int64_t AdminApiTest::LastAuditId() {
  AuditFilter filter;
  filter.limit = 1;
  auto entries = store().QueryAudit(filter);
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  return entries.ok() && !entries->empty() ? entries->front().id : 0;
}

void AdminApiTest::ExpectOneAudit(int64_t after_id, const std::string& action,
                                  const std::string& actor, const std::string& result,
                                  const std::string& target) {
  std::vector<AuditEntry> entries = AuditAfter(after_id);
  ASSERT_EQ(entries.size(), 1u) << "expected exactly one audit entry for " << action;
  EXPECT_EQ(entries[0].action, action);
  EXPECT_EQ(entries[0].actor, actor);
  EXPECT_EQ(entries[0].result, result) << entries[0].target << " " << entries[0].detail;
  if (!target.empty()) {
    EXPECT_EQ(entries[0].target, target);
  }
  EXPECT_EQ(entries[0].source_ip, "127.0.0.1");  // the test client's address
}

}  // namespace hearth::platform::testing
