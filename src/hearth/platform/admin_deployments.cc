// Admin API: deployments (through the DeploymentManager) and models (through the ModelRegistry).
#include <algorithm>
#include <functional>
#include <tuple>

#include "hearth/platform/admin_api.h"
#include "hearth/platform/admin_call.h"
#include "hearth/platform/admin_json.h"
#include "hearth/platform/deployment_manager.h"
#include "hearth/platform/model_registry.h"

namespace hearth::platform {

using admin::Call;
using admin::ErrorFromStatus;
using admin::ErrorReply;
using admin::Forbidden;
using admin::JsonReply;
using admin::Reply;
using server::ApiError;

namespace {

ApiError NotManaged(std::string_view what) {
  return {503, std::string(what) + " are not managed by this server", "server_error", "",
          "unavailable"};
}

// A deployment that does not fit is a conflict with the node's state, not an overload.
ApiError DeploymentError(const Status& status, std::string param = {}) {
  if (status.code() == StatusCode::kResourceExhausted) {
    return {409, status.message(), "invalid_request_error", std::move(param),
            "insufficient_memory"};
  }
  return ErrorFromStatus(status, std::move(param));
}

std::string DeploymentTarget(std::string_view name) { return "deployment:" + std::string(name); }

}  // namespace

// Deployments -----------------------------------------------------------------------------------

namespace {

// The spec fields a body may carry. ApplyTo writes the ones given onto `spec` and `desired`
// (unset ones keep their values; tenant references resolve through `resolve_tenant`) and returns
// the error to send, if any: create and update resolve a body the same way.
struct SpecFields {
  std::optional<std::string> model;
  std::optional<std::vector<std::string>> tenants;
  std::optional<int64_t> replicas, ctx, parallel, kv_budget_bytes, threads;
  std::optional<std::string> state;

  void Read(admin::JsonFields& fields) {
    model = fields.String("model");
    tenants = fields.StringList("tenants");
    replicas = fields.Int("replicas", 0);
    ctx = fields.Int("ctx", 1);
    parallel = fields.Int("parallel", 1);
    kv_budget_bytes = fields.Int("kv_budget_bytes", 0);
    threads = fields.Int("threads", 0);
    state = fields.String("state");
  }
  bool ChangesEngine() const {
    return model || tenants || ctx || parallel || kv_budget_bytes || threads;
  }

  std::optional<ApiError> ApplyTo(
      Store& store, const std::function<Result<Tenant>(const std::string&)>& resolve_tenant,
      DeploymentSpec& spec, DesiredState& desired) const;
};

std::optional<ApiError> IntInto(const std::optional<int64_t>& value, int& out,
                                const std::string& name) {
  if (!value) return std::nullopt;
  if (*value > INT32_MAX) return ApiError::BadRequest("'" + name + "' is too large", name);
  out = static_cast<int>(*value);
  return std::nullopt;
}

std::optional<ApiError> SpecFields::ApplyTo(
    Store& store, const std::function<Result<Tenant>(const std::string&)>& resolve_tenant,
    DeploymentSpec& spec, DesiredState& desired) const {
  if (model) {
    auto found = store.FindModelByName(*model);
    if (!found.ok()) return ErrorFromStatus(found.status(), "model");
    spec.model_id = found->id;
  }
  if (tenants) {
    spec.tenant_ids.clear();
    for (const std::string& reference : *tenants) {
      auto tenant = resolve_tenant(reference);
      if (!tenant.ok()) return ErrorFromStatus(tenant.status(), "tenants");
      spec.tenant_ids.push_back(tenant->id);
    }
    std::sort(spec.tenant_ids.begin(), spec.tenant_ids.end());
    spec.tenant_ids.erase(std::unique(spec.tenant_ids.begin(), spec.tenant_ids.end()),
                          spec.tenant_ids.end());
  }
  for (auto [value, out, field] : {std::tuple{&replicas, &spec.replicas, "replicas"},
                                   {&ctx, &spec.ctx, "ctx"},
                                   {&parallel, &spec.parallel, "parallel"},
                                   {&threads, &spec.threads, "threads"}}) {
    if (auto bad = IntInto(*value, *out, field)) return bad;
  }
  if (kv_budget_bytes) spec.kv_budget_bytes = *kv_budget_bytes;
  if (state) {
    auto parsed = ParseDesiredState(*state);
    if (!parsed.ok()) return ErrorFromStatus(parsed.status(), "state");
    desired = *parsed;
  }
  return std::nullopt;
}

}  // namespace

static nlohmann::json DeploymentJson(Store& store, const DeploymentStatus& status) {
  const Deployment& d = status.deployment;
  nlohmann::json tenants = nlohmann::json::array();
  for (int64_t id : d.spec.tenant_ids) {
    auto tenant = store.GetTenant(id);
    tenants.push_back(tenant.ok() ? tenant->name : std::to_string(id));
  }
  auto model = store.GetModel(d.spec.model_id);
  nlohmann::json replicas = nlohmann::json::array();
  for (const ReplicaRecord& r : status.replicas) {
    replicas.push_back({{"id", r.id},
                        {"generation", r.generation},
                        {"state", ReplicaStateName(r.state)},
                        {"pid", r.pid},
                        {"port", r.port},
                        {"restarts", r.restarts},
                        {"last_error", r.last_error},
                        {"updated_at", r.updated_at}});
  }
  return {{"object", "deployment"},
          {"id", d.id},
          {"name", d.spec.name},
          {"model", model.ok() ? nlohmann::json(model->name) : nlohmann::json(nullptr)},
          {"model_id", d.spec.model_id},
          {"tenants", tenants},
          {"tenant_ids", d.spec.tenant_ids},
          {"replicas", d.spec.replicas},
          {"ctx", d.spec.ctx},
          {"parallel", d.spec.parallel},
          {"kv_budget_bytes", d.spec.kv_budget_bytes},
          {"threads", d.spec.threads},
          {"state", DesiredStateName(d.desired)},
          {"generation", d.generation},
          {"created_at", d.created_at},
          {"updated_at", d.updated_at},
          {"ready_replicas", status.ready_replicas},
          {"memory_per_replica_bytes", status.memory_per_replica.total()},
          {"replica_status", replicas}};
}

Reply AdminApi::ListDeployments(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not list deployments"));
  }
  if (options_.deployments == nullptr) return ErrorReply(NotManaged("deployments"));
  nlohmann::json data = nlohmann::json::array();
  for (const DeploymentStatus& status : options_.deployments->DescribeAll()) {
    const auto& ids = status.deployment.spec.tenant_ids;
    if (!call.platform_admin() &&
        std::find(ids.begin(), ids.end(), call.caller_tenant->id) == ids.end()) {
      continue;
    }
    data.push_back(DeploymentJson(store_, status));
  }
  return JsonReply(admin::ListJson(std::move(data)));
}

Reply AdminApi::CreateDeployment(Call& call) {
  admin::JsonFields fields(call.body);
  std::optional<std::string> name = fields.String("name", true);
  SpecFields body;
  body.Read(fields);
  auto error = fields.error();
  call.audit_target = DeploymentTarget(name.value_or("?"));
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins deploy models"));
  if (options_.deployments == nullptr) return ErrorReply(NotManaged("deployments"));
  if (error) return ErrorReply(*error);
  if (!body.model) return ErrorReply(ApiError::BadRequest("'model' is required", "model"));

  DeploymentSpec spec;
  spec.name = *name;
  DesiredState desired = DesiredState::kRunning;
  auto resolve_tenant = [&](const std::string& reference) {
    return VisibleTenant(call, reference);
  };
  if (auto bad = body.ApplyTo(store_, resolve_tenant, spec, desired)) return ErrorReply(*bad);
  auto created = options_.deployments->CreateDeployment(spec, desired);
  if (!created.ok()) return ErrorReply(DeploymentError(created.status()));
  auto status = options_.deployments->Describe(created->id);
  if (!status.ok()) return ErrorReply(ErrorFromStatus(status.status()));
  return JsonReply(DeploymentJson(store_, *status), 201);
}

Reply AdminApi::GetDeployment(Call& call) {
  if (!call.platform_admin() && !call.tenant_admin()) {
    return ErrorReply(Forbidden("members may not read deployments"));
  }
  if (options_.deployments == nullptr) return ErrorReply(NotManaged("deployments"));
  const Status not_found = Status::NotFound("deployment '" + call.params[0] + "' not found");
  auto deployment = store_.FindDeploymentByName(call.params[0]);
  if (!deployment.ok()) {
    return ErrorReply(ErrorFromStatus(
        deployment.status().code() == StatusCode::kNotFound ? not_found : deployment.status()));
  }
  const auto& ids = deployment->spec.tenant_ids;
  if (!call.platform_admin() &&
      std::find(ids.begin(), ids.end(), call.caller_tenant->id) == ids.end()) {
    return ErrorReply(ErrorFromStatus(not_found));
  }
  auto status = options_.deployments->Describe(deployment->id);
  if (!status.ok()) return ErrorReply(ErrorFromStatus(status.status()));
  return JsonReply(DeploymentJson(store_, *status));
}

Reply AdminApi::UpdateDeployment(Call& call) {
  admin::JsonFields fields(call.body);
  SpecFields body;
  body.Read(fields);
  auto error = fields.error();
  call.audit_target = DeploymentTarget(call.params[0]);
  if (!call.platform_admin()) {
    return ErrorReply(Forbidden("only platform admins change deployments"));
  }
  if (options_.deployments == nullptr) return ErrorReply(NotManaged("deployments"));
  if (error) return ErrorReply(*error);
  if (!body.ChangesEngine() && !body.replicas && !body.state) {
    return ErrorReply(ApiError::BadRequest(
        "nothing to change: give 'replicas', 'state' or spec fields (model, tenants, ctx, "
        "parallel, kv_budget_bytes, threads)"));
  }
  auto current = store_.FindDeploymentByName(call.params[0]);
  if (!current.ok()) return ErrorReply(ErrorFromStatus(current.status()));
  const int64_t id = current->id;
  DeploymentManager& manager = *options_.deployments;

  // Everything is resolved and checked before anything is applied, and the manager then writes
  // spec and state in one store transaction: a refused PATCH changes nothing.
  DeploymentSpec spec = current->spec;
  DesiredState desired = current->desired;
  auto resolve_tenant = [&](const std::string& reference) {
    return VisibleTenant(call, reference);
  };
  if (auto bad = body.ApplyTo(store_, resolve_tenant, spec, desired)) return ErrorReply(*bad);

  std::vector<std::string> changed;
  if (body.ChangesEngine()) {
    changed.push_back("spec");
  } else if (body.replicas) {
    changed.push_back("replicas=" + std::to_string(spec.replicas));
  }
  if (body.state) changed.push_back("state=" + *body.state);
  // A refusal names the field when only one was given.
  std::string param;
  if (!body.ChangesEngine() && (body.replicas.has_value() != body.state.has_value())) {
    param = body.replicas ? "replicas" : "state";
  }
  auto updated = manager.UpdateDeployment(id, spec, desired);
  if (!updated.ok()) return ErrorReply(DeploymentError(updated.status(), param));
  for (const std::string& what : changed) {
    call.detail += (call.detail.empty() ? "" : ",") + what;
  }
  auto status = manager.Describe(id);
  if (!status.ok()) return ErrorReply(ErrorFromStatus(status.status()));
  return JsonReply(DeploymentJson(store_, *status));
}

Reply AdminApi::DeleteDeployment(Call& call) {
  call.audit_target = DeploymentTarget(call.params[0]);
  if (!call.platform_admin()) {
    return ErrorReply(Forbidden("only platform admins delete deployments"));
  }
  if (options_.deployments == nullptr) return ErrorReply(NotManaged("deployments"));
  auto current = store_.FindDeploymentByName(call.params[0]);
  if (!current.ok()) return ErrorReply(ErrorFromStatus(current.status()));
  if (Status deleted = options_.deployments->DeleteDeployment(current->id); !deleted.ok()) {
    return ErrorReply(ErrorFromStatus(deleted));
  }
  return JsonReply(admin::DeletedJson("deployment", current->id));
}

// Models ----------------------------------------------------------------------------------------

namespace {

nlohmann::json ModelJson(const ModelRecord& model, bool with_metadata) {
  nlohmann::json out = {{"object", "model"},      {"id", model.id},
                        {"name", model.name},     {"source", model.source},
                        {"path", model.path},     {"size_bytes", model.size_bytes},
                        {"sha256", model.sha256}, {"created_at", model.created_at}};
  if (with_metadata) {
    nlohmann::json metadata = nlohmann::json::parse(model.metadata_json, nullptr, false);
    out["metadata"] = metadata.is_discarded() ? nlohmann::json(nullptr) : metadata;
  }
  return out;
}

}  // namespace

Reply AdminApi::ListModels(Call& call) {
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins manage models"));
  if (options_.models == nullptr) return ErrorReply(NotManaged("models"));
  auto models = options_.models->List();
  if (!models.ok()) return ErrorReply(ErrorFromStatus(models.status()));
  nlohmann::json data = nlohmann::json::array();
  for (const ModelRecord& model : *models) data.push_back(ModelJson(model, false));
  return JsonReply(admin::ListJson(std::move(data)));
}

Reply AdminApi::GetModel(Call& call) {
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins manage models"));
  if (options_.models == nullptr) return ErrorReply(NotManaged("models"));
  auto model = options_.models->Show(call.params[0]);
  if (!model.ok()) return ErrorReply(ErrorFromStatus(model.status()));
  return JsonReply(ModelJson(*model, true));
}

Reply AdminApi::DeleteModel(Call& call) {
  call.audit_target = "model:" + call.params[0];
  if (!call.platform_admin()) return ErrorReply(Forbidden("only platform admins manage models"));
  if (options_.models == nullptr) return ErrorReply(NotManaged("models"));
  auto model = options_.models->Show(call.params[0]);
  if (!model.ok()) return ErrorReply(ErrorFromStatus(model.status()));
  if (Status deleted = options_.models->Delete(call.params[0]); !deleted.ok()) {
    return ErrorReply(ErrorFromStatus(deleted));
  }
  return JsonReply(admin::DeletedJson("model", model->id));
}

}  // namespace hearth::platform
