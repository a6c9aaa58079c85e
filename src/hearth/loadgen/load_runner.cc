#include "hearth/loadgen/load_runner.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>
#include <random>

namespace hearth::loadgen {
namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Per-request measurement from the SSE events as they arrive.
struct Measurement {
  RequestRecord record;
  Clock::time_point sent;
  Clock::time_point last_token;
  bool seen_token = false;
  int64_t content_chunks = 0;
  std::string text;

  void OnEvent(Clock::time_point t, std::string_view data) {
    if (data == "[DONE]") return;
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    if (j.contains("usage") && j["usage"].is_object()) {
      const auto& u = j["usage"];
      record.prompt_tokens = u.value("prompt_tokens", record.prompt_tokens);
      record.output_tokens = u.value("completion_tokens", record.output_tokens);
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
    const auto& c = j["choices"][0];
    std::string piece;
    if (c.contains("delta") && c["delta"].is_object()) {
      const auto& d = c["delta"];
      if (d.contains("content") && d["content"].is_string()) piece = d["content"].get<std::string>();
      if (d.contains("reasoning_content") && d["reasoning_content"].is_string()) {
        piece += d["reasoning_content"].get<std::string>();
      }
    } else if (c.contains("text") && c["text"].is_string()) {
      piece = c["text"].get<std::string>();
    } else if (c.contains("message") && c["message"].is_object()) {
      const auto& m = c["message"];
      if (m.contains("content") && m["content"].is_string()) piece = m["content"].get<std::string>();
    }
    if (piece.empty()) return;
    text += piece;
    ++content_chunks;
    if (!seen_token) {
      record.ttft_s = Seconds(t - sent);
      seen_token = true;
    } else {
      record.itl_s.push_back(Seconds(t - last_token));
    }
    last_token = t;
  }
};

class Runner {
 public:
  Runner(const RunOptions& options, Workload& workload)
      : options_(options), workload_(workload), arrival_timer_(io_), rng_(options.seed ^ 0x5eed) {}

  RunResult Run() {
    if (options_.warmup_requests > 0) {
      phase_total_ = options_.warmup_requests;
      measuring_ = false;
      StartPhase();
      io_.run();
      io_.restart();
    }
    phase_total_ = options_.num_requests;
    measuring_ = true;
    begin_ = Clock::now();
    StartPhase();
    io_.run();
    result_.duration_s = Seconds(end_ - begin_);
    return std::move(result_);
  }

 private:
  void StartPhase() {
    issued_ = 0;
    finished_ = 0;
    in_flight_ = 0;
    arrivals_ = 0;
    phase_start_ = Clock::now();
    if (options_.request_rate <= 0) {
      int users = std::max(1, options_.concurrency);
      for (int u = 0; u < users; ++u) IssueFor(u);
    } else {
      ScheduleArrival();
    }
  }

  bool MayIssue() const {
    if (issued_ >= phase_total_) return false;
    if (measuring_ && options_.max_duration_s > 0 &&
        Seconds(Clock::now() - phase_start_) >= options_.max_duration_s) {
      return false;
    }
    return true;
  }

  // Closed loop: user `u` sends its next request.
  void IssueFor(int user) {
    if (!MayIssue()) return;
    Send(user, workload_.Next(user), [this, user] { IssueFor(user); });
  }

  // Open loop: Poisson arrivals; over the concurrency cap they wait in a queue.
  void ScheduleArrival() {
    if (arrivals_ >= phase_total_) return;
    if (measuring_ && options_.max_duration_s > 0 &&
        Seconds(Clock::now() - phase_start_) >= options_.max_duration_s) {
      return;
    }
    std::exponential_distribution<double> gap(options_.request_rate);
    double wait_s = arrivals_ == 0 ? 0.0 : gap(rng_);
    arrival_timer_.expires_after(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s)));
    arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      backlog_.push_back(arrivals_++);
      DrainBacklog();
      ScheduleArrival();
    });
  }

  void DrainBacklog() {
    while (!backlog_.empty() && (options_.concurrency <= 0 || in_flight_ < options_.concurrency)) {
      int index = backlog_.front();
      backlog_.pop_front();
      Send(index, workload_.Next(index), [this] { DrainBacklog(); });
    }
  }

  void Send(int user, const PlannedRequest& planned, std::function<void()> then) {
    ++issued_;
    ++in_flight_;
    auto m = std::make_shared<Measurement>();
    m->record.prompt_tokens = planned.prompt_tokens;
    m->sent = Clock::now();
    m->record.start_s = Seconds(m->sent - begin_);
    Endpoint endpoint = options_.endpoint;
    endpoint.target += options_.chat ? "/v1/chat/completions" : "/v1/completions";
    StartStreamCall(
        io_, endpoint, BuildRequestBody(options_, planned), options_.timeout,
        [m](Clock::time_point t, std::string_view data) { m->OnEvent(t, data); },
        [this, m, user, then = std::move(then)](const CallOutcome& outcome) {
          auto now = Clock::now();
          m->record.ok = outcome.ok && m->seen_token;
          m->record.latency_s = Seconds(now - m->sent);
          if (!outcome.ok) {
            m->record.error_kind = outcome.error_kind;
          } else if (!m->seen_token) {
            m->record.error_kind = "no_tokens";
          }
          if (m->record.output_tokens == 0) m->record.output_tokens = m->content_chunks;
          if (m->record.ok) workload_.OnResponse(user, m->text);
          --in_flight_;
          ++finished_;
          if (measuring_) {
            result_.records.push_back(std::move(m->record));
            end_ = now;
            if (options_.progress) options_.progress(finished_, phase_total_);
          }
          then();
        });
  }

  const RunOptions& options_;
  Workload& workload_;
  boost::asio::io_context io_;
  boost::asio::steady_timer arrival_timer_;
  std::mt19937_64 rng_;
  std::deque<int> backlog_;
  RunResult result_;
  Clock::time_point begin_, end_, phase_start_;
  int phase_total_ = 0, arrivals_ = 0, issued_ = 0, finished_ = 0, in_flight_ = 0;
  bool measuring_ = false;
};

}  // namespace

std::string BuildRequestBody(const RunOptions& options, const PlannedRequest& planned) {
  nlohmann::json body = {{"model", options.model},
                         {"max_tokens", planned.max_tokens},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}},
                         {"temperature", options.temperature}};
  if (options.ignore_eos) body["ignore_eos"] = true;
  if (options.chat) {
    body["messages"] = planned.messages;
  } else {
    body["prompt"] = planned.prompt;
  }
  return body.dump();
}

RunResult RunBenchmark(const RunOptions& options, Workload& workload) {
  Runner runner(options, workload);
  return runner.Run();
}

}  // namespace hearth::loadgen
