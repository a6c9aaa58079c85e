#include "hearth/platform/deployment_manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"
#include "hearth/platform/engine_probe.h"

namespace hearth::platform {

struct DeploymentManager::LiveReplica {
  ReplicaRecord record;
  bool stopping = false;  // a stop was requested; no longer routable
  bool keep_row = false;  // once stopped: keep the row as "stopped" (else delete it)
  bool finished = false;  // stopped, no process, row kept (a stopped deployment's replica)
};

struct DeploymentManager::LiveDeployment {
  Deployment deployment;
  std::filesystem::path model_path;
  ReplicaMemory need;
  std::map<int64_t, std::unique_ptr<LiveReplica>> replicas;
};

struct DeploymentManager::Directory {
  std::vector<RoutableDeployment> deployments;
  std::map<std::string, std::vector<ReplicaEndpoint>, std::less<>> ready;
};

namespace {

constexpr size_t kMaxLastError = 4096;  // the store's limit

ReplicaState ToReplicaState(EngineState state) {
  switch (state) {
    case EngineState::kLoading:
      return ReplicaState::kLoading;
    case EngineState::kReady:
      return ReplicaState::kReady;
    case EngineState::kFailed:
      return ReplicaState::kFailed;
    case EngineState::kStopped:
      return ReplicaState::kStopped;
  }
  return ReplicaState::kFailed;
}

// Whether two specs run the same engine (what a generation stands for).
bool SameEngine(const DeploymentSpec& a, const DeploymentSpec& b) {
  return a.model_id == b.model_id && a.ctx == b.ctx && a.parallel == b.parallel &&
         a.kv_budget_bytes == b.kv_budget_bytes && a.threads == b.threads;
}

// Resident memory of a process (VmRSS), 0 when unknown.
uint64_t ResidentBytes(int64_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) {
      try {
        return std::stoull(line.substr(6)) << 10;
      } catch (const std::exception&) {
        return 0;
      }
    }
  }
  return 0;
}

std::string Target(const Deployment& deployment, int64_t replica_id) {
  return fmt::format("deployment:{}/replica:{}", deployment.spec.name, replica_id);
}

}  // namespace

// --- Construction and shutdown ---

DeploymentManager::DeploymentManager(Store& store, DeploymentManagerOptions options)
    : store_(store), options_(std::move(options)) {}

Result<std::unique_ptr<DeploymentManager>> DeploymentManager::Create(
    Store& store, DeploymentManagerOptions options) {
  if (options.data_dir.empty()) {
    return Status::InvalidArgument("deployments: a data directory is required");
  }
  if (options.hearth_binary == "/proc/self/exe") {
    // The engines' command lines then name the real executable.
    std::error_code ec;
    auto resolved = std::filesystem::read_symlink(options.hearth_binary, ec);
    if (!ec) options.hearth_binary = resolved;
  }
  std::unique_ptr<DeploymentManager> manager(new DeploymentManager(store, std::move(options)));
  HEARTH_RETURN_IF_ERROR(manager->Load());
  manager->loop_ = std::thread([m = manager.get()] { m->ReconcileLoop(); });
  return manager;
}

DeploymentManager::~DeploymentManager() { Shutdown(ShutdownMode::kStopReplicas); }

void DeploymentManager::Shutdown(ShutdownMode mode) {
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    shutting_down_ = true;
  }
  wake_.notify_all();
  if (loop_.joinable()) loop_.join();

  std::vector<EngineSupervisor*> running;
  {
    std::lock_guard lock(mutex_);
    for (auto& [replica_id, supervisor] : supervisors_) {
      if (mode == ShutdownMode::kStopReplicas) {
        for (auto& [id, deployment] : deployments_) {
          auto it = deployment->replicas.find(replica_id);
          if (it != deployment->replicas.end() && !it->second->stopping) {
            it->second->stopping = true;
            it->second->keep_row = true;
          }
        }
        supervisor->RequestStop();
      } else {
        supervisor->Detach();
      }
      running.push_back(supervisor.get());
    }
  }
  // The supervisors report "stopped" (their rows are written) before their threads end.
  for (EngineSupervisor* supervisor : running) supervisor->Join();
  std::lock_guard lock(mutex_);
  finished_.clear();
  supervisors_.clear();
  PublishDirectory();
}

Status DeploymentManager::Load() {
  std::lock_guard lock(mutex_);
  HEARTH_ASSIGN_OR_RETURN(const std::vector<Deployment> deployments, store_.ListDeployments());
  for (const Deployment& deployment : deployments) {
    Result<std::filesystem::path> path = ModelPath(deployment.spec.model_id);
    Result<ReplicaMemory> need =
        path.ok() ? ReplicaMemoryForModel(*path, deployment.spec.ctx, deployment.spec.parallel,
                                          deployment.spec.kv_budget_bytes)
                  : Result<ReplicaMemory>(path.status());
    if (!need.ok()) {
      spdlog::warn("deployment {}: {}", deployment.spec.name, need.status().message());
    }
    Track(deployment, path.value_or({}), need.value_or({}));
    LiveDeployment& live = *deployments_.at(deployment.id);
    HEARTH_ASSIGN_OR_RETURN(const std::vector<ReplicaRecord> rows,
                            store_.ListReplicas(deployment.id));
    const bool running = deployment.desired == DesiredState::kRunning;
    for (const ReplicaRecord& row : rows) {
      if (row.pid > 0 && row.port > 0 && row.port <= 65535 && IsEngineProcess(row.pid) &&
          EngineHealthy(static_cast<uint16_t>(row.port), options_.timings.probe_timeout)) {
        spdlog::info("deployment {}: re-adopted replica {} (pid {}, port {})", deployment.spec.name,
                     row.id, row.pid, row.port);
        AdoptReplica(live, row);  // reconcile stops it if it is no longer wanted
      } else if (running && row.generation == deployment.generation) {
        StartReplica(live, row);
      } else if (!running) {
        auto record = std::make_unique<LiveReplica>();
        record->record = row;
        record->record.state = ReplicaState::kStopped;
        record->record.pid = 0;
        record->record.port = 0;
        record->finished = true;
        if (auto updated = store_.UpdateReplica(record->record); updated.ok()) {
          record->record = *updated;
        }
        live.replicas[row.id] = std::move(record);
      } else if (Status s = store_.DeleteReplica(row.id); !s.ok()) {
        spdlog::warn("deployment {}: cannot remove replica {}: {}", deployment.spec.name, row.id,
                     s.message());
      }
    }
  }
  PublishDirectory();
  return Status::Ok();
}

// --- Validation and memory ---

Result<std::filesystem::path> DeploymentManager::ModelPath(int64_t model_id) {
  HEARTH_ASSIGN_OR_RETURN(const ModelRecord model, store_.GetModel(model_id));
  if (!std::filesystem::is_regular_file(model.path)) {
    return Status::NotFound(
        fmt::format("model '{}': its file {} is missing", model.name, model.path));
  }
  return std::filesystem::path(model.path);
}

Status DeploymentManager::ValidateSpec(const DeploymentSpec& spec,
                                       const std::filesystem::path& model_path) {
  if (spec.replicas < 0) return Status::InvalidArgument("replicas must be 0 or more");
  if (spec.parallel < 1 || spec.parallel > 4096) {
    return Status::InvalidArgument(
        fmt::format("parallel must be between 1 and 4096 (got {})", spec.parallel));
  }
  if (spec.threads < 0 || spec.threads > 1024) {
    return Status::InvalidArgument(
        fmt::format("threads must be between 0 and 1024 (got {})", spec.threads));
  }
  if (spec.kv_budget_bytes < 0) return Status::InvalidArgument("kv_budget_bytes must be >= 0");
  HEARTH_ASSIGN_OR_RETURN(const gguf::GgufFile file, gguf::GgufFile::Open(model_path));
  HEARTH_ASSIGN_OR_RETURN(const gguf::ModelInfo info, gguf::DescribeModel(file));
  const int64_t max_ctx = info.context_length > 0 ? info.context_length : (1 << 20);
  if (spec.ctx < 16 || spec.ctx > max_ctx) {
    return Status::InvalidArgument(fmt::format(
        "ctx must be between 16 and the model's context of {} tokens (got {})", max_ctx, spec.ctx));
  }
  return Status::Ok();
}

Result<ReplicaMemory> DeploymentManager::MemoryNeed(const DeploymentSpec& spec) {
  HEARTH_ASSIGN_OR_RETURN(const std::filesystem::path path, ModelPath(spec.model_id));
  return ReplicaMemoryForModel(path, spec.ctx, spec.parallel, spec.kv_budget_bytes);
}

Result<uint64_t> DeploymentManager::NodeCapacity() const {
  std::lock_guard lock(mutex_);
  return CapacityLocked();
}

Result<uint64_t> DeploymentManager::CapacityLocked() const {
  if (options_.available_memory_bytes) return *options_.available_memory_bytes;
  HEARTH_ASSIGN_OR_RETURN(uint64_t capacity, ReadMemAvailable());
  // What our engines hold resident is no longer in MemAvailable, but it is ours to plan with:
  // their deployments' commitments are subtracted below.
  for (const auto& [id, deployment] : deployments_) {
    for (const auto& [replica_id, replica] : deployment->replicas) {
      if (replica->record.pid > 0) capacity += ResidentBytes(replica->record.pid);
    }
  }
  return capacity;
}

Status DeploymentManager::CheckFit(const DeploymentSpec& spec, const ReplicaMemory& need,
                                   std::optional<int64_t> replacing_id) {
  HEARTH_ASSIGN_OR_RETURN(const uint64_t capacity, CapacityLocked());
  uint64_t committed = 0;
  for (const auto& [id, deployment] : deployments_) {
    if (id == replacing_id || deployment->deployment.desired != DesiredState::kRunning) continue;
    committed += deployment->need.total() *
                 static_cast<uint64_t>(std::max(0, deployment->deployment.spec.replicas));
  }
  return CheckMemoryFit(fmt::format("deployment '{}'", spec.name), need, spec.replicas,
                        capacity > committed ? capacity - committed : 0);
}

// --- Mutations ---

Result<Deployment> DeploymentManager::CreateDeployment(const DeploymentSpec& spec,
                                                       DesiredState desired) {
  std::unique_lock lock(mutex_);
  if (shut_down_) return Status::FailedPrecondition("deployments: the manager is shut down");
  HEARTH_ASSIGN_OR_RETURN(const std::filesystem::path path, ModelPath(spec.model_id));
  HEARTH_RETURN_IF_ERROR(ValidateSpec(spec, path));
  HEARTH_ASSIGN_OR_RETURN(
      const ReplicaMemory need,
      ReplicaMemoryForModel(path, spec.ctx, spec.parallel, spec.kv_budget_bytes));
  if (desired == DesiredState::kRunning) HEARTH_RETURN_IF_ERROR(CheckFit(spec, need, {}));
  HEARTH_ASSIGN_OR_RETURN(const Deployment created, store_.CreateDeployment(spec, desired));
  Track(created, path, need);
  PublishDirectory();
  lock.unlock();
  Wake();
  return created;
}

Result<Deployment> DeploymentManager::ApplyUpdate(int64_t id, const DeploymentSpec& spec,
                                                  DesiredState desired) {
  std::unique_lock lock(mutex_);
  if (shut_down_) return Status::FailedPrecondition("deployments: the manager is shut down");
  auto it = deployments_.find(id);
  if (it == deployments_.end()) {
    // Perhaps created through the store by someone else since the last sync.
    HEARTH_ASSIGN_OR_RETURN(const Deployment current, store_.GetDeployment(id));
    Track(current, ModelPath(current.spec.model_id).value_or({}), {});
    it = deployments_.find(id);
  }
  LiveDeployment& live = *it->second;
  std::filesystem::path path = live.model_path;
  ReplicaMemory need = live.need;
  // A change of engine (or a deployment whose model could not be read) is validated afresh;
  // scaling, access changes and stop/start keep what was validated before.
  if (!SameEngine(spec, live.deployment.spec) || path.empty() || need.total() == 0) {
    HEARTH_ASSIGN_OR_RETURN(path, ModelPath(spec.model_id));
    HEARTH_RETURN_IF_ERROR(ValidateSpec(spec, path));
    HEARTH_ASSIGN_OR_RETURN(
        need, ReplicaMemoryForModel(path, spec.ctx, spec.parallel, spec.kv_budget_bytes));
  } else if (spec.replicas < 0) {
    return Status::InvalidArgument("replicas must be 0 or more");
  }
  const bool adds_load =
      desired == DesiredState::kRunning &&
      (live.deployment.desired != DesiredState::kRunning ||
       !SameEngine(spec, live.deployment.spec) || spec.replicas > live.deployment.spec.replicas);
  if (adds_load) HEARTH_RETURN_IF_ERROR(CheckFit(spec, need, id));
  HEARTH_ASSIGN_OR_RETURN(const Deployment updated, store_.UpdateDeployment(id, spec, desired));
  Track(updated, path, need);
  PublishDirectory();
  lock.unlock();
  Wake();
  return updated;
}

Result<Deployment> DeploymentManager::UpdateDeployment(int64_t id, const DeploymentSpec& spec) {
  HEARTH_ASSIGN_OR_RETURN(const Deployment current, store_.GetDeployment(id));
  return ApplyUpdate(id, spec, current.desired);
}

Result<Deployment> DeploymentManager::UpdateDeployment(int64_t id, const DeploymentSpec& spec,
                                                       DesiredState desired) {
  return ApplyUpdate(id, spec, desired);
}

Result<Deployment> DeploymentManager::ScaleDeployment(int64_t id, int replicas) {
  HEARTH_ASSIGN_OR_RETURN(const Deployment current, store_.GetDeployment(id));
  DeploymentSpec spec = current.spec;
  spec.replicas = replicas;
  return ApplyUpdate(id, spec, current.desired);
}

Result<Deployment> DeploymentManager::StartDeployment(int64_t id) {
  HEARTH_ASSIGN_OR_RETURN(const Deployment current, store_.GetDeployment(id));
  return ApplyUpdate(id, current.spec, DesiredState::kRunning);
}

Result<Deployment> DeploymentManager::StopDeployment(int64_t id) {
  HEARTH_ASSIGN_OR_RETURN(const Deployment current, store_.GetDeployment(id));
  return ApplyUpdate(id, current.spec, DesiredState::kStopped);
}

Status DeploymentManager::DeleteDeployment(int64_t id) {
  std::unique_lock lock(mutex_);
  if (shut_down_) return Status::FailedPrecondition("deployments: the manager is shut down");
  HEARTH_RETURN_IF_ERROR(store_.DeleteDeployment(id));
  if (auto it = deployments_.find(id); it != deployments_.end()) {
    for (auto& [replica_id, replica] : it->second->replicas) {
      if (auto s = supervisors_.find(replica_id); s != supervisors_.end()) {
        s->second->RequestStop();
      }
    }
    deployments_.erase(it);
  }
  PublishDirectory();
  lock.unlock();
  Wake();
  return Status::Ok();
}

void DeploymentManager::Track(const Deployment& deployment, const std::filesystem::path& model_path,
                              const ReplicaMemory& need) {
  auto& slot = deployments_[deployment.id];
  if (!slot) slot = std::make_unique<LiveDeployment>();
  slot->deployment = deployment;
  slot->model_path = model_path;
  slot->need = need;
}

// --- Status ---

Result<DeploymentStatus> DeploymentManager::Describe(int64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return Status::NotFound(fmt::format("no deployment {}", id));
  DeploymentStatus status;
  status.deployment = it->second->deployment;
  status.memory_per_replica = it->second->need;
  for (const auto& [replica_id, replica] : it->second->replicas) {
    status.replicas.push_back(replica->record);
    if (replica->record.state == ReplicaState::kReady && !replica->stopping) {
      ++status.ready_replicas;
    }
  }
  return status;
}

std::vector<DeploymentStatus> DeploymentManager::DescribeAll() const {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, deployment] : deployments_) ids.push_back(id);
  }
  std::vector<DeploymentStatus> all;
  for (int64_t id : ids) {
    if (auto status = Describe(id); status.ok()) all.push_back(std::move(*status));
  }
  return all;
}

std::vector<RoutableDeployment> DeploymentManager::Deployments() const {
  std::shared_ptr<const Directory> directory;
  {
    std::lock_guard lock(directory_mutex_);
    directory = directory_;
  }
  return directory ? directory->deployments : std::vector<RoutableDeployment>{};
}

std::optional<std::vector<ReplicaEndpoint>> DeploymentManager::ReadyReplicas(
    std::string_view name) const {
  std::shared_ptr<const Directory> directory;
  {
    std::lock_guard lock(directory_mutex_);
    directory = directory_;
  }
  if (!directory) return std::nullopt;
  auto it = directory->ready.find(name);
  if (it == directory->ready.end()) return std::nullopt;
  return it->second;
}

void DeploymentManager::PublishDirectory() {
  auto directory = std::make_shared<Directory>();
  for (const auto& [id, live] : deployments_) {
    const Deployment& d = live->deployment;
    directory->deployments.push_back({d.spec.name, d.spec.tenant_ids, d.created_at});
    auto& ready = directory->ready[d.spec.name];
    for (const auto& [replica_id, replica] : live->replicas) {
      const ReplicaRecord& r = replica->record;
      if (r.state == ReplicaState::kReady && !replica->stopping && r.port > 0) {
        ready.push_back({replica_id, "127.0.0.1", static_cast<uint16_t>(r.port)});
      }
    }
  }
  std::lock_guard lock(directory_mutex_);
  directory_ = std::move(directory);
}

// --- Reconciling ---

void DeploymentManager::Wake() {
  {
    std::lock_guard lock(mutex_);
    wake_pending_ = true;
  }
  wake_.notify_all();
}

void DeploymentManager::ReconcileLoop() {
  std::unique_lock lock(mutex_);
  while (!shutting_down_) {
    SyncFromStore();
    for (auto& [id, deployment] : deployments_) ReconcileDeployment(*deployment);
    PublishDirectory();
    // Stopped supervisors are joined outside the lock: their last report took it.
    std::vector<std::unique_ptr<EngineSupervisor>> finished = std::move(finished_);
    finished_.clear();
    lock.unlock();
    for (auto& supervisor : finished) supervisor->Join();
    finished.clear();
    lock.lock();
    wake_.wait_for(lock, options_.reconcile_interval,
                   [this] { return wake_pending_ || shutting_down_; });
    wake_pending_ = false;
  }
}

void DeploymentManager::SyncFromStore() {
  Result<std::vector<Deployment>> stored = store_.ListDeployments();
  if (!stored.ok()) {
    spdlog::warn("deployments: cannot read the store: {}", stored.status().message());
    return;
  }
  std::map<int64_t, const Deployment*> by_id;
  for (const Deployment& d : *stored) by_id[d.id] = &d;
  // Deleted by someone else: stop its engines.
  for (auto it = deployments_.begin(); it != deployments_.end();) {
    if (by_id.contains(it->first)) {
      ++it;
      continue;
    }
    for (auto& [replica_id, replica] : it->second->replicas) {
      if (auto s = supervisors_.find(replica_id); s != supervisors_.end()) {
        s->second->RequestStop();
      }
    }
    it = deployments_.erase(it);
  }
  for (const auto& [id, stored_deployment] : by_id) {
    auto it = deployments_.find(id);
    if (it != deployments_.end() &&
        it->second->deployment.updated_at == stored_deployment->updated_at &&
        it->second->deployment.generation == stored_deployment->generation &&
        it->second->deployment.spec == stored_deployment->spec &&
        it->second->deployment.desired == stored_deployment->desired) {
      continue;
    }
    const bool same_engine = it != deployments_.end() &&
                             SameEngine(it->second->deployment.spec, stored_deployment->spec) &&
                             !it->second->model_path.empty();
    if (same_engine) {
      it->second->deployment = *stored_deployment;
      continue;
    }
    Result<std::filesystem::path> path = ModelPath(stored_deployment->spec.model_id);
    ReplicaMemory need;
    if (path.ok()) {
      need = ReplicaMemoryForModel(*path, stored_deployment->spec.ctx,
                                   stored_deployment->spec.parallel,
                                   stored_deployment->spec.kv_budget_bytes)
                 .value_or({});
    }
    Track(*stored_deployment, path.value_or({}), need);
  }
}

void DeploymentManager::ReconcileDeployment(LiveDeployment& live) {
  const Deployment& d = live.deployment;
  const bool running = d.desired == DesiredState::kRunning;
  auto& replicas = live.replicas;

  // A running deployment has no use for the rows of replicas stopped earlier.
  if (running) {
    for (auto it = replicas.begin(); it != replicas.end();) {
      if (!it->second->finished) {
        ++it;
        continue;
      }
      if (Status s = store_.DeleteReplica(it->first);
          !s.ok() && s.code() != StatusCode::kNotFound) {
        spdlog::warn("deployment {}: cannot remove replica {}: {}", d.spec.name, it->first,
                     s.message());
        ++it;
        continue;
      }
      it = replicas.erase(it);
    }
  }

  std::vector<LiveReplica*> current, old;
  for (auto& [id, replica] : replicas) {
    if (replica->finished || replica->stopping) continue;
    (replica->record.generation == d.generation ? current : old).push_back(replica.get());
  }
  const auto is_ready = [](const LiveReplica* r) {
    return r->record.state == ReplicaState::kReady && !r->stopping;
  };
  // Surplus replicas go in this order: not ready first, then the newest.
  const auto stop_surplus = [&](std::vector<LiveReplica*>& group, size_t keep) {
    std::sort(group.begin(), group.end(), [&](const LiveReplica* a, const LiveReplica* b) {
      if (is_ready(a) != is_ready(b)) return !is_ready(a);
      return a->record.id > b->record.id;
    });
    for (size_t i = 0; i + keep < group.size(); ++i) StopReplica(*group[i], false);
  };

  const size_t wanted = running ? static_cast<size_t>(std::max(0, d.spec.replicas)) : 0;
  if (wanted == 0) {
    for (LiveReplica* r : current) StopReplica(*r, !running);
    for (LiveReplica* r : old) StopReplica(*r, !running);
    return;
  }
  if (old.empty()) {
    if (current.size() > wanted) stop_surplus(current, wanted);
    for (size_t n = current.size(); n < wanted; ++n) StartReplica(live, std::nullopt);
    return;
  }
  // Rolling replacement: old replicas that do not serve go at once; a serving one goes only
  // when enough ready replicas remain without it; one new replica loads at a time.
  size_t ready_old = 0;
  for (LiveReplica* r : old) {
    if (is_ready(r)) {
      ++ready_old;
    } else {
      StopReplica(*r, false);
    }
  }
  size_t ready_current =
      static_cast<size_t>(std::count_if(current.begin(), current.end(), is_ready));
  for (LiveReplica* r : old) {
    if (ready_current + ready_old <= wanted) break;
    if (is_ready(r)) {
      StopReplica(*r, false);
      --ready_old;
    }
  }
  if (current.size() > wanted) {
    stop_surplus(current, wanted);
  } else if (current.size() < wanted && ready_current == current.size()) {
    StartReplica(live, std::nullopt);
  }
}

void DeploymentManager::StartReplica(LiveDeployment& live, std::optional<ReplicaRecord> existing) {
  const Deployment& d = live.deployment;
  ReplicaRecord record;
  if (existing) {
    record = *existing;
    record.state = ReplicaState::kPending;
    record.pid = 0;
    record.port = 0;
    if (auto updated = store_.UpdateReplica(record); updated.ok()) record = *updated;
  } else {
    Result<ReplicaRecord> created = store_.CreateReplica(d.id, d.generation);
    if (!created.ok()) {
      spdlog::warn("deployment {}: cannot record a new replica: {}", d.spec.name,
                   created.status().message());
      return;
    }
    record = *created;
  }
  AddSupervisedReplica(live, record).Start();
}

void DeploymentManager::AdoptReplica(LiveDeployment& live, const ReplicaRecord& record) {
  // A replica of an older generation restarts with the current engine settings; the reconcile
  // loop replaces it anyway.
  AddSupervisedReplica(live, record).Adopt(record.pid, static_cast<uint16_t>(record.port));
}

EngineSupervisor& DeploymentManager::AddSupervisedReplica(LiveDeployment& live,
                                                          const ReplicaRecord& record) {
  const DeploymentSpec& spec = live.deployment.spec;
  EngineLaunch launch;
  launch.binary = options_.hearth_binary;
  launch.data_dir = options_.data_dir;
  launch.model_path = live.model_path;
  launch.ctx = spec.ctx;
  launch.parallel = spec.parallel;
  launch.kv_budget_bytes = spec.kv_budget_bytes;
  launch.threads = spec.threads;
  launch.log_path = options_.data_dir / "logs" / fmt::format("{}-{}.log", spec.name, record.id);
  const int64_t deployment_id = live.deployment.id;
  const int64_t replica_id = record.id;
  auto supervisor = std::make_unique<EngineSupervisor>(
      launch, options_.timings,
      [this, deployment_id, replica_id](const EngineReport& report) {
        OnReport(deployment_id, replica_id, report);
      },
      record.restarts, record.last_error);
  auto replica = std::make_unique<LiveReplica>();
  replica->record = record;
  live.replicas[replica_id] = std::move(replica);
  EngineSupervisor& added = *supervisor;
  supervisors_[replica_id] = std::move(supervisor);
  return added;
}

void DeploymentManager::StopReplica(LiveReplica& replica, bool keep_row) {
  if (replica.stopping || replica.finished) return;
  replica.stopping = true;
  replica.keep_row = keep_row;
  if (auto it = supervisors_.find(replica.record.id); it != supervisors_.end()) {
    it->second->RequestStop();
  }
}

void DeploymentManager::OnReport(int64_t deployment_id, int64_t replica_id,
                                 const EngineReport& report) {
  std::unique_lock lock(mutex_);
  if (report.state == EngineState::kStopped) {
    if (auto it = supervisors_.find(replica_id); it != supervisors_.end()) {
      finished_.push_back(std::move(it->second));
      supervisors_.erase(it);
    }
  }
  auto d = deployments_.find(deployment_id);
  if (d == deployments_.end()) return;  // deleted: its rows are gone
  LiveDeployment& live = *d->second;
  auto r = live.replicas.find(replica_id);
  if (r == live.replicas.end()) return;
  LiveReplica& replica = *r->second;
  replica.record.state = ToReplicaState(report.state);
  replica.record.pid = report.pid;
  replica.record.port = report.port;
  replica.record.restarts = report.restarts;
  replica.record.last_error = report.last_error.substr(0, kMaxLastError);

  if (report.state == EngineState::kStopped && !replica.keep_row) {
    if (Status s = store_.DeleteReplica(replica_id); !s.ok() && s.code() != StatusCode::kNotFound) {
      spdlog::warn("deployment {}: cannot remove replica {}: {}", live.deployment.spec.name,
                   replica_id, s.message());
    }
    live.replicas.erase(r);
  } else {
    if (report.state == EngineState::kStopped) {
      replica.finished = true;
      replica.stopping = false;
    }
    Result<ReplicaRecord> updated = store_.UpdateReplica(replica.record);
    if (updated.ok()) {
      replica.record = *updated;
    } else {
      spdlog::warn("deployment {}: cannot record replica {}: {}", live.deployment.spec.name,
                   replica_id, updated.status().message());
    }
  }

  if (report.event != EngineReport::Event::kStateChange) {
    AuditEntry entry;
    entry.actor = "system";
    entry.target = Target(live.deployment, replica_id);
    if (report.event == EngineReport::Event::kFailure ||
        report.event == EngineReport::Event::kUnresponsive) {
      entry.action =
          report.event == EngineReport::Event::kFailure ? "replica.crash" : "replica.unresponsive";
      entry.result = "error";
      entry.detail = report.last_error.substr(0, kMaxLastError);
      spdlog::warn("{}: {}", entry.target, report.last_error);
    } else {
      entry.action = "replica.restart";
      entry.result = "ok";
      entry.detail =
          fmt::format("restart {} (pid {}, port {})", report.restarts, report.pid, report.port);
      spdlog::info("{}: {}", entry.target, entry.detail);
    }
    if (auto appended = store_.AppendAudit(entry); !appended.ok()) {
      spdlog::warn("{}: cannot write the audit log: {}", entry.target, appended.status().message());
    }
  }
  PublishDirectory();
  wake_pending_ = true;
  lock.unlock();
  wake_.notify_all();
}

}  // namespace hearth::platform
