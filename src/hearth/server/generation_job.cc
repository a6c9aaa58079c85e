#include "hearth/server/generation_job.h"

#include "hearth/server/json_util.h"
#include "hearth/server/sse.h"

namespace hearth::server {

using nlohmann::json;

struct GenerationJob::Choice {
  Choice(size_t i, std::vector<std::string> stops) : index(i), stop_matcher(std::move(stops)) {}

  size_t index;
  engine::SequenceId sequence = 0;
  bool submitted = false;
  bool engine_finished = false;  // the engine sent OnFinish
  bool finished = false;         // no more output for this choice
  StreamingDetokenizer detokenizer;
  StopMatcher stop_matcher;
  std::string text;  // non-streaming: the whole completion
  int completion_tokens = 0;
  std::string finish_reason;
  std::vector<engine::TokenEvent> logprobs;  // not yet sent (streaming) or all (otherwise)
  size_t logprob_text_offset = 0;            // completions format: bytes before the next token
  std::chrono::steady_clock::time_point last_token;
};

// Runs on the engine thread: only hands events to the connection's strand.
class GenerationJob::Observer : public engine::SequenceObserver {
 public:
  Observer(std::weak_ptr<GenerationJob> job, std::shared_ptr<ResponseChannel> channel, size_t index,
           std::shared_ptr<std::atomic<int>> live_sequences)
      : job_(std::move(job)),
        channel_(std::move(channel)),
        index_(index),
        live_sequences_(std::move(live_sequences)) {}

  void OnPrefillDone(int cached_prompt_tokens) override {
    channel_->Post([job = job_, index = index_, cached_prompt_tokens] {
      if (auto j = job.lock()) j->OnPrefillDone(index, cached_prompt_tokens);
    });
  }
  void OnToken(const engine::TokenEvent& event) override {
    channel_->Post([job = job_, index = index_, event] {
      if (auto j = job.lock()) j->OnToken(index, event);
    });
  }
  void OnFinish(engine::FinishReason reason, const Status& status) override {
    live_sequences_->fetch_sub(1);
    channel_->Post([job = job_, index = index_, reason, status] {
      if (auto j = job.lock()) j->OnFinish(index, reason, status);
    });
  }

 private:
  std::weak_ptr<GenerationJob> job_;
  std::shared_ptr<ResponseChannel> channel_;
  size_t index_;
  std::shared_ptr<std::atomic<int>> live_sequences_;
};

namespace {

std::string FinishReasonText(engine::FinishReason reason) {
  return reason == engine::FinishReason::kLength ? "length" : "stop";
}

json BytesArray(const std::string& bytes) {
  json out = json::array();
  for (unsigned char c : bytes) out.push_back(static_cast<int>(c));
  return out;
}

}  // namespace

GenerationJob::GenerationJob(uint64_t key, JobSpec spec, JobEnvironment env,
                             std::shared_ptr<ResponseChannel> channel)
    : key_(key), spec_(std::move(spec)), env_(std::move(env)), channel_(std::move(channel)) {
  for (size_t i = 0; i < spec_.requests.size(); ++i) {
    choices_.push_back(std::make_unique<Choice>(i, spec_.stop));
  }
}

GenerationJob::~GenerationJob() = default;

std::optional<ApiError> GenerationJob::Start() {
  for (auto& choice : choices_) {
    env_.live_sequences->fetch_add(1);
    auto observer =
        std::make_shared<Observer>(weak_from_this(), channel_, choice->index, env_.live_sequences);
    auto submitted = env_.engine->Submit(spec_.requests[choice->index], std::move(observer));
    if (!submitted.ok()) {
      env_.live_sequences->fetch_sub(1);
      CancelUnfinished();
      done_ = true;
      return ApiErrorFromStatus(submitted.status());
    }
    choice->sequence = *submitted;
    choice->submitted = true;
  }
  channel_->OnClientGone([weak = weak_from_this()] {
    if (auto job = weak.lock()) job->OnClientGone();
  });
  if (spec_.stream) {
    channel_->BeginStream(200, "text/event-stream");
    if (spec_.kind == ApiKind::kChatCompletions) {
      for (auto& choice : choices_) {
        WriteChunk({{"index", choice->index},
                    {"delta", {{"role", "assistant"}, {"content", ""}}},
                    {"logprobs", nullptr},
                    {"finish_reason", nullptr}});
      }
    }
  }
  return std::nullopt;
}

void GenerationJob::Abort(std::string reason) {
  channel_->Post(
      [self = shared_from_this(), reason = std::move(reason)] { self->AbortOnStrand(reason); });
}

void GenerationJob::OnPrefillDone(size_t index, int cached_tokens) {
  // Every choice shares the prompt; report what the first one found cached.
  if (index == 0) cached_prompt_tokens_ = cached_tokens;
}

void GenerationJob::OnToken(size_t index, const engine::TokenEvent& event) {
  if (done_ || index >= choices_.size()) return;
  Choice& choice = *choices_[index];
  if (choice.finished) return;
  const auto now = std::chrono::steady_clock::now();
  const auto since = now - (choice.completion_tokens == 0 ? spec_.arrival : choice.last_token);
  const double seconds = std::chrono::duration<double>(since).count();
  if (choice.completion_tokens == 0) {
    env_.metrics->ObserveTimeToFirstToken(seconds);
  } else {
    env_.metrics->ObserveInterTokenLatency(seconds);
  }
  choice.last_token = now;
  ++choice.completion_tokens;
  if (spec_.logprobs) choice.logprobs.push_back(event);
  EmitText(choice, choice.detokenizer.Push(env_.codec->TokenBytes(event.token)));
  if (choice.stop_matcher.stopped()) {
    // The stop string is complete: nothing after it is wanted, so free the sequence now.
    env_.engine->Cancel(choice.sequence);
    FinishChoice(choice, "stop");
    MaybeComplete();
  }
}

void GenerationJob::OnFinish(size_t index, engine::FinishReason reason, const Status& status) {
  if (done_ || index >= choices_.size()) return;
  Choice& choice = *choices_[index];
  choice.engine_finished = true;
  if (choice.finished) return MaybeComplete();
  switch (reason) {
    case engine::FinishReason::kStop:
    case engine::FinishReason::kLength: {
      EmitText(choice, choice.detokenizer.Flush());
      if (!choice.stop_matcher.stopped()) {
        // No stop string can complete any more: release what was held for one.
        EmitRaw(choice, choice.stop_matcher.Flush());
      }
      FinishChoice(choice, choice.stop_matcher.stopped() ? "stop" : FinishReasonText(reason));
      break;
    }
    case engine::FinishReason::kCancelled:
      // We cancel only after finishing a choice, so this came from the engine (its shutdown).
      error_ = Status::Unavailable("generation was cancelled by the engine");
      FinishChoice(choice, "abort");
      break;
    case engine::FinishReason::kError:
      error_ = status.ok() ? Status::Internal("generation failed") : status;
      FinishChoice(choice, "error");
      break;
  }
  MaybeComplete();
}

void GenerationJob::EmitText(Choice& choice, const std::string& text) {
  if (text.empty() || choice.stop_matcher.stopped()) return;
  EmitRaw(choice, choice.stop_matcher.Push(text).text);
}

void GenerationJob::EmitRaw(Choice& choice, const std::string& text) {
  if (text.empty()) return;
  if (!spec_.stream) {
    choice.text += text;
    return;
  }
  WriteChunk(ChoiceDelta(choice, &text, nullptr));
}

json GenerationJob::ChoiceDelta(Choice& choice, const std::string* text,
                                const std::string* finish_reason) {
  json delta = {{"index", choice.index}};
  if (spec_.kind == ApiKind::kChatCompletions) {
    delta["delta"] = text ? json{{"content", *text}} : json::object();
  } else {
    delta["text"] = text ? *text : "";
  }
  delta["logprobs"] = nullptr;
  if (spec_.logprobs && !choice.logprobs.empty()) {
    // Tokens reported so far (including ones whose text is still held back).
    delta["logprobs"] = LogprobsJson(choice.logprobs, &choice.logprob_text_offset);
    choice.logprobs.clear();
  }
  delta["finish_reason"] = finish_reason ? json(*finish_reason) : json(nullptr);
  return delta;
}

void GenerationJob::FinishChoice(Choice& choice, std::string finish_reason) {
  choice.finished = true;
  choice.finish_reason = std::move(finish_reason);
  if (!spec_.stream || error_) return;
  WriteChunk(ChoiceDelta(choice, nullptr, &choice.finish_reason));
}

void GenerationJob::CancelUnfinished() {
  for (auto& choice : choices_) {
    if (choice->submitted && !choice->engine_finished) env_.engine->Cancel(choice->sequence);
  }
}

void GenerationJob::MaybeComplete() {
  if (done_) return;
  for (const auto& choice : choices_) {
    if (!choice->finished) return;
  }
  if (error_) {
    // The other choices are no longer needed.
    CancelUnfinished();
    const ApiError error = ApiErrorFromStatus(*error_);
    if (spec_.stream) {
      channel_->Write(SseEvent(error.ToJson()));
      channel_->Write(std::string(kSseDone));
      channel_->EndStream();
    } else {
      channel_->Respond(error.http_status, "application/json", error.ToJson());
    }
  } else if (spec_.stream) {
    if (spec_.include_usage) {
      json frame = ChunkFrame();
      frame["choices"] = json::array();
      frame["usage"] = Usage();
      channel_->Write(SseEvent(DumpJson(frame)));
    }
    channel_->Write(std::string(kSseDone));
    channel_->EndStream();
  } else {
    SendFullResponse();
  }
  Done();
}

void GenerationJob::OnClientGone() {
  if (done_) return;
  env_.metrics->CountStreamsCancelled();
  CancelUnfinished();
  Done();
}

void GenerationJob::AbortOnStrand(const std::string& reason) {
  if (done_) return;
  env_.metrics->CountStreamsCancelled();
  CancelUnfinished();
  const ApiError error = ApiError::Overloaded(reason);
  if (spec_.stream) {
    channel_->Write(SseEvent(error.ToJson()));
    channel_->Write(std::string(kSseDone));
    channel_->EndStream();
  } else {
    channel_->Respond(503, "application/json", error.ToJson());
  }
  Done();
}

void GenerationJob::Done() {
  done_ = true;
  env_.metrics->ObserveRequestDuration(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - spec_.arrival).count());
  if (env_.on_done) env_.on_done(key_);
}

json GenerationJob::ChunkFrame() const {
  return {{"id", spec_.id},
          {"object",
           spec_.kind == ApiKind::kChatCompletions ? "chat.completion.chunk" : "text_completion"},
          {"created", spec_.created},
          {"model", spec_.model}};
}

void GenerationJob::WriteChunk(const json& choice_delta) {
  json frame = ChunkFrame();
  frame["choices"] = json::array({choice_delta});
  channel_->Write(SseEvent(DumpJson(frame)));
}

json GenerationJob::Usage() const {
  int completion = 0;
  for (const auto& choice : choices_) completion += choice->completion_tokens;
  json usage = {{"prompt_tokens", spec_.prompt_tokens},
                {"completion_tokens", completion},
                {"total_tokens", spec_.prompt_tokens + completion}};
  if (cached_prompt_tokens_ >= 0) {
    usage["prompt_tokens_details"] = {{"cached_tokens", cached_prompt_tokens_}};
  }
  return usage;
}

json GenerationJob::LogprobEntry(const engine::TokenEvent& event) const {
  const std::string piece = env_.codec->TokenBytes(event.token);
  json top = json::array();
  for (const auto& [id, lp] : event.top_logprobs) {
    const std::string alt = env_.codec->TokenBytes(id);
    top.push_back({{"token", alt}, {"logprob", lp}, {"bytes", BytesArray(alt)}});
  }
  return {{"token", piece},
          {"logprob", event.logprob},
          {"bytes", BytesArray(piece)},
          {"top_logprobs", std::move(top)}};
}

json GenerationJob::LogprobsJson(const std::vector<engine::TokenEvent>& events,
                                 size_t* text_offset) const {
  if (spec_.kind == ApiKind::kChatCompletions) {
    json entries = json::array();
    for (const auto& e : events) entries.push_back(LogprobEntry(e));
    return {{"content", std::move(entries)}};
  }
  // The legacy completions format: parallel arrays.
  json tokens = json::array(), token_logprobs = json::array(), tops = json::array(),
       offsets = json::array();
  for (const auto& e : events) {
    const std::string piece = env_.codec->TokenBytes(e.token);
    tokens.push_back(piece);
    token_logprobs.push_back(e.logprob);
    json top = json::object();
    for (const auto& [id, lp] : e.top_logprobs) top[env_.codec->TokenBytes(id)] = lp;
    tops.push_back(std::move(top));
    offsets.push_back(*text_offset);
    *text_offset += piece.size();
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

void GenerationJob::SendFullResponse() {
  json choices = json::array();
  for (auto& choice : choices_) {
    size_t offset = 0;
    const json logprobs = spec_.logprobs ? LogprobsJson(choice->logprobs, &offset) : json(nullptr);
    if (spec_.kind == ApiKind::kChatCompletions) {
      choices.push_back({{"index", choice->index},
                         {"message", {{"role", "assistant"}, {"content", choice->text}}},
                         {"logprobs", logprobs},
                         {"finish_reason", choice->finish_reason}});
    } else {
      choices.push_back({{"index", choice->index},
                         {"text", choice->text},
                         {"logprobs", logprobs},
                         {"finish_reason", choice->finish_reason}});
    }
  }
  json body = {
      {"id", spec_.id},
      {"object", spec_.kind == ApiKind::kChatCompletions ? "chat.completion" : "text_completion"},
      {"created", spec_.created},
      {"model", spec_.model},
      {"choices", std::move(choices)},
      {"usage", Usage()}};
  channel_->Respond(200, "application/json", DumpJson(body));
}

}  // namespace hearth::server
