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
    // Room for two replicas of the tiny model at ctx 256 × parallel 2, and not three.
    auto need = ReplicaMemoryForModel(file, 256, 2, 0);
    EXPECT_TRUE(need.ok()) << need.status().ToString();
    replica_bytes_ = need.ok() ? need->total() : 0;
    options.available_memory_bytes = replica_bytes_ * 5 / 2;
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
  uint64_t replica_bytes_ = 0;
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

// What a PATCH may change, compared as a whole.
void ExpectSameDeployment(const Deployment& actual, const Deployment& expected) {
  EXPECT_EQ(actual.spec, expected.spec);
  EXPECT_EQ(actual.desired, expected.desired);
  EXPECT_EQ(actual.generation, expected.generation);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
}

TEST_P(AdminDeploymentsTest, ARefusedPatchChangesNothing) {
  AdminResponse created = Call(root_token, "POST", "/admin/v1/deployments",
                               {{"name", "atomic"}, {"model", "tiny"}, {"tenants", {"acme"}},
                                {"replicas", 1}, {"ctx", 256}, {"parallel", 2},
                                {"state", "stopped"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  ASSERT_OK_AND_ASSIGN(const Deployment original, store().FindDeploymentByName("atomic"));

  struct Case {
    json patch;
    int status;
    std::string param;
    std::string code;
  };
  const std::vector<Case> cases = {
      // A valid spec change with an invalid state.
      {{{"ctx", 128}, {"replicas", 2}, {"state", "paused"}}, 400, "state", ""},
      // A valid state change with a tenant the caller cannot see, or a model that is not there.
      {{{"state", "running"}, {"tenants", {"acme", "nosuch"}}}, 404, "tenants", ""},
      {{{"state", "running"}, {"model", "nosuch"}}, 404, "model", ""},
      // A context beyond the model's 2048 tokens.
      {{{"ctx", 4096}, {"state", "running"}}, 400, "", ""},
      {{{"ctx", 128}, {"parallel", 0}}, 400, "parallel", ""},
      // Three replicas do not fit where two do; neither does a huge KV budget.
      {{{"replicas", 3}, {"ctx", 128}, {"state", "running"}}, 409, "", "insufficient_memory"},
      {{{"replicas", 3}, {"state", "running"}}, 409, "", "insufficient_memory"},
      {{{"kv_budget_bytes", int64_t{1} << 40}, {"state", "running"}}, 409, "",
       "insufficient_memory"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.patch.dump());
    const int64_t before = LastAuditId();
    AdminResponse refused = Call(root_token, "PATCH", "/admin/v1/deployments/atomic", c.patch);
    EXPECT_EQ(refused.status, c.status) << refused.raw;
    EXPECT_EQ(refused.error_param(), c.param);
    if (!c.code.empty()) {
      EXPECT_EQ(refused.error_code(), c.code);
    }
    ExpectOneAudit(before, "deployment.update", "user:root", "error", "deployment:atomic");
    ASSERT_OK_AND_ASSIGN(const Deployment now, store().FindDeploymentByName("atomic"));
    ExpectSameDeployment(now, original);
  }
  // The manager's view did not move either.
  AdminResponse shown = Call(root_token, "GET", "/admin/v1/deployments/atomic");
  ASSERT_EQ(shown.status, 200);
  EXPECT_EQ(shown.body["ctx"], 256);
  EXPECT_EQ(shown.body["replicas"], 1);
  EXPECT_EQ(shown.body["state"], "stopped");
  EXPECT_EQ(shown.body["generation"], original.generation);
}

TEST_P(AdminDeploymentsTest, ACombinedPatchAppliesEverythingInOneStep) {
  AdminResponse created = Call(root_token, "POST", "/admin/v1/deployments",
                               {{"name", "combined"}, {"model", "tiny"}, {"replicas", 1},
                                {"ctx", 256}, {"parallel", 2}, {"state", "stopped"}});
  ASSERT_EQ(created.status, 201) << created.raw;
  ASSERT_OK_AND_ASSIGN(const Deployment original, store().FindDeploymentByName("combined"));

  // Spec, scale, access and state at once (running with no replicas: no engine starts here).
  int64_t before = LastAuditId();
  AdminResponse updated =
      Call(root_token, "PATCH", "/admin/v1/deployments/combined",
           {{"ctx", 128}, {"replicas", 0}, {"tenants", {"acme"}}, {"state", "running"}});
  ASSERT_EQ(updated.status, 200) << updated.raw;
  std::vector<AuditEntry> audit = AuditAfter(before);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "deployment.update");
  EXPECT_EQ(audit[0].result, "ok");
  EXPECT_EQ(audit[0].detail, "spec,state=running");
  ASSERT_OK_AND_ASSIGN(const Deployment stored, store().FindDeploymentByName("combined"));
  EXPECT_EQ(stored.spec.ctx, 128);
  EXPECT_EQ(stored.spec.replicas, 0);
  EXPECT_EQ(stored.spec.tenant_ids, std::vector<int64_t>{acme.id});
  EXPECT_EQ(stored.spec.parallel, original.spec.parallel);
  EXPECT_EQ(stored.desired, DesiredState::kRunning);
  EXPECT_EQ(stored.generation, original.generation + 1);
  EXPECT_EQ(updated.body["state"], "running");
  EXPECT_EQ(updated.body["ctx"], 128);
  EXPECT_EQ(updated.body["generation"], stored.generation);

  // Now running: a spec change alone that would not fit is refused, and changes nothing.
  before = LastAuditId();
  AdminResponse too_big = Call(root_token, "PATCH", "/admin/v1/deployments/combined",
                               {{"kv_budget_bytes", int64_t{1} << 40}, {"replicas", 1}});
  EXPECT_EQ(too_big.status, 409) << too_big.raw;
  EXPECT_EQ(too_big.error_code(), "insufficient_memory");
  ExpectOneAudit(before, "deployment.update", "user:root", "error", "deployment:combined");
  ASSERT_OK_AND_ASSIGN(const Deployment unchanged, store().FindDeploymentByName("combined"));
  ExpectSameDeployment(unchanged, stored);

  // Stopping and scaling together: both land, the engine spec (generation) stays.
  AdminResponse stopped = Call(root_token, "PATCH", "/admin/v1/deployments/combined",
                               {{"replicas", 2}, {"state", "stopped"}});
  ASSERT_EQ(stopped.status, 200) << stopped.raw;
  ASSERT_OK_AND_ASSIGN(const Deployment parked, store().FindDeploymentByName("combined"));
  EXPECT_EQ(parked.spec.replicas, 2);
  EXPECT_EQ(parked.desired, DesiredState::kStopped);
  EXPECT_EQ(parked.generation, stored.generation);
  EXPECT_EQ(AuditAfter(before).back().detail, "replicas=2,state=stopped");
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
