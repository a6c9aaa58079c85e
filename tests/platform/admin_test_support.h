// The admin API over a real socket: an HttpServer on 127.0.0.1:0 whose handler is AdminApi, on
// either store backend, with a platform admin, two tenants (acme, beta), a tenant admin of each
// and a member of acme, all logged in through the API.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends.h"
#include "hearth/platform/admin_api.h"
#include "hearth/platform/identity.h"
#include "hearth/server/http_server.h"

namespace hearth::platform::testing {

struct AdminResponse {
  int status = 0;
  nlohmann::json body;  // null when the body is not JSON
  std::string raw;
  // The OpenAI-style error's fields ("" when absent or null).
  std::string error_code() const;
  std::string error_param() const;
};

// One request on a fresh connection (Beast client); status 0 when the exchange failed.
AdminResponse SendAdmin(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& token = "");

class AdminApiTest : public BackendTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  AdminResponse Call(const std::string& token, const std::string& method, const std::string& target,
                     const nlohmann::json& body = nullptr);
  AdminResponse CallRaw(const std::string& token, const std::string& method,
                        const std::string& target, const std::string& body);
  // Logs in through the API; fails the test on anything but 200.
  std::string LoginAs(const std::string& username, const std::string& password);

  // Audit entries appended after `after_id`, oldest first.
  std::vector<AuditEntry> AuditAfter(int64_t after_id);
  int64_t LastAuditId();
  // Checks that exactly one entry was appended since `after_id`, and its fields.
  void ExpectOneAudit(int64_t after_id, const std::string& action, const std::string& actor,
                      const std::string& result, const std::string& target = "");

  // Hooks for fixtures that give the API more dependencies: ApiOptions runs in SetUp once the
  // store is open; BeforeStoreCloses runs in TearDown after the API is gone.
  virtual AdminApiOptions ApiOptions() { return {}; }
  virtual void BeforeStoreCloses() {}

  Identity& identity() { return *identity_; }
  uint16_t port() const { return server_->port(); }

  static constexpr char kPassword[] = "password-1234";
  Tenant acme, beta;
  User root, alice, bob, carol;  // root: platform admin; alice/bob: admins of acme/beta
  std::string root_token, alice_token, bob_token, carol_token;

 private:
  std::unique_ptr<Identity> identity_;
  std::unique_ptr<AdminApi> api_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace hearth::platform::testing
