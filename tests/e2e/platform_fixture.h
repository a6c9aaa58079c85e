// The shared setup of the platform end-to-end tests: a tiny synthetic model and a data directory
// in a TempDir, starting `hearth serve` on a free port, reading the printed API key, logging in
// to the admin API and waiting for the quick-start deployment to answer.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "e2e_http.h"
#include "e2e_process.h"
#include "support/fixtures.h"

namespace hearth::e2e {

inline constexpr char kAdminPassword[] = "e2e-admin-password-1234";
inline constexpr char kDeployment[] = "tiny";  // the lower-cased stem of tiny.gguf

struct RunningPlatform {
  std::unique_ptr<HearthProcess> process;
  uint16_t port = 0;
  std::string api_key;  // the quick-start key printed on stdout
};

// What a client learned from one completion it received completely.
struct Completion {
  bool acknowledged = false;  // fully received and successful
  int status = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::string detail;  // for failure messages
};

class PlatformE2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  const std::filesystem::path& data_dir() const { return data_dir_; }

  // `hearth --data-dir D serve --model tiny.gguf --port P [extra]` with HEARTH_ADMIN_PASSWORD;
  // waits for the API key line. Fails the test (nullopt) when it does not come.
  std::optional<RunningPlatform> StartPlatform(const std::vector<std::string>& extra_args = {});

  // POST /admin/v1/login as the bootstrap admin; empty on failure.
  std::string AdminToken(uint16_t port);

  // One chat completion (max_tokens small); streaming asks for the usage chunk.
  Completion Complete(uint16_t port, const std::string& key, bool stream,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Polls non-streaming completions until one succeeds or the time is up.
  bool WaitUntilServing(uint16_t port, const std::string& key,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // SIGTERM, then the exit status (nullopt when it did not exit in time).
  std::optional<int> Terminate(RunningPlatform& platform,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // No process mentioning the data directory (the platform or its engines) within the time.
  bool NoProcessesLeft(std::chrono::milliseconds timeout);

  // Parsed JSON body of an authenticated admin GET; null on failure (with a test failure).
  nlohmann::json AdminGet(uint16_t port, const std::string& token, const std::string& target);

  std::unique_ptr<hearth::testing::TempDir> dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path model_;
  std::string database_;  // --database, when set (PostgreSQL tests)
  int starts_ = 0;
};

}  // namespace hearth::e2e
