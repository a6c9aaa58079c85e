#include "hearth/server/api_service.h"

#include <fmt/format.h>

#include <ctime>
#include <random>

#include "hearth/server/json_util.h"

namespace hearth::server {
namespace {

using nlohmann::json;
namespace http = boost::beast::http;

std::string RandomId(std::string_view prefix) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string id(prefix);
  for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[rng() % kAlphabet.size()]);
  return id;
}

uint64_t RandomSeed() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

std::string VerbName(http::verb verb) {
  const auto name = http::to_string(verb);
  return std::string(name.data(), name.size());
}

}  // namespace

ApiService::ApiService(engine::Engine& engine, const TextCodec& codec, ServerMetrics& metrics,
                       ApiServiceOptions options)
    : engine_(engine),
      codec_(codec),
      metrics_(metrics),
      options_(std::move(options)),
      created_(static_cast<int64_t>(std::time(nullptr))),
      live_sequences_(std::make_shared<std::atomic<int>>(0)) {}

ApiService::~ApiService() {
  // Jobs hold references to this service's members through their environment.
  std::lock_guard lock(mutex_);
  jobs_.clear();
}

void ApiService::SendError(const std::shared_ptr<ResponseChannel>& channel,
                           const ApiError& error) const {
  HeaderList headers;
  if (error.http_status == 503 || error.http_status == 429)
    headers.emplace_back("Retry-After", "1");
  channel->Respond(error.http_status, "application/json", error.ToJson(), headers);
}

void ApiService::Handle(HttpRequest& request, const std::shared_ptr<ResponseChannel>& channel) {
  const std::string_view path =
      PathOf(std::string_view(request.target().data(), request.target().size()));
  const auto method = request.method();
  auto require = [&](http::verb verb) {
    if (method == verb) return true;
    ApiError error =
        ApiError::MethodNotAllowed(fmt::format("{} requires {}", path, VerbName(verb)));
    channel->Respond(405, "application/json", error.ToJson(), {{"Allow", VerbName(verb)}});
    return false;
  };

  if (path == "/v1/chat/completions") {
    if (require(http::verb::post)) HandleGeneration(ApiKind::kChatCompletions, request, channel);
  } else if (path == "/v1/completions") {
    if (require(http::verb::post)) HandleGeneration(ApiKind::kCompletions, request, channel);
  } else if (path == "/v1/models") {
    if (require(http::verb::get)) channel->Respond(200, "application/json", ModelsJson());
  } else if (path.starts_with("/v1/models/")) {
    if (!require(http::verb::get)) return;
    const std::string id(path.substr(std::string_view("/v1/models/").size()));
    if (id != options_.model_name) return SendError(channel, ApiError::ModelNotFound(id));
    channel->Respond(200, "application/json", ModelJson());
  } else if (path == "/health") {
    if (!require(http::verb::get)) return;
    if (draining_.load()) {
      channel->Respond(503, "application/json", R"({"status":"draining"})");
    } else {
      channel->Respond(200, "application/json", R"({"status":"ok"})");
    }
  } else if (path == "/metrics") {
    if (!require(http::verb::get)) return;
    ServerGauges gauges;
    gauges.connections_active = connection_count_ ? connection_count_() : 0;
    gauges.requests_in_flight = jobs_in_flight();
    channel->Respond(200, "text/plain; version=0.0.4; charset=utf-8",
                     metrics_.Render(engine_.Stats(), gauges));
  } else {
    SendError(channel, ApiError::NotFound(fmt::format("no route for {}", path)));
  }
}

std::string ApiService::ModelJson() const {
  return DumpJson({{"id", options_.model_name},
                   {"object", "model"},
                   {"created", created_},
                   {"owned_by", "hearth"},
                   {"max_model_len", engine_.context_length()}});
}

std::string ApiService::ModelsJson() const {
  json model = json::parse(ModelJson());
  return DumpJson({{"object", "list"}, {"data", json::array({model})}});
}

void ApiService::HandleGeneration(ApiKind kind, HttpRequest& http_request,
                                  const std::shared_ptr<ResponseChannel>& channel) {
  const auto arrival = std::chrono::steady_clock::now();
  if (draining_.load()) {
    return SendError(channel, ApiError::Overloaded("the server is shutting down"));
  }
  ApiRequest request;
  if (auto error = ParseApiRequest(kind, http_request.body(), &request)) {
    return SendError(channel, *error);
  }
  if (!request.model.empty() && request.model != options_.model_name) {
    return SendError(channel, ApiError::ModelNotFound(request.model));
  }
  JobSpec spec;
  if (auto error = BuildJob(kind, request, &spec)) return SendError(channel, *error);
  spec.arrival = arrival;  // latency metrics include parsing and tokenization

  const int n = static_cast<int>(spec.requests.size());
  if (live_sequences_->load() + n > options_.max_live_sequences) {
    return SendError(channel, ApiError::Overloaded(fmt::format(
                                  "the server is at its limit of {} concurrent sequences; retry "
                                  "later",
                                  options_.max_live_sequences)));
  }
  uint64_t key = 0;
  {
    std::lock_guard lock(mutex_);
    key = next_job_key_++;
  }
  JobEnvironment env;
  env.engine = &engine_;
  env.codec = &codec_;
  env.metrics = &metrics_;
  env.live_sequences = live_sequences_;
  env.on_done = [this](uint64_t done_key) { JobDone(done_key); };
  auto job = std::make_shared<GenerationJob>(key, std::move(spec), std::move(env), channel);
  {
    // Registered before Start so a concurrent AbortAll sees it; events reach it only after
    // this handler returns (they are posted to the same strand).
    std::lock_guard lock(mutex_);
    jobs_[key] = job;
  }
  if (auto error = job->Start()) {
    JobDone(key);
    SendError(channel, *error);
  }
}

std::optional<ApiError> ApiService::BuildJob(ApiKind kind, const ApiRequest& request,
                                             JobSpec* spec) const {
  std::vector<int32_t> prompt;
  if (kind == ApiKind::kChatCompletions) {
    auto encoded = codec_.EncodeChat(request.messages);
    if (!encoded.ok()) return ApiErrorFromStatus(encoded.status(), "messages");
    prompt = std::move(*encoded);
  } else if (request.prompt_text) {
    auto encoded = codec_.EncodePrompt(*request.prompt_text);
    if (!encoded.ok()) return ApiErrorFromStatus(encoded.status(), "prompt");
    prompt = std::move(*encoded);
  } else {
    prompt = request.prompt_tokens;
    for (size_t i = 0; i < prompt.size(); ++i) {
      if (prompt[i] >= codec_.vocab_size()) {
        return ApiError::BadRequest(
            fmt::format("prompt token {} at index {} is outside the vocabulary (size {})",
                        prompt[i], i, codec_.vocab_size()),
            fmt::format("prompt[{}]", i));
      }
    }
  }
  if (prompt.empty()) {
    return ApiError::BadRequest("the prompt is empty after tokenization",
                                kind == ApiKind::kChatCompletions ? "messages" : "prompt");
  }
  for (const auto& [token, bias] : request.sampling.logit_bias) {
    if (token >= codec_.vocab_size()) {
      return ApiError::BadRequest(fmt::format("logit_bias token {} is outside the vocabulary "
                                              "(size {})",
                                              token, codec_.vocab_size()),
                                  "logit_bias");
    }
  }
  const int context = engine_.context_length();
  const int prompt_tokens = static_cast<int>(prompt.size());
  if (prompt_tokens >= context) {
    return ApiError::BadRequest(
        fmt::format("This model's maximum context length is {} tokens, but the prompt has {} "
                    "tokens (at least one token must remain for the completion)",
                    context, prompt_tokens),
        kind == ApiKind::kChatCompletions ? "messages" : "prompt", "context_length_exceeded");
  }
  // max_tokens beyond the context is clipped to what fits; finish_reason is then "length".
  const int room = context - prompt_tokens;
  int max_tokens = request.max_tokens.value_or(
      kind == ApiKind::kChatCompletions ? room : options_.default_completion_tokens);
  max_tokens = std::min(max_tokens, room);

  spec->kind = kind;
  spec->id = RandomId(kind == ApiKind::kChatCompletions ? "chatcmpl-" : "cmpl-");
  spec->model = options_.model_name;
  spec->created = static_cast<int64_t>(std::time(nullptr));
  spec->stream = request.stream;
  spec->include_usage = request.include_usage;
  spec->logprobs = request.sampling.logprobs;
  spec->top_logprobs = request.sampling.top_logprobs;
  spec->stop = request.stop;
  spec->prompt_tokens = prompt_tokens;
  const uint64_t seed = request.seed_given ? request.sampling.seed : RandomSeed();
  for (int i = 0; i < request.n; ++i) {
    engine::GenerationRequest generation;
    generation.prompt = prompt;
    generation.sampling = request.sampling;
    // Distinct seeds so that n sampled choices differ; still reproducible for a given seed.
    generation.sampling.seed = seed + static_cast<uint64_t>(i);
    generation.max_tokens = max_tokens;
    generation.ignore_eos = request.ignore_eos;
    spec->requests.push_back(std::move(generation));
  }
  return std::nullopt;
}

void ApiService::JobDone(uint64_t key) {
  {
    std::lock_guard lock(mutex_);
    jobs_.erase(key);
  }
  jobs_cv_.notify_all();
}

int ApiService::jobs_in_flight() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(jobs_.size());
}

bool ApiService::WaitForJobs(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return jobs_cv_.wait_for(lock, timeout, [this] { return jobs_.empty(); });
}

void ApiService::AbortAll(const std::string& reason) {
  std::vector<std::shared_ptr<GenerationJob>> jobs;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, job] : jobs_) jobs.push_back(job);
  }
  for (auto& job : jobs) job->Abort(reason);
}

}  // namespace hearth::server
