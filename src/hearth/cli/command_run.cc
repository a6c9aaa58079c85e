// `hearth run MODEL [PROMPT]`: generate text from a GGUF model in the terminal.
//
// With a PROMPT it answers once; without, it reads one message per line from stdin (a
// multi-turn chat that keeps its history; the prefix cache makes resending the history cheap).
// Instruct models get their chat template applied: the GGUF's own tokenizer.chat_template, else
// the family's fallback when the vocabulary has that format's special tokens; --no-chat (or a
// base model) sends the text as is. Tokens stream to stdout as complete UTF-8 as they are
// sampled; timing goes to stderr. Ctrl-C stops generation and exits; Ctrl-D ends the chat.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "hearth/base/shutdown.h"
#include "hearth/cli/commands.h"
#include "hearth/engine/engine.h"
#include "hearth/engine/sampler.h"
#include "hearth/model/model.h"
#include "hearth/tokenizer/chat_template.h"
#include "hearth/tokenizer/detokenizer.h"
#include "hearth/tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string system;
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int64_t seed = -1;
  int max_tokens = 0;
  int context = 0;
  int threads = 0;
  bool no_chat = false;
};

int Fail(const Status& status) {
  std::fprintf(stderr, "hearth: %s\n", status.message().c_str());
  return 1;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Hands tokens from the engine thread to the terminal thread (observers must not block on
// output), with the timestamps the speed report needs.
class StreamObserver : public engine::SequenceObserver {
 public:
  void OnPrefillDone(int cached) override {
    std::lock_guard lock(mutex_);
    cached_ = cached;
    prefill_done_ = Clock::now();
  }
  void OnToken(const engine::TokenEvent& event) override {
    std::lock_guard lock(mutex_);
    if (generated_ == 0) first_token_ = Clock::now();
    ++generated_;
    pending_.push_back(event.token);
    changed_.notify_one();
  }
  void OnFinish(engine::FinishReason reason, const Status& status) override {
    std::lock_guard lock(mutex_);
    finished_ = true;
    finish_time_ = Clock::now();
    reason_ = reason;
    status_ = status;
    changed_.notify_one();
  }

  // Waits up to `timeout` for news; moves new tokens into `out`. True once finished and
  // drained.
  bool Take(std::vector<int32_t>& out, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [this] { return finished_ || !pending_.empty(); });
    out.assign(pending_.begin(), pending_.end());
    pending_.clear();
    return finished_;
  }

  int cached() const { return cached_; }
  int generated() const { return generated_; }
  Clock::time_point prefill_done() const { return prefill_done_; }
  Clock::time_point first_token() const { return first_token_; }
  Clock::time_point finish_time() const { return finish_time_; }
  engine::FinishReason reason() const { return reason_; }
  const Status& status() const { return status_; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<int32_t> pending_;
  bool finished_ = false;
  int cached_ = 0;
  int generated_ = 0;
  Clock::time_point prefill_done_{}, first_token_{}, finish_time_{};
  engine::FinishReason reason_ = engine::FinishReason::kError;
  Status status_;
};

// The special tokens a template's text spells ("<|im_start|>", "<｜User｜>"): a fallback template
// only suits a vocabulary that has them.
bool VocabularyFitsTemplate(const tokenizer::Vocab& vocab, std::string_view source) {
  static constexpr std::pair<std::string_view, std::string_view> kDelimiters[] = {
      {"<|", "|>"}, {"<\uFF5C", "\uFF5C>"}};  // ASCII bar, fullwidth bar (DeepSeek)
  bool any = false;
  for (const auto& [open, close] : kDelimiters) {
    for (size_t at = source.find(open); at != std::string_view::npos;
         at = source.find(open, at + 1)) {
      const size_t end = source.find(close, at + open.size());
      if (end == std::string_view::npos || end - at > 64) continue;
      const std::string_view marker = source.substr(at, end + close.size() - at);
      if (marker.find_first_of(" \t\n<", 1) < marker.size() - close.size()) continue;
      any = true;
      if (vocab.Find(marker) == tokenizer::kNoToken) return false;
    }
  }
  return any;
}

engine::SamplingParams SamplingFrom(const RunOptions& options) {
  engine::SamplingParams s;
  s.temperature = options.temperature;
  s.top_k = options.top_k;
  s.top_p = options.top_p;
  s.min_p = options.min_p;
  s.repetition_penalty = options.repeat_penalty;
  return s;
}

class Runner {
 public:
  Runner(engine::Engine& engine, const RunOptions& options, bool echo_prompt)
      : engine_(engine),
        options_(options),
        tokenizer_(engine.tokenizer()),
        echo_prompt_(echo_prompt) {}

  Status Init() {
    if (options_.no_chat) return Status::Ok();
    std::string source = engine_.chat_template();
    if (source.empty()) {
      auto pre = tokenizer_.vocab().pre();
      std::string_view fallback =
          tokenizer::FallbackTemplateFor(engine_.model_config().architecture, pre);
      if (!VocabularyFitsTemplate(tokenizer_.vocab(), fallback)) return Status::Ok();
      source = std::string(fallback);
    }
    auto parsed = tokenizer::ChatTemplate::Parse(source);
    if (!parsed.ok()) return parsed.status().WithContext("chat template");
    template_ = std::make_unique<tokenizer::ChatTemplate>(std::move(parsed).value());
    if (!options_.system.empty()) {
      messages_.push_back({{"role", "system"}, {"content", options_.system}});
    }
    return Status::Ok();
  }

  bool chat() const { return template_ != nullptr; }

  // One turn: `text` is the user's message (chat) or more text to continue (raw).
  Status Turn(const std::string& text) {
    std::vector<int32_t> prompt;
    if (chat()) {
      messages_.push_back({{"role", "user"}, {"content", text}});
      HEARTH_ASSIGN_OR_RETURN(prompt, RenderConversation());
    } else {
      // A one-shot completion continues the text, so the text is shown first (in the REPL
      // the user just typed it).
      if (transcript_.empty() && echo_prompt_) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      }
      transcript_ += text;
      prompt = tokenizer_.Encode(transcript_, /*add_special=*/true, /*parse_special=*/false);
    }
    std::string reply;
    Status status = Generate(prompt, reply);
    if (!status.ok()) {
      if (chat()) messages_.pop_back();
      return status;
    }
    if (chat()) {
      messages_.push_back({{"role", "assistant"}, {"content", reply}});
    } else {
      transcript_ += reply;
    }
    return Status::Ok();
  }

  void Reset() {
    transcript_.clear();
    messages_.erase(std::remove_if(messages_.begin(), messages_.end(),
                                   [](const auto& m) { return m["role"] != "system"; }),
                    messages_.end());
  }

  bool interrupted() const { return interrupted_; }

 private:
  Result<std::vector<int32_t>> RenderConversation() const {
    const tokenizer::Vocab& vocab = tokenizer_.vocab();
    auto token_text = [&](int32_t id) {
      return vocab.Contains(id) ? std::string(vocab.text(id)) : std::string();
    };
    nlohmann::ordered_json context = {
        {"messages", nlohmann::ordered_json(messages_)},
        {"add_generation_prompt", true},
        {"bos_token", token_text(vocab.bos_id())},
        {"eos_token", token_text(vocab.eos_id())},
    };
    HEARTH_ASSIGN_OR_RETURN(std::string text, template_->Render(context));
    // Templates usually spell the BOS themselves; add it only where they do not.
    std::vector<int32_t> ids = tokenizer_.Encode(text, /*add_special=*/false,
                                                 /*parse_special=*/true);
    if (vocab.add_bos() && vocab.Contains(vocab.bos_id()) &&
        (ids.empty() || ids.front() != vocab.bos_id())) {
      ids.insert(ids.begin(), vocab.bos_id());
    }
    return ids;
  }

  Status Generate(const std::vector<int32_t>& prompt, std::string& reply) {
    engine::GenerationRequest request;
    request.prompt = prompt;
    request.max_tokens = options_.max_tokens > 0 ? options_.max_tokens : engine_.context_length();
    request.sampling = SamplingFrom(options_);
    request.sampling.seed = options_.seed >= 0 ? static_cast<uint64_t>(options_.seed) + turn_
                                : (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                      std::random_device{}();
    ++turn_;

    auto observer = std::make_shared<StreamObserver>();
    const Clock::time_point submitted = Clock::now();
    HEARTH_ASSIGN_OR_RETURN(engine::SequenceId id, engine_.Submit(request, observer));
    tokenizer::StreamingDecoder decoder(tokenizer_);
    if (!chat()) {
      // A continuation: decode it as part of the whole text (the prompt is on screen already),
      // so that e.g. SentencePiece's leading space of the first new word is kept.
      for (int32_t token : prompt) (void)decoder.Push(token);
    }
    std::vector<int32_t> tokens;
    bool finished = false;
    while (!finished) {
      finished = observer->Take(tokens, std::chrono::milliseconds(100));
      for (int32_t token : tokens) {
        auto piece = decoder.Push(token);
        if (!piece.ok()) continue;  // an id outside the vocabulary never reaches here
        std::fwrite(piece->data(), 1, piece->size(), stdout);
        reply += *piece;
      }
      std::fflush(stdout);
      if (!finished && !interrupted_ && ShutdownSignal::requested()) {
        interrupted_ = true;
        engine_.Cancel(id);
      }
    }
    const std::string tail = decoder.Flush();
    std::fwrite(tail.data(), 1, tail.size(), stdout);
    reply += tail;
    std::fputc('\n', stdout);
    std::fflush(stdout);

    if (observer->reason() == engine::FinishReason::kError) return observer->status();
    const int computed = static_cast<int>(prompt.size()) - observer->cached();
    const double prefill_s = Seconds(observer->prefill_done() - submitted);
    std::string report = fmt::format("prompt: {} tokens ({} cached) in {:.2f} s, {:.1f} tok/s",
                                     prompt.size(), observer->cached(), prefill_s,
                                     prefill_s > 0 ? computed / prefill_s : 0.0);
    const int n = observer->generated();
    if (n > 1) {
      const double decode_s = Seconds(observer->finish_time() - observer->first_token());
      report += fmt::format("; generated: {} tokens, {:.1f} tok/s", n,
                            decode_s > 0 ? (n - 1) / decode_s : 0.0);
    } else {
      report += fmt::format("; generated: {} tokens", n);
    }
    if (observer->reason() == engine::FinishReason::kLength && n < request.max_tokens) {
      report += " (context full)";
    }
    std::fprintf(stderr, "[%s]\n", report.c_str());
    return Status::Ok();
  }

  engine::Engine& engine_;
  const RunOptions& options_;
  const tokenizer::Tokenizer& tokenizer_;
  bool echo_prompt_;
  std::unique_ptr<tokenizer::ChatTemplate> template_;
  std::vector<nlohmann::ordered_json> messages_;
  std::string transcript_;
  uint64_t turn_ = 0;
  bool interrupted_ = false;
};

int RunAction(const RunOptions& options, bool prompt_given) {
  // Bad flags are reported before the model is loaded (no logit_bias here: any vocab size).
  if (Status s = engine::ValidateSamplingParams(SamplingFrom(options), 1); !s.ok()) return Fail(s);
  ShutdownSignal::Install();  // before the engine starts its threads, so they inherit the mask
  engine::EngineOptions eo;
  eo.model_path = options.model;
  eo.threads = options.threads;
  eo.context_length = options.context;
  eo.max_parallel = 1;
  auto created = engine::Engine::Create(eo);
  if (!created.ok()) return Fail(created.status());
  std::unique_ptr<engine::Engine> engine = std::move(created).value();

  Runner runner(*engine, options, /*echo_prompt=*/prompt_given);
  if (Status s = runner.Init(); !s.ok()) return Fail(s);

  if (prompt_given) {
    Status s = runner.Turn(options.prompt);
    engine->Shutdown(0);
    if (!s.ok()) return Fail(s);
    return runner.interrupted() ? 130 : 0;
  }

  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) {
    std::fprintf(stderr, "%s — %s mode, context %d. Ctrl-D to quit.\n",
                 engine->model_name().c_str(), runner.chat() ? "chat" : "completion",
                 engine->context_length());
  }
  std::string line;
  while (!runner.interrupted() && !ShutdownSignal::requested()) {
    if (interactive) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (!runner.chat()) line += "\n";
    Status s = runner.Turn(line);
    if (s.ok()) continue;
    if (s.code() != StatusCode::kInvalidArgument) return Fail(s);
    // Most likely the conversation outgrew the context: say so and start a fresh one.
    std::fprintf(stderr, "hearth: %s; starting a new conversation\n", s.message().c_str());
    runner.Reset();
  }
  engine->Shutdown(0);
  return runner.interrupted() ? 130 : 0;
}

}  // namespace

void RegisterRun(CLI::App& app, GlobalOptions& /*globals*/, Action* action) {
  auto options = std::make_shared<RunOptions>();
  auto* run = app.add_subcommand("run", "Generate text from a GGUF model (chat when no PROMPT)");
  run->add_option("model", options->model, "GGUF model file")->required();
  auto* prompt = run->add_option("prompt", options->prompt, "prompt; omit for an interactive chat");
  run->add_option("--temp", options->temperature, "sampling temperature (0: greedy)")
      ->capture_default_str();
  run->add_option("--top-k", options->top_k, "keep the k most likely tokens (0: off)")
      ->capture_default_str();
  run->add_option("--top-p", options->top_p, "nucleus sampling mass (1: off)")
      ->capture_default_str();
  run->add_option("--min-p", options->min_p, "drop tokens below min_p * p(best) (0: off)")
      ->capture_default_str();
  run->add_option("--repeat-penalty", options->repeat_penalty,
                  "penalty for tokens already in the text (1: off)")
      ->capture_default_str();
  run->add_option("--seed", options->seed, "random seed (default: a random one)");
  run->add_option("--max-tokens", options->max_tokens,
                  "most tokens to generate per turn (default: until end of turn or context)");
  run->add_option("--ctx", options->context, "context length (default: the model's, at most 4096)");
  run->add_option("--threads", options->threads, "compute threads (default: one per core)");
  run->add_option("--system", options->system, "system message for chat models");
  run->add_flag("--no-chat", options->no_chat, "send the text as is, without the chat template");
  run->callback([options, prompt, action] {
    const bool prompt_given = prompt->count() > 0;
    *action = [options, prompt_given] { return RunAction(*options, prompt_given); };
  });
}

}  // namespace hearth::cli
