// The admin API's front: routing, authentication, auditing, and the session routes.
#include "hearth/platform/admin_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <charconv>

#include "hearth/platform/admin_call.h"
#include "hearth/platform/admin_json.h"
#include "hearth/platform/admin_work_queue.h"

namespace hearth::platform {

using admin::Call;
using admin::ErrorFromStatus;
using admin::ErrorReply;
using admin::JsonReply;
using admin::Reply;

struct AdminApi::Route {
  std::string_view method;
  std::vector<std::string_view> pattern;  // "*" matches (and captures) one segment
  std::string_view action;                // the audit action; empty for reads (not audited)
  bool authenticated = true;
  Reply (AdminApi::*handler)(Call&) = nullptr;
};

const std::vector<AdminApi::Route>& AdminApi::Routes() {
  static const std::vector<Route> routes = {
      {"POST", {"login"}, "login", false, &AdminApi::Login},
      {"POST", {"logout"}, "logout", true, &AdminApi::Logout},
      {"GET", {"me"}, "", true, &AdminApi::Me},

      {"GET", {"tenants"}, "", true, &AdminApi::ListTenants},
      {"POST", {"tenants"}, "tenant.create", true, &AdminApi::CreateTenant},
      {"GET", {"tenants", "*"}, "", true, &AdminApi::GetTenant},
      {"DELETE", {"tenants", "*"}, "tenant.delete", true, &AdminApi::DeleteTenant},

      {"GET", {"users"}, "", true, &AdminApi::ListUsers},
      {"POST", {"users"}, "user.create", true, &AdminApi::CreateUser},
      {"GET", {"users", "*"}, "", true, &AdminApi::GetUser},
      {"PATCH", {"users", "*"}, "user.update", true, &AdminApi::UpdateUser},
      {"DELETE", {"users", "*"}, "user.delete", true, &AdminApi::DeleteUser},

      {"GET", {"tenants", "*", "keys"}, "", true, &AdminApi::ListKeys},
      {"POST", {"tenants", "*", "keys"}, "key.create", true, &AdminApi::CreateKey},
      {"GET", {"keys", "*"}, "", true, &AdminApi::GetKey},
      {"POST", {"keys", "*", "revoke"}, "key.revoke", true, &AdminApi::RevokeKey},
      {"DELETE", {"keys", "*"}, "key.delete", true, &AdminApi::DeleteKey},

      {"GET", {"tenants", "*", "quota"}, "", true, &AdminApi::GetTenantQuota},
      {"PUT", {"tenants", "*", "quota"}, "quota.set", true, &AdminApi::SetTenantQuota},
      {"DELETE", {"tenants", "*", "quota"}, "quota.delete", true, &AdminApi::DeleteTenantQuota},
      {"GET", {"keys", "*", "quota"}, "", true, &AdminApi::GetKeyQuota},
      {"PUT", {"keys", "*", "quota"}, "quota.set", true, &AdminApi::SetKeyQuota},
      {"DELETE", {"keys", "*", "quota"}, "quota.delete", true, &AdminApi::DeleteKeyQuota},

      {"GET", {"deployments"}, "", true, &AdminApi::ListDeployments},
      {"POST", {"deployments"}, "deployment.create", true, &AdminApi::CreateDeployment},
      {"GET", {"deployments", "*"}, "", true, &AdminApi::GetDeployment},
      {"PATCH", {"deployments", "*"}, "deployment.update", true, &AdminApi::UpdateDeployment},
      {"DELETE", {"deployments", "*"}, "deployment.delete", true, &AdminApi::DeleteDeployment},
      {"GET", {"models"}, "", true, &AdminApi::ListModels},
      {"GET", {"models", "*"}, "", true, &AdminApi::GetModel},
      {"DELETE", {"models", "*"}, "model.delete", true, &AdminApi::DeleteModel},

      {"GET", {"usage"}, "", true, &AdminApi::GetUsage},
      {"GET", {"audit"}, "", true, &AdminApi::QueryAuditLog},
  };
  return routes;
}

AdminApi::AdminApi(Store& store, Identity& identity, AdminApiOptions options)
    : store_(store),
      identity_(identity),
      options_(options),
      work_(std::make_unique<admin::WorkQueue>(options.worker_threads)) {}

AdminApi::~AdminApi() = default;

void AdminApi::Handle(server::HttpRequest& request,
                      const std::shared_ptr<server::ResponseChannel>& channel) {
  auto call = std::make_shared<Call>();
  call->method = std::string(request.method_string());
  call->body = std::move(request.body());
  const auto header = request[boost::beast::http::field::authorization];
  const std::string_view authorization(header.data(), header.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    call->bearer = std::string(authorization.substr(kBearer.size()));
  }
  call->source_ip = channel->remote_address();
  std::string target(request.target());
  work_->Submit([this, call, channel, target = std::move(target)] {
    Reply reply;
    auto parsed = admin::ParseRequestTarget(target);
    if (!parsed.ok()) {
      reply = ErrorReply(ErrorFromStatus(parsed.status()));
    } else {
      call->target = std::move(parsed).value();
      reply = Process(*call);
    }
    channel->Post([channel, reply = std::move(reply)]() mutable {
      channel->Respond(reply.status, "application/json", std::move(reply.body), reply.headers);
    });
  });
}

Reply AdminApi::Process(Call& call) {
  std::vector<std::string>& path = call.target.path;
  if (path.size() < 2 || path[0] != "admin" || path[1] != "v1") {
    return ErrorReply(admin::NotFound("no such admin endpoint"));
  }
  path.erase(path.begin(), path.begin() + 2);

  bool path_matched = false;
  for (const Route& route : Routes()) {
    if (route.pattern.size() != path.size()) continue;
    std::vector<std::string> captured;
    bool match = true;
    for (size_t i = 0; i < path.size() && match; ++i) {
      if (route.pattern[i] == "*") {
        captured.push_back(path[i]);
      } else {
        match = route.pattern[i] == path[i];
      }
    }
    if (!match) continue;
    path_matched = true;
    if (route.method != call.method) continue;

    call.params = std::move(captured);
    call.action = std::string(route.action);
    Reply reply{0, {}};  // status 0: go on to the handler
    if (route.authenticated) reply = Authenticate(call);
    if (reply.status == 0) reply = (this->*route.handler)(call);
    if (!call.action.empty()) Audit(call, reply.status);
    return reply;
  }
  if (path_matched) {
    return ErrorReply(server::ApiError::MethodNotAllowed("method " + call.method +
                                                         " is not allowed on this admin endpoint"));
  }
  return ErrorReply(admin::NotFound("no such admin endpoint"));
}

Reply AdminApi::Authenticate(Call& call) {
  if (call.bearer.empty()) {
    return ErrorReply(admin::Unauthorized(
        "missing session token: send 'Authorization: Bearer <token>' from POST /admin/v1/login"));
  }
  auto user = identity_.VerifySession(call.bearer);
  if (!user.ok()) return ErrorReply(ErrorFromStatus(user.status()));
  call.actor = "user:" + user->name;
  if (user->tenant_id) {
    auto tenant = store_.GetTenant(*user->tenant_id);
    if (!tenant.ok()) return ErrorReply(ErrorFromStatus(tenant.status()));
    call.caller_tenant = std::move(tenant).value();
  }
  call.caller = std::move(user).value();
  return Reply{0, {}};
}

void AdminApi::Audit(const Call& call, int status) {
  AuditEntry entry;
  entry.actor = call.actor;
  entry.action = call.action;
  entry.target = call.audit_target;
  entry.source_ip = call.source_ip;
  if (call.result) {
    entry.result = *call.result;
  } else if (status >= 200 && status < 300) {
    entry.result = "ok";
  } else if (status == 401 || status == 403) {
    entry.result = "denied";
  } else {
    entry.result = "error";
  }
  entry.detail = call.detail;
  auto appended = store_.AppendAudit(entry);
  if (!appended.ok()) {
    spdlog::error("admin api: could not write the audit entry for {} by {}: {}", entry.action,
                  entry.actor, appended.status().message());
  }
}

// Lookups ---------------------------------------------------------------------------------------

namespace {

std::optional<int64_t> ParseId(std::string_view text) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

}  // namespace

Result<Tenant> AdminApi::VisibleTenant(Call& call, const std::string& reference) {
  const Status not_found = Status::NotFound("tenant '" + reference + "' not found");
  // An all-digit reference is an id first: tenant names may be digits too, and an id is stable.
  Result<Tenant> tenant = not_found;
  if (auto id = ParseId(reference)) tenant = store_.GetTenant(*id);
  if (!tenant.ok() && tenant.status().code() == StatusCode::kNotFound) {
    tenant = store_.FindTenantByName(reference);
  }
  if (!tenant.ok()) {
    const StatusCode code = tenant.status().code();
    if (code == StatusCode::kNotFound || code == StatusCode::kInvalidArgument) return not_found;
    return tenant.status();
  }
  if (!call.Sees(tenant->id)) {
    call.result = "denied";
    return not_found;
  }
  return tenant;
}

Result<User> AdminApi::VisibleUser(Call& call, const std::string& id_text) {
  const Status not_found = Status::NotFound("user '" + id_text + "' not found");
  auto id = ParseId(id_text);
  if (!id) return not_found;
  auto user = store_.GetUser(*id);
  if (!user.ok()) {
    return user.status().code() == StatusCode::kNotFound ? not_found : user.status();
  }
  const bool visible = call.platform_admin() || (user->tenant_id && call.Sees(*user->tenant_id));
  if (!visible) {
    call.result = "denied";
    return not_found;
  }
  return user;
}

Result<ApiKey> AdminApi::VisibleKey(Call& call, const std::string& id_text) {
  const Status not_found = Status::NotFound("API key '" + id_text + "' not found");
  auto id = ParseId(id_text);
  if (!id) return not_found;
  auto key = store_.GetApiKey(*id);
  if (!key.ok()) return key.status().code() == StatusCode::kNotFound ? not_found : key.status();
  if (!call.Sees(key->tenant_id)) {
    call.result = "denied";
    return not_found;
  }
  return key;
}

std::string AdminApi::TenantName(std::optional<int64_t> tenant_id) {
  if (!tenant_id) return "";
  auto tenant = store_.GetTenant(*tenant_id);
  return tenant.ok() ? tenant->name : "tenant-" + std::to_string(*tenant_id);
}

// Sessions --------------------------------------------------------------------------------------

namespace {

constexpr size_t kMaxAuditedName = 128;

std::string UserTarget(const User& user, const std::string& tenant) {
  const std::string self = "user:" + user.name;
  return tenant.empty() ? self : admin::InTenant(tenant, self);
}

}  // namespace

Reply AdminApi::Login(Call& call) {
  admin::JsonFields fields(call.body);
  std::optional<std::string> username = fields.String("username", true);
  std::optional<std::string> password = fields.String("password", true);
  if (auto error = fields.error()) return ErrorReply(*error);

  std::string name = username->substr(0, kMaxAuditedName);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  call.actor = "user:" + name;
  call.audit_target = "user:" + name;
  if (auto known = store_.FindUserByName(name); known.ok()) {
    call.audit_target = UserTarget(*known, TenantName(known->tenant_id));
  }

  // Throttled before the password is looked at: a locked-out guesser learns nothing and costs
  // no argon2id. The counters key on the lower-cased name, as the audit log does.
  LoginThrottle& throttle = identity_.login_throttle();
  if (auto wait = throttle.RetryAfter(name, call.source_ip)) {
    const int64_t seconds = (wait->count() + 999) / 1000;
    call.result = "throttled";
    call.detail = fmt::format("too many failed logins; locked for {} s", seconds);
    Reply reply = ErrorReply(
        {429, fmt::format("too many failed logins; retry in {} s", seconds), "rate_limit_exceeded",
         "", "login_throttled"});
    reply.headers.emplace_back("Retry-After", std::to_string(seconds));
    return reply;
  }
  auto session = identity_.Login(*username, *password);
  if (!session.ok()) {
    if (session.status().code() == StatusCode::kUnauthenticated) {
      throttle.RecordFailure(name, call.source_ip);
      return ErrorReply(admin::Unauthorized("invalid username or password"));
    }
    return ErrorReply(ErrorFromStatus(session.status()));
  }
  throttle.RecordSuccess(name);
  auto user = store_.GetUser(session->session.user_id);
  if (!user.ok()) return ErrorReply(ErrorFromStatus(user.status()));
  return JsonReply({{"token", session->token},
                    {"expires_at", session->session.expires_at},
                    {"user", admin::UserJson(*user, TenantName(user->tenant_id))}});
}

Reply AdminApi::Logout(Call& call) {
  call.audit_target = UserTarget(*call.caller, call.caller_tenant ? call.caller_tenant->name : "");
  if (Status ended = identity_.EndSession(call.bearer); !ended.ok()) {
    return ErrorReply(ErrorFromStatus(ended));
  }
  return JsonReply({{"logged_out", true}});
}

Reply AdminApi::Me(Call& call) {
  return JsonReply(
      admin::UserJson(*call.caller, call.caller_tenant ? call.caller_tenant->name : ""));
}

}  // namespace hearth::platform
