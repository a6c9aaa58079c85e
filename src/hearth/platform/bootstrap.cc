#include "hearth/platform/bootstrap.h"

#include <cstdlib>

#include "hearth/platform/crypto.h"

namespace hearth::platform {
namespace {

constexpr size_t kGeneratedPasswordBytes = 20;  // 160 bits, 32 base32 characters

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<BootstrapResult> EnsureBootstrapAdmin(Store& store, const EnvLookup& env,
                                             std::ostream& announce,
                                             const IdentityOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(int64_t users, store.CountUsers());
  if (users > 0) return BootstrapResult{};

  std::string name = env(kAdminUserEnv).value_or("admin");
  std::optional<std::string> password = env(kAdminPasswordEnv);
  bool generated = !password.has_value() || password->empty();
  if (generated) {
    HEARTH_ASSIGN_OR_RETURN(std::string random, RandomBytes(kGeneratedPasswordBytes));
    password = Base32Encode(random);
  } else if (Status policy = CheckPasswordPolicy(*password); !policy.ok()) {
    return policy.WithContext(kAdminPasswordEnv);
  }

  Identity identity(store, options);
  auto admin = identity.CreateUser(std::nullopt, name, Role::kPlatformAdmin, *password);
  if (!admin.ok()) {
    // Another process bootstrapped between our count and our insert: it has printed the
    // password; we must not print one that does not work.
    if (admin.status().code() == StatusCode::kAlreadyExists) return BootstrapResult{};
    return admin.status().WithContext("bootstrap admin");
  }

  if (generated) {
    announce << "hearth: created platform admin '" << admin->name
             << "' with one-time password: " << *password << "\n"
             << "hearth: this password is shown only once; log in and change it now\n";
  } else {
    announce << "hearth: created platform admin '" << admin->name << "' with the password from "
             << kAdminPasswordEnv << "\n";
  }
  announce.flush();

  AuditEntry audit;
  audit.actor = "system";
  audit.action = "bootstrap.admin";
  audit.target = "user:" + admin->name;
  audit.result = "ok";
  audit.detail = generated ? "generated password" : std::string(kAdminPasswordEnv);
  HEARTH_RETURN_IF_ERROR(store.AppendAudit(audit).status());

  return BootstrapResult{true, std::move(admin).value(), generated};
}

}  // namespace hearth::platform
