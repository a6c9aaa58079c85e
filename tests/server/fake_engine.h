// Test doubles for the server tests: a deterministic engine and a byte-level text codec.
//
// FakeCodec: tokens 0..255 are single bytes, 256 is BOS and 257 EOS (control tokens, no text).
// Prompts are BOS + their bytes; chats are rendered as "<|role|>content\n..." + "<|assistant|>".
//
// FakeEngine: a scheduler thread that admits up to `max_running` sequences, then emits one token
// per sequence every `token_interval`, following a script (the tokens a request generates),
// then EOS. It honours max_tokens, ignore_eos, Cancel (freeing the sequence's blocks at once)
// and reports KV block use like a paged cache (ceil(tokens / block_tokens) per sequence), so
// the server's bookkeeping can be checked without a model. The real engine is exercised in
// real_engine_test.cc.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "hearth/engine/engine.h"
#include "hearth/model/model.h"
#include "hearth/server/text_codec.h"

namespace hearth::server::testing {

inline constexpr int32_t kFakeBos = 256;
inline constexpr int32_t kFakeEos = 257;
inline constexpr int kFakeVocab = 258;

class FakeCodec : public TextCodec {
 public:
  static std::string RenderChat(const std::vector<ChatMessage>& messages);
  static std::vector<int32_t> Bytes(std::string_view text);  // BOS + bytes

  Result<std::vector<int32_t>> EncodeChat(const std::vector<ChatMessage>& messages) const override;
  Result<std::vector<int32_t>> EncodePrompt(std::string_view text) const override;
  std::string TokenBytes(int32_t token) const override;
  int vocab_size() const override { return kFakeVocab; }
};

class FakeEngine : public engine::Engine {
 public:
  struct Options {
    int context_length = 512;
    int max_running = 4;
    int max_queued = 64;  // beyond this Submit fails with ResourceExhausted
    int64_t kv_blocks_total = 256;
    int block_tokens = 16;
    std::chrono::microseconds token_interval{200};
  };
  // The tokens a request generates before EOS.
  using Script = std::function<std::vector<int32_t>(const engine::GenerationRequest&)>;

  FakeEngine(Options options, Script script);
  ~FakeEngine() override;

  Result<engine::SequenceId> Submit(engine::GenerationRequest request,
                                    std::shared_ptr<engine::SequenceObserver> observer) override;
  void Cancel(engine::SequenceId id) override;
  engine::EngineStats Stats() const override;
  const tokenizer::Tokenizer& tokenizer() const override;
  const model::ModelConfig& model_config() const override { return config_; }
  std::string model_name() const override { return "fake-model"; }
  std::string chat_template() const override { return ""; }
  int context_length() const override { return options_.context_length; }
  void Shutdown(int drain_ms) override;

  // While paused no token is produced (sequences stay admitted or queued).
  void SetPaused(bool paused);
  void SetTokenInterval(std::chrono::microseconds interval);
  int cancelled() const { return cancelled_.load(); }
  int submitted() const { return submitted_.load(); }

 private:
  struct Sequence {
    engine::GenerationRequest request;
    std::shared_ptr<engine::SequenceObserver> observer;
    std::vector<int32_t> script;
    int generated = 0;
    bool prefilled = false;
  };
  void Run();
  int64_t BlocksOf(const Sequence& s) const;

  Options options_;
  Script script_;
  model::ModelConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<engine::SequenceId, Sequence> running_;
  std::deque<std::pair<engine::SequenceId, Sequence>> waiting_;
  // Cancelled sequences whose OnFinish is still to be delivered on the engine thread.
  std::vector<std::shared_ptr<engine::SequenceObserver>> cancelled_observers_;
  engine::SequenceId next_id_ = 1;
  bool paused_ = false;
  bool stop_ = false;
  std::atomic<int> cancelled_{0};
  std::atomic<int> submitted_{0};
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  std::thread thread_;
};

}  // namespace hearth::server::testing
