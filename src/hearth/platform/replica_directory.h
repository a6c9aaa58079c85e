// The routing view of the deployments: what the gateway reads on every request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::platform {

// One ready engine replica the gateway may forward a request to.
struct ReplicaEndpoint {
  int64_t replica_id = 0;
  std::string host;  // "127.0.0.1"
  uint16_t port = 0;
};

// A deployment as the gateway sees it: its client-visible name and who may use it.
struct RoutableDeployment {
  std::string name;
  std::vector<int64_t> tenant_ids;
  int64_t created_at = 0;  // Unix ms
};

// What the gateway needs to route: which deployments a tenant may use and where their ready
// replicas listen. Thread-safe; answers from memory (no store access on the request path).
class ReplicaDirectory {
 public:
  virtual ~ReplicaDirectory() = default;
  virtual std::vector<RoutableDeployment> Deployments() const = 0;
  // nullopt: no such deployment. An empty vector: it exists but has no ready replica now.
  virtual std::optional<std::vector<ReplicaEndpoint>> ReadyReplicas(
      std::string_view name) const = 0;
};

}  // namespace hearth::platform
