// ApiService: the OpenAI-compatible routes over one engine.
//
//   POST /v1/chat/completions   POST /v1/completions   GET /v1/models[/{id}]
//   GET /health                 GET /metrics
//
// Generation requests are parsed and validated (ParseApiRequest), tokenized through the
// TextCodec (chat template for chat), checked against the context length and vocabulary, and
// handed to a GenerationJob that submits n engine sequences and answers the client. Every
// route is documented in docs/API.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "hearth/engine/engine.h"
#include "hearth/server/generation_job.h"
#include "hearth/server/http_server.h"
#include "hearth/server/metrics.h"
#include "hearth/server/text_codec.h"

namespace hearth::server {

struct ApiServiceOptions {
  std::string model_name;              // the id clients send as "model"
  int max_live_sequences = 256;        // submitted and unfinished, over all requests
  int default_completion_tokens = 16;  // /v1/completions without max_tokens (OpenAI's default)
};

class ApiService {
 public:
  ApiService(engine::Engine& engine, const TextCodec& codec, ServerMetrics& metrics,
             ApiServiceOptions options);
  ~ApiService();

  // The HTTP server's request handler (runs on the connection's strand).
  void Handle(HttpRequest& request, const std::shared_ptr<ResponseChannel>& channel);

  // Open connections, for the /metrics gauge.
  void set_connection_count(std::function<int()> count) { connection_count_ = std::move(count); }

  // Shutdown: /health reports draining and new generation requests get 503.
  void BeginDrain() { draining_.store(true); }
  int jobs_in_flight() const;
  int live_sequences() const { return live_sequences_->load(); }
  // Waits until no job is in flight or the timeout passes; true when none is left.
  bool WaitForJobs(std::chrono::milliseconds timeout);
  // Cancels every job in flight; each ends its response cleanly with `reason`.
  void AbortAll(const std::string& reason);

 private:
  void HandleGeneration(ApiKind kind, HttpRequest& request,
                        const std::shared_ptr<ResponseChannel>& channel);
  std::optional<ApiError> BuildJob(ApiKind kind, const ApiRequest& request, JobSpec* spec) const;
  void SendError(const std::shared_ptr<ResponseChannel>& channel, const ApiError& error) const;
  std::string ModelsJson() const;
  std::string ModelJson() const;
  void JobDone(uint64_t key);

  engine::Engine& engine_;
  const TextCodec& codec_;
  ServerMetrics& metrics_;
  const ApiServiceOptions options_;
  const int64_t created_;
  std::function<int()> connection_count_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<std::atomic<int>> live_sequences_;

  mutable std::mutex mutex_;
  std::condition_variable jobs_cv_;
  std::map<uint64_t, std::shared_ptr<GenerationJob>> jobs_;
  uint64_t next_job_key_ = 0;
};

}  // namespace hearth::server
