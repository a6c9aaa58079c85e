// The first platform admin of a fresh installation.
//
// A new store has no users, so nobody could log in to create one. EnsureBootstrapAdmin creates a
// platform admin when (and only when) the store has no users at all. The password is taken from
// HEARTH_ADMIN_PASSWORD when set (automated installs), otherwise generated at random and printed
// exactly once; it is not stored anywhere in clear, so an operator who misses it resets it via
// the CLI. Every later call finds users and does nothing, so this is safe to run at each start.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "hearth/platform/identity.h"
#include "hearth/platform/store.h"

namespace hearth::platform {

// Looks up an environment variable; injected so tests do not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnvironment();

inline constexpr std::string_view kAdminPasswordEnv = "HEARTH_ADMIN_PASSWORD";
inline constexpr std::string_view kAdminUserEnv = "HEARTH_ADMIN_USER";  // default "admin"

struct BootstrapResult {
  bool created = false;       // false: the store already had users; nothing was done
  std::optional<User> admin;  // the new admin when created
  bool password_generated = false;
};

// Creates the first platform admin (see above) and tells the operator on `announce`: the
// generated password, or that HEARTH_ADMIN_PASSWORD was used. Records "bootstrap.admin" in the
// audit log. Two processes racing on a fresh store create one admin between them.
Result<BootstrapResult> EnsureBootstrapAdmin(Store& store, const EnvLookup& env,
                                             std::ostream& announce,
                                             const IdentityOptions& options = {});

}  // namespace hearth::platform
