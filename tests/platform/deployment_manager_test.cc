// DeploymentManager with real engine processes (the built `hearth` binary on a tiny synthetic
// model) over a SQLite store in a temporary data directory.
#include "hearth/platform/deployment_manager.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "backends.h"
#include "hearth/gguf/synth.h"
#include "hearth/platform/engine_probe.h"
#include "support/fixtures.h"

namespace hearth::platform {
namespace {

using namespace std::chrono_literals;
using hearth::testing::HearthBinary;
using hearth::testing::TempDir;

// Polls `condition` every 10 ms until it holds or `timeout` passes.
template <typename Condition>
bool WaitUntil(Condition condition, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool ProcessGone(int64_t pid) {
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// The one audit record of a replica's failure: written by the platform about `target`, an error
// whose detail mentions `detail`.
void ExpectOneFailureAudit(const std::vector<AuditEntry>& entries, const std::string& target,
                           const std::string& detail) {
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].actor, "system");
  EXPECT_EQ(entries[0].target, target);
  EXPECT_EQ(entries[0].result, "error");
  EXPECT_NE(entries[0].detail.find(detail), std::string::npos) << entries[0].detail;
}

class DeploymentManagerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    models_ = new TempDir();
    gguf::SynthOptions options;
    options.shape = gguf::ShapePreset("tiny", "llama").value();
    ASSERT_TRUE(gguf::SynthesizeModel(*models_ / "tiny.gguf", options).ok());
  }
  static void TearDownTestSuite() {
    delete models_;
    models_ = nullptr;
  }

  void SetUp() override {
    if (!std::filesystem::exists(HearthBinary())) GTEST_SKIP() << "hearth binary not built";
    auto store = OpenSqliteStore(data_ / "platform.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    NewModel model;
    model.name = "tiny";
    model.path = (*models_ / "tiny.gguf").string();
    model.source = "file:" + model.path;
    model.size_bytes = static_cast<int64_t>(std::filesystem::file_size(model.path));
    model.sha256 = std::string(64, 'a');
    model.metadata_json = "{}";
    auto created = store_->CreateModel(model);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    model_id_ = created->id;
    auto tenant = store_->CreateTenant("acme");
    ASSERT_TRUE(tenant.ok());
    tenant_id_ = tenant->id;
  }

  void TearDown() override {
    manager_.reset();  // stops every engine before the store closes
    store_.reset();
  }

  DeploymentManagerOptions Options() const {
    DeploymentManagerOptions options;
    options.data_dir = data_.path();
    options.hearth_binary = HearthBinary();
    options.timings.load_timeout = 20s;
    options.timings.health_poll = 20ms;
    options.timings.probe_timeout = 1s;
    options.timings.exit_poll = 20ms;
    options.timings.stop_grace = 5s;
    options.timings.backoff_initial = 50ms;
    options.timings.backoff_max = 200ms;
    options.reconcile_interval = 50ms;
    return options;
  }

  void StartManager(DeploymentManagerOptions options) {
    auto manager = DeploymentManager::Create(*store_, std::move(options));
    ASSERT_TRUE(manager.ok()) << manager.status().ToString();
    manager_ = std::move(*manager);
  }

  DeploymentSpec Spec(const std::string& name, int replicas = 1) const {
    DeploymentSpec spec;
    spec.name = name;
    spec.model_id = model_id_;
    spec.tenant_ids = {tenant_id_};
    spec.replicas = replicas;
    spec.ctx = 256;
    spec.parallel = 2;
    spec.kv_budget_bytes = 1 << 20;
    spec.threads = 1;
    return spec;
  }

  size_t ReadyCount(std::string_view name) const {
    auto ready = manager_->ReadyReplicas(name);
    return ready ? ready->size() : 0;
  }

  // The deployment's replicas in the store.
  std::vector<ReplicaRecord> Rows(int64_t deployment_id) const {
    auto rows = store_->ListReplicas(deployment_id);
    EXPECT_TRUE(rows.ok());
    return rows.value_or({});
  }

  // The audit records of one action.
  std::vector<AuditEntry> Audited(const std::string& action) const {
    AuditFilter filter;
    filter.action = action;
    auto entries = store_->QueryAudit(filter);
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    return entries.value_or({});
  }

  // Waits until the deployment has exactly `count` replicas, all ready, of `generation`.
  bool WaitForReady(int64_t id, size_t count, int64_t generation = 1) {
    return WaitUntil([&] {
      auto status = manager_->Describe(id);
      if (!status.ok() || status->replicas.size() != count) return false;
      for (const ReplicaRecord& r : status->replicas) {
        if (r.state != ReplicaState::kReady || r.generation != generation) return false;
      }
      return status->ready_replicas == static_cast<int>(count);
    });
  }

  static TempDir* models_;
  TempDir data_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<DeploymentManager> manager_;
  int64_t model_id_ = 0;
  int64_t tenant_id_ = 0;
};
TempDir* DeploymentManagerTest::models_ = nullptr;

TEST_F(DeploymentManagerTest, StartsServesStopsAndStartsAgain) {
  StartManager(Options());
  auto created = manager_->CreateDeployment(Spec("chat"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WaitForReady(created->id, 1));

  // The directory routes to it; the replica serves the API on that port.
  auto ready = manager_->ReadyReplicas("chat");
  ASSERT_TRUE(ready.has_value());
  ASSERT_EQ(ready->size(), 1u);
  EXPECT_EQ((*ready)[0].host, "127.0.0.1");
  auto models = LoopbackGet((*ready)[0].port, "/v1/models", 2s);
  ASSERT_TRUE(models.ok()) << models.status().ToString();
  EXPECT_EQ(models->status, 200);
  EXPECT_EQ(nlohmann::json::parse(models->body)["data"][0]["max_model_len"], 256);
  EXPECT_FALSE(manager_->ReadyReplicas("nope").has_value());
  auto listed = manager_->Deployments();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "chat");
  EXPECT_EQ(listed[0].tenant_ids, std::vector<int64_t>{tenant_id_});
  EXPECT_EQ(listed[0].created_at, created->created_at);

  // The store has the replica's row; the engine logs to <data>/logs/chat-<id>.log.
  auto rows = Rows(created->id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, ReplicaState::kReady);
  EXPECT_EQ(rows[0].port, (*ready)[0].port);
  EXPECT_EQ(rows[0].id, (*ready)[0].replica_id);
  const int64_t pid = rows[0].pid;
  EXPECT_TRUE(IsEngineProcess(pid));
  EXPECT_TRUE(
      std::filesystem::exists(data_ / "logs" / ("chat-" + std::to_string(rows[0].id) + ".log")));

  // Stop: the row stays as "stopped", no process is left, the deployment still exists.
  ASSERT_TRUE(manager_->StopDeployment(created->id).ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Rows(created->id);
    return r.size() == 1 && r[0].state == ReplicaState::kStopped;
  }));
  EXPECT_EQ(Rows(created->id)[0].pid, 0);
  EXPECT_TRUE(ProcessGone(pid));
  ASSERT_TRUE(manager_->ReadyReplicas("chat").has_value());
  EXPECT_TRUE(manager_->ReadyReplicas("chat")->empty());

  // Start again: a fresh replica.
  ASSERT_TRUE(manager_->StartDeployment(created->id).ok());
  ASSERT_TRUE(WaitForReady(created->id, 1));
  EXPECT_NE(Rows(created->id)[0].pid, pid);
}

TEST_F(DeploymentManagerTest, KilledEngineIsRestartedAndAudited) {
  StartManager(Options());
  auto created = manager_->CreateDeployment(Spec("chat"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WaitForReady(created->id, 1));
  const ReplicaRecord before = Rows(created->id)[0];

  ASSERT_EQ(kill(static_cast<pid_t>(before.pid), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Rows(created->id);
    return r.size() == 1 && r[0].state == ReplicaState::kReady && r[0].pid != before.pid;
  }));
  const ReplicaRecord after = Rows(created->id)[0];
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.restarts, 1);
  EXPECT_NE(after.last_error.find("killed by signal 9"), std::string::npos) << after.last_error;
  EXPECT_TRUE(EngineHealthy(static_cast<uint16_t>(after.port), 2s));
  EXPECT_EQ(ReadyCount("chat"), 1u);

  const std::string target = "deployment:chat/replica:" + std::to_string(before.id);
  ExpectOneFailureAudit(Audited("replica.crash"), target, "killed by signal 9");
  const std::vector<AuditEntry> restart = Audited("replica.restart");
  ASSERT_EQ(restart.size(), 1u);
  EXPECT_EQ(restart[0].target, target);
}

TEST_F(DeploymentManagerTest, HungEngineIsKilledUnroutedRestartedAndAudited) {
  DeploymentManagerOptions options = Options();
  options.timings.liveness_interval = 20ms;
  options.timings.probe_timeout = 500ms;
  options.timings.liveness_failures = 3;
  // Long enough to see the failed replica out of the directory before its restart.
  options.timings.backoff_initial = 1500ms;
  options.timings.backoff_max = 1500ms;
  StartManager(options);
  auto created = manager_->CreateDeployment(Spec("chat", 2));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WaitForReady(created->id, 2));
  const std::vector<ReplicaRecord> before = Rows(created->id);
  const ReplicaRecord& hung = before[0];
  const ReplicaRecord& healthy = before[1];

  ASSERT_EQ(kill(static_cast<pid_t>(hung.pid), SIGSTOP), 0);
  // Detected: the gateway routes only to the other replica, the row is failed (written before
  // the directory changes), the process killed.
  ASSERT_TRUE(WaitUntil([&] {
    auto routed = manager_->ReadyReplicas("chat");
    return routed && routed->size() == 1 && (*routed)[0].replica_id == healthy.id &&
           (*routed)[0].port == healthy.port;
  }, 10s));
  bool row_failed = false;
  for (const ReplicaRecord& r : Rows(created->id)) {
    if (r.id == hung.id) row_failed = r.state == ReplicaState::kFailed && r.pid == 0;
  }
  EXPECT_TRUE(row_failed);
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(hung.pid); }, 5s));

  // A fresh process under the same row becomes ready; the healthy replica was left alone.
  ASSERT_TRUE(WaitForReady(created->id, 2));
  for (const ReplicaRecord& r : Rows(created->id)) {
    if (r.id == hung.id) {
      EXPECT_NE(r.pid, hung.pid);
      EXPECT_EQ(r.restarts, 1);
      EXPECT_NE(r.last_error.find("unresponsive"), std::string::npos) << r.last_error;
      EXPECT_TRUE(EngineHealthy(static_cast<uint16_t>(r.port), 2s));
    } else {
      EXPECT_EQ(r.pid, healthy.pid);
      EXPECT_EQ(r.restarts, 0);
    }
  }
  EXPECT_EQ(ReadyCount("chat"), 2u);

  const std::string target = "deployment:chat/replica:" + std::to_string(hung.id);
  ExpectOneFailureAudit(Audited("replica.unresponsive"), target, "health probes in a row failed");
  EXPECT_TRUE(Audited("replica.crash").empty()) << "a hang is not a crash";
  const std::vector<AuditEntry> restarts = Audited("replica.restart");
  ASSERT_EQ(restarts.size(), 1u);
  EXPECT_EQ(restarts[0].target, target);
}

TEST_F(DeploymentManagerTest, ScalesUpAndDown) {
  StartManager(Options());
  auto created = manager_->CreateDeployment(Spec("chat"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WaitForReady(created->id, 1));
  const int64_t first_pid = Rows(created->id)[0].pid;

  auto scaled = manager_->ScaleDeployment(created->id, 2);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  EXPECT_EQ(scaled->generation, 1);  // scaling keeps the generation
  ASSERT_TRUE(WaitForReady(created->id, 2));
  auto ready = manager_->ReadyReplicas("chat");
  ASSERT_EQ(ready->size(), 2u);
  EXPECT_NE((*ready)[0].port, (*ready)[1].port);
  std::vector<int64_t> pids;
  for (const ReplicaRecord& r : Rows(created->id)) pids.push_back(r.pid);
  EXPECT_NE(std::find(pids.begin(), pids.end(), first_pid), pids.end());

  ASSERT_TRUE(manager_->ScaleDeployment(created->id, 1).ok());
  ASSERT_TRUE(WaitForReady(created->id, 1));
  ASSERT_EQ(Rows(created->id).size(), 1u);
  const int64_t kept = Rows(created->id)[0].pid;
  for (int64_t pid : pids) {
    if (pid != kept) {
      EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, 10s)) << pid;
    }
  }
  EXPECT_EQ(ReadyCount("chat"), 1u);
}

TEST_F(DeploymentManagerTest, UpdateRollsOutWithoutAMomentWithoutReadyReplicas) {
  StartManager(Options());
  auto created = manager_->CreateDeployment(Spec("chat", 2));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WaitForReady(created->id, 2));
  std::set<int64_t> old_pids;
  for (const ReplicaRecord& r : Rows(created->id)) old_pids.insert(r.pid);

  // Watch the directory as the gateway would, as often as it can, through the rollout.
  std::atomic<bool> watching{true};
  std::atomic<size_t> fewest_ready{2};
  std::atomic<int64_t> polls{0};
  std::thread watcher([&] {
    while (watching) {
      const size_t n = ReadyCount("chat");
      if (n < fewest_ready) fewest_ready = n;
      ++polls;
    }
  });

  DeploymentSpec changed = Spec("chat", 2);
  changed.ctx = 128;
  auto updated = manager_->UpdateDeployment(created->id, changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->generation, 2);
  const bool rolled = WaitForReady(created->id, 2, 2);
  watching = false;
  watcher.join();
  ASSERT_TRUE(rolled);
  EXPECT_GE(fewest_ready.load(), 1u) << "a moment without a ready replica";
  EXPECT_GT(polls.load(), 100);

  for (const ReplicaRecord& r : Rows(created->id)) {
    EXPECT_EQ(r.generation, 2);
    EXPECT_EQ(old_pids.count(r.pid), 0u);
    auto models = LoopbackGet(static_cast<uint16_t>(r.port), "/v1/models", 2s);
    ASSERT_TRUE(models.ok());
    EXPECT_EQ(nlohmann::json::parse(models->body)["data"][0]["max_model_len"], 128);
  }
  for (int64_t pid : old_pids) {
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, 10s)) << pid;
  }
}

TEST_F(DeploymentManagerTest, RefusesWhatDoesNotFitWithTheNumbers) {
  auto need = ReplicaMemoryForModel(*models_ / "tiny.gguf", 256, 2, 1 << 20);
  ASSERT_TRUE(need.ok());
  DeploymentManagerOptions options = Options();
  options.available_memory_bytes = need->total() * 3 / 2;  // room for one replica
  StartManager(options);
  EXPECT_EQ(manager_->NodeCapacity().value_or(0), *options.available_memory_bytes);

  auto two = manager_->CreateDeployment(Spec("big", 2));
  ASSERT_EQ(two.status().code(), StatusCode::kResourceExhausted);
  const uint64_t short_by = 2 * need->total() - *options.available_memory_bytes;
  EXPECT_EQ(two.status().message(),
            fmt::format("deployment 'big' does not fit in memory: needs {} (weights {} + KV {} + "
                        "overhead {}) × 2 replicas, node has {} available: {} short",
                        FormatBytes(need->total()), FormatBytes(need->weight_bytes),
                        FormatBytes(1 << 20), FormatBytes(need->overhead_bytes),
                        FormatBytes(*options.available_memory_bytes), FormatBytes(short_by)));
  EXPECT_EQ(store_->FindDeploymentByName("big").status().code(), StatusCode::kNotFound);

  // One replica fits; a second deployment must fit beside it, and so must scaling it.
  auto one = manager_->CreateDeployment(Spec("small", 1));
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  auto beside = manager_->CreateDeployment(Spec("other", 1));
  ASSERT_EQ(beside.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(beside.status().message().find(
                fmt::format("node has {} available",
                            FormatBytes(*options.available_memory_bytes - need->total()))),
            std::string::npos)
      << beside.status().message();
  EXPECT_EQ(manager_->ScaleDeployment(one->id, 2).status().code(),
            StatusCode::kResourceExhausted);
  // A stopped deployment commits nothing, and may be created regardless.
  ASSERT_TRUE(manager_->CreateDeployment(Spec("parked", 1), DesiredState::kStopped).ok());
  ASSERT_TRUE(manager_->StopDeployment(one->id).ok());
  auto now_fits = manager_->CreateDeployment(Spec("other", 1));
  EXPECT_TRUE(now_fits.ok()) << now_fits.status().ToString();
}

TEST_F(DeploymentManagerTest, RejectsBadSpecs) {
  StartManager(Options());
  DeploymentSpec too_long = Spec("long");
  too_long.ctx = 4096;  // the tiny model was trained on 2048
  auto refused = manager_->CreateDeployment(too_long);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("2048"), std::string::npos);
  DeploymentSpec no_model = Spec("ghost");
  no_model.model_id = 999;
  EXPECT_EQ(manager_->CreateDeployment(no_model).status().code(), StatusCode::kNotFound);
  DeploymentSpec no_parallel = Spec("zero");
  no_parallel.parallel = 0;
  EXPECT_EQ(manager_->CreateDeployment(no_parallel).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(manager_->Deployments().empty());
}

TEST_F(DeploymentManagerTest, DeleteRemovesAtOnceAndStopsTheEngines) {
  StartManager(Options());
  auto created = manager_->CreateDeployment(Spec("chat"));
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(WaitForReady(created->id, 1));
  const int64_t pid = Rows(created->id)[0].pid;
  ASSERT_TRUE(manager_->DeleteDeployment(created->id).ok());
  EXPECT_FALSE(manager_->ReadyReplicas("chat").has_value());
  EXPECT_TRUE(manager_->Deployments().empty());
  EXPECT_TRUE(Rows(created->id).empty());
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, 10s));
  // The name is free again.
  EXPECT_TRUE(manager_->CreateDeployment(Spec("chat")).ok());
}

TEST_F(DeploymentManagerTest, NewManagerReadoptsLiveEnginesAndRestartsDeadOnes) {
  StartManager(Options());
  auto created = manager_->CreateDeployment(Spec("chat", 2));
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(WaitForReady(created->id, 2));
  const auto rows = Rows(created->id);
  manager_->Shutdown(DeploymentManager::ShutdownMode::kLeaveRunning);
  manager_.reset();
  for (const ReplicaRecord& r : rows) ASSERT_TRUE(EngineHealthy(r.port, 2s));

  // One engine dies while no manager watches.
  const ReplicaRecord& dead = rows[0];
  const ReplicaRecord& alive = rows[1];
  ASSERT_EQ(kill(static_cast<pid_t>(dead.pid), SIGKILL), 0);
  int status;
  waitpid(static_cast<pid_t>(dead.pid), &status, 0);

  StartManager(Options());
  // The live one is ready at once, with its old pid and port.
  auto adopted = manager_->ReadyReplicas("chat");
  ASSERT_TRUE(adopted.has_value());
  ASSERT_EQ(adopted->size(), 1u);
  EXPECT_EQ((*adopted)[0].replica_id, alive.id);
  EXPECT_EQ((*adopted)[0].port, alive.port);
  // The dead one is started again under its old row.
  ASSERT_TRUE(WaitForReady(created->id, 2));
  for (const ReplicaRecord& r : Rows(created->id)) {
    if (r.id == alive.id) {
      EXPECT_EQ(r.pid, alive.pid);
    } else {
      EXPECT_EQ(r.id, dead.id);
      EXPECT_NE(r.pid, dead.pid);
    }
  }

  // A row whose pid is some other process (here: this test) is not adopted.
  manager_->Shutdown(DeploymentManager::ShutdownMode::kStopReplicas);
  manager_.reset();
  auto stopped = Rows(created->id);
  ASSERT_EQ(stopped.size(), 2u);
  for (const ReplicaRecord& r : stopped) {
    EXPECT_EQ(r.state, ReplicaState::kStopped);
    EXPECT_TRUE(ProcessGone(alive.pid));
  }
  ReplicaRecord impostor = stopped[0];
  impostor.state = ReplicaState::kReady;
  impostor.pid = getpid();
  impostor.port = alive.port;
  ASSERT_TRUE(store_->UpdateReplica(impostor).ok());
  StartManager(Options());
  EXPECT_EQ(ReadyCount("chat"), 0u);
  ASSERT_TRUE(WaitForReady(created->id, 2));
  for (const ReplicaRecord& r : Rows(created->id)) EXPECT_NE(r.pid, getpid());
}

}  // namespace
}  // namespace hearth::platform
