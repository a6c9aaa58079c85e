// The admin API's deployments and models routes over a real socket, on both store backends,
// with a real DeploymentManager and ModelRegistry. Deployments stay stopped: starting engines is
// the deployment manager's own tests' business; here the routes, permissions and audit count.
#include <gtest/gtest.h>

#include "admin_test_support.h"
#include "hearth/gguf/synth.h"
#include "hearth/platform/deployment_manager.h"
#include "hearth/platform/model_registry.h"

namespace hearth::platform::testing {
namespace {

using nlohmann::json;

class AdminDeploymentsTest : public AdminApiTest {
 protected:
  AdminApiOptions ApiOptions() override {
    data_ = std::make_unique<hearth::testing::TempDir>();
    gguf::SynthOptions synth;
    synth.shape = gguf::ShapePreset("tiny", "llama").value();
    const auto file = data_->path() / "tiny.gguf";
    EXPECT_TRUE(gguf::SynthesizeModel(file, synth).ok());
    registry_ = std::make_unique<ModelRegistry>(store(), data_->path());
    ImportOptions import;
    import.name = "tiny";
    auto model = registry_->Import(file, import);
    EXPECT_TRUE(model.ok()) << model.status().ToString();
    DeploymentManagerOptions options;
    options.data_dir = data_->path();
    options.hearth_binary = hearth::testing::HearthBinary();
    auto manager = DeploymentManager::Create(store(), options);
    EXPECT_TRUE(manager.ok()) << manager.status().ToString();
    if (manager.ok()) manager_ = std::move(manager).value();
    AdminApiOptions api;
    api.deployments = manager_.get();
    api.models = registry_.get();
    return api;
  }
  void BeforeStoreCloses() override {
    manager_.reset();
    registry_.reset();
  }

  std::unique_ptr<hearth::testing::TempDir> data_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<DeploymentManager> manager_;
};
HEARTH_INSTANTIATE_FOR_BACKENDS(AdminDeploymentsTest);

TEST_P(AdminDeploymentsTest, DeploymentsAreManagedByPlatformAdminsAndSeenByTheirTenants) {
  const json spec = {{"name", "tiny-chat"}, {"model", "tiny"}, {"tenants", {"acme"}},
                     {"replicas", 2},       {"ctx", 256},      {"parallel", 2},
                     {"state", "stopped"}};
  int64_t before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "POST", "/admin/v1/deployments", spec).status, 403);
  ExpectOneAudit(before, "deployment.create", "user:alice", "denied", "deployment:tiny-chat");

  before = LastAuditId();
  AdminResponse created = Call(root_token, "POST", "/admin/v1/deployments", spec);
  ASSERT_EQ(created.status, 201) << created.raw;
  ExpectOneAudit(before, "deployment.create", "user:root", "ok", "deployment:tiny-chat");
  EXPECT_EQ(created.body["model"], "tiny");
  EXPECT_EQ(created.body["tenants"], json::array({"acme"}));
  EXPECT_EQ(created.body["state"], "stopped");
  ASSERT_OK_AND_ASSIGN(Deployment stored, store().FindDeploymentByName("tiny-chat"));
  EXPECT_EQ(stored.spec.replicas, 2);
  EXPECT_EQ(stored.spec.ctx, 256);
  EXPECT_EQ(stored.spec.tenant_ids, std::vector<int64_t>{acme.id});
  EXPECT_EQ(stored.desired, DesiredState::kStopped);

  AdminResponse acme_view = Call(alice_token, "GET", "/admin/v1/deployments");
  ASSERT_EQ(acme_view.status, 200);
  EXPECT_EQ(acme_view.body["data"].size(), 1u);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/deployments/tiny-chat").status, 200);
  EXPECT_TRUE(Call(bob_token, "GET", "/admin/v1/deployments").body["data"].empty());
  EXPECT_EQ(Call(bob_token, "GET", "/admin/v1/deployments/tiny-chat").status, 404);
  EXPECT_EQ(Call(carol_token, "GET", "/admin/v1/deployments").status, 403);

  before = LastAuditId();
  AdminResponse scaled =
      Call(root_token, "PATCH", "/admin/v1/deployments/tiny-chat", {{"replicas", 3}});
  ASSERT_EQ(scaled.status, 200) << scaled.raw;
  ExpectOneAudit(before, "deployment.update", "user:root", "ok", "deployment:tiny-chat");
  EXPECT_EQ(scaled.body["replicas"], 3);
  EXPECT_EQ(scaled.body["generation"], stored.generation) << "scaling keeps the generation";

  AdminResponse respecced =
      Call(root_token, "PATCH", "/admin/v1/deployments/tiny-chat", {{"ctx", 128}});
  ASSERT_EQ(respecced.status, 200) << respecced.raw;
  EXPECT_EQ(respecced.body["generation"], stored.generation + 1);
  ASSERT_OK_AND_ASSIGN(stored, store().FindDeploymentByName("tiny-chat"));
  EXPECT_EQ(stored.spec.ctx, 128);
  EXPECT_EQ(stored.spec.replicas, 3);

  AdminResponse bad =
      Call(root_token, "PATCH", "/admin/v1/deployments/tiny-chat", {{"replicas", "many"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_param(), "replicas");
  AdminResponse no_model =
      Call(root_token, "POST", "/admin/v1/deployments", {{"name", "x"}, {"model", "nosuch"}});
  EXPECT_EQ(no_model.status, 404);
  EXPECT_EQ(no_model.error_param(), "model");
  EXPECT_EQ(Call(root_token, "POST", "/admin/v1/deployments", spec).status, 409);

  // A deployed model cannot be removed.
  before = LastAuditId();
  EXPECT_EQ(Call(root_token, "DELETE", "/admin/v1/models/tiny").status, 409);
  ExpectOneAudit(before, "model.delete", "user:root", "error", "model:tiny");

  before = LastAuditId();
  ASSERT_EQ(Call(root_token, "DELETE", "/admin/v1/deployments/tiny-chat").status, 200);
  ExpectOneAudit(before, "deployment.delete", "user:root", "ok", "deployment:tiny-chat");
  EXPECT_EQ(store().FindDeploymentByName("tiny-chat").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/deployments/tiny-chat").status, 404);
}

TEST_P(AdminDeploymentsTest, ModelsAreListedShownAndDeletedByPlatformAdmins) {
  AdminResponse list = Call(root_token, "GET", "/admin/v1/models");
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["data"].size(), 1u);
  EXPECT_EQ(list.body["data"][0]["name"], "tiny");
  AdminResponse shown = Call(root_token, "GET", "/admin/v1/models/tiny");
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body["metadata"]["architecture"], "llama");
  ASSERT_OK_AND_ASSIGN(ModelRecord record, store().FindModelByName("tiny"));
  EXPECT_EQ(shown.body["sha256"], record.sha256);
  EXPECT_EQ(Call(alice_token, "GET", "/admin/v1/models").status, 403);

  int64_t before = LastAuditId();
  EXPECT_EQ(Call(alice_token, "DELETE", "/admin/v1/models/tiny").status, 403);
  ExpectOneAudit(before, "model.delete", "user:alice", "denied", "model:tiny");
  before = LastAuditId();
  ASSERT_EQ(Call(root_token, "DELETE", "/admin/v1/models/tiny").status, 200);
  ExpectOneAudit(before, "model.delete", "user:root", "ok", "model:tiny");
  EXPECT_EQ(Call(root_token, "GET", "/admin/v1/models/tiny").status, 404);
  EXPECT_FALSE(std::filesystem::exists(record.path));
}

}  // namespace
}  // namespace hearth::platform::testing
