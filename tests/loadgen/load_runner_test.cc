// Runs the load generator against a small scripted SSE server on 127.0.0.1 whose timings are
// known, and checks that the measured TTFT, ITL, token counts and errors match the script.
#include "hearth/loadgen/load_runner.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "hearth/loadgen/request_metrics.h"
#include "support/fixtures.h"

namespace hearth::loadgen {
namespace {

// Accepts connections; for each, reads the request and answers with an SSE stream of `tokens`
// chunks: the first after `first_delay_ms`, the rest `gap_ms` apart; every `fail_every`-th
// request (1-based) gets a 503 instead.
class ScriptedServer {
 public:
  ScriptedServer(int tokens, int first_delay_ms, int gap_ms, int fail_every)
      : tokens_(tokens), first_delay_ms_(first_delay_ms), gap_ms_(gap_ms), fail_every_(fail_every) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 64);
    thread_ = std::thread([this] { Loop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (auto& t : workers_) t.join();
  }
  int port() const { return port_; }
  std::string last_body() {
    std::lock_guard lock(mutex_);
    return last_body_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) break;
      int n = ++count_;
      workers_.emplace_back([this, c, n] { Serve(c, n); });
    }
  }
  void Serve(int c, int n) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t r = read(c, buf, sizeof(buf));
      if (r <= 0) break;
      request.append(buf, r);
    }
    size_t header_end = request.find("\r\n\r\n") + 4;
    size_t cl = request.find("Content-Length: ");
    size_t length = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
    while (request.size() < header_end + length) {
      ssize_t r = read(c, buf, sizeof(buf));
      if (r <= 0) break;
      request.append(buf, r);
    }
    {
      std::lock_guard lock(mutex_);
      last_body_ = request.substr(header_end);
    }
    auto send = [c](const std::string& s) { (void)!write(c, s.data(), s.size()); };
    if (fail_every_ > 0 && n % fail_every_ == 0) {
      send("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
    } else {
      send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
      for (int i = 0; i < tokens_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? first_delay_ms_ : gap_ms_));
        send("data: {\"choices\":[{\"index\":0,\"text\":\"t" + std::to_string(i) + "\"}]}\n\n");
      }
      send("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":" +
           std::to_string(tokens_) + "}}\n\ndata: [DONE]\n\n");
    }
    close(c);
  }

  int tokens_, first_delay_ms_, gap_ms_, fail_every_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0};
  std::thread thread_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::string last_body_;
};

RunOptions Options(int port) {
  RunOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = std::to_string(port);
  o.model = "m";
  return o;
}

TEST(LoadRunnerTest, ClosedLoopMeasuresScriptedTimings) {
  ScriptedServer server(/*tokens=*/5, /*first_delay_ms=*/80, /*gap_ms=*/20, /*fail_every=*/0);
  RunOptions o = Options(server.port());
  o.concurrency = 4;
  o.num_requests = 8;
  o.warmup_requests = 2;
  WorkloadOptions w;
  w.input_len = 10;
  w.output_len = 5;
  auto workload = MakeWorkload(w, nullptr);
  ASSERT_TRUE(workload.ok());
  auto result = RunBenchmark(o, **workload);
  ASSERT_EQ(result.records.size(), 8u);  // warm-up excluded
  auto s = Summarize(result.records, result.duration_s, {});
  EXPECT_EQ(s.completed, 8);
  EXPECT_EQ(s.total_output_tokens, 40);
  EXPECT_EQ(s.total_input_tokens, 56);  // from the server's usage
  EXPECT_GE(s.ttft_s.min, 0.075);
  EXPECT_LT(s.ttft_s.median, 0.5);
  EXPECT_GE(s.itl_s.min, 0.015);
  EXPECT_EQ(s.itl_s.count, 32);
  // Two rounds of 4 concurrent requests each taking >= 160 ms.
  EXPECT_GE(result.duration_s, 0.3);
  auto body = nlohmann::json::parse(server.last_body());
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["max_tokens"], 5);
  EXPECT_EQ(body["ignore_eos"], true);
  EXPECT_TRUE(body["stream_options"]["include_usage"].get<bool>());
}

TEST(LoadRunnerTest, OpenLoopCountsErrorsByKind) {
  ScriptedServer server(/*tokens=*/2, 5, 5, /*fail_every=*/3);
  RunOptions o = Options(server.port());
  o.request_rate = 200;
  o.concurrency = 2;
  o.num_requests = 9;
  WorkloadOptions w;
  auto workload = MakeWorkload(w, nullptr);
  ASSERT_TRUE(workload.ok());
  auto result = RunBenchmark(o, **workload);
  auto s = Summarize(result.records, result.duration_s, {});
  EXPECT_EQ(s.completed + s.failed, 9);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.errors_by_kind["http_503"], 3);
}

TEST(LoadRunnerTest, ConnectionRefusedIsAnError) {
  int port;
  {
    ScriptedServer probe(1, 0, 0, 0);
    port = probe.port();
  }
  RunOptions o = Options(port);
  o.num_requests = 2;
  o.concurrency = 1;
  auto workload = MakeWorkload({}, nullptr);
  auto result = RunBenchmark(o, **workload);
  auto s = Summarize(result.records, result.duration_s, {});
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.errors_by_kind["connect"], 2);
}

TEST(WorkloadTest, SharedPrefixAndJsonl) {
  WorkloadOptions w;
  w.kind = WorkloadKind::kSharedPrefix;
  w.prefix_len = 20;
  w.suffix_len = 3;
  auto shared = MakeWorkload(w, nullptr);
  ASSERT_TRUE(shared.ok());
  std::string a = (*shared)->Next(0).prompt.get<std::string>();
  std::string b = (*shared)->Next(1).prompt.get<std::string>();
  EXPECT_EQ(a.substr(0, 40), b.substr(0, 40));
  EXPECT_NE(a, b);

  testing::TempDir dir;
  std::ofstream(dir / "p.jsonl")
      << "{\"prompt\": \"hello\", \"max_tokens\": 3}\n\n"
      << "{\"conversations\": [{\"from\": \"human\", \"value\": \"hi there\"}, {\"from\": "
         "\"gpt\", \"value\": \"0123456789abcdef\"}]}\n";
  w.kind = WorkloadKind::kJsonl;
  w.jsonl_path = (dir / "p.jsonl").string();
  auto jsonl = MakeWorkload(w, nullptr);
  ASSERT_TRUE(jsonl.ok()) << jsonl.status().message();
  auto first = (*jsonl)->Next(0);
  EXPECT_EQ(first.prompt, "hello");
  EXPECT_EQ(first.max_tokens, 3);
  auto second = (*jsonl)->Next(1);
  EXPECT_EQ(second.prompt, "hi there");
  EXPECT_EQ(second.max_tokens, 5);  // estimated from the reply's length
  EXPECT_EQ((*jsonl)->Next(2).prompt, "hello");  // cycles

  std::ofstream(dir / "bad.jsonl") << "{\"prompt\": \"ok\"}\n{not json\n";
  w.jsonl_path = (dir / "bad.jsonl").string();
  auto bad = MakeWorkload(w, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.jsonl:2"), std::string::npos);
}

}  // namespace
}  // namespace hearth::loadgen

namespace hearth::loadgen {
namespace {

TEST(WorkloadTest, TokenExactPromptsWithACodec) {
  auto codec = std::make_shared<TextCodec>();
  codec->vocab_size = 50;
  codec->is_plain_token = [](int32_t id) { return id % 5 != 0; };  // every 5th is "control"
  codec->decode = [](const std::vector<int32_t>& ids) { return std::string(ids.size(), 'x'); };
  codec->encode = [](std::string_view text) { return std::vector<int32_t>(text.size(), 1); };
  WorkloadOptions w;
  w.input_len = 37;
  w.kind = WorkloadKind::kSharedPrefix;
  w.prefix_len = 20;
  w.suffix_len = 5;
  auto workload = MakeWorkload(w, codec);
  ASSERT_TRUE(workload.ok());
  auto a = (*workload)->Next(0);
  auto b = (*workload)->Next(1);
  ASSERT_TRUE(a.prompt.is_array());
  EXPECT_TRUE(a.token_exact);
  EXPECT_EQ(a.prompt.size(), 25u);
  EXPECT_EQ(a.prompt_tokens, 25);
  for (const auto& id : a.prompt) {
    EXPECT_GE(id.get<int>(), 0);
    EXPECT_LT(id.get<int>(), 50);
    EXPECT_NE(id.get<int>() % 5, 0);
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.prompt[i], b.prompt[i]);  // shared prefix
  EXPECT_NE(a.prompt, b.prompt);
}

}  // namespace
}  // namespace hearth::loadgen
