// The admin API's API keys and quotas over a real socket, on both store backends.
#include <gtest/gtest.h>

#include "admin_test_support.h"

namespace hearth::platform::testing {
namespace {

using nlohmann::json;

class AdminKeysTest : public AdminApiTest {};
HEARTH_INSTANTIATE_FOR_BACKENDS(AdminKeysTest);

std::string Id(int64_t id) { return std::to_string(id); }

TEST_P(AdminKeysTest, AKeyIsShownOnceAndWorksUntilRevoked) {
  int64_t before = LastAuditId();
  AdminResponse created =
      Call(alice_token, "POST", "/admin/v1/tenants/acme/keys",
           {{"name", "ci"}, {"deployments", {"llama"}}, {"expires_at", "2030-01-01T00:00:00Z"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  const std::string plaintext = created.body["key"];
  const std::string prefix = created.body["prefix"];
  const std::string id = Id(created.body["id"].get<int64_t>());
  EXPECT_TRUE(plaintext.starts_with("hk-" + prefix + "-")) << plaintext;
  EXPECT_EQ(created.body["deployments"], json::array({"llama"}));
  EXPECT_EQ(created.body["expires_at"], 1893456000000);  // 2030-01-01 in Unix ms
  ExpectOneAudit(before, "key.create", "user:alice", "ok", "tenant:acme/key:" + prefix);
  ASSERT_OK_AND_ASSIGN(ApiKey verified, identity().VerifyApiKey(plaintext));
  EXPECT_EQ(Id(verified.id), id);

  const std::string secret = plaintext.substr(plaintext.rfind('-') + 1);
  AdminResponse got = Call(alice_token, "GET", "/admin/v1/keys/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_FALSE(got.body.contains("key"));
  EXPECT_EQ(got.raw.find(secret), std::string::npos);
  AdminResponse listed = Call(alice_token, "GET", "/admin/v1/tenants/acme/keys");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["data"].size(), 1u);
  EXPECT_EQ(listed.body["data"][0]["prefix"], prefix);
  EXPECT_EQ(listed.raw.find(secret), std::string::npos);

  before = LastAuditId();
  AdminResponse revoked = Call(alice_token, "POST", "/admin/v1/keys/" + id + "/revoke");
  ASSERT_EQ(revoked.status, 200);
  EXPECT_EQ(revoked.body["revoked_at"], now_ms);
  ExpectOneAudit(before, "key.revoke", "user:alice", "ok", "tenant:acme/key:" + prefix);
  EXPECT_EQ(identity().VerifyApiKey(plaintext).status().code(), StatusCode::kUnauthenticated);

  before = LastAuditId();
  ASSERT_EQ(Call(alice_token, "DELETE", "/admin/v1/keys/" + id).status, 200);
  ExpectOneAudit(before, "key.delete", "user:alice", "ok", "tenant:acme/key:" + prefix);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/keys/" + id).status, 404);
}

TEST_P(AdminKeysTest, BadKeyRequestsName400AndTheField) {
  AdminResponse no_name = Call(alice_token, "POST", "/admin/v1/tenants/acme/keys", json::object());
  EXPECT_EQ(no_name.status, 400);
  EXPECT_EQ(no_name.error_param(), "name");
  AdminResponse bad_list = Call(alice_token, "POST", "/admin/v1/tenants/acme/keys",
                                {{"name", "x"}, {"deployments", "llama"}});
  EXPECT_EQ(bad_list.status, 400);
  EXPECT_EQ(bad_list.error_param(), "deployments");
  AdminResponse bad_time = Call(alice_token, "POST", "/admin/v1/tenants/acme/keys",
                                {{"name", "x"}, {"expires_at", "tomorrow"}});
  EXPECT_EQ(bad_time.status, 400);
  EXPECT_EQ(bad_time.error_param(), "expires_at");
  AdminResponse past = Call(alice_token, "POST", "/admin/v1/tenants/acme/keys",
                            {{"name", "x"}, {"expires_at", now_ms - 1}});
  EXPECT_EQ(past.status, 400);
  EXPECT_EQ(past.error_param(), "expires_at");
  ASSERT_OK_AND_ASSIGN(auto keys, store().ListApiKeys(acme.id));
  EXPECT_TRUE(keys.empty());
}

TEST_P(AdminKeysTest, AnotherTenantsKeysAnswer404) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey beta_key, identity().IssueApiKey(beta.id, "beta-key"));
  const std::string id = Id(beta_key.key.id);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/tenants/beta/keys").status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/keys/" + id).status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/keys/" + id + "/quota").status, 404);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/tenants/beta/quota").status, 404);

  int64_t before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "POST", "/admin/v1/tenants/beta/keys", {{"name", "x"}}).status, 404);
  ExpectOneAudit(before, "key.create", "user:alice", "denied");
  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "POST", "/admin/v1/keys/" + id + "/revoke").status, 404);
  ExpectOneAudit(before, "key.revoke", "user:alice", "denied", "key:" + id);
  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/keys/" + id).status, 404);
  ExpectOneAudit(before, "key.delete", "user:alice", "denied", "key:" + id);

  ASSERT_OK(identity().VerifyApiKey(beta_key.plaintext).status());
  EXPECT_EQ(Call(bob_token, "GET", "/admin/v1/keys/" + id).status, 200);
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/keys/" + id).status, 200);
}

TEST_P(AdminKeysTest, QuotasAreSetByPlatformAdminsAndReadByTenantAdmins) {
  AdminResponse none = Call(alice_token, "GET", "/admin/v1/tenants/acme/quota");
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(none.body["set"], false);
  EXPECT_TRUE(none.body["requests_per_minute"].is_null());

  int64_t before = LastAuditId();
  AdminResponse set = Call(root_token, "PUT", "/admin/v1/tenants/acme/quota",
                           {{"requests_per_minute", 60}, {"tokens_per_minute", 10000}});
  ASSERT_EQ(set.status, 200) << set.raw;
  ExpectOneAudit(before, "quota.set", "user:root", "ok", "tenant:acme/quota");
  ASSERT_OK_AND_ASSIGN(Quota stored, store().GetQuota(QuotaSubject::Tenant(acme.id)));
  EXPECT_EQ(stored, (Quota{60, 10000, std::nullopt}));

  AdminResponse read = Call(alice_token, "GET", "/admin/v1/tenants/acme/quota");
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body["set"], true);
  EXPECT_EQ(read.body["requests_per_minute"], 60);
  EXPECT_EQ(read.body["tokens_per_minute"], 10000);
  EXPECT_TRUE(read.body["max_concurrent"].is_null());

  before = LastAuditId();
  EXPECT_EQ(
      Call(alice_token, "PUT", "/admin/v1/tenants/acme/quota", {{"max_concurrent", 999}}).status,
      403);
  ExpectOneAudit(before, "quota.set", "user:alice", "denied");
  before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/tenants/acme/quota").status, 403);
  ExpectOneAudit(before, "quota.delete", "user:alice", "denied");
  ASSERT_OK_AND_ASSIGN(stored, store().GetQuota(QuotaSubject::Tenant(acme.id)));
  EXPECT_EQ(stored.max_concurrent, std::nullopt);

  AdminResponse negative =
      Call(root_token, "PUT", "/admin/v1/tenants/acme/quota", {{"max_concurrent", -1}});
  EXPECT_EQ(negative.status, 400);
  EXPECT_EQ(negative.error_param(), "max_concurrent");
  AdminResponse typo =
      Call(root_token, "PUT", "/admin/v1/tenants/acme/quota", {{"request_per_minute", 5}});
  EXPECT_EQ(typo.status, 400);
  EXPECT_EQ(typo.error_param(), "request_per_minute");

  before = LastAuditId();
  ASSERT_EQ(Call(root_token, "DELETE", "/admin/v1/tenants/acme/quota").status, 200);
  ExpectOneAudit(before, "quota.delete", "user:root", "ok", "tenant:acme/quota");
  EXPECT_EQ(store().GetQuota(QuotaSubject::Tenant(acme.id)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Call(root_token, "DELETE", "/admin/v1/tenants/acme/quota").status, 404);
}

TEST_P(AdminKeysTest, KeyQuotas) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey key, identity().IssueApiKey(acme.id, "app"));
  const std::string path = "/admin/v1/keys/" + Id(key.key.id) + "/quota";
  int64_t before = LastAuditId();
  ASSERT_EQ(Call(root_token, "PUT", path, {{"max_concurrent", 4}}).status, 200);
  ExpectOneAudit(before, "quota.set", "user:root", "ok",
                 "tenant:acme/key:" + key.key.prefix + "/quota");
  ASSERT_OK_AND_ASSIGN(Quota stored, store().GetQuota(QuotaSubject::ApiKey(key.key.id)));
  EXPECT_EQ(stored, (Quota{std::nullopt, std::nullopt, 4}));
  AdminResponse read = Call(alice_token, "GET", path);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body["max_concurrent"], 4);
  EXPECT_EQ(Call(bob_token, "GET", path).status, 404);
  EXPECT_EQ(Call(alice_token, "PUT", path, {{"max_concurrent", 8}}).status, 403);
  ASSERT_EQ(Call(root_token, "DELETE", path).status, 200);
  EXPECT_EQ(Call(alice_token, "GET", path).body["set"], false);
}

}  // namespace
}  // namespace hearth::platform::testing
