// The Store's model registry, deployments and replica rows (schema version 2), on both backends.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends.h"
#include "hearth/platform/store.h"

namespace hearth::platform::testing {
namespace {

using StoreModelsTest = BackendTest;
HEARTH_INSTANTIATE_FOR_BACKENDS(StoreModelsTest);

NewModel ModelNamed(std::string name, char hash_digit = 'a') {
  NewModel m;
  m.name = name;
  m.source = "file:/imports/" + name + ".gguf";
  m.path = "/var/lib/hearth/models/" + name + "/" + name + ".gguf";
  m.size_bytes = 1234;
  m.sha256 = std::string(64, hash_digit);
  m.metadata_json = R"({"architecture":"llama"})";
  return m;
}

DeploymentSpec SpecFor(std::string name, int64_t model_id, std::vector<int64_t> tenants = {}) {
  DeploymentSpec spec;
  spec.name = std::move(name);
  spec.model_id = model_id;
  spec.tenant_ids = std::move(tenants);
  return spec;
}

// Enums ----------------------------------------------------------------------------------------

TEST(StoreEnumsTest, StateNamesRoundTripAndUnknownNamesAreRefused) {
  for (DesiredState s : {DesiredState::kRunning, DesiredState::kStopped}) {
    auto parsed = ParseDesiredState(DesiredStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(DesiredStateName(DesiredState::kRunning), "running");
  EXPECT_EQ(DesiredStateName(DesiredState::kStopped), "stopped");
  EXPECT_EQ(ParseDesiredState("Running").status().code(), StatusCode::kInvalidArgument);

  const std::vector<std::pair<ReplicaState, std::string>> names = {
      {ReplicaState::kPending, "pending"}, {ReplicaState::kLoading, "loading"},
      {ReplicaState::kReady, "ready"},     {ReplicaState::kFailed, "failed"},
      {ReplicaState::kStopped, "stopped"}};
  for (const auto& [state, name] : names) {
    EXPECT_EQ(ReplicaStateName(state), name);
    auto parsed = ParseReplicaState(name);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, state);
  }
  auto bad = ParseReplicaState("");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "unknown replica state '' (expected pending, loading, ready, failed or stopped)");
}

// Models ---------------------------------------------------------------------------------------

TEST_P(StoreModelsTest, ModelsRoundTripAndAreFoundCaseInsensitively) {
  ASSERT_OK_AND_ASSIGN(int64_t version, store().SchemaVersion());
  EXPECT_GE(version, 2);  // models arrived with schema version 2
  NewModel in = ModelNamed("Qwen2.5-0.5B_q8");
  ASSERT_OK_AND_ASSIGN(ModelRecord qwen, store().CreateModel(in));
  EXPECT_GT(qwen.id, 0);
  EXPECT_EQ(qwen.name, "Qwen2.5-0.5B_q8") << "case is kept";
  EXPECT_EQ(qwen.source, in.source);
  EXPECT_EQ(qwen.path, in.path);
  EXPECT_EQ(qwen.size_bytes, 1234);
  EXPECT_EQ(qwen.sha256, in.sha256);
  EXPECT_EQ(qwen.metadata_json, in.metadata_json);
  EXPECT_EQ(qwen.created_at, now_ms);

  now_ms += 5;
  ASSERT_OK_AND_ASSIGN(ModelRecord llama, store().CreateModel(ModelNamed("llama", 'b')));
  EXPECT_GT(llama.id, qwen.id);
  ASSERT_OK_AND_ASSIGN(ModelRecord found, store().FindModelByName("qwen2.5-0.5b_Q8"));
  EXPECT_EQ(found.id, qwen.id);
  EXPECT_EQ(found.name, "Qwen2.5-0.5B_q8");
  ASSERT_OK_AND_ASSIGN(found, store().GetModel(llama.id));
  EXPECT_EQ(found.created_at, now_ms);
  ASSERT_OK_AND_ASSIGN(auto all, store().ListModels());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, qwen.id);
  EXPECT_EQ(all[1].id, llama.id);

  auto duplicate = store().CreateModel(ModelNamed("QWEN2.5-0.5B_Q8"));
  EXPECT_CODE(duplicate, StatusCode::kAlreadyExists);
  EXPECT_EQ(duplicate.status().message(),
            "model 'QWEN2.5-0.5B_Q8' already exists (as 'Qwen2.5-0.5B_q8')");

  ASSERT_OK(store().DeleteModel(qwen.id));
  EXPECT_CODE(store().GetModel(qwen.id), StatusCode::kNotFound);
  EXPECT_EQ(store().FindModelByName("nothing").status().message(), "model 'nothing' not found");
  EXPECT_EQ(store().DeleteModel(qwen.id).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store().CreateModel(ModelNamed("qwen2.5-0.5b_q8")).ok())
      << "the name is free again after a delete";
}

TEST_P(StoreModelsTest, MalformedModelsAreRefusedBeforeTheDatabase) {
  for (const std::string& bad : std::vector<std::string>{
           "", "-x", ".x", "a b", "a/b", "a:b", "ünicode", std::string(129, 'a')}) {
    EXPECT_CODE(store().CreateModel(ModelNamed(bad)), StatusCode::kInvalidArgument)
        << "name: " << bad;
  }
  ASSERT_OK(store().CreateModel(ModelNamed(std::string(128, 'a'))).status());

  NewModel m = ModelNamed("ok");
  m.sha256 = std::string(64, 'A');
  EXPECT_EQ(store().CreateModel(m).status().message(),
            "model 'ok': sha256 must be 64 lower-case hex digits");
  m = ModelNamed("ok");
  m.path = "relative/model.gguf";
  EXPECT_CODE(store().CreateModel(m), StatusCode::kInvalidArgument);
  m = ModelNamed("ok");
  m.size_bytes = -1;
  EXPECT_CODE(store().CreateModel(m), StatusCode::kInvalidArgument);
  m = ModelNamed("ok");
  m.metadata_json = "[1, 2";
  EXPECT_EQ(store().CreateModel(m).status().message(), "model 'ok': metadata must be a JSON object");
  m = ModelNamed("ok");
  m.source = "";
  EXPECT_CODE(store().CreateModel(m), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto all, store().ListModels());
  EXPECT_EQ(all.size(), 1u) << "nothing refused was written";
}

TEST_P(StoreModelsTest, AModelInUseCannotBeDeleted) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(Deployment chat,
                       store().CreateDeployment(SpecFor("chat", model.id), DesiredState::kRunning));
  ASSERT_OK_AND_ASSIGN(Deployment batch,
                       store().CreateDeployment(SpecFor("batch", model.id), DesiredState::kStopped));
  Status refused = store().DeleteModel(model.id);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_EQ(refused.message(),
            fmt::format("model 'llama' (id {}) is used by deployment 'batch', 'chat'; delete the "
                        "deployment first",
                        model.id));
  ASSERT_OK(store().DeleteDeployment(chat.id));
  EXPECT_EQ(store().DeleteModel(model.id).code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(store().DeleteDeployment(batch.id));
  ASSERT_OK(store().DeleteModel(model.id));
}

// Deployments ----------------------------------------------------------------------------------

TEST_P(StoreModelsTest, DeploymentsRoundTripWithSortedUniqueTenants) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant globex, store().CreateTenant("globex"));

  DeploymentSpec spec = SpecFor("Llama-3:8B-chat", model.id, {globex.id, acme.id, globex.id});
  spec.replicas = 3;
  spec.ctx = 8192;
  spec.parallel = 4;
  spec.kv_budget_bytes = int64_t{6} << 30;  // beyond 32 bits
  spec.threads = 12;
  ASSERT_OK_AND_ASSIGN(Deployment created, store().CreateDeployment(spec, DesiredState::kStopped));
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.spec.name, "llama-3:8b-chat") << "stored lower-case like tenant names";
  EXPECT_EQ(created.spec.tenant_ids, (std::vector<int64_t>{acme.id, globex.id}));
  EXPECT_EQ(created.spec.replicas, 3);
  EXPECT_EQ(created.spec.ctx, 8192);
  EXPECT_EQ(created.spec.parallel, 4);
  EXPECT_EQ(created.spec.kv_budget_bytes, int64_t{6} << 30);
  EXPECT_EQ(created.spec.threads, 12);
  EXPECT_EQ(created.spec.model_id, model.id);
  EXPECT_EQ(created.desired, DesiredState::kStopped);
  EXPECT_EQ(created.generation, 1);
  EXPECT_EQ(created.created_at, now_ms);
  EXPECT_EQ(created.updated_at, now_ms);

  ASSERT_OK_AND_ASSIGN(Deployment found, store().FindDeploymentByName("LLAMA-3:8B-Chat"));
  EXPECT_EQ(found.id, created.id);
  EXPECT_EQ(found.spec, created.spec);
  ASSERT_OK_AND_ASSIGN(found, store().GetDeployment(created.id));
  EXPECT_EQ(found.spec, created.spec);

  ASSERT_OK_AND_ASSIGN(Deployment open,
                       store().CreateDeployment(SpecFor("open", model.id), DesiredState::kRunning));
  ASSERT_OK_AND_ASSIGN(auto all, store().ListDeployments());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].spec, created.spec);
  EXPECT_EQ(all[1].id, open.id);
  EXPECT_TRUE(all[1].spec.tenant_ids.empty());
  EXPECT_EQ(all[1].spec.replicas, 1) << "defaults survive the round trip";
  EXPECT_EQ(all[1].spec.ctx, 4096);
  EXPECT_EQ(all[1].spec.parallel, 16);

  auto taken = store().CreateDeployment(SpecFor("OPEN", model.id), DesiredState::kRunning);
  EXPECT_CODE(taken, StatusCode::kAlreadyExists);
  EXPECT_EQ(taken.status().message(), "deployment 'open' already exists");
  EXPECT_EQ(store().FindDeploymentByName("gone").status().message(),
            "deployment 'gone' not found");
  EXPECT_CODE(store().GetDeployment(9999), StatusCode::kNotFound);
}

TEST_P(StoreModelsTest, DeploymentsReferringToMissingModelsOrTenantsAreRefused) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  auto no_model = store().CreateDeployment(SpecFor("chat", model.id + 100), DesiredState::kRunning);
  EXPECT_CODE(no_model, StatusCode::kNotFound);
  EXPECT_EQ(no_model.status().message(),
            fmt::format("deployment 'chat': model {} does not exist", model.id + 100));
  auto no_tenant =
      store().CreateDeployment(SpecFor("chat", model.id, {acme.id, 777}), DesiredState::kRunning);
  EXPECT_CODE(no_tenant, StatusCode::kNotFound);
  EXPECT_EQ(no_tenant.status().message(), "deployment 'chat': tenant 777 does not exist");
  ASSERT_OK_AND_ASSIGN(auto all, store().ListDeployments());
  EXPECT_TRUE(all.empty()) << "a refused deployment leaves no row behind";
  EXPECT_TRUE(
      store().CreateDeployment(SpecFor("chat", model.id, {acme.id}), DesiredState::kRunning).ok())
      << "and its name stays free";
}

TEST_P(StoreModelsTest, MalformedDeploymentSpecsAreRefused) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  for (const std::string& bad : std::vector<std::string>{"", ":chat", "a b", "a/b", "ünicode",
                                                         std::string(129, 'a')}) {
    EXPECT_CODE(store().CreateDeployment(SpecFor(bad, model.id), DesiredState::kRunning),
                StatusCode::kInvalidArgument)
        << "name: " << bad;
  }
  ASSERT_OK(store()
                .CreateDeployment(SpecFor(std::string(128, 'a'), model.id), DesiredState::kRunning)
                .status());
  auto with = [&](auto change) {
    DeploymentSpec spec = SpecFor("x", model.id);
    change(spec);
    return store().CreateDeployment(spec, DesiredState::kRunning);
  };
  EXPECT_EQ(with([](DeploymentSpec& s) { s.replicas = -1; }).status().message(),
            "deployment 'x': replicas -1 must not be negative");
  EXPECT_CODE(with([](DeploymentSpec& s) { s.ctx = 0; }), StatusCode::kInvalidArgument);
  EXPECT_CODE(with([](DeploymentSpec& s) { s.parallel = 0; }), StatusCode::kInvalidArgument);
  EXPECT_CODE(with([](DeploymentSpec& s) { s.kv_budget_bytes = -1; }),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(with([](DeploymentSpec& s) { s.threads = -2; }), StatusCode::kInvalidArgument);
  EXPECT_TRUE(with([](DeploymentSpec& s) { s.replicas = 0; }).ok()) << "zero replicas is valid";
}

TEST_P(StoreModelsTest, UpdatesBumpTheGenerationOnlyWhenTheEngineChanges) {
  ASSERT_OK_AND_ASSIGN(ModelRecord llama, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(ModelRecord qwen, store().CreateModel(ModelNamed("qwen", 'c')));
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant globex, store().CreateTenant("globex"));
  DeploymentSpec spec = SpecFor("chat", llama.id, {acme.id});
  ASSERT_OK_AND_ASSIGN(Deployment d, store().CreateDeployment(spec, DesiredState::kRunning));
  int64_t created_at = now_ms;

  struct Step {
    const char* what;
    void (*change)(DeploymentSpec&, int64_t other_model, int64_t other_tenant);
    DesiredState desired;
    int64_t generation_after;
  };
  const Step steps[] = {
      {"scale up", [](DeploymentSpec& s, int64_t, int64_t) { s.replicas = 4; },
       DesiredState::kRunning, 1},
      {"stop", [](DeploymentSpec&, int64_t, int64_t) {}, DesiredState::kStopped, 1},
      {"grant a tenant", [](DeploymentSpec& s, int64_t, int64_t t) { s.tenant_ids.push_back(t); },
       DesiredState::kStopped, 1},
      {"ctx", [](DeploymentSpec& s, int64_t, int64_t) { s.ctx = 2048; }, DesiredState::kRunning,
       2},
      {"parallel", [](DeploymentSpec& s, int64_t, int64_t) { s.parallel = 2; },
       DesiredState::kRunning, 3},
      {"kv budget", [](DeploymentSpec& s, int64_t, int64_t) { s.kv_budget_bytes = 1 << 20; },
       DesiredState::kRunning, 4},
      {"threads", [](DeploymentSpec& s, int64_t, int64_t) { s.threads = 3; },
       DesiredState::kRunning, 5},
      {"model", [](DeploymentSpec& s, int64_t m, int64_t) { s.model_id = m; },
       DesiredState::kRunning, 6},
      {"same spec again", [](DeploymentSpec&, int64_t, int64_t) {}, DesiredState::kRunning, 6},
  };
  for (const Step& step : steps) {
    now_ms += 10;
    step.change(spec, qwen.id, globex.id);
    ASSERT_OK_AND_ASSIGN(Deployment updated, store().UpdateDeployment(d.id, spec, step.desired));
    EXPECT_EQ(updated.generation, step.generation_after) << step.what;
    EXPECT_EQ(updated.desired, step.desired) << step.what;
    EXPECT_EQ(updated.spec, spec) << step.what;
    EXPECT_EQ(updated.updated_at, now_ms) << step.what;
    EXPECT_EQ(updated.created_at, created_at) << step.what;
    ASSERT_OK_AND_ASSIGN(Deployment reread, store().GetDeployment(d.id));
    EXPECT_EQ(reread.spec, spec) << step.what;
    EXPECT_EQ(reread.generation, step.generation_after) << step.what;
  }

  DeploymentSpec renamed = spec;
  renamed.name = "other";
  auto refused = store().UpdateDeployment(d.id, renamed, DesiredState::kRunning);
  EXPECT_CODE(refused, StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(),
            fmt::format("deployment {} is named 'chat'; its name cannot change to 'other'", d.id));
  DeploymentSpec orphan = spec;
  orphan.tenant_ids = {acme.id, 4242};
  EXPECT_CODE(store().UpdateDeployment(d.id, orphan, DesiredState::kRunning),
              StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(Deployment unchanged, store().GetDeployment(d.id));
  EXPECT_EQ(unchanged.spec, spec) << "a refused update changes nothing";
  EXPECT_CODE(store().UpdateDeployment(d.id + 50, spec, DesiredState::kRunning),
              StatusCode::kNotFound);
}

TEST_P(StoreModelsTest, DeletingATenantWithdrawsItsGrants) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Tenant globex, store().CreateTenant("globex"));
  ASSERT_OK_AND_ASSIGN(Deployment d, store().CreateDeployment(
                                         SpecFor("chat", model.id, {acme.id, globex.id}),
                                         DesiredState::kRunning));
  ASSERT_OK(store().DeleteTenant(acme.id));
  ASSERT_OK_AND_ASSIGN(Deployment after, store().GetDeployment(d.id));
  EXPECT_EQ(after.spec.tenant_ids, std::vector<int64_t>{globex.id});
  ASSERT_OK_AND_ASSIGN(auto all, store().ListDeployments());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].spec.tenant_ids, std::vector<int64_t>{globex.id});
}

// Replicas -------------------------------------------------------------------------------------

TEST_P(StoreModelsTest, ReplicasAreTrackedAndGoWithTheirDeployment) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(Deployment chat,
                       store().CreateDeployment(SpecFor("chat", model.id), DesiredState::kRunning));
  ASSERT_OK_AND_ASSIGN(Deployment code,
                       store().CreateDeployment(SpecFor("code", model.id), DesiredState::kRunning));

  ASSERT_OK_AND_ASSIGN(ReplicaRecord r1, store().CreateReplica(chat.id, 1));
  EXPECT_GT(r1.id, 0);
  EXPECT_EQ(r1.deployment_id, chat.id);
  EXPECT_EQ(r1.generation, 1);
  EXPECT_EQ(r1.state, ReplicaState::kPending);
  EXPECT_EQ(r1.pid, 0);
  EXPECT_EQ(r1.port, 0);
  EXPECT_EQ(r1.restarts, 0);
  EXPECT_EQ(r1.last_error, "");
  EXPECT_EQ(r1.updated_at, now_ms);
  ASSERT_OK_AND_ASSIGN(ReplicaRecord r2, store().CreateReplica(code.id, 1));
  ASSERT_OK_AND_ASSIGN(ReplicaRecord r3, store().CreateReplica(chat.id, 2));

  now_ms += 100;
  ReplicaRecord ready = r1;
  ready.state = ReplicaState::kReady;
  ready.pid = 4'000'000'123;  // pids are 64-bit in the store
  ready.port = 65535;
  ready.restarts = 2;
  ready.last_error = "exit status 1: out of memory";
  ready.deployment_id = code.id;  // not writable: a replica never moves
  ready.generation = 9;
  ASSERT_OK_AND_ASSIGN(ReplicaRecord updated, store().UpdateReplica(ready));
  EXPECT_EQ(updated.state, ReplicaState::kReady);
  EXPECT_EQ(updated.pid, 4'000'000'123);
  EXPECT_EQ(updated.port, 65535);
  EXPECT_EQ(updated.restarts, 2);
  EXPECT_EQ(updated.last_error, "exit status 1: out of memory");
  EXPECT_EQ(updated.updated_at, now_ms);
  EXPECT_EQ(updated.deployment_id, chat.id);
  EXPECT_EQ(updated.generation, 1);

  ASSERT_OK_AND_ASSIGN(auto of_chat, store().ListReplicas(chat.id));
  ASSERT_EQ(of_chat.size(), 2u);
  EXPECT_EQ(of_chat[0].id, r1.id);
  EXPECT_EQ(of_chat[0].state, ReplicaState::kReady);
  EXPECT_EQ(of_chat[1].id, r3.id);
  EXPECT_EQ(of_chat[1].generation, 2);
  ASSERT_OK_AND_ASSIGN(auto every, store().ListReplicas(std::nullopt));
  ASSERT_EQ(every.size(), 3u);
  EXPECT_EQ(every[1].id, r2.id);

  ReplicaRecord bad = r1;
  bad.port = 65536;
  EXPECT_CODE(store().UpdateReplica(bad), StatusCode::kInvalidArgument);
  bad = r1;
  bad.last_error = std::string(4097, 'e');
  EXPECT_CODE(store().UpdateReplica(bad), StatusCode::kInvalidArgument);
  bad = r1;
  bad.pid = -1;
  EXPECT_CODE(store().UpdateReplica(bad), StatusCode::kInvalidArgument);
  EXPECT_CODE(store().CreateReplica(chat.id, 0), StatusCode::kInvalidArgument);
  auto orphan = store().CreateReplica(code.id + 100, 1);
  EXPECT_CODE(orphan, StatusCode::kNotFound);
  EXPECT_EQ(orphan.status().message(),
            fmt::format("replica: deployment {} does not exist", code.id + 100));

  ASSERT_OK(store().DeleteReplica(r3.id));
  EXPECT_EQ(store().DeleteReplica(r3.id).code(), StatusCode::kNotFound);
  ReplicaRecord gone = r3;
  EXPECT_EQ(store().UpdateReplica(gone).status().message(),
            fmt::format("replica {} not found", r3.id));

  ASSERT_OK(store().DeleteDeployment(chat.id));
  ASSERT_OK_AND_ASSIGN(every, store().ListReplicas(std::nullopt));
  ASSERT_EQ(every.size(), 1u) << "a deployment's replicas go with it";
  EXPECT_EQ(every[0].id, r2.id);
  EXPECT_EQ(store().DeleteDeployment(chat.id).code(), StatusCode::kNotFound);
}

TEST_P(StoreModelsTest, RecordsSurviveReopening) {
  ASSERT_OK_AND_ASSIGN(ModelRecord model, store().CreateModel(ModelNamed("llama")));
  ASSERT_OK_AND_ASSIGN(Tenant acme, store().CreateTenant("acme"));
  ASSERT_OK_AND_ASSIGN(Deployment d, store().CreateDeployment(SpecFor("chat", model.id, {acme.id}),
                                                              DesiredState::kRunning));
  ASSERT_OK_AND_ASSIGN(ReplicaRecord r, store().CreateReplica(d.id, 1));
  ASSERT_OK_AND_ASSIGN(auto reopened, OpenStore());
  ASSERT_OK_AND_ASSIGN(ModelRecord m2, reopened->FindModelByName("LLAMA"));
  EXPECT_EQ(m2.sha256, model.sha256);
  ASSERT_OK_AND_ASSIGN(Deployment d2, reopened->GetDeployment(d.id));
  EXPECT_EQ(d2.spec, d.spec);
  ASSERT_OK_AND_ASSIGN(auto replicas, reopened->ListReplicas(d.id));
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].id, r.id);
}

}  // namespace
}  // namespace hearth::platform::testing
