#include "platform_fixture.h"

#include <signal.h>

#include <sstream>

namespace hearth::e2e {

using nlohmann::json;
using namespace std::chrono_literals;

void PlatformE2eTest::SetUp() {
  ASSERT_TRUE(std::filesystem::exists(hearth::testing::HearthBinary()))
      << "build the hearth target first: " << hearth::testing::HearthBinary();
  dir_ = std::make_unique<hearth::testing::TempDir>();
  data_dir_ = *dir_ / "data";
  model_ = *dir_ / "tiny.gguf";
  auto synth = hearth::testing::RunCommand(
      hearth::testing::HearthBinary().string() + " model synth " + model_.string() +
      " --preset tiny --arch qwen2 --type q8_0 --seed 1");
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
}

void PlatformE2eTest::TearDown() {
  // Anything still running from this test's data directory is ours: the platforms this test
  // started and the engines they spawned. Kill them so later tests start clean.
  if (dir_) {
    for (pid_t pid : ProcessesMentioning(dir_->path().string())) kill(pid, SIGKILL);
  }
}

std::optional<RunningPlatform> PlatformE2eTest::StartPlatform(
    const std::vector<std::string>& extra_args) {
  // A free port can be taken by someone else before the platform binds it: retry then.
  for (int attempt = 0; attempt < 3; ++attempt) {
    RunningPlatform platform;
    platform.port = FreeLoopbackPort();
    std::vector<std::string> args = {"--data-dir", data_dir_.string(), "serve", "--model",
                                     model_.string(), "--port", std::to_string(platform.port)};
    if (!database_.empty()) args.insert(args.end(), {"--database", database_});
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    ++starts_;
    platform.process = HearthProcess::Start(
        hearth::testing::HearthBinary(), args, {{"HEARTH_ADMIN_PASSWORD", kAdminPassword}},
        *dir_ / ("platform-" + std::to_string(starts_)));
    if (!platform.process) {
      ADD_FAILURE() << "cannot start " << hearth::testing::HearthBinary();
      return std::nullopt;
    }
    auto key = platform.process->WaitForStdoutLine("hearth: API key (shown once): ", 30s);
    if (key) {
      platform.api_key = *key;
      return platform;
    }
    const std::string err = platform.process->Stderr();
    if (platform.process->Running() || err.find("in use") == std::string::npos) {
      ADD_FAILURE() << "no API key printed; stdout:\n"
                    << platform.process->Stdout() << "\nstderr:\n"
                    << err;
      return std::nullopt;
    }
  }
  ADD_FAILURE() << "no free port found";
  return std::nullopt;
}

std::string PlatformE2eTest::AdminToken(uint16_t port) {
  json login = {{"username", "admin"}, {"password", kAdminPassword}};
  HttpReply reply =
      HttpCall(port, "POST", "/admin/v1/login", login.dump(), JsonWithBearer(""), 30s);
  if (reply.status != 200) {
    ADD_FAILURE() << "login: " << reply.status << " " << reply.body << " " << reply.error;
    return "";
  }
  json body = json::parse(reply.body, nullptr, false);
  if (!body.is_object() || !body.contains("token") || !body["token"].is_string()) {
    ADD_FAILURE() << "login answer without a token: " << reply.body;
    return "";
  }
  return body["token"].get<std::string>();
}

Completion PlatformE2eTest::Complete(uint16_t port, const std::string& key, bool stream,
                                     std::chrono::milliseconds timeout) {
  json request = {{"model", kDeployment},
                  {"messages", json::array({{{"role", "user"}, {"content", "Hello there"}}})},
                  {"max_tokens", 4}};
  if (stream) {
    request["stream"] = true;
    request["stream_options"] = {{"include_usage", true}};
  }
  HttpReply reply = HttpCall(port, "POST", "/v1/chat/completions", request.dump(),
                             JsonWithBearer(key), timeout);
  Completion completion;
  completion.status = reply.status;
  completion.detail = std::to_string(reply.status) + " " + reply.error + " " + reply.body;
  if (reply.status != 200 || !reply.complete) return completion;
  if (!stream) {
    json body = json::parse(reply.body, nullptr, false);
    if (!body.is_object() || !body.contains("usage") || !body.contains("choices")) {
      return completion;
    }
    completion.prompt_tokens = body["usage"].value("prompt_tokens", int64_t{0});
    completion.completion_tokens = body["usage"].value("completion_tokens", int64_t{0});
    completion.acknowledged = true;
    return completion;
  }
  // A stream counts only when it ends with [DONE], carried the usage chunk and no error event.
  bool done = false;
  bool usage = false;
  std::istringstream lines(reply.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("data: ", 0) != 0) continue;
    std::string data = line.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json event = json::parse(data, nullptr, false);
    if (!event.is_object() || event.contains("error")) return completion;
    if (event.contains("usage") && event["usage"].is_object()) {
      usage = true;
      completion.prompt_tokens = event["usage"].value("prompt_tokens", int64_t{0});
      completion.completion_tokens = event["usage"].value("completion_tokens", int64_t{0});
    }
  }
  completion.acknowledged = done && usage;
  return completion;
}

bool PlatformE2eTest::WaitUntilServing(uint16_t port, const std::string& key,
                                       std::chrono::milliseconds timeout) {
  Completion last;
  bool ok = WaitUntil(
      [&] {
        last = Complete(port, key, /*stream=*/false, 10s);
        return last.acknowledged;
      },
      timeout, 100ms);
  if (!ok) ADD_FAILURE() << "no successful completion in time; last: " << last.detail;
  return ok;
}

std::optional<int> PlatformE2eTest::Terminate(RunningPlatform& platform,
                                              std::chrono::milliseconds timeout) {
  platform.process->Signal(SIGTERM);
  return platform.process->WaitForExit(timeout);
}

bool PlatformE2eTest::NoProcessesLeft(std::chrono::milliseconds timeout) {
  const std::string needle = data_dir_.string();
  return WaitUntil([&] { return ProcessesMentioning(needle).empty(); }, timeout);
}

json PlatformE2eTest::AdminGet(uint16_t port, const std::string& token,
                               const std::string& target) {
  HttpReply reply = HttpCall(port, "GET", target, {}, JsonWithBearer(token), 30s);
  if (reply.status != 200) {
    ADD_FAILURE() << "GET " << target << ": " << reply.status << " " << reply.body << " "
                  << reply.error;
    return nullptr;
  }
  json body = json::parse(reply.body, nullptr, false);
  if (body.is_discarded()) {
    ADD_FAILURE() << "GET " << target << ": not JSON: " << reply.body;
    return nullptr;
  }
  return body;
}

}  // namespace hearth::e2e
