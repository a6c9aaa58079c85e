#include "hearth/platform/platform_server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>

#include "hearth/base/shutdown.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"
#include "hearth/platform/admin_api.h"
#include "hearth/platform/bootstrap.h"
#include "hearth/platform/deployment_manager.h"
#include "hearth/platform/gateway.h"
#include "hearth/platform/identity.h"
#include "hearth/platform/model_registry.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

struct PlatformServer::Parts {
  ~Parts() {
    if (lock_fd >= 0) ::close(lock_fd);  // releases the data directory's lock
  }
  PlatformOptions options;
  int lock_fd = -1;
  std::unique_ptr<Store> store;
  std::unique_ptr<Identity> identity;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<DeploymentManager> deployments;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<AdminApi> admin;
  std::unique_ptr<server::HttpServer> http;
  std::atomic<bool> draining{false};
  // Set once the gateway and admin API exist: the listener is bound before them (see Start).
  std::atomic<bool> routing{false};
  bool shut_down = false;
};

namespace {

constexpr std::string_view kDefaultTenant = "default";
constexpr std::string_view kQuickstartKey = "quickstart";

// One platform per data directory: two would both adopt and supervise the same engines. The
// lock (flock on <data_dir>/platform.lock) lasts as long as the process, and the kernel drops it
// when the process dies, even by kill -9, so a stale lock never blocks a restart.
Result<int> LockDataDir(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / "platform.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Unavailable(
        fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return Status::FailedPrecondition(fmt::format(
          "another hearth serve is already using the data directory {}", data_dir.string()));
    }
    return Status::Unavailable(
        fmt::format("cannot lock {}: {}", path.string(), std::strerror(error)));
  }
  return fd;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Replica states per deployment, as gauges.
std::string ReplicaMetrics(const DeploymentManager& deployments) {
  std::string out =
      "# HELP hearth_platform_replicas Engine replicas by deployment and state.\n"
      "# TYPE hearth_platform_replicas gauge\n";
  for (const DeploymentStatus& status : deployments.DescribeAll()) {
    std::map<std::string_view, int> by_state;
    for (ReplicaState state : {ReplicaState::kPending, ReplicaState::kLoading, ReplicaState::kReady,
                               ReplicaState::kFailed, ReplicaState::kStopped}) {
      by_state[ReplicaStateName(state)] = 0;
    }
    for (const ReplicaRecord& replica : status.replicas)
      ++by_state[ReplicaStateName(replica.state)];
    for (const auto& [state, count] : by_state) {
      out += fmt::format("hearth_platform_replicas{{deployment=\"{}\",state=\"{}\"}} {}\n",
                         status.deployment.spec.name, state, count);
    }
  }
  return out;
}

void Route(PlatformServer::Parts& parts, server::HttpRequest& request,
           const std::shared_ptr<server::ResponseChannel>& channel) {
  std::string_view target(request.target().data(), request.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  if (!parts.routing.load()) {
    channel->Respond(503, "application/json",
                     R"({"error":{"message":"the platform is starting; retry shortly",)"
                     R"("type":"server_error","code":"overloaded"}})");
    return;
  }
  if (StartsWith(path, "/v1/") || path == "/v1") {
    parts.gateway->Handle(request, channel);
  } else if (StartsWith(path, "/admin/v1/")) {
    parts.admin->Handle(request, channel);
  } else if (path == "/health") {
    bool draining = parts.draining.load();
    channel->Respond(draining ? 503 : 200, "application/json",
                     draining ? R"({"status":"draining"})" : R"({"status":"ok"})");
  } else if (path == "/metrics") {
    std::string text = parts.gateway->RenderMetrics();
    text += ReplicaMetrics(*parts.deployments);
    channel->Respond(200, "text/plain; version=0.0.4", std::move(text));
  } else {
    channel->Respond(404, "application/json",
                     R"({"error":{"message":"no such route","type":"invalid_request_error",)"
                     R"("code":"not_found"}})");
  }
}

// The default tenant, created on first use.
Result<Tenant> EnsureDefaultTenant(Store& store) {
  auto found = store.FindTenantByName(kDefaultTenant);
  if (found.ok() || found.status().code() != StatusCode::kNotFound) return found;
  auto created = store.CreateTenant(kDefaultTenant);
  if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) return created;
  return store.FindTenantByName(kDefaultTenant);  // another process created it meanwhile
}

// Registers `path` once (a model of the same name is reused when its size matches).
Result<ModelRecord> EnsureModel(ModelRegistry& registry, const std::filesystem::path& path) {
  std::string name = ModelRegistry::NameFromFileName(path.filename().string());
  auto existing = registry.Show(name);
  if (existing.ok()) {
    std::error_code ec;
    uint64_t size = std::filesystem::file_size(path, ec);
    if (!ec && static_cast<int64_t>(size) == existing->size_bytes) return existing;
    return Status::AlreadyExists(fmt::format(
        "a different model named '{}' is already registered; delete it with `hearth model rm "
        "{}` or rename the file",
        name, name));
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  spdlog::info("platform: registering {} as model '{}'", path.string(), name);
  ImportOptions import;
  import.name = name;
  return registry.Import(path, import);
}

// The configured context, or the model's own capped at 4096.
Result<int> QuickStartContext(int configured, const std::string& model_path) {
  if (configured > 0) return configured;
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::Open(model_path));
  HEARTH_ASSIGN_OR_RETURN(gguf::ModelInfo info, gguf::DescribeModel(file));
  if (info.context_length <= 0) return 4096;
  return static_cast<int>(std::min<int64_t>(info.context_length, 4096));
}

// Quick start: model registered, deployed for the default tenant, and a fresh key printed.
Status QuickStart(PlatformServer::Parts& parts, const std::filesystem::path& model_path,
                  std::ostream& announce) {
  HEARTH_ASSIGN_OR_RETURN(Tenant tenant, EnsureDefaultTenant(*parts.store));
  HEARTH_ASSIGN_OR_RETURN(ModelRecord model, EnsureModel(*parts.registry, model_path));
  DeploymentSpec spec;
  spec.name = model.name;
  for (char& c : spec.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  spec.model_id = model.id;
  spec.tenant_ids = {tenant.id};
  spec.replicas = 1;
  HEARTH_ASSIGN_OR_RETURN(spec.ctx, QuickStartContext(parts.options.ctx, model.path));
  spec.parallel = parts.options.parallel;
  spec.kv_budget_bytes = parts.options.kv_budget_bytes;
  spec.threads = parts.options.threads;
  auto existing = parts.store->FindDeploymentByName(spec.name);
  if (existing.ok()) {
    DeploymentSpec wanted = spec;
    wanted.tenant_ids = existing->spec.tenant_ids;  // keep access an admin granted since
    if (std::find(wanted.tenant_ids.begin(), wanted.tenant_ids.end(), tenant.id) ==
        wanted.tenant_ids.end()) {
      wanted.tenant_ids.push_back(tenant.id);
      std::sort(wanted.tenant_ids.begin(), wanted.tenant_ids.end());
    }
    wanted.replicas = std::max(1, existing->spec.replicas);
    if (!(wanted == existing->spec)) {
      HEARTH_RETURN_IF_ERROR(parts.deployments->UpdateDeployment(existing->id, wanted).status());
    }
    if (existing->desired != DesiredState::kRunning) {
      HEARTH_RETURN_IF_ERROR(parts.deployments->StartDeployment(existing->id).status());
    }
  } else if (existing.status().code() == StatusCode::kNotFound) {
    HEARTH_RETURN_IF_ERROR(parts.deployments->CreateDeployment(spec).status());
  } else {
    return existing.status();
  }

  HEARTH_ASSIGN_OR_RETURN(std::vector<ApiKey> keys, parts.store->ListApiKeys(tenant.id));
  for (const ApiKey& key : keys) {
    if (key.name == kQuickstartKey) HEARTH_RETURN_IF_ERROR(parts.store->DeleteApiKey(key.id));
  }
  HEARTH_ASSIGN_OR_RETURN(IssuedApiKey issued,
                          parts.identity->IssueApiKey(tenant.id, kQuickstartKey));
  std::string scheme = parts.options.http.tls_cert_file.empty() ? "http" : "https";
  announce << "hearth: deployment '" << spec.name << "' (tenant 'default') is starting.\n"
           << "hearth: API key (shown once): " << issued.plaintext << "\n"
           << "hearth: try: curl " << scheme << "://" << parts.options.http.host << ":"
           << parts.http->port() << "/v1/chat/completions -H 'authorization: Bearer "
           << issued.plaintext << "' -H 'content-type: application/json' -d '{\"model\": \""
           << spec.name << "\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'\n";
  announce.flush();
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<PlatformServer>> PlatformServer::Start(const PlatformOptions& options,
                                                              std::ostream& announce) {
  std::unique_ptr<PlatformServer> platform(new PlatformServer());
  platform->parts_ = std::make_unique<Parts>();
  Parts& parts = *platform->parts_;
  parts.options = options;
  HEARTH_ASSIGN_OR_RETURN(parts.lock_fd, LockDataDir(options.data_dir));

  std::string location =
      options.database.empty() ? DefaultStorePath(options.data_dir).string() : options.database;
  HEARTH_ASSIGN_OR_RETURN(parts.store, OpenStore(location));
  spdlog::info("platform: store {} ({})", parts.store->backend(),
               options.database.empty() ? location : std::string("configured database"));
  HEARTH_ASSIGN_OR_RETURN(BootstrapResult bootstrap,
                          EnsureBootstrapAdmin(*parts.store, ProcessEnvironment(), announce));
  (void)bootstrap;
  IdentityOptions identity_options;
  identity_options.api_key_cache.ttl = options.api_key_cache_ttl;
  identity_options.login_throttle.max_failures_per_user = options.login_max_failures;
  parts.identity = std::make_unique<Identity>(*parts.store, identity_options);
  parts.registry = std::make_unique<ModelRegistry>(*parts.store, options.data_dir);

  // Bind the listener before the DeploymentManager re-adopts the store's replicas: a second
  // `hearth serve` whose port is taken (typically by the platform already running on this data
  // directory) must fail without touching that platform's engines.
  Parts* raw = &parts;
  parts.http = std::make_unique<server::HttpServer>(
      options.http,
      [raw](server::HttpRequest& request, const std::shared_ptr<server::ResponseChannel>& channel) {
        Route(*raw, request, channel);
      },
      /*metrics=*/nullptr);
  HEARTH_RETURN_IF_ERROR(parts.http->Start());

  DeploymentManagerOptions manager_options;
  manager_options.data_dir = options.data_dir;
  manager_options.hearth_binary = options.engine_binary;
  HEARTH_ASSIGN_OR_RETURN(parts.deployments,
                          DeploymentManager::Create(*parts.store, manager_options));

  GatewayOptions gateway_options;
  gateway_options.stream_window_bytes = options.stream_window_bytes;
  parts.gateway =
      std::make_unique<Gateway>(*parts.store, *parts.identity, *parts.deployments, gateway_options);
  AdminApiOptions admin_options;
  admin_options.deployments = parts.deployments.get();
  admin_options.models = parts.registry.get();
  parts.admin = std::make_unique<AdminApi>(*parts.store, *parts.identity, admin_options);
  parts.routing.store(true);

  if (options.default_model) {
    HEARTH_RETURN_IF_ERROR(QuickStart(parts, *options.default_model, announce));
  }
  return platform;
}

PlatformServer::~PlatformServer() { Shutdown(std::chrono::milliseconds(0)); }

uint16_t PlatformServer::port() const { return parts_->http->port(); }

void PlatformServer::Shutdown(std::chrono::milliseconds drain) {
  if (!parts_ || parts_->shut_down) return;
  Parts& parts = *parts_;
  parts.shut_down = true;
  parts.draining.store(true);
  if (parts.http) {
    parts.http->StopAccepting();
    if (parts.gateway && !parts.gateway->WaitForRequests(drain)) {
      spdlog::info("platform: drain time is up; {} requests still in flight are cut",
                   parts.gateway->requests_in_flight());
    }
    parts.http->WaitForIdle(std::chrono::seconds(2));
    parts.http->Stop();
  }
  parts.gateway.reset();
  parts.admin.reset();
  if (parts.deployments) {
    parts.deployments->Shutdown(parts.options.keep_replicas
                                    ? DeploymentManager::ShutdownMode::kLeaveRunning
                                    : DeploymentManager::ShutdownMode::kStopReplicas);
  }
  parts.deployments.reset();
  parts.http.reset();
}

int RunPlatform(const PlatformOptions& options) {
  ShutdownSignal::Install();
  auto platform = PlatformServer::Start(options, std::cout);
  if (!platform.ok()) {
    std::fprintf(stderr, "hearth: %s\n", platform.status().message().c_str());
    return 1;
  }
  std::string scheme = options.http.tls_cert_file.empty() ? "http" : "https";
  spdlog::info("platform: serving on {}://{}:{} (OpenAI API under /v1, admin API under /admin/v1)",
               scheme, options.http.host, (*platform)->port());
  ShutdownSignal::Wait();
  spdlog::info("platform: shutting down (draining for up to {} ms; signal again to exit now)",
               options.drain_timeout.count());
  (*platform)->Shutdown(options.drain_timeout);
  spdlog::info("platform: stopped");
  return 0;
}

}  // namespace hearth::platform
