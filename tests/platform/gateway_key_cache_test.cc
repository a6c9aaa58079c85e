// The gateway's API-key cache end to end: the admin API and the gateway share one Identity (as in
// `hearth serve`), and a key revoked or deleted through the admin API is refused by the very next
// /v1 request, while a cached key otherwise costs no store lookup.
#include <gtest/gtest.h>

#include "admin_test_support.h"
#include "gateway_test_support.h"
#include "hearth/platform/gateway.h"
#include "support/http_test_client.h"

namespace hearth::platform::testing {
namespace {

class GatewayKeyCacheTest : public AdminApiTest {
 protected:
  void SetUp() override {
    AdminApiTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    directory_.Set("model-a", {acme.id}, {});  // listed, with no replica to route to
    ASSERT_OK_AND_ASSIGN(front_, GatewayFront::Start(store(), identity(), directory_,
                                                     TestGatewayOptions([this] { return now_ms; }),
                                                     /*io_threads=*/1));
  }
  void TearDown() override {
    front_.reset();
    AdminApiTest::TearDown();
  }

  // A key of acme issued through the admin API: {id, plaintext}.
  std::pair<int64_t, std::string> CreateKey(const std::string& name) {
    AdminResponse created =
        Call(alice_token, "POST", "/admin/v1/tenants/acme/keys", {{"name", name}});
    EXPECT_EQ(created.status, 201) << created.raw;
    if (created.status != 201) return {0, ""};
    return {created.body["id"].get<int64_t>(), created.body["key"].get<std::string>()};
  }

  int ListModels(const std::string& key) {
    auto response = server::testing::Fetch(front_->port(), "GET", "/v1/models", "",
                                           server::testing::Bearer(key));
    EXPECT_TRUE(response.has_value());
    return response ? response->status : 0;
  }

  TestDirectory directory_;
  std::unique_ptr<GatewayFront> front_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(GatewayKeyCacheTest);

TEST_P(GatewayKeyCacheTest, RepeatedRequestsAreServedFromTheCache) {
  auto [id, key] = CreateKey("ci");
  const ApiKeyCacheStats before = identity().api_key_cache_stats();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(ListModels(key), 200) << i;
  const ApiKeyCacheStats after = identity().api_key_cache_stats();
  EXPECT_EQ(after.misses - before.misses, 1) << "one store lookup for twenty requests";
  EXPECT_EQ(after.hits - before.hits, 19);
}

TEST_P(GatewayKeyCacheTest, RevokedThroughTheAdminApiIsRefusedByTheNextRequest) {
  auto [id, key] = CreateKey("ci");
  ASSERT_EQ(ListModels(key), 200);
  ASSERT_EQ(ListModels(key), 200);  // cached now
  AdminResponse revoked =
      Call(alice_token, "POST", "/admin/v1/keys/" + std::to_string(id) + "/revoke");
  ASSERT_EQ(revoked.status, 200) << revoked.raw;
  EXPECT_EQ(ListModels(key), 401) << "no clock movement: the revocation is immediate";
}

TEST_P(GatewayKeyCacheTest, DeletedThroughTheAdminApiIsRefusedByTheNextRequest) {
  auto [id, key] = CreateKey("ci");
  ASSERT_EQ(ListModels(key), 200);
  ASSERT_EQ(ListModels(key), 200);
  AdminResponse deleted = Call(alice_token, "DELETE", "/admin/v1/keys/" + std::to_string(id));
  ASSERT_EQ(deleted.status, 200) << deleted.raw;
  EXPECT_EQ(ListModels(key), 401);
}

TEST_P(GatewayKeyCacheTest, AKeyThatExpiresWhileCachedIsRefused) {
  ASSERT_OK_AND_ASSIGN(IssuedApiKey issued,
                       identity().IssueApiKey(acme.id, "temp", {}, now_ms + 2000));
  ASSERT_EQ(ListModels(issued.plaintext), 200);
  now_ms += 1999;
  ASSERT_EQ(ListModels(issued.plaintext), 200);
  now_ms += 1;
  EXPECT_EQ(ListModels(issued.plaintext), 401);
}

TEST_P(GatewayKeyCacheTest, ARevocationByAnotherProcessIsSeenWhenTheTtlPasses) {
  auto [id, key] = CreateKey("ci");
  ASSERT_EQ(ListModels(key), 200);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> other, OpenStore());
  ASSERT_OK(other->RevokeApiKey(id).status());
  const int64_t ttl = identity().options().api_key_cache.ttl.count();
  now_ms += ttl - 1;
  EXPECT_EQ(ListModels(key), 200) << "within the ttl the cached verification stands";
  now_ms += 1;
  EXPECT_EQ(ListModels(key), 401);
}

}  // namespace
}  // namespace hearth::platform::testing
