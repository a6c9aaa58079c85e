// The admin API's sessions, users and tenants over a real socket, on both store backends: who
// may do what, what other tenants' callers see (404, as for nothing), and the audit trail.
#include <gtest/gtest.h>

#include <set>

#include "admin_test_support.h"

namespace hearth::platform::testing {
namespace {

using nlohmann::json;

HEARTH_INSTANTIATE_FOR_BACKENDS(AdminApiTest);

std::string Id(int64_t id) { return std::to_string(id); }

TEST_P(AdminApiTest, LoginIssuesASessionAndAuditsEveryAttempt) {
  int64_t before = LastAuditId();
  AdminResponse ok =
      Call("", "POST", "/admin/v1/login", {{"username", "ALICE"}, {"password", kPassword}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(ok.body["user"]["username"], "alice");
  EXPECT_EQ(ok.body["user"]["role"], "tenant-admin");
  EXPECT_EQ(ok.body["user"]["tenant"], "acme");
  EXPECT_FALSE(ok.body["user"].contains("password_hash"));
  EXPECT_EQ(ok.body["expires_at"].get<int64_t>(),
            now_ms + identity().options().session_ttl.count());
  ExpectOneAudit(before, "login", "user:alice", "ok", "tenant:acme/user:alice");

  AdminResponse me = Call(ok.body["token"], "GET", "/admin/v1/me");
  ASSERT_EQ(me.status, 200) << me.raw;
  EXPECT_EQ(me.body["id"], alice.id);

  before = LastAuditId();
  AdminResponse wrong = Call("", "POST", "/admin/v1/login",
                             {{"username", "alice"}, {"password", "not-the-password"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.error_code(), "unauthorized");
  ExpectOneAudit(before, "login", "user:alice", "denied", "tenant:acme/user:alice");

  before = LastAuditId();
  AdminResponse unknown =
      Call("", "POST", "/admin/v1/login", {{"username", "mallory"}, {"password", kPassword}});
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.body["error"]["message"], wrong.body["error"]["message"])
      << "an unknown user and a wrong password must read the same";
  ExpectOneAudit(before, "login", "user:mallory", "denied", "user:mallory");

  before = LastAuditId();
  AdminResponse malformed = Call("", "POST", "/admin/v1/login", {{"username", "alice"}});
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.error_param(), "password");
  ExpectOneAudit(before, "login", "anonymous", "error");
}

TEST_P(AdminApiTest, RequestsWithoutAValidSessionAre401AndMutationsAreAuditedAsDenied) {
  EXPECT_EQ(Call("", "GET", "/admin/v1/me").status, 401);
  EXPECT_EQ(Call("not-a-token", "GET", "/admin/v1/tenants").status, 401);
  int64_t before = LastAuditId();
  AdminResponse r = Call("", "POST", "/admin/v1/tenants", {{"name", "gamma"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error_code(), "unauthorized");
  ExpectOneAudit(before, "tenant.create", "anonymous", "denied");
  EXPECT_EQ(store().FindTenantByName("gamma").status().code(), StatusCode::kNotFound);

  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/nothing-here").status, 404);
  EXPECT_EQ(Call(root_token, "PUT", "/admin/v1/tenants").status, 405);
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/users?tenant=%zz").status, 400);
}

TEST_P(AdminApiTest, LogoutEndsTheSession) {
  int64_t before = LastAuditId();
  ASSERT_EQ(Call(carol_token, "POST", "/admin/v1/logout").status, 200);
  ExpectOneAudit(before, "logout", "user:carol", "ok", "tenant:acme/user:carol");
  EXPECT_EQ(Call(carol_token, "GET", "/admin/v1/me").status, 401);
}

TEST_P(AdminApiTest, PlatformAdminManagesTenants) {
  int64_t before = LastAuditId();
  AdminResponse created = Call(root_token, "POST", "/admin/v1/tenants", {{"name", "gamma"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  ExpectOneAudit(before, "tenant.create", "user:root", "ok", "tenant:gamma");
  ASSERT_OK_AND_ASSIGN(Tenant gamma, store().FindTenantByName("gamma"));
  EXPECT_EQ(created.body["id"], gamma.id);

  before = LastAuditId();
  AdminResponse duplicate = Call(root_token, "POST", "/admin/v1/tenants", {{"name", "gamma"}});
  EXPECT_EQ(duplicate.status, 409);
  ExpectOneAudit(before, "tenant.create", "user:root", "error", "tenant:gamma");

  AdminResponse bad_name = Call(root_token, "POST", "/admin/v1/tenants", {{"name", "Bad Name"}});
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_EQ(bad_name.error_param(), "name");

  AdminResponse list = Call(root_token, "GET", "/admin/v1/tenants");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["data"].size(), 3u);
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/tenants/gamma").body["id"], gamma.id);
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/tenants/" + Id(gamma.id)).body["name"], "gamma");

  // A tenant with users cannot go: that would silently delete credentials.
  before = LastAuditId();
  EXPECT_EQ(Call(root_token, "DELETE", "/admin/v1/tenants/acme").status, 409);
  ExpectOneAudit(before, "tenant.delete", "user:root", "error", "tenant:acme");

  before = LastAuditId();
  EXPECT_EQ(Call(root_token, "DELETE", "/admin/v1/tenants/gamma").status, 200);
  ExpectOneAudit(before, "tenant.delete", "user:root", "ok", "tenant:gamma");
  EXPECT_EQ(store().GetTenant(gamma.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/tenants/gamma").status, 404);
}

TEST_P(AdminApiTest, ATenantAdminSeesOnlyItsOwnTenant) {
  AdminResponse tenants = Call(alice_token, "GET", "/admin/v1/tenants");
  ASSERT_EQ(tenants.status, 200);
  ASSERT_EQ(tenants.body["data"].size(), 1u);
  EXPECT_EQ(tenants.body["data"][0]["name"], "acme");
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/tenants/acme").status, 200);

  // Another tenant answers exactly like a tenant that does not exist.
  AdminResponse other = Call(alice_token, "GET", "/admin/v1/tenants/beta");
  AdminResponse missing = Call(alice_token, "GET", "/admin/v1/tenants/nosuch");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(other.error_code(), missing.error_code());
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/tenants/" + Id(beta.id)).status, 404);

  AdminResponse users = Call(alice_token, "GET", "/admin/v1/users");
  ASSERT_EQ(users.status, 200);
  std::set<std::string> names;
  for (const auto& user : users.body["data"]) names.insert(user["username"]);
  EXPECT_EQ(names, (std::set<std::string>{"alice", "carol"}));
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/users?tenant=beta").status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/users/" + Id(bob.id)).status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/users/" + Id(root.id)).status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/users/" + Id(carol.id)).status, 200);

  // Mutations across the boundary: 404, audited as denied, and nothing changed.
  int64_t before = LastAuditId();
  EXPECT_EQ(
      Call(alice_token, "PATCH", "/admin/v1/users/" + Id(bob.id), {{"disabled", true}}).status,
      404);
  ExpectOneAudit(before, "user.update", "user:alice", "denied", "user:" + Id(bob.id));
  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/users/" + Id(bob.id)).status, 404);
  ExpectOneAudit(before, "user.delete", "user:alice", "denied", "user:" + Id(bob.id));
  before = LastAuditId();
  AdminResponse create = Call(alice_token, "POST", "/admin/v1/users",
                              {{"username", "eve"}, {"password", kPassword}, {"tenant", "beta"}});
  EXPECT_EQ(create.status, 404);
  EXPECT_EQ(create.error_param(), "tenant");
  ExpectOneAudit(before, "user.create", "user:alice", "denied");
  // Deleting a user that does not exist anywhere is an error, not a denial.
  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/users/999999").status, 404);
  ExpectOneAudit(before, "user.delete", "user:alice", "error");

  ASSERT_OK_AND_ASSIGN(User bob_now, store().GetUser(bob.id));
  EXPECT_FALSE(bob_now.disabled);
  EXPECT_EQ(store().FindUserByName("eve").status().code(), StatusCode::kNotFound);
}

TEST_P(AdminApiTest, ATenantAdminCannotEscalate) {
  int64_t before = LastAuditId();
  AdminResponse self =
      Call(alice_token, "PATCH", "/admin/v1/users/" + Id(alice.id), {{"role", "platform-admin"}});
  EXPECT_EQ(self.status, 403);
  ExpectOneAudit(before, "user.update", "user:alice", "denied");
  ASSERT_OK_AND_ASSIGN(User alice_now, store().GetUser(alice.id));
  EXPECT_EQ(alice_now.role, Role::kTenantAdmin);

  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "POST", "/admin/v1/users",
                 {{"username", "boss"}, {"password", kPassword}, {"role", "platform-admin"}})
                .status,
            403);
  ExpectOneAudit(before, "user.create", "user:alice", "denied");

  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "POST", "/admin/v1/tenants", {{"name", "mine"}}).status, 403);
  ExpectOneAudit(before, "tenant.create", "user:alice", "denied", "tenant:mine");
  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/tenants/acme").status, 403);
  ExpectOneAudit(before, "tenant.delete", "user:alice", "denied");
  EXPECT_TRUE(store().FindUserByName("boss").status().code() == StatusCode::kNotFound);
}

TEST_P(AdminApiTest, ATenantAdminManagesItsOwnUsers) {
  int64_t before = LastAuditId();
  AdminResponse created =
      Call(alice_token, "POST", "/admin/v1/users", {{"username", "Dave"}, {"password", kPassword}});
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_EQ(created.body["tenant"], "acme");
  EXPECT_EQ(created.body["role"], "member");
  ExpectOneAudit(before, "user.create", "user:alice", "ok", "tenant:acme/user:dave");
  const std::string dave = Id(created.body["id"].get<int64_t>());

  before = LastAuditId();
  AdminResponse promoted =
      Call(alice_token, "PATCH", "/admin/v1/users/" + dave, {{"role", "tenant-admin"}});
  ASSERT_EQ(promoted.status, 200) << promoted.raw;
  EXPECT_EQ(promoted.body["role"], "tenant-admin");
  ExpectOneAudit(before, "user.update", "user:alice", "ok", "tenant:acme/user:dave");
  ASSERT_OK_AND_ASSIGN(User stored, store().FindUserByName("dave"));
  EXPECT_EQ(stored.role, Role::kTenantAdmin);

  std::string dave_token = LoginAs("dave", kPassword);
  before = LastAuditId();
  ASSERT_EQ(Call(alice_token, "PATCH", "/admin/v1/users/" + dave, {{"disabled", true}}).status,
            200);
  ExpectOneAudit(before, "user.update", "user:alice", "ok");
  EXPECT_EQ(Call(dave_token, "GET", "/admin/v1/me").status, 403) << "disabled: session refused";
  EXPECT_EQ(
      Call("", "POST", "/admin/v1/login", {{"username", "dave"}, {"password", kPassword}}).status,
      403);

  AdminResponse reset =
      Call(alice_token, "PATCH", "/admin/v1/users/" + dave, {{"password", "brand-new-pass"}});
  ASSERT_EQ(reset.status, 200) << reset.raw;
  ASSERT_OK(store().SetUserDisabled(stored.id, false));
  EXPECT_TRUE(identity().Authenticate("dave", "brand-new-pass").ok());

  EXPECT_EQ(
      Call(alice_token, "PATCH", "/admin/v1/users/" + Id(alice.id), {{"disabled", true}}).status,
      409);
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/users/" + Id(alice.id)).status, 409);

  before = LastAuditId();
  ASSERT_EQ(Call(alice_token, "DELETE", "/admin/v1/users/" + dave).status, 200);
  ExpectOneAudit(before, "user.delete", "user:alice", "ok", "tenant:acme/user:dave");
  EXPECT_EQ(store().FindUserByName("dave").status().code(), StatusCode::kNotFound);
}

TEST_P(AdminApiTest, PlatformAdminCreatesUsersAnywhereButRolesKeepTheirShape) {
  AdminResponse in_beta = Call(root_token, "POST", "/admin/v1/users",
                               {{"username", "erin"},
                                {"password", kPassword},
                                {"tenant", "beta"},
                                {"role", "tenant-admin"}});
  ASSERT_EQ(in_beta.status, 201) << in_beta.raw;
  EXPECT_EQ(in_beta.body["tenant_id"], beta.id);

  AdminResponse admin_in_tenant = Call(
      root_token, "POST", "/admin/v1/users",
      {{"username", "x"}, {"password", kPassword}, {"role", "platform-admin"}, {"tenant", "acme"}});
  EXPECT_EQ(admin_in_tenant.status, 400);
  EXPECT_EQ(admin_in_tenant.error_param(), "tenant");
  AdminResponse member_without_tenant =
      Call(root_token, "POST", "/admin/v1/users", {{"username", "y"}, {"password", kPassword}});
  EXPECT_EQ(member_without_tenant.status, 400);
  EXPECT_EQ(member_without_tenant.error_param(), "tenant");
  AdminResponse weak = Call(root_token, "POST", "/admin/v1/users",
                            {{"username", "z"}, {"password", "short"}, {"tenant", "acme"}});
  EXPECT_EQ(weak.status, 400);
  EXPECT_EQ(weak.error_param(), "password");
  AdminResponse bad_role = Call(root_token, "POST", "/admin/v1/users",
                                {{"username", "z"}, {"password", kPassword}, {"role", "king"}});
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.error_param(), "role");
  EXPECT_EQ(Call(root_token, "POST", "/admin/v1/users",
                 {{"username", "carol"}, {"password", kPassword}, {"tenant", "acme"}})
                .status,
            409);

  AdminResponse promote =
      Call(root_token, "PATCH", "/admin/v1/users/" + Id(carol.id), {{"role", "platform-admin"}});
  EXPECT_EQ(promote.status, 400);
  EXPECT_EQ(promote.error_param(), "role");

  AdminResponse all = Call(root_token, "GET", "/admin/v1/users");
  EXPECT_EQ(all.body["data"].size(), 5u);
  AdminResponse of_beta = Call(root_token, "GET", "/admin/v1/users?tenant=beta");
  EXPECT_EQ(of_beta.body["data"].size(), 2u);
}

TEST_P(AdminApiTest, AMemberMayOnlyReadItselfAndChangeItsPassword) {
  AdminResponse me = Call(carol_token, "GET", "/admin/v1/me");
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body["username"], "carol");
  EXPECT_EQ(me.body["role"], "member");

  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/admin/v1/tenants"},
                                                        {"GET", "/admin/v1/users"},
                                                        {"GET", "/admin/v1/users/" + Id(carol.id)},
                                                        {"GET", "/admin/v1/tenants/acme/keys"},
                                                        {"GET", "/admin/v1/tenants/acme/quota"},
                                                        {"GET", "/admin/v1/audit"}}) {
    EXPECT_EQ(Call(carol_token, method, target).status, 403) << method << " " << target;
  }

  int64_t before = LastAuditId();
  EXPECT_EQ(Call(carol_token, "POST", "/admin/v1/tenants/acme/keys", {{"name", "mine"}}).status,
            403);
  ExpectOneAudit(before, "key.create", "user:carol", "denied");
  before = LastAuditId();
  EXPECT_EQ(
      Call(carol_token, "PATCH", "/admin/v1/users/" + Id(alice.id), {{"password", "taken-over-1"}})
          .status,
      403);
  ExpectOneAudit(before, "user.update", "user:carol", "denied");
  EXPECT_EQ(
      Call(carol_token, "PATCH", "/admin/v1/users/" + Id(carol.id), {{"role", "tenant-admin"}})
          .status,
      403);

  const std::string self = "/admin/v1/users/" + Id(carol.id);
  AdminResponse no_current = Call(carol_token, "PATCH", self, {{"password", "new-password-1"}});
  EXPECT_EQ(no_current.status, 400);
  EXPECT_EQ(no_current.error_param(), "current_password");
  before = LastAuditId();
  EXPECT_EQ(Call(carol_token, "PATCH", self,
                 {{"password", "new-password-1"}, {"current_password", "wrong-password"}})
                .status,
            403);
  ExpectOneAudit(before, "user.update", "user:carol", "denied", "tenant:acme/user:carol");
  before = LastAuditId();
  EXPECT_EQ(Call(carol_token, "PATCH", self,
                 {{"password", "new-password-1"}, {"current_password", kPassword}})
                .status,
            200);
  ExpectOneAudit(before, "user.update", "user:carol", "ok", "tenant:acme/user:carol");
  EXPECT_TRUE(identity().Authenticate("carol", "new-password-1").ok());
  EXPECT_FALSE(identity().Authenticate("carol", kPassword).ok());
}

TEST_P(AdminApiTest, MalformedBodiesName400AndTheField) {
  int64_t before = LastAuditId();
  AdminResponse not_json = CallRaw(root_token, "POST", "/admin/v1/tenants", "{\"name\": ");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.body["error"]["type"], "invalid_request_error");
  ExpectOneAudit(before, "tenant.create", "user:root", "error");

  EXPECT_EQ(CallRaw(root_token, "POST", "/admin/v1/tenants", "[1, 2]").status, 400);
  AdminResponse wrong_type = Call(root_token, "POST", "/admin/v1/tenants", {{"name", 7}});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.error_param(), "name");
  AdminResponse unknown =
      Call(root_token, "POST", "/admin/v1/tenants", {{"name", "ok"}, {"colour", "red"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.error_param(), "colour");
  AdminResponse missing = Call(root_token, "POST", "/admin/v1/users", {{"password", kPassword}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.error_param(), "username");
  AdminResponse not_bool =
      Call(root_token, "PATCH", "/admin/v1/users/" + Id(carol.id), {{"disabled", "yes"}});
  EXPECT_EQ(not_bool.status, 400);
  EXPECT_EQ(not_bool.error_param(), "disabled");
  EXPECT_EQ(store().FindTenantByName("ok").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace hearth::platform::testing
