// GenerationJob: one chat or completion request in flight — its n engine sequences, the text
// pipeline of each (streaming detokenizer, stop-string matcher) and the response it writes.
//
// The engine reports tokens on its own thread; the job's observers only post them to the
// connection's strand, where all job state lives, so the engine thread never blocks on a client
// and the job needs no locks. The job ends in exactly one way: every sequence finished (the
// response is completed), the client went away (sequences are cancelled at once), or Abort()
// (server shutdown: sequences are cancelled and the response is ended cleanly).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hearth/engine/engine.h"
#include "hearth/server/http_server.h"
#include "hearth/server/metrics.h"
#include "hearth/server/request.h"
#include "hearth/server/stop_matcher.h"
#include "hearth/server/text_codec.h"
#include "hearth/server/utf8_stream.h"

namespace hearth::server {

struct JobSpec {
  ApiKind kind = ApiKind::kChatCompletions;
  std::string id;     // "chatcmpl-…" / "cmpl-…"
  std::string model;  // echoed in responses
  int64_t created = 0;
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;
  int top_logprobs = 0;
  std::vector<std::string> stop;
  int prompt_tokens = 0;
  std::vector<engine::GenerationRequest> requests;  // one per choice
  std::chrono::steady_clock::time_point arrival;
};

struct JobEnvironment {
  engine::Engine* engine = nullptr;
  const TextCodec* codec = nullptr;
  ServerMetrics* metrics = nullptr;
  // Sequences submitted and not yet finished, across all jobs (admission control).
  std::shared_ptr<std::atomic<int>> live_sequences;
  // Called once, on the strand, when the job is over.
  std::function<void(uint64_t job_key)> on_done;
};

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  GenerationJob(uint64_t key, JobSpec spec, JobEnvironment env,
                std::shared_ptr<ResponseChannel> channel);
  ~GenerationJob();

  // On the strand: submits the sequences. On failure nothing stays submitted and the error is
  // returned for the caller to send; on success the job answers the client itself.
  std::optional<ApiError> Start();
  // Server shutdown: cancel and end the response cleanly (an error event and [DONE] for a
  // stream, 503 otherwise). Safe from any thread.
  void Abort(std::string reason);

 private:
  struct Choice;
  class Observer;

  void OnPrefillDone(size_t index, int cached_tokens);
  void OnToken(size_t index, const engine::TokenEvent& event);
  void OnFinish(size_t index, engine::FinishReason reason, const Status& status);
  void OnClientGone();
  void AbortOnStrand(const std::string& reason);

  // Pushes text through the choice's stop matcher and emits what is safe.
  void EmitText(Choice& choice, const std::string& text);
  // Sends (streaming) or keeps (otherwise) text that passed the stop matcher.
  void EmitRaw(Choice& choice, const std::string& text);
  // One entry of a chunk's "choices": text (or none) and, if given, the finish reason.
  nlohmann::json ChoiceDelta(Choice& choice, const std::string* text,
                             const std::string* finish_reason);
  void FinishChoice(Choice& choice, std::string finish_reason);
  void CancelUnfinished();
  void MaybeComplete();
  void Done();

  void WriteChunk(const nlohmann::json& choice_delta);
  nlohmann::json ChunkFrame() const;
  nlohmann::json Usage() const;
  nlohmann::json LogprobEntry(const engine::TokenEvent& event) const;
  // Logprobs of `events` in the endpoint's format; `text_offset` advances (completions only).
  nlohmann::json LogprobsJson(const std::vector<engine::TokenEvent>& events,
                              size_t* text_offset) const;
  void SendFullResponse();

  const uint64_t key_;
  const JobSpec spec_;
  JobEnvironment env_;
  std::shared_ptr<ResponseChannel> channel_;
  std::vector<std::unique_ptr<Choice>> choices_;
  int cached_prompt_tokens_ = -1;
  bool done_ = false;
  std::optional<Status> error_;  // a sequence failed
};

}  // namespace hearth::server
