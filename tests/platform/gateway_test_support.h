// Pieces shared by the gateway's tests: a routing view the test sets by hand, the gateway behind a
// real platform HttpServer, and polling for conditions that settle asynchronously. (Identity
// options come from identity_test_support.h.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/platform/gateway.h"
#include "hearth/platform/identity.h"
#include "hearth/platform/replica_directory.h"
#include "hearth/platform/store.h"
#include "hearth/server/http_server.h"
#include "identity_test_support.h"

namespace hearth::platform::testing {

// Polls `condition` every 2 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The routing view over a test's replicas: each deployment's tenants and ready replicas, as the
// test last set them.
class TestDirectory : public ReplicaDirectory {
 public:
  static constexpr int64_t kCreatedAt = 1'700'000'000'000;  // Unix ms

  // Adds or replaces a deployment. An empty `replicas`: it exists with none ready.
  void Set(const std::string& name, std::vector<int64_t> tenants,
           std::vector<ReplicaEndpoint> replicas, int64_t created_at = kCreatedAt);

  std::vector<RoutableDeployment> Deployments() const override;
  std::optional<std::vector<ReplicaEndpoint>> ReadyReplicas(std::string_view name) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::pair<RoutableDeployment, std::vector<ReplicaEndpoint>>> deployments_;
};

// Gateway options for tests: the test's clock and one upstream IO thread.
GatewayOptions TestGatewayOptions(std::function<int64_t()> clock);

// A Gateway behind a started platform HttpServer (on an ephemeral loopback port unless `http`
// names one) that hands it every request. Destruction stops the server before the gateway goes.
class GatewayFront {
 public:
  // `store`, `identity` and `directory` must outlive the GatewayFront.
  static Result<std::unique_ptr<GatewayFront>> Start(Store& store, Identity& identity,
                                                     const ReplicaDirectory& directory,
                                                     GatewayOptions options,
                                                     server::HttpServerOptions http);
  // The same with a server of `io_threads` threads and otherwise default options.
  static Result<std::unique_ptr<GatewayFront>> Start(Store& store, Identity& identity,
                                                     const ReplicaDirectory& directory,
                                                     GatewayOptions options, int io_threads);
  ~GatewayFront();
  GatewayFront(const GatewayFront&) = delete;
  GatewayFront& operator=(const GatewayFront&) = delete;

  Gateway& gateway() { return *gateway_; }
  uint16_t port() const { return server_->port(); }

 private:
  GatewayFront() = default;

  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace hearth::platform::testing
