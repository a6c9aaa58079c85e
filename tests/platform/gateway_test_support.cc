#include "gateway_test_support.h"

#include <thread>

namespace hearth::platform::testing {

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

void TestDirectory::Set(const std::string& name, std::vector<int64_t> tenants,
                        std::vector<ReplicaEndpoint> replicas, int64_t created_at) {
  std::lock_guard lock(mu_);
  deployments_[name] = {RoutableDeployment{name, std::move(tenants), created_at},
                        std::move(replicas)};
}

std::vector<RoutableDeployment> TestDirectory::Deployments() const {
  std::lock_guard lock(mu_);
  std::vector<RoutableDeployment> out;
  for (const auto& [name, entry] : deployments_) out.push_back(entry.first);
  return out;
}

std::optional<std::vector<ReplicaEndpoint>> TestDirectory::ReadyReplicas(
    std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = deployments_.find(std::string(name));
  if (it == deployments_.end()) return std::nullopt;
  return it->second.second;
}

GatewayOptions TestGatewayOptions(std::function<int64_t()> clock) {
  GatewayOptions options;
  options.clock = std::move(clock);
  options.upstream.io_threads = 1;
  return options;
}

Result<std::unique_ptr<GatewayFront>> GatewayFront::Start(Store& store, Identity& identity,
                                                          const ReplicaDirectory& directory,
                                                          GatewayOptions options,
                                                          server::HttpServerOptions http) {
  std::unique_ptr<GatewayFront> front(new GatewayFront());
  front->gateway_ = std::make_unique<Gateway>(store, identity, directory, std::move(options));
  front->server_ = std::make_unique<server::HttpServer>(
      std::move(http),
      [gateway = front->gateway_.get()](server::HttpRequest& request,
                                        const std::shared_ptr<server::ResponseChannel>& channel) {
        gateway->Handle(request, channel);
      },
      nullptr);
  HEARTH_RETURN_IF_ERROR(front->server_->Start());
  return front;
}

Result<std::unique_ptr<GatewayFront>> GatewayFront::Start(Store& store, Identity& identity,
                                                          const ReplicaDirectory& directory,
                                                          GatewayOptions options, int io_threads) {
  server::HttpServerOptions http;
  http.io_threads = io_threads;
  return Start(store, identity, directory, std::move(options), std::move(http));
}

GatewayFront::~GatewayFront() {
  // No request may reach the gateway once it is gone.
  server_->Stop();
  gateway_.reset();
}

}  // namespace hearth::platform::testing
