// DeploymentManager: deployments (named, replicated model servers) and the engine processes
// that run them.
//
// Changes go through the Store (the deployment row is the desired state) and the manager's
// reconcile loop makes the node match it:
//   - a running deployment gets spec.replicas replicas of its current generation, each an
//     EngineSupervisor (child process, restarted with backoff when it dies); its rows in the
//     store go pending → loading → ready (→ failed → loading … on crashes);
//   - a new generation (the engine's spec changed) is rolled out without downtime: one new
//     replica is started, and only once it is ready is one old replica stopped, until none is
//     left (a new generation that never becomes ready leaves the old replicas serving);
//   - scaling down and deleting stop surplus replicas (SIGTERM, drain, SIGKILL) and remove
//     their rows; a stopped deployment's replicas are stopped and their rows kept as "stopped".
// Creating, scaling, updating or starting a deployment is refused (kResourceExhausted, with the
// numbers) when its replicas do not fit into the node's memory beside those of the other
// running deployments (memory_fit.h).
//
// When a manager starts over an existing store it re-adopts the engines recorded there: a
// replica whose pid is a live `hearth … engine` process answering GET /health on its port is
// kept as it is; the others are started again.
//
// Ready replicas are probed for liveness by their supervisors (GET /health, see
// engine_supervisor.h); one that stops answering is marked failed, killed and restarted with the
// same backoff as a crashed one, and leaves the directory (no longer routed to) at once.
//
// Crashes, hung engines and restarts are written to the audit log (actor "system", actions
// "replica.crash", "replica.unresponsive" and "replica.restart", target
// "deployment:NAME/replica:ID"). Every method is thread-safe; the
// ReplicaDirectory methods answer from memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/platform/engine_supervisor.h"
#include "hearth/platform/memory_fit.h"
#include "hearth/platform/replica_directory.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

struct DeploymentManagerOptions {
  std::filesystem::path data_dir;  // engine logs go to <data_dir>/logs/<deployment>-<id>.log
  // The hearth executable the engines run; "/proc/self/exe" resolves to this process's own.
  std::filesystem::path hearth_binary = "/proc/self/exe";
  // Memory the node offers to replicas. Empty: MemAvailable plus what this manager's engines
  // already hold resident (they are part of what its deployments are committed to).
  std::optional<uint64_t> available_memory_bytes;
  SupervisionTimings timings;
  // Between reconcile passes (each also re-reads the deployments from the store, so changes
  // written there by others, such as a tenant's removal, are seen). Changes made through the
  // manager and replica state changes trigger a pass at once.
  std::chrono::milliseconds reconcile_interval{1'000};
};

// A deployment and its replicas as the manager sees them now.
struct DeploymentStatus {
  Deployment deployment;
  std::vector<ReplicaRecord> replicas;  // by id; includes stopped ones of a stopped deployment
  int ready_replicas = 0;               // ready and not being stopped
  ReplicaMemory memory_per_replica;
};

class DeploymentManager final : public ReplicaDirectory {
 public:
  // Loads the deployments and replicas from `store` (which must outlive the manager),
  // re-adopts live engines and starts the reconcile loop.
  static Result<std::unique_ptr<DeploymentManager>> Create(Store& store,
                                                           DeploymentManagerOptions options);
  ~DeploymentManager() override;  // Shutdown(kStopReplicas) unless already shut down
  DeploymentManager(const DeploymentManager&) = delete;
  DeploymentManager& operator=(const DeploymentManager&) = delete;

  enum class ShutdownMode {
    kStopReplicas,  // stop every engine (rows become "stopped"; restarted by the next manager)
    kLeaveRunning,  // leave the engines running for the next manager to re-adopt
  };
  // Stops the reconcile loop and stops or detaches every replica. Later calls do nothing;
  // mutating calls after it fail with kFailedPrecondition.
  void Shutdown(ShutdownMode mode);

  // Validates the spec (ctx 16..the model's context, parallel 1..4096, threads 0..1024,
  // replicas >= 0, kv_budget_bytes >= 0, the model's file present), checks memory fit when
  // `desired` is running, and records it. Errors: the store's (kNotFound model/tenant,
  // kAlreadyExists name, kInvalidArgument), kResourceExhausted when it does not fit.
  Result<Deployment> CreateDeployment(const DeploymentSpec& spec,
                                      DesiredState desired = DesiredState::kRunning);
  // Replaces the spec (the name must stay); a change of what the engines run (model, ctx,
  // parallel, KV budget, threads) starts a rolling replacement.
  Result<Deployment> UpdateDeployment(int64_t id, const DeploymentSpec& spec);
  // Replaces the spec and the desired state in one step: everything (spec, memory fit of the
  // result) is checked first and both are written in one store transaction, so an error
  // changes nothing.
  Result<Deployment> UpdateDeployment(int64_t id, const DeploymentSpec& spec, DesiredState desired);
  Result<Deployment> ScaleDeployment(int64_t id, int replicas);
  Result<Deployment> StartDeployment(int64_t id);
  Result<Deployment> StopDeployment(int64_t id);
  // Removes the deployment and its replica rows at once (its name is free again); its engines
  // are stopped in the background.
  Status DeleteDeployment(int64_t id);

  Result<DeploymentStatus> Describe(int64_t id) const;
  std::vector<DeploymentStatus> DescribeAll() const;  // by id

  // What one replica of `spec` needs (reads the model's metadata).
  Result<ReplicaMemory> MemoryNeed(const DeploymentSpec& spec);
  // The memory replicas may use on this node before any is committed (see options).
  Result<uint64_t> NodeCapacity() const;

  // ReplicaDirectory.
  std::vector<RoutableDeployment> Deployments() const override;
  std::optional<std::vector<ReplicaEndpoint>> ReadyReplicas(std::string_view name) const override;

 private:
  struct LiveReplica;
  struct LiveDeployment;
  struct Directory;

  DeploymentManager(Store& store, DeploymentManagerOptions options);
  Status Load();
  Result<std::filesystem::path> ModelPath(int64_t model_id);
  Status ValidateSpec(const DeploymentSpec& spec, const std::filesystem::path& model_path);
  Result<uint64_t> CapacityLocked() const;
  Status CheckFit(const DeploymentSpec& spec, const ReplicaMemory& need,
                  std::optional<int64_t> replacing_id);
  Result<Deployment> ApplyUpdate(int64_t id, const DeploymentSpec& spec, DesiredState desired);
  void Track(const Deployment& deployment, const std::filesystem::path& model_path,
             const ReplicaMemory& need);

  void ReconcileLoop();
  void SyncFromStore();
  void ReconcileDeployment(LiveDeployment& deployment);
  void StartReplica(LiveDeployment& deployment, std::optional<ReplicaRecord> existing);
  void AdoptReplica(LiveDeployment& deployment, const ReplicaRecord& record);
  // The launch settings, supervisor and live entry of `record`, not yet started or adopted.
  EngineSupervisor& AddSupervisedReplica(LiveDeployment& deployment, const ReplicaRecord& record);
  void StopReplica(LiveReplica& replica, bool keep_row);
  void OnReport(int64_t deployment_id, int64_t replica_id, const EngineReport& report);
  void PublishDirectory();
  void Wake();

  Store& store_;
  const DeploymentManagerOptions options_;

  mutable std::mutex mutex_;  // guards everything below except the directory
  std::condition_variable wake_;
  bool wake_pending_ = false;
  bool shut_down_ = false;
  bool shutting_down_ = false;
  std::map<int64_t, std::unique_ptr<LiveDeployment>> deployments_;
  // By replica id, until the supervisor reports "stopped" (it may outlive its deployment).
  std::map<int64_t, std::unique_ptr<EngineSupervisor>> supervisors_;
  std::vector<std::unique_ptr<EngineSupervisor>> finished_;  // stopped; joined by the loop
  std::thread loop_;

  mutable std::mutex directory_mutex_;
  std::shared_ptr<const Directory> directory_;
};

}  // namespace hearth::platform
