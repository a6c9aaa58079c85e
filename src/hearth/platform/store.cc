// The backend-independent parts of store.h: roles and states, the clock, choosing a backend.
#include "hearth/platform/store.h"

#include <chrono>

namespace hearth::platform {

int64_t SystemNowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPlatformAdmin:
      return "platform-admin";
    case Role::kTenantAdmin:
      return "tenant-admin";
    case Role::kMember:
      return "member";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view text) {
  for (Role role : {Role::kPlatformAdmin, Role::kTenantAdmin, Role::kMember}) {
    if (text == RoleName(role)) return role;
  }
  return Status::InvalidArgument(
      fmt::format("unknown role '{}' (expected platform-admin, tenant-admin or member)", text));
}

std::string_view DesiredStateName(DesiredState state) {
  switch (state) {
    case DesiredState::kRunning:
      return "running";
    case DesiredState::kStopped:
      return "stopped";
  }
  return "unknown";
}

Result<DesiredState> ParseDesiredState(std::string_view text) {
  for (DesiredState state : {DesiredState::kRunning, DesiredState::kStopped}) {
    if (text == DesiredStateName(state)) return state;
  }
  return Status::InvalidArgument(
      fmt::format("unknown desired state '{}' (expected running or stopped)", text));
}

std::string_view ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kPending:
      return "pending";
    case ReplicaState::kLoading:
      return "loading";
    case ReplicaState::kReady:
      return "ready";
    case ReplicaState::kFailed:
      return "failed";
    case ReplicaState::kStopped:
      return "stopped";
  }
  return "unknown";
}

Result<ReplicaState> ParseReplicaState(std::string_view text) {
  for (ReplicaState state : {ReplicaState::kPending, ReplicaState::kLoading, ReplicaState::kReady,
                             ReplicaState::kFailed, ReplicaState::kStopped}) {
    if (text == ReplicaStateName(state)) return state;
  }
  return Status::InvalidArgument(fmt::format(
      "unknown replica state '{}' (expected pending, loading, ready, failed or stopped)", text));
}

std::filesystem::path DefaultStorePath(const std::filesystem::path& data_dir) {
  return data_dir / "platform.db";
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view location, StoreOptions options) {
  if (location.starts_with("postgres://") || location.starts_with("postgresql://")) {
    return OpenPostgresStore(location, std::move(options));
  }
  if (location.starts_with("sqlite:")) location.remove_prefix(7);
  if (location.empty()) return Status::InvalidArgument("store: empty store location");
  return OpenSqliteStore(std::filesystem::path(location), std::move(options));
}

}  // namespace hearth::platform
