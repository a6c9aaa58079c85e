#include "hearth/platform/gateway.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/beast/core/string.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "hearth/server/api_error.h"
#include "hearth/server/json_util.h"
#include "hearth/server/sse.h"

namespace hearth::platform {
namespace {

using nlohmann::json;
using server::ApiError;
using server::HeaderList;
using server::ResponseChannel;
namespace http = boost::beast::http;

constexpr std::string_view kModelsPrefix = "/v1/models/";
// The longest SSE event the gateway accepts from an engine (its events are a few hundred bytes).
constexpr size_t kMaxSseEventBytes = 1u << 20;

// Outcomes counted in hearth_gateway_requests_total{outcome=...}.
enum Outcome {
  kOk,
  kUnauthorized,
  kBadRequest,
  kNotFound,
  kRateLimited,
  kNoReplica,
  kUpstreamError,
  kEngineError,
  kClientGone,
  kUsageFailed,
  kOutcomeCount
};
constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames = {
    "ok",         "unauthorized",   "bad_request",  "not_found",   "rate_limited",
    "no_replica", "upstream_error", "engine_error", "client_gone", "usage_failed"};

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

std::string VerbName(http::verb verb) {
  const auto name = http::to_string(verb);
  return std::string(name.data(), name.size());
}

ApiError Unauthorized(std::string message) {
  return {401, std::move(message), "invalid_request_error", "", "invalid_api_key"};
}

ApiError UpstreamFailed(std::string message) {
  return {502, std::move(message), "server_error", "", "upstream_error"};
}

// The "usage" object of an engine response: prompt and completion tokens, if present.
std::optional<std::pair<int64_t, int64_t>> ReadUsage(const json& object) {
  auto usage = object.find("usage");
  if (usage == object.end() || !usage->is_object()) return std::nullopt;
  auto prompt = usage->find("prompt_tokens");
  auto completion = usage->find("completion_tokens");
  if (prompt == usage->end() || completion == usage->end() || !prompt->is_number_integer() ||
      !completion->is_number_integer()) {
    return std::nullopt;
  }
  return std::make_pair(prompt->get<int64_t>(), completion->get<int64_t>());
}

// True when a stream chunk carries generated text (one engine token yields at most one).
bool HasContent(const json& chunk) {
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array()) return false;
  for (const auto& choice : *choices) {
    if (!choice.is_object()) continue;
    if (auto text = choice.find("text");
        text != choice.end() && text->is_string() && !text->get_ref<const std::string&>().empty()) {
      return true;
    }
    if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
      if (auto content = delta->find("content"); content != delta->end() && content->is_string() &&
                                                 !content->get_ref<const std::string&>().empty()) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

struct Gateway::Core {
  Core(Store& s, Identity& i, const ReplicaDirectory& d, GatewayOptions o)
      : store(s),
        identity(i),
        directory(d),
        options(std::move(o)),
        limiter(s, options.rate_limits),
        meter(std::make_unique<UsageMeter>(s, options.usage)),
        proxy(std::make_unique<UpstreamProxy>(options.upstream)) {}

  Store& store;
  Identity& identity;
  const ReplicaDirectory& directory;
  const GatewayOptions options;
  RateLimiter limiter;
  // Reset by ~Gateway (proxy first: no upstream event arrives once it is gone); requests still
  // alive afterwards find them null and finish without them.
  std::unique_ptr<UsageMeter> meter;
  std::unique_ptr<UpstreamProxy> proxy;

  std::array<std::atomic<int64_t>, kOutcomeCount> outcomes{};
  std::atomic<int64_t> streams_started{0};
  std::atomic<int64_t> held_bytes{0};
  std::atomic<int64_t> peak_held_bytes{0};
  std::atomic<int64_t> peak_client_queue_bytes{0};

  static void RaisePeak(std::atomic<int64_t>& peak, int64_t value) {
    int64_t seen = peak.load(std::memory_order_relaxed);
    while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
  }

  mutable std::mutex mutex;
  std::condition_variable idle_cv;
  std::map<int64_t, int> outstanding;  // replica id -> requests in flight there
  uint64_t rotation = 0;               // breaks ties between equally loaded replicas
  int in_flight = 0;

  void Count(Outcome outcome) { outcomes[outcome].fetch_add(1, std::memory_order_relaxed); }

  void Audit(std::string actor, std::string action, std::string target, std::string result,
             std::string detail) {
    if (!meter) return;
    AuditEntry entry;
    entry.actor = std::move(actor);
    entry.action = std::move(action);
    entry.target = std::move(target);
    entry.result = std::move(result);
    entry.detail = std::move(detail);
    meter->Audit(std::move(entry));
  }

  // The least loaded of `candidates` not yet in `tried`; its counter is taken.
  std::optional<ReplicaEndpoint> PickReplica(const std::vector<ReplicaEndpoint>& candidates,
                                             const std::vector<int64_t>& tried) {
    std::lock_guard lock(mutex);
    const size_t n = candidates.size();
    std::optional<size_t> best;
    int best_load = 0;
    const size_t start = n == 0 ? 0 : rotation++ % n;
    for (size_t k = 0; k < n; ++k) {
      const ReplicaEndpoint& r = candidates[(start + k) % n];
      if (std::find(tried.begin(), tried.end(), r.replica_id) != tried.end()) continue;
      auto it = outstanding.find(r.replica_id);
      const int load = it == outstanding.end() ? 0 : it->second;
      if (!best || load < best_load) {
        best = (start + k) % n;
        best_load = load;
      }
    }
    if (!best) return std::nullopt;
    ++outstanding[candidates[*best].replica_id];
    return candidates[*best];
  }

  void ReleaseReplica(int64_t replica_id) {
    std::lock_guard lock(mutex);
    auto it = outstanding.find(replica_id);
    if (it != outstanding.end() && --it->second <= 0) outstanding.erase(it);
  }

  void Enter() {
    std::lock_guard lock(mutex);
    ++in_flight;
  }
  void Leave() {
    {
      std::lock_guard lock(mutex);
      --in_flight;
    }
    idle_cv.notify_all();
  }
};

namespace {

// The usage row of one request answered after authentication (every such request is one row).
UsageEvent RequestUsage(const Gateway::Core& core, const ApiKey& key, std::string deployment,
                        std::pair<int64_t, int64_t> tokens, int http_status, bool error) {
  UsageEvent event;
  event.tenant_id = key.tenant_id;
  event.key_id = key.id;
  event.deployment = std::move(deployment);
  event.at = core.options.clock();
  event.prompt_tokens = tokens.first;
  event.completion_tokens = tokens.second;
  event.http_status = http_status;
  event.error = error;
  return event;
}

// One generation request from admission to its last byte. Lives on the client connection's
// strand: every upstream and meter event is posted there.
class ProxiedRequest : public std::enable_shared_from_this<ProxiedRequest> {
 public:
  ProxiedRequest(std::shared_ptr<Gateway::Core> core, std::shared_ptr<ResponseChannel> channel)
      : core_(std::move(core)), channel_(std::move(channel)) {
    core_->Enter();
  }

  ~ProxiedRequest() { Done(kClientGone); }

  ApiKey key;
  std::string deployment;
  std::string target;
  std::string body;  // the forwarded body
  bool stream = false;
  bool client_wants_usage = false;
  std::optional<RateLimiter::Permit> permit;
  std::vector<ReplicaEndpoint> candidates;

  void Start() {
    channel_->OnClientGone([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->OnClientGone();
    });
    Forward();
  }

 private:
  enum class Mode { kWaiting, kStreaming, kBuffered };

  void Forward() {
    auto replica = core_->PickReplica(candidates, tried_);
    if (!replica || !core_->proxy) {
      HeaderList headers = {
          {"Retry-After", std::to_string(core_->options.no_replica_retry_after_s)}};
      const ApiError error = ApiError::Overloaded(
          tried_.empty()
              ? fmt::format("The model '{}' has no ready replica; retry later", deployment)
              : fmt::format("No replica of the model '{}' is reachable; retry later", deployment));
      return Fail(kNoReplica, 503, "application/json", error.ToJson(), std::move(headers));
    }
    replica_id_ = replica->replica_id;
    tried_.push_back(replica->replica_id);
    UpstreamRequest request;
    request.host = replica->host;
    request.port = replica->port;
    request.target = target;
    request.body = body;  // kept: a failed connect may retry on another replica
    if (stream) request.receive_window = core_->options.stream_window_bytes;
    auto self = shared_from_this();
    UpstreamHandler handler;
    handler.on_headers = [self](int status, HeaderList headers) {
      self->channel_->Post([self, status, headers = std::move(headers)]() mutable {
        self->OnHeaders(status, std::move(headers));
      });
    };
    handler.on_data = [self](std::string data) {
      self->channel_->Post([self, data = std::move(data)]() mutable { self->OnData(data); });
    };
    handler.on_complete = [self](Status status) {
      self->channel_->Post([self, status = std::move(status)] { self->OnComplete(status); });
    };
    call_ = core_->proxy->Start(std::move(request), std::move(handler));
  }

  void OnHeaders(int status, HeaderList headers) {
    if (finished_) return;
    upstream_status_ = status;
    std::string content_type;
    for (auto& [name, value] : headers) {
      if (boost::beast::iequals(name, "Content-Type")) content_type = value;
      if (boost::beast::iequals(name, "Retry-After")) retry_after_ = value;
    }
    if (stream && status == 200 && content_type.starts_with("text/event-stream")) {
      mode_ = Mode::kStreaming;
      core_->streams_started.fetch_add(1, std::memory_order_relaxed);
      channel_->BeginStream(200, "text/event-stream");
    } else {
      mode_ = Mode::kBuffered;
      content_type_ = content_type.empty() ? "application/json" : content_type;
    }
  }

  void OnData(const std::string& data) {
    if (finished_) return;
    if (mode_ == Mode::kBuffered) {
      // A whole response (an error, or a non-streaming body) is needed before anything is sent.
      buffered_.append(data);
      if (stream && call_) call_->Acknowledge(data.size());  // streams have a receive window
      return;
    }
    if (mode_ != Mode::kStreaming) return;
    Hold(data.size());
    sse_buffer_.append(data);
    std::string out;
    for (;;) {
      // Events end with a blank line; tolerate CRLF framing too.
      size_t end = sse_buffer_.find("\n\n");
      size_t sep = 2;
      if (const size_t crlf = sse_buffer_.find("\r\n\r\n");
          crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
        end = crlf;
        sep = 4;
      }
      if (end == std::string::npos) break;
      const std::string event = sse_buffer_.substr(0, end);
      sse_buffer_.erase(0, end + sep);
      HandleEvent(event, &out);
    }
    if (!out.empty()) {
      channel_->Write(std::move(out));
      Gateway::Core::RaisePeak(core_->peak_client_queue_bytes,
                               static_cast<int64_t>(channel_->pending_bytes()));
    }
    if (sse_buffer_.size() > kMaxSseEventBytes) {
      // An event without end: the engine is broken; do not buffer it without bound.
      if (call_) {
        call_->Cancel();
        call_.reset();
      }
      return FinishStream(Status::IoError("an event exceeded 1 MiB"));
    }
    MaybeAcknowledge();
  }

  // Flow control: bytes read from the replica are held until the client connection's queue is
  // down to a quarter of the window, then acknowledged so the upstream call reads on.
  void Hold(size_t bytes) {
    unacknowledged_ += bytes;
    core_->held_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
    Gateway::Core::RaisePeak(core_->peak_held_bytes, static_cast<int64_t>(unacknowledged_));
  }

  void Release(bool acknowledge = true) {
    if (unacknowledged_ == 0) return;
    core_->held_bytes.fetch_sub(static_cast<int64_t>(unacknowledged_), std::memory_order_relaxed);
    if (acknowledge && call_) call_->Acknowledge(unacknowledged_);
    unacknowledged_ = 0;
  }

  void MaybeAcknowledge() {
    if (unacknowledged_ == 0 || finished_) return;
    const size_t low_water = core_->options.stream_window_bytes / 4;
    if (channel_->pending_bytes() <= low_water) return Release();
    if (drain_armed_) return;
    drain_armed_ = true;
    channel_->OnDrained(low_water, [weak = weak_from_this()] {
      if (auto self = weak.lock()) {
        self->drain_armed_ = false;
        self->MaybeAcknowledge();
      }
    });
  }

  // One SSE event from the engine: pass it on (model renamed), hold [DONE], read the usage.
  void HandleEvent(const std::string& event, std::string* out) {
    std::string payload;
    size_t pos = 0;
    while (pos <= event.size()) {
      size_t eol = event.find('\n', pos);
      if (eol == std::string::npos) eol = event.size();
      std::string_view line(event.data() + pos, eol - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.starts_with("data:")) {
        line.remove_prefix(5);
        if (line.starts_with(' ')) line.remove_prefix(1);
        if (!payload.empty()) payload.push_back('\n');
        payload.append(line);
      }
      pos = eol + 1;
    }
    if (payload == "[DONE]") {
      saw_done_ = true;  // released once the usage is committed
      return;
    }
    json chunk = json::parse(payload, nullptr, false);
    if (chunk.is_discarded() || !chunk.is_object()) {
      out->append(event).append("\n\n");
      return;
    }
    if (chunk.contains("error")) engine_error_ = true;
    if (HasContent(chunk)) ++content_events_;
    if (chunk.contains("model")) chunk["model"] = deployment;
    if (auto usage = ReadUsage(chunk)) {
      usage_ = usage;
      if (!client_wants_usage) {
        auto choices = chunk.find("choices");
        // The usage-only chunk exists because we asked for it: the client never sees it.
        if (choices == chunk.end() || !choices->is_array() || choices->empty()) return;
        chunk.erase("usage");
      }
    }
    out->append(server::SseEvent(server::DumpJson(chunk)));
  }

  void OnComplete(const Status& status) {
    if (finished_) return;
    call_.reset();
    if (mode_ == Mode::kWaiting && status.code() == StatusCode::kUnavailable) {
      // Never reached the replica (it died since the directory saw it ready): try another.
      spdlog::warn("gateway: {}", status.message());
      core_->ReleaseReplica(replica_id_);
      replica_id_ = 0;
      return Forward();
    }
    if (mode_ == Mode::kStreaming) return FinishStream(status);
    if (!status.ok()) {
      core_->Audit("key:" + key.prefix, "gateway.upstream", "deployment:" + deployment, "error",
                   status.message());
      return Fail(kUpstreamError, 502, "application/json",
                  UpstreamFailed(fmt::format("The model '{}' failed to answer: {}", deployment,
                                             status.message()))
                      .ToJson());
    }
    FinishBuffered();
  }

  void FinishBuffered() {
    if (upstream_status_ != 200) {
      // The engine refused the request (bad input, context too long, overloaded): its error
      // passes through unchanged; the request counts as an error without tokens.
      HeaderList headers;
      if (!retry_after_.empty()) headers.emplace_back("Retry-After", retry_after_);
      return Fail(upstream_status_ >= 500 ? kEngineError : kBadRequest, upstream_status_,
                  content_type_, std::move(buffered_), std::move(headers));
    }
    json response = json::parse(buffered_, nullptr, false);
    std::optional<std::pair<int64_t, int64_t>> usage;
    if (!response.is_discarded() && response.is_object()) {
      usage = ReadUsage(response);
      if (response.contains("model")) response["model"] = deployment;
      buffered_ = server::DumpJson(response);
    }
    if (!usage) {
      spdlog::warn("gateway: a response of '{}' carried no usage; billed 0 tokens", deployment);
      usage = std::make_pair(int64_t{0}, int64_t{0});
    }
    Bill(*usage, 200, /*error=*/false, [self = shared_from_this()](const Status& committed) {
      // Done first: the request's slot is free by the time the client sees the response.
      if (!committed.ok()) {
        self->Done(kUsageFailed);
        self->channel_->Respond(500, "application/json",
                                ApiError::Internal("the usage of this request could not be "
                                                   "recorded; the response is withheld")
                                    .ToJson());
        return;
      }
      self->Done(kOk);
      self->channel_->Respond(200, self->content_type_, std::move(self->buffered_));
    });
  }

  void FinishStream(const Status& status) {
    std::optional<std::string> failure;
    if (!status.ok()) {
      failure = fmt::format("The model '{}' failed mid-response: {}", deployment, status.message());
      core_->Audit("key:" + key.prefix, "gateway.upstream", "deployment:" + deployment, "error",
                   status.message());
    } else if (!saw_done_ && !engine_error_) {
      failure = fmt::format("The model '{}' ended its response early", deployment);
    }
    std::pair<int64_t, int64_t> usage =
        usage_ ? *usage_ : std::make_pair(int64_t{0}, content_events_);
    const Outcome outcome = failure ? kUpstreamError : engine_error_ ? kEngineError : kOk;
    auto finish = [self = shared_from_this(), failure, outcome](const Status& committed) {
      self->Done(committed.ok() ? outcome : kUsageFailed);
      if (failure) {
        self->channel_->Write(server::SseEvent(UpstreamFailed(*failure).ToJson()));
      } else if (!committed.ok()) {
        self->channel_->Write(server::SseEvent(
            ApiError::Internal("the usage of this request could not be recorded").ToJson()));
      }
      self->channel_->Write(std::string(server::kSseDone));
      self->channel_->EndStream();
    };
    // Also a stream without tokens: it is a request (and, ended by an error, a failed one).
    Bill(usage, 200, failure.has_value() || engine_error_, std::move(finish));
  }

  // A request that fails before its response started: one usage event (an error, no tokens),
  // then the answer once the event is committed. The answer goes out even if the commit failed
  // (the meter logs it): the client must learn that its request failed either way.
  void Fail(Outcome outcome, int status, std::string content_type, std::string body,
            HeaderList headers = {}) {
    auto respond = [self = shared_from_this(), outcome, status,
                    content_type = std::move(content_type), body = std::move(body),
                    headers = std::move(headers)](const Status&) mutable {
      self->Done(outcome);
      self->channel_->Respond(status, content_type, std::move(body), headers);
    };
    // An engine may answer any 3-digit status; the usage row keeps a valid HTTP error.
    const int recorded = status >= 400 && status <= 599 ? status : 502;
    Bill({0, 0}, recorded, /*error=*/true, std::move(respond));
  }

  // Records the usage (one request; `error` marks a failed one, `http_status` is what the client
  // is sent) and runs `then` on the strand once it is committed.
  void Bill(std::pair<int64_t, int64_t> usage, int http_status, bool error,
            std::function<void(const Status&)> then) {
    if (permit) permit->Settle(usage.first + usage.second);
    if (!core_->meter) return then(Status::Unavailable("the gateway is shutting down"));
    billed_ = true;
    core_->meter->Record(RequestUsage(*core_, key, deployment, usage, http_status, error),
                         [self = shared_from_this(), then = std::move(then)](const Status& s) {
                           self->channel_->Post([self, then, s] {
                             if (!self->finished_) then(s);
                           });
                         });
  }

  void OnClientGone() {
    if (finished_) return;
    if (call_) {
      call_->Cancel();  // the engine sees the connection close and cancels the sequence
      call_.reset();
    }
    if (!billed_ && core_->meter) {
      // What was delivered is billed; nobody waits for the commit.
      const std::pair<int64_t, int64_t> usage =
          usage_ ? *usage_ : std::make_pair(int64_t{0}, content_events_);
      if (permit) permit->Settle(usage.first + usage.second);
      // Every authenticated request is one row, this one too: a client that left before any
      // answer is an error with status 0 (it got nothing); one that left mid-stream got a 200
      // and is billed what it was sent.
      const bool answered = mode_ == Mode::kStreaming;
      billed_ = true;
      core_->meter->Record(
          RequestUsage(*core_, key, deployment, usage, answered ? 200 : 0, !answered), nullptr);
    }
    Done(kClientGone);
  }

  void Done(Outcome outcome) {
    if (finished_) return;
    finished_ = true;
    core_->Count(outcome);
    Release(/*acknowledge=*/false);
    if (call_) {
      call_->Cancel();
      call_.reset();
    }
    if (replica_id_ != 0) core_->ReleaseReplica(replica_id_);
    replica_id_ = 0;
    permit.reset();  // the concurrency slot
    core_->Leave();
  }

  std::shared_ptr<Gateway::Core> core_;
  std::shared_ptr<ResponseChannel> channel_;
  std::shared_ptr<UpstreamCall> call_;
  std::vector<int64_t> tried_;
  int64_t replica_id_ = 0;
  Mode mode_ = Mode::kWaiting;
  int upstream_status_ = 0;
  std::string content_type_;
  std::string retry_after_;
  std::string buffered_;
  std::string sse_buffer_;
  bool saw_done_ = false;
  bool engine_error_ = false;
  int64_t content_events_ = 0;
  std::optional<std::pair<int64_t, int64_t>> usage_;
  bool billed_ = false;
  bool finished_ = false;
  size_t unacknowledged_ = 0;  // stream bytes read from the replica and not yet acknowledged
  bool drain_armed_ = false;   // an OnDrained callback is pending
};

void SendError(const std::shared_ptr<ResponseChannel>& channel, const ApiError& error,
               HeaderList headers = {}) {
  channel->Respond(error.http_status, "application/json", error.ToJson(), headers);
}

// Answers an authenticated request that ends in the gateway itself (an error, or a model
// listing) once its usage event (no tokens; an error from 400 up) is committed: every request
// answered after authentication is one usage row. The answer goes out even if the commit failed
// (the meter logs it): a refusal must not turn into a 500. `deployment`: empty when the request
// named none the key may use.
void AnswerMetered(const std::shared_ptr<Gateway::Core>& core, const ApiKey& key,
                   std::string deployment, const std::shared_ptr<ResponseChannel>& channel,
                   int status, std::string body, HeaderList headers = {}) {
  if (!core->meter) {
    channel->Respond(status, "application/json", std::move(body), headers);
    return;
  }
  core->Enter();  // a drain waits for the answer too
  core->meter->Record(
      RequestUsage(*core, key, std::move(deployment), {0, 0}, status,
                   /*error=*/status >= 400),
      [core, channel, status, body = std::move(body), headers = std::move(headers)](const Status&) {
        channel->Post([core, channel, status, body, headers]() mutable {
          channel->Respond(status, "application/json", std::move(body), headers);
          core->Leave();
        });
      });
}

}  // namespace

Gateway::Gateway(Store& store, Identity& identity, const ReplicaDirectory& directory,
                 GatewayOptions options)
    : core_(std::make_shared<Core>(store, identity, directory, std::move(options))) {}

Gateway::~Gateway() {
  // No upstream event after this; then commit what is pending (its callbacks post to strands
  // that no longer run, and the requests die with the HttpServer's io_context).
  core_->proxy.reset();
  core_->meter.reset();
}

RateLimiter& Gateway::rate_limiter() { return core_->limiter; }
UsageMeter& Gateway::usage_meter() { return *core_->meter; }

int Gateway::requests_in_flight() const {
  std::lock_guard lock(core_->mutex);
  return core_->in_flight;
}

bool Gateway::WaitForRequests(std::chrono::milliseconds timeout) {
  std::unique_lock lock(core_->mutex);
  return core_->idle_cv.wait_for(lock, timeout, [&] { return core_->in_flight == 0; });
}

int Gateway::outstanding(int64_t replica_id) const {
  std::lock_guard lock(core_->mutex);
  auto it = core_->outstanding.find(replica_id);
  return it == core_->outstanding.end() ? 0 : it->second;
}

StreamBufferStats Gateway::stream_buffer_stats() const {
  return {core_->held_bytes.load(std::memory_order_relaxed),
          core_->peak_held_bytes.load(std::memory_order_relaxed),
          core_->peak_client_queue_bytes.load(std::memory_order_relaxed)};
}

std::string Gateway::RenderMetrics() const {
  std::string out =
      "# HELP hearth_gateway_requests_total Gateway requests by outcome.\n"
      "# TYPE hearth_gateway_requests_total counter\n";
  for (size_t i = 0; i < kOutcomeCount; ++i) {
    fmt::format_to(std::back_inserter(out), "hearth_gateway_requests_total{{outcome=\"{}\"}} {}\n",
                   kOutcomeNames[i], core_->outcomes[i].load(std::memory_order_relaxed));
  }
  fmt::format_to(std::back_inserter(out),
                 "# HELP hearth_gateway_requests_in_flight Generation requests in flight.\n"
                 "# TYPE hearth_gateway_requests_in_flight gauge\n"
                 "hearth_gateway_requests_in_flight {}\n"
                 "# HELP hearth_gateway_stream_held_bytes Stream bytes read from replicas and "
                 "not yet taken by clients.\n"
                 "# TYPE hearth_gateway_stream_held_bytes gauge\n"
                 "hearth_gateway_stream_held_bytes {}\n",
                 requests_in_flight(), core_->held_bytes.load(std::memory_order_relaxed));
  if (core_->meter) {
    const UsageMeterStats s = core_->meter->stats();
    fmt::format_to(std::back_inserter(out),
                   "# HELP hearth_gateway_usage_events_total Usage events by commit result.\n"
                   "# TYPE hearth_gateway_usage_events_total counter\n"
                   "hearth_gateway_usage_events_total{{result=\"committed\"}} {}\n"
                   "hearth_gateway_usage_events_total{{result=\"failed\"}} {}\n"
                   "# HELP hearth_gateway_usage_batches_total Usage transactions committed.\n"
                   "# TYPE hearth_gateway_usage_batches_total counter\n"
                   "hearth_gateway_usage_batches_total {}\n",
                   s.events_committed, s.events_failed, s.batches_committed);
  }
  return out;
}

void Gateway::Handle(server::HttpRequest& request,
                     const std::shared_ptr<server::ResponseChannel>& channel) {
  Core& core = *core_;
  const std::string path(
      PathOf(std::string_view(request.target().data(), request.target().size())));

  // Authentication comes first, for every route: without a key nothing is revealed.
  const auto auth = request[http::field::authorization];
  std::string_view credentials(auth.data(), auth.size());
  if (credentials.size() < 7 ||
      !boost::beast::iequals(boost::beast::string_view(credentials.data(), 7), "Bearer ")) {
    core.Count(kUnauthorized);
    return SendError(channel,
                     Unauthorized("Missing API key: send it as 'Authorization: Bearer hk-...'"),
                     {{"WWW-Authenticate", "Bearer"}});
  }
  credentials.remove_prefix(7);
  while (credentials.starts_with(' ')) credentials.remove_prefix(1);
  auto verified = core.identity.VerifyApiKey(credentials);
  if (!verified.ok()) {
    if (verified.status().code() != StatusCode::kUnauthenticated) {
      spdlog::error("gateway: cannot verify an API key: {}", verified.status().ToString());
      return SendError(channel, ApiError::Overloaded("cannot verify the API key now; retry later"),
                       {{"Retry-After", "1"}});
    }
    core.Count(kUnauthorized);
    auto parsed = ParseApiKey(credentials);
    core.Audit(parsed.ok() ? "key:" + parsed->prefix : "anonymous", "gateway.auth", path, "denied",
               verified.status().message());
    return SendError(channel, Unauthorized(verified.status().message()),
                     {{"WWW-Authenticate", "Bearer"}});
  }
  const ApiKey key = std::move(*verified);
  // From here on every answer is a usage event of the key, errors included (AnswerMetered).
  auto refuse = [&](const ApiError& error, std::string deployment = {}, HeaderList headers = {}) {
    AnswerMetered(core_, key, std::move(deployment), channel, error.http_status, error.ToJson(),
                  std::move(headers));
  };

  // The deployments this key may use, by name.
  auto usable = [&](std::string_view name) -> std::optional<RoutableDeployment> {
    for (auto& d : core.directory.Deployments()) {
      if (d.name != name) continue;
      const bool tenant_ok =
          std::find(d.tenant_ids.begin(), d.tenant_ids.end(), key.tenant_id) != d.tenant_ids.end();
      const bool key_ok =
          key.deployments.empty() ||
          std::find(key.deployments.begin(), key.deployments.end(), name) != key.deployments.end();
      if (tenant_ok && key_ok) return d;
      core.Audit("key:" + key.prefix, "gateway.access", "deployment:" + d.name, "denied",
                 tenant_ok ? "outside the key's deployments" : "not granted to the tenant");
      return std::nullopt;
    }
    return std::nullopt;
  };
  auto model_json = [](const RoutableDeployment& d) {
    return json{{"id", d.name},
                {"object", "model"},
                {"created", d.created_at / 1000},
                {"owned_by", "hearth"}};
  };
  auto require = [&](http::verb verb) {
    if (request.method() == verb) return true;
    refuse(ApiError::MethodNotAllowed(fmt::format("{} requires {}", path, VerbName(verb))), {},
           {{"Allow", VerbName(verb)}});
    return false;
  };

  if (path == "/v1/models") {
    if (!require(http::verb::get)) return;
    auto deployments = core.directory.Deployments();
    std::sort(deployments.begin(), deployments.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    json data = json::array();
    for (const auto& d : deployments) {
      const bool tenant_ok =
          std::find(d.tenant_ids.begin(), d.tenant_ids.end(), key.tenant_id) != d.tenant_ids.end();
      const bool key_ok = key.deployments.empty() ||
                          std::find(key.deployments.begin(), key.deployments.end(), d.name) !=
                              key.deployments.end();
      if (tenant_ok && key_ok) data.push_back(model_json(d));
    }
    AnswerMetered(core_, key, "", channel, 200,
                  server::DumpJson({{"object", "list"}, {"data", std::move(data)}}));
    return;
  }
  if (path.starts_with(kModelsPrefix)) {
    if (!require(http::verb::get)) return;
    const std::string id = path.substr(kModelsPrefix.size());
    auto d = usable(id);
    if (!d) {
      core.Count(kNotFound);
      return refuse(ApiError::ModelNotFound(id));
    }
    AnswerMetered(core_, key, d->name, channel, 200, server::DumpJson(model_json(*d)));
    return;
  }
  const bool chat = path == "/v1/chat/completions";
  const bool completions = path == "/v1/completions";
  const bool embeddings = path == "/v1/embeddings";
  if (!chat && !completions && !embeddings) {
    core.Count(kNotFound);
    return refuse(ApiError::NotFound(fmt::format("no route for {}", path)));
  }
  if (!require(http::verb::post)) return;

  json body = json::parse(request.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    core.Count(kBadRequest);
    return refuse(ApiError::BadRequest("the request body must be a JSON object"));
  }
  auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get_ref<const std::string&>().empty()) {
    core.Count(kBadRequest);
    return refuse(ApiError::BadRequest("you must provide a model parameter", "model"));
  }
  const std::string name = model->get<std::string>();
  auto deployment = usable(name);
  if (!deployment) {
    core.Count(kNotFound);
    return refuse(ApiError::ModelNotFound(name));
  }
  if (embeddings) {
    core.Count(kBadRequest);
    return refuse(
        ApiError::BadRequest(fmt::format("The model '{}' does not support embeddings", name),
                             "model", "model_not_supported"),
        name);
  }

  bool stream = false;
  if (auto s = body.find("stream"); s != body.end() && !s->is_null()) {
    if (!s->is_boolean()) {
      core.Count(kBadRequest);
      return refuse(ApiError::BadRequest("'stream' must be a boolean", "stream"), name);
    }
    stream = s->get<bool>();
  }
  bool client_wants_usage = false;
  if (stream) {
    auto options = body.find("stream_options");
    if (options == body.end() || options->is_null()) {
      body["stream_options"] = json::object();
    } else if (!options->is_object()) {
      core.Count(kBadRequest);
      return refuse(ApiError::BadRequest("'stream_options' must be an object", "stream_options"),
                    name);
    } else if (auto usage = options->find("include_usage");
               usage != options->end() && usage->is_boolean()) {
      client_wants_usage = usage->get<bool>();
    }
    body["stream_options"]["include_usage"] = true;
  }
  body.erase("model");  // the replica serves one model, under its own name

  // Quotas: estimated at a token per 4 bytes of request until the engine reports the real usage.
  auto decision =
      core.limiter.Admit(key.tenant_id, key.id, static_cast<int64_t>(request.body().size() / 4));
  if (!decision.admitted()) {
    core.Count(kRateLimited);
    const RateLimitRejection& r = *decision.rejection;
    ApiError error{429, r.message, "rate_limit_exceeded", "", "rate_limit_exceeded"};
    return refuse(error, name, {{"Retry-After", std::to_string(r.retry_after_seconds())}});
  }

  auto replicas = core.directory.ReadyReplicas(name);
  auto proxied = std::make_shared<ProxiedRequest>(core_, channel);
  proxied->key = key;
  proxied->deployment = name;
  proxied->target = path;
  proxied->body = server::DumpJson(body);
  proxied->stream = stream;
  proxied->client_wants_usage = client_wants_usage;
  proxied->permit = std::move(decision.permit);
  if (replicas) proxied->candidates = std::move(*replicas);
  proxied->Start();
}

}  // namespace hearth::platform
