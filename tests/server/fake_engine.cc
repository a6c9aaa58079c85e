#include "fake_engine.h"

#include <cstdlib>

namespace hearth::server::testing {

std::string FakeCodec::RenderChat(const std::vector<ChatMessage>& messages) {
  std::string text;
  for (const auto& m : messages) text += "<|" + m.role + "|>" + m.content + "\n";
  return text + "<|assistant|>";
}

std::vector<int32_t> FakeCodec::Bytes(std::string_view text) {
  std::vector<int32_t> ids{kFakeBos};
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

Result<std::vector<int32_t>> FakeCodec::EncodeChat(const std::vector<ChatMessage>& messages) const {
  return Bytes(RenderChat(messages));
}

Result<std::vector<int32_t>> FakeCodec::EncodePrompt(std::string_view text) const {
  return Bytes(text);
}

std::string FakeCodec::TokenBytes(int32_t token) const {
  if (token < 0 || token > 255) return "";
  return std::string(1, static_cast<char>(token));
}

FakeEngine::FakeEngine(Options options, Script script)
    : options_(options), script_(std::move(script)) {
  config_.vocab_size = kFakeVocab;
  config_.context_length = options_.context_length;
  thread_ = std::thread([this] { Run(); });
}

FakeEngine::~FakeEngine() { Shutdown(0); }

const tokenizer::Tokenizer& FakeEngine::tokenizer() const {
  // The server reaches the tokenizer only through its TextCodec; reaching here is a test bug.
  std::abort();
}

Result<engine::SequenceId> FakeEngine::Submit(engine::GenerationRequest request,
                                              std::shared_ptr<engine::SequenceObserver> observer) {
  if (request.prompt.empty()) return Status::InvalidArgument("empty prompt");
  if (static_cast<int>(request.prompt.size()) >= options_.context_length) {
    return Status::InvalidArgument("prompt does not fit the context");
  }
  if (request.max_tokens <= 0) return Status::InvalidArgument("max_tokens must be positive");
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= kFakeVocab) return Status::InvalidArgument("token id out of range");
  }
  std::lock_guard lock(mutex_);
  if (stop_) return Status::Unavailable("engine is shutting down");
  if (static_cast<int>(waiting_.size()) >= options_.max_queued) {
    return Status::ResourceExhausted("engine queue is full");
  }
  Sequence sequence;
  sequence.script = script_(request);
  sequence.request = std::move(request);
  sequence.observer = std::move(observer);
  const engine::SequenceId id = next_id_++;
  waiting_.emplace_back(id, std::move(sequence));
  submitted_.fetch_add(1);
  cv_.notify_all();
  return id;
}

void FakeEngine::Cancel(engine::SequenceId id) {
  std::lock_guard lock(mutex_);
  if (auto it = running_.find(id); it != running_.end()) {
    cancelled_observers_.push_back(std::move(it->second.observer));
    running_.erase(it);
    cancelled_.fetch_add(1);
  } else {
    for (auto w = waiting_.begin(); w != waiting_.end(); ++w) {
      if (w->first != id) continue;
      cancelled_observers_.push_back(std::move(w->second.observer));
      waiting_.erase(w);
      cancelled_.fetch_add(1);
      break;
    }
  }
  cv_.notify_all();
}

int64_t FakeEngine::BlocksOf(const Sequence& s) const {
  const int64_t tokens = static_cast<int64_t>(s.request.prompt.size()) + s.generated;
  return (tokens + options_.block_tokens - 1) / options_.block_tokens;
}

engine::EngineStats FakeEngine::Stats() const {
  std::lock_guard lock(mutex_);
  engine::EngineStats stats;
  stats.running = static_cast<int>(running_.size());
  stats.waiting = static_cast<int>(waiting_.size());
  stats.kv_blocks_total = options_.kv_blocks_total;
  for (const auto& [id, s] : running_) stats.kv_blocks_used += BlocksOf(s);
  stats.prompt_tokens = prompt_tokens_;
  stats.generated_tokens = generated_tokens_;
  return stats;
}

void FakeEngine::SetPaused(bool paused) {
  std::lock_guard lock(mutex_);
  paused_ = paused;
  cv_.notify_all();
}

void FakeEngine::SetTokenInterval(std::chrono::microseconds interval) {
  std::lock_guard lock(mutex_);
  options_.token_interval = interval;
}

void FakeEngine::Run() {
  for (;;) {
    // Callbacks are collected under the lock and delivered without it, like a real engine
    // reporting after a forward step.
    std::vector<std::function<void()>> deliveries;
    std::chrono::microseconds interval;
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(5), [this] {
        return stop_ || !cancelled_observers_.empty() ||
               (!paused_ && (!running_.empty() || !waiting_.empty()));
      });
      for (auto& observer : cancelled_observers_) {
        deliveries.push_back(
            [observer] { observer->OnFinish(engine::FinishReason::kCancelled, Status::Ok()); });
      }
      cancelled_observers_.clear();
      if (stop_) {
        for (auto& [id, s] : running_) cancelled_observers_.push_back(s.observer);
        for (auto& [id, s] : waiting_) cancelled_observers_.push_back(s.observer);
        running_.clear();
        waiting_.clear();
        for (auto& observer : cancelled_observers_) {
          deliveries.push_back(
              [observer] { observer->OnFinish(engine::FinishReason::kCancelled, Status::Ok()); });
        }
        cancelled_observers_.clear();
        lock.unlock();
        for (auto& d : deliveries) d();
        return;
      }
      if (!paused_) {
        while (static_cast<int>(running_.size()) < options_.max_running && !waiting_.empty()) {
          running_.insert(std::move(waiting_.front()));
          waiting_.pop_front();
        }
        for (auto it = running_.begin(); it != running_.end();) {
          Sequence& s = it->second;
          auto observer = s.observer;
          if (!s.prefilled) {
            s.prefilled = true;
            prompt_tokens_ += s.request.prompt.size();
            deliveries.push_back([observer] { observer->OnPrefillDone(0); });
          }
          const int32_t token = s.generated < static_cast<int>(s.script.size())
                                    ? s.script[static_cast<size_t>(s.generated)]
                                    : kFakeEos;
          std::optional<engine::FinishReason> finish;
          if (token == kFakeEos && !s.request.ignore_eos) {
            finish = engine::FinishReason::kStop;
          } else {
            ++s.generated;
            ++generated_tokens_;
            engine::TokenEvent event;
            event.token = token;
            event.logprob = -0.5f;
            if (s.request.sampling.top_logprobs > 0) event.top_logprobs = {{token, -0.5f}};
            deliveries.push_back([observer, event] { observer->OnToken(event); });
            if (s.generated >= s.request.max_tokens) finish = engine::FinishReason::kLength;
          }
          if (finish) {
            deliveries.push_back(
                [observer, reason = *finish] { observer->OnFinish(reason, Status::Ok()); });
            it = running_.erase(it);
          } else {
            ++it;
          }
        }
      }
      interval = options_.token_interval;
    }
    for (auto& d : deliveries) d();
    std::this_thread::sleep_for(interval);
  }
}

void FakeEngine::Shutdown(int /*drain_ms*/) {
  {
    std::lock_guard lock(mutex_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace hearth::server::testing
