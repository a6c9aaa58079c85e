// EngineSupervisor with real processes: the built `hearth` binary serving a tiny synthetic
// model, and small shell scripts where an engine must misbehave.
#include "hearth/platform/engine_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "hearth/base/file_util.h"
#include "hearth/gguf/synth.h"
#include "hearth/platform/engine_probe.h"
#include "support/fixtures.h"
#include "support/http_test_client.h"

namespace hearth::platform {
namespace {

using namespace std::chrono_literals;
using hearth::testing::HearthBinary;
using hearth::testing::TempDir;

// Collects the supervisor's reports and lets the test wait for one.
class Recorder {
 public:
  void operator()(const EngineReport& report) {
    {
      std::lock_guard lock(mutex_);
      reports_.push_back(report);
    }
    changed_.notify_all();
  }
  // Waits for a report (after the first `skip`) that satisfies `match`; returns its index.
  template <typename Match>
  std::optional<size_t> WaitFor(Match match, size_t skip = 0,
                                std::chrono::milliseconds timeout = 20s) {
    std::unique_lock lock(mutex_);
    std::optional<size_t> found;
    changed_.wait_for(lock, timeout, [&] {
      for (size_t i = skip; i < reports_.size(); ++i) {
        if (match(reports_[i])) {
          found = i;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::vector<EngineReport> reports() const {
    std::lock_guard lock(mutex_);
    return reports_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<EngineReport> reports_;
};

auto InState(EngineState state) {
  return [state](const EngineReport& r) { return r.state == state; };
}

bool ProcessGone(int64_t pid) {
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Waits for the restart that follows report `after`, then for the restarted engine to be ready;
// returns the index of that ready report.
std::optional<size_t> WaitForRestartedReady(Recorder& recorder, size_t after) {
  auto restart = recorder.WaitFor(
      [](const EngineReport& r) { return r.event == EngineReport::Event::kRestart; }, after);
  EXPECT_TRUE(restart.has_value()) << "no restart after report " << after;
  if (!restart) return std::nullopt;
  return recorder.WaitFor(InState(EngineState::kReady), *restart);
}

SupervisionTimings FastTimings() {
  SupervisionTimings t;
  t.load_timeout = 20s;
  t.health_poll = 20ms;
  t.probe_timeout = 1s;
  t.exit_poll = 20ms;
  t.stop_grace = 5s;
  t.backoff_initial = 50ms;
  t.backoff_max = 200ms;
  t.backoff_reset_after = 60s;
  return t;
}

class EngineSupervisorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    gguf::SynthOptions options;
    options.shape = gguf::ShapePreset("tiny", "llama").value();
    ASSERT_TRUE(gguf::SynthesizeModel(*dir_ / "tiny.gguf", options).ok());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!std::filesystem::exists(HearthBinary())) GTEST_SKIP() << "hearth binary not built";
  }

  EngineLaunch Launch(const std::string& name) const {
    EngineLaunch launch;
    launch.binary = HearthBinary();
    launch.data_dir = data_.path();
    launch.model_path = *dir_ / "tiny.gguf";
    launch.ctx = 256;
    launch.parallel = 2;
    launch.kv_budget_bytes = 1 << 20;
    launch.threads = 1;
    launch.log_path = data_.path() / "logs" / (name + ".log");
    return launch;
  }

  // Starts an engine under a supervisor that then detaches from it, as a platform that exits
  // leaves its engines running; the engine's ready report, or nullopt if it never got ready.
  std::optional<EngineReport> StartDetachedEngine(const std::string& name) const {
    Recorder recorder;
    auto supervisor =
        std::make_unique<EngineSupervisor>(Launch(name), FastTimings(), std::ref(recorder));
    supervisor->Start();
    auto ready = recorder.WaitFor(InState(EngineState::kReady));
    if (!ready) return std::nullopt;  // the supervisor's destructor stops the engine
    const EngineReport running = recorder.reports()[*ready];
    supervisor->Detach();
    supervisor.reset();  // the destructor's stop is ignored after a detach
    return running;
  }

  // A shell script standing in for the binary.
  std::filesystem::path Script(const std::string& name, const std::string& body) const {
    const auto path = data_.path() / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

  static TempDir* dir_;
  TempDir data_;
};
TempDir* EngineSupervisorTest::dir_ = nullptr;

TEST(EngineCommandLineTest, HasTheEngineFlags) {
  EngineLaunch launch;
  launch.binary = "/opt/hearth";
  launch.data_dir = "/var/hearth";
  launch.model_path = "/m/a.gguf";
  launch.ctx = 512;
  launch.parallel = 4;
  EXPECT_EQ(EngineCommandLine(launch, 9000),
            (std::vector<std::string>{"/opt/hearth", "--data-dir", "/var/hearth", "engine",
                                      "--model", "/m/a.gguf", "--host", "127.0.0.1", "--port",
                                      "9000", "--ctx", "512", "--parallel", "4"}));
  launch.kv_budget_bytes = 1234;
  launch.threads = 3;
  launch.data_dir.clear();
  EXPECT_EQ(EngineCommandLine(launch, 1),
            (std::vector<std::string>{"/opt/hearth", "engine", "--model", "/m/a.gguf", "--host",
                                      "127.0.0.1", "--port", "1", "--ctx", "512", "--parallel",
                                      "4", "--kv-budget", "1234", "--threads", "3"}));
}

TEST(RestartBackoffTest, DoublesUpToTheCap) {
  SupervisionTimings t;  // 1 s initial, 60 s cap
  const std::vector<int64_t> expected = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(RestartBackoff(t, static_cast<int>(i + 1)).count(), expected[i]) << i + 1;
  }
  EXPECT_EQ(RestartBackoff(t, 1000).count(), 60000);
}

TEST(DescribeWaitStatusTest, ExitAndSignal) {
  EXPECT_EQ(DescribeWaitStatus(3 << 8), "exit status 3");
  EXPECT_EQ(DescribeWaitStatus(SIGKILL), "killed by signal 9 (Killed)");
}

TEST(PickFreeLoopbackPortTest, ReturnsABindablePort) {
  auto port = PickFreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  EXPECT_GT(*port, 0);
}

TEST_F(EngineSupervisorTest, StartsServesRestartsAfterKillAndStops) {
  Recorder recorder;
  EngineSupervisor supervisor(Launch("chat-1"), FastTimings(), std::ref(recorder));
  supervisor.Start();
  auto ready = recorder.WaitFor(InState(EngineState::kReady));
  ASSERT_TRUE(ready.has_value()) << "engine never became ready";
  const EngineReport first = recorder.reports()[*ready];
  ASSERT_EQ(recorder.reports().front().state, EngineState::kLoading);
  EXPECT_EQ(recorder.reports().front().event, EngineReport::Event::kStateChange);
  EXPECT_GT(first.pid, 0);
  EXPECT_GT(first.port, 0);
  EXPECT_EQ(first.restarts, 0);
  EXPECT_TRUE(IsEngineProcess(first.pid));
  EXPECT_EQ(getpgid(static_cast<pid_t>(first.pid)), first.pid);  // its own process group

  // The replica serves the OpenAI API.
  auto models = LoopbackGet(first.port, "/v1/models", 2s);
  ASSERT_TRUE(models.ok()) << models.status().ToString();
  EXPECT_EQ(models->status, 200);
  EXPECT_EQ(nlohmann::json::parse(models->body)["data"][0]["id"], "tiny-llama");
  // Its output goes to the log file.
  EXPECT_NE(ReadFileToString(data_.path() / "logs" / "chat-1.log").value_or("").find("serving"),
            std::string::npos);

  // kill -9: a failure with the signal, restarts 1, then a new process that becomes ready.
  ASSERT_EQ(kill(static_cast<pid_t>(first.pid), SIGKILL), 0);
  auto failure = recorder.WaitFor(InState(EngineState::kFailed), *ready);
  ASSERT_TRUE(failure.has_value());
  const EngineReport crashed = recorder.reports()[*failure];
  EXPECT_EQ(crashed.event, EngineReport::Event::kFailure);
  EXPECT_EQ(crashed.restarts, 1);
  EXPECT_NE(crashed.last_error.find("killed by signal 9"), std::string::npos) << crashed.last_error;
  EXPECT_EQ(crashed.pid, 0);
  auto ready_again = WaitForRestartedReady(recorder, *failure);
  ASSERT_TRUE(ready_again.has_value());
  const EngineReport second = recorder.reports()[*ready_again];
  EXPECT_NE(second.pid, first.pid);
  EXPECT_EQ(second.restarts, 1);
  EXPECT_EQ(second.last_error, crashed.last_error);  // history is kept after recovery
  EXPECT_TRUE(EngineHealthy(second.port, 2s));

  supervisor.RequestStop();
  supervisor.Join();
  EXPECT_EQ(recorder.reports().back().state, EngineState::kStopped);
  EXPECT_EQ(recorder.reports().back().pid, 0);
  EXPECT_TRUE(ProcessGone(second.pid));
  EXPECT_FALSE(EngineHealthy(second.port, 500ms));
}

TEST_F(EngineSupervisorTest, EngineThatFailsToLoadIsRetriedWithBackoff) {
  EngineLaunch launch = Launch("broken-1");
  launch.model_path = data_.path() / "no-such-model.gguf";
  Recorder recorder;
  EngineSupervisor supervisor(launch, FastTimings(), std::ref(recorder));
  supervisor.Start();
  auto third = recorder.WaitFor([](const EngineReport& r) { return r.restarts >= 3; });
  ASSERT_TRUE(third.has_value());
  const EngineReport failed = recorder.reports()[*third];
  EXPECT_EQ(failed.state, EngineState::kFailed);
  EXPECT_NE(failed.last_error.find("exit status 2 while loading"), std::string::npos)
      << failed.last_error;
  supervisor.RequestStop();
  supervisor.Join();
  EXPECT_EQ(supervisor.Current().state, EngineState::kStopped);
}

TEST_F(EngineSupervisorTest, LoadTimeoutKillsTheProcess) {
  EngineLaunch launch = Launch("slow-1");
  launch.binary = Script("never-ready.sh", "exec sleep 30");
  SupervisionTimings timings = FastTimings();
  timings.load_timeout = 300ms;
  timings.backoff_initial = 10s;  // one attempt is enough
  Recorder recorder;
  EngineSupervisor supervisor(launch, timings, std::ref(recorder));
  supervisor.Start();
  auto loading = recorder.WaitFor(InState(EngineState::kLoading));
  ASSERT_TRUE(loading.has_value());
  const int64_t pid = recorder.reports()[*loading].pid;
  auto failed = recorder.WaitFor(InState(EngineState::kFailed));
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(recorder.reports()[*failed].last_error.find("did not become ready within 0.3 s"),
            std::string::npos);
  EXPECT_TRUE(ProcessGone(pid));
  // A stop during the backoff ends at once.
  const auto before = std::chrono::steady_clock::now();
  supervisor.RequestStop();
  supervisor.Join();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);
  EXPECT_EQ(recorder.reports().back().state, EngineState::kStopped);
}

TEST_F(EngineSupervisorTest, StopEscalatesToSigkillAfterTheGrace) {
  EngineLaunch launch = Launch("stubborn-1");
  launch.binary = Script("ignores-term.sh", "trap '' TERM\nexec sleep 30");
  SupervisionTimings timings = FastTimings();
  timings.stop_grace = 300ms;
  Recorder recorder;
  EngineSupervisor supervisor(launch, timings, std::ref(recorder));
  supervisor.Start();
  auto loading = recorder.WaitFor(InState(EngineState::kLoading));
  ASSERT_TRUE(loading.has_value());
  const int64_t pid = recorder.reports()[*loading].pid;
  std::this_thread::sleep_for(100ms);  // let the script install its trap
  supervisor.RequestStop();
  supervisor.Join();
  EXPECT_EQ(recorder.reports().back().state, EngineState::kStopped);
  EXPECT_TRUE(ProcessGone(pid));
}

TEST_F(EngineSupervisorTest, MissingBinaryIsAFailureNamingIt) {
  EngineLaunch launch = Launch("nobin-1");
  launch.binary = data_.path() / "no-such-hearth";
  Recorder recorder;
  EngineSupervisor supervisor(launch, FastTimings(), std::ref(recorder));
  supervisor.Start();
  auto failed = recorder.WaitFor(InState(EngineState::kFailed));
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(recorder.reports()[*failed].last_error.find("cannot run"), std::string::npos);
  EXPECT_NE(recorder.reports()[*failed].last_error.find("no-such-hearth"), std::string::npos);
}

TEST_F(EngineSupervisorTest, DetachedEngineIsAdoptedByAnotherSupervisor) {
  const std::optional<EngineReport> detached = StartDetachedEngine("adopt-1");
  ASSERT_TRUE(detached.has_value()) << "engine never became ready";
  const EngineReport running = *detached;
  ASSERT_TRUE(EngineHealthy(running.port, 2s));

  Recorder recorder;
  EngineSupervisor adopter(Launch("adopt-1"), FastTimings(), std::ref(recorder), 4, "earlier");
  adopter.Adopt(running.pid, running.port);
  auto adopted = recorder.WaitFor(InState(EngineState::kReady));
  ASSERT_TRUE(adopted.has_value());
  EXPECT_EQ(recorder.reports()[*adopted].pid, running.pid);
  EXPECT_EQ(recorder.reports()[*adopted].restarts, 4);
  EXPECT_EQ(recorder.reports()[*adopted].last_error, "earlier");
  adopter.RequestStop();
  adopter.Join();
  EXPECT_TRUE(ProcessGone(running.pid));
}

// Liveness: probe often and give up quickly, so a hung engine is found in under two seconds.
SupervisionTimings LivenessTimings() {
  SupervisionTimings t = FastTimings();
  t.liveness_interval = 20ms;
  t.probe_timeout = 500ms;
  t.liveness_failures = 3;
  return t;
}

TEST_F(EngineSupervisorTest, HungEngineIsKilledAndRestarted) {
  Recorder recorder;
  EngineSupervisor supervisor(Launch("hung-1"), LivenessTimings(), std::ref(recorder));
  supervisor.Start();
  auto ready = recorder.WaitFor(InState(EngineState::kReady));
  ASSERT_TRUE(ready.has_value()) << "engine never became ready";
  const EngineReport first = recorder.reports()[*ready];
  // Several liveness probes pass while it is healthy.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(recorder.reports().size(), *ready + 1) << "a healthy engine must be left alone";

  // SIGSTOP: the process lives on (no exit to see) but answers nothing.
  ASSERT_EQ(kill(static_cast<pid_t>(first.pid), SIGSTOP), 0);
  auto unresponsive = recorder.WaitFor(InState(EngineState::kFailed), *ready);
  ASSERT_TRUE(unresponsive.has_value()) << "the hung engine was never detected";
  const EngineReport hung = recorder.reports()[*unresponsive];
  EXPECT_EQ(hung.event, EngineReport::Event::kUnresponsive);
  EXPECT_EQ(hung.restarts, 1);
  EXPECT_EQ(hung.pid, 0);
  EXPECT_NE(hung.last_error.find("unresponsive: 3 health probes in a row failed"),
            std::string::npos)
      << hung.last_error;
  EXPECT_NE(hung.last_error.find(std::to_string(first.pid)), std::string::npos);
  EXPECT_TRUE(ProcessGone(first.pid)) << "the hung process must be killed and reaped";

  auto ready_again = WaitForRestartedReady(recorder, *unresponsive);
  ASSERT_TRUE(ready_again.has_value());
  const EngineReport second = recorder.reports()[*ready_again];
  EXPECT_NE(second.pid, first.pid);
  EXPECT_EQ(second.restarts, 1);
  EXPECT_TRUE(EngineHealthy(second.port, 2s));
  supervisor.RequestStop();
  supervisor.Join();
  EXPECT_TRUE(ProcessGone(second.pid));
}

TEST_F(EngineSupervisorTest, HungAdoptedEngineIsKilledToo) {
  const std::optional<EngineReport> detached = StartDetachedEngine("hung-adopt-1");
  ASSERT_TRUE(detached.has_value()) << "engine never became ready";
  const EngineReport running = *detached;

  Recorder recorder;
  SupervisionTimings timings = LivenessTimings();
  timings.backoff_initial = 10s;  // the kill is what this test is about
  EngineSupervisor adopter(Launch("hung-adopt-1"), timings, std::ref(recorder));
  adopter.Adopt(running.pid, running.port);
  ASSERT_TRUE(recorder.WaitFor(InState(EngineState::kReady)).has_value());
  ASSERT_EQ(kill(static_cast<pid_t>(running.pid), SIGSTOP), 0);
  auto unresponsive = recorder.WaitFor(InState(EngineState::kFailed));
  ASSERT_TRUE(unresponsive.has_value());
  EXPECT_EQ(recorder.reports()[*unresponsive].event, EngineReport::Event::kUnresponsive);
  // Still our child here (same test process), but reaped either way: gone, not a zombie.
  EXPECT_TRUE(ProcessGone(running.pid));
  adopter.RequestStop();
  adopter.Join();
}

// A model big enough that one long request keeps the engine's scheduler thread busy for
// about a second (about 25M parameters, one compute thread, 300 tokens).
TEST_F(EngineSupervisorTest, BusyEngineIsNotMistakenForAHungOne) {
  gguf::SynthOptions options;
  options.shape = gguf::ShapePreset("tiny", "llama").value();
  options.shape.n_layers = 8;
  options.shape.n_embd = 512;
  options.shape.n_ff = 1536;
  options.shape.n_heads = 8;
  options.shape.n_kv_heads = 2;
  const auto model = data_.path() / "busy.gguf";
  ASSERT_TRUE(gguf::SynthesizeModel(model, options).ok());
  EngineLaunch launch = Launch("busy-1");
  launch.model_path = model;
  launch.ctx = 2048;
  launch.parallel = 1;
  launch.kv_budget_bytes = 0;
  SupervisionTimings timings = LivenessTimings();
  timings.probe_timeout = 1s;  // generous: only a hang may fail it, not a loaded machine
  Recorder recorder;
  EngineSupervisor supervisor(launch, timings, std::ref(recorder));
  supervisor.Start();
  auto ready = recorder.WaitFor(InState(EngineState::kReady), 0, 60s);
  ASSERT_TRUE(ready.has_value()) << "engine never became ready";
  const EngineReport engine = recorder.reports()[*ready];

  server::testing::TestConnection client(engine.port);
  ASSERT_TRUE(client.SendRequest(
      "POST", "/v1/completions",
      R"({"prompt":"hello","max_tokens":300,"ignore_eos":true,"stream":true})",
      "Content-Type: application/json\r\n"));
  auto headers = client.ReadHeaders(10s);
  ASSERT_TRUE(headers.has_value());
  ASSERT_EQ(headers->status, 200);
  ASSERT_TRUE(client.ReadChunk(10s).has_value()) << "generation did not start";
  std::atomic<bool> finished{false};
  server::testing::HttpResponse rest = *headers;
  std::thread reader([&] {
    client.ReadBody(&rest, 120s);
    finished = true;
  });
  // While the request is generating, /health answers every time (within the 1 s deadline).
  int answered_while_busy = 0;
  while (!finished) {
    const bool healthy = EngineHealthy(engine.port, 1s);
    if (finished) break;
    EXPECT_TRUE(healthy);
    ++answered_while_busy;
    std::this_thread::sleep_for(20ms);
  }
  reader.join();
  EXPECT_GE(answered_while_busy, 10) << "the request was too short to show anything";
  EXPECT_NE(rest.body.find("[DONE]"), std::string::npos) << "the request was cut short";
  // The supervisor probed all along and left the engine alone.
  const auto reports = recorder.reports();
  EXPECT_EQ(reports.size(), *ready + 1);
  EXPECT_EQ(supervisor.Current().state, EngineState::kReady);
  EXPECT_EQ(supervisor.Current().pid, engine.pid);
  EXPECT_EQ(supervisor.Current().restarts, 0);
  supervisor.RequestStop();
  supervisor.Join();
}

TEST(IsEngineProcessTest, ChecksTheCommandLine) {
  EXPECT_FALSE(IsEngineProcess(getpid()));  // the test binary has no "engine" argument
  EXPECT_FALSE(IsEngineProcess(0));
  EXPECT_FALSE(IsEngineProcess(1 << 30));
  const pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    // "engine" is $0 of the script; "; true" keeps the shell from exec'ing sleep in its place.
    execl("/bin/sh", "sh", "-c", "sleep 30; true", "engine", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(child, 0);
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    seen = IsEngineProcess(child);
    if (!seen) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(seen);
  kill(-child, SIGKILL);
  int status;
  waitpid(child, &status, 0);
  EXPECT_FALSE(IsEngineProcess(child));
}

}  // namespace
}  // namespace hearth::platform
