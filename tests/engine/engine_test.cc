// End-to-end tests of the Engine on real fixture models: greedy output against the fixtures'
// independent reference, batched against single-sequence decoding, prefix-cache hits,
// preemption under a tiny KV budget, cancellation, priorities and shutdown.
#include "hearth/engine/engine.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hearth/model/model.h"
#include "support/fixtures.h"

namespace hearth::engine {
namespace {

using hearth::testing::FixturePath;

// Thread-safe record of one sequence's events; Wait() blocks until OnFinish.
class Collector : public SequenceObserver {
 public:
  void OnPrefillDone(int cached) override {
    std::lock_guard lock(mutex_);
    cached_ = cached;
  }
  void OnToken(const TokenEvent& e) override {
    std::lock_guard lock(mutex_);
    tokens_.push_back(e.token);
    logprobs_.push_back(e.logprob);
    if (on_token_) on_token_(tokens_.size());
  }
  void OnFinish(FinishReason reason, const Status& status) override {
    std::lock_guard lock(mutex_);
    finished_ = true;
    reason_ = reason;
    status_ = status;
    if (finish_log_ != nullptr) {
      std::lock_guard log_lock(*finish_log_mutex_);
      finish_log_->push_back(tag_);
    }
    done_.notify_all();
  }

  bool Wait(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    std::unique_lock lock(mutex_);
    return done_.wait_for(lock, timeout, [this] { return finished_; });
  }
  std::vector<int32_t> tokens() const {
    std::lock_guard lock(mutex_);
    return tokens_;
  }
  std::vector<float> logprobs() const {
    std::lock_guard lock(mutex_);
    return logprobs_;
  }
  FinishReason reason() const {
    std::lock_guard lock(mutex_);
    return reason_;
  }
  int cached() const {
    std::lock_guard lock(mutex_);
    return cached_;
  }

  std::function<void(size_t)> on_token_;  // set before Submit
  std::vector<int>* finish_log_ = nullptr;
  std::mutex* finish_log_mutex_ = nullptr;
  int tag_ = 0;

 private:
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::vector<int32_t> tokens_;
  std::vector<float> logprobs_;
  bool finished_ = false;
  FinishReason reason_ = FinishReason::kError;
  Status status_;
  int cached_ = -1;
};

EngineOptions Options(const std::string& model, int context = 256) {
  EngineOptions o;
  o.model_path = FixturePath("models/" + model);
  o.threads = 1;
  o.context_length = context;
  o.max_parallel = 8;
  o.max_batch_tokens = 64;
  return o;
}

std::unique_ptr<Engine> MakeEngine(const EngineOptions& o) {
  auto engine = Engine::Create(o);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

GenerationRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

std::vector<int32_t> GenerateAlone(Engine& engine, GenerationRequest request) {
  auto c = std::make_shared<Collector>();
  auto id = engine.Submit(std::move(request), c);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(c->Wait());
  return c->tokens();
}

// Stats are published after each step, and observers hear of a finish during the step: wait
// for the snapshot that follows the last finish.
EngineStats WaitForIdle(Engine& engine) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  EngineStats s = engine.Stats();
  while ((s.running > 0 || s.waiting > 0 || s.kv_blocks_used > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    s = engine.Stats();
  }
  return s;
}

std::vector<int32_t> ParseIds(const std::string& text) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < text.size();) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    ids.push_back(std::stoi(text.substr(i, end - i)));
    i = end;
  }
  return ids;
}

// Prompts of varied lengths over the 512-token vocabulary, all starting with BOS.
std::vector<std::vector<int32_t>> VariedPrompts(int count) {
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> p = {1};
    for (int j = 0; j < 3 + 11 * i; ++j) p.push_back(260 + (i * 37 + j * 11) % 190);
    prompts.push_back(p);
  }
  return prompts;
}

TEST(EngineTest, GreedyMatchesIndependentReference) {
  const auto ref_path = FixturePath("models/stories260K_greedy_from_BOS_256.txt");
  HEARTH_REQUIRE_FIXTURE(ref_path);
  std::ifstream in(ref_path);
  std::string line, prompt_line, generated_line, margins_line;
  while (std::getline(in, line)) {
    if (line.rfind("prompt ids:", 0) == 0) prompt_line = line;
    if (line.rfind("generated ids:", 0) == 0) generated_line = line;
    if (line.rfind("smallest top1-top2", 0) == 0) margins_line = line;
  }
  const std::vector<int32_t> prompt = ParseIds(prompt_line.substr(prompt_line.find('[')));
  const std::vector<int32_t> expected = ParseIds(generated_line.substr(generated_line.find('[')));
  ASSERT_EQ(prompt, std::vector<int32_t>{1});
  ASSERT_EQ(expected.size(), 256u);
  // Compare up to the first step whose top-2 margin is under 0.1 (then either token is right);
  // "pos" may count the prompt, so stop one earlier to be safe.
  size_t cutoff = expected.size();
  // "... (margin, pos): (0.004182, 185), (0.024981, 235), ..."
  size_t at = margins_line.find("): ");
  while (at != std::string::npos && (at = margins_line.find('(', at + 1)) != std::string::npos) {
    double margin = 0;
    int pos = 0;
    if (std::sscanf(margins_line.c_str() + at, "(%lf, %d)", &margin, &pos) == 2 &&
        margin < 0.1) {
      cutoff = std::min(cutoff, static_cast<size_t>(pos) - prompt.size());
    }
  }
  ASSERT_GT(cutoff, 100u);

  auto engine = MakeEngine(Options("stories260K.gguf", 512));
  ASSERT_NE(engine, nullptr);
  std::vector<int32_t> got = GenerateAlone(*engine, Greedy(prompt, 256));
  ASSERT_GE(got.size(), cutoff);
  EXPECT_EQ(std::vector<int32_t>(got.begin(), got.begin() + static_cast<long>(cutoff)),
            std::vector<int32_t>(expected.begin(), expected.begin() + static_cast<long>(cutoff)));
}

void ExpectBatchedEqualsAlone(const std::string& model) {
  const auto path = FixturePath("models/" + model);
  HEARTH_REQUIRE_FIXTURE(path);
  const auto prompts = VariedPrompts(6);  // 4 to 59 tokens
  EngineOptions o = Options(model);
  o.prefix_cache = false;  // each alone run must really recompute
  auto engine = MakeEngine(o);
  ASSERT_NE(engine, nullptr);
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(GenerateAlone(*engine, Greedy(p, 24)));

  // All together, with a batch budget that makes long prompts prefill in chunks while the
  // short ones are already decoding, in smaller chunks still while they decode.
  o.max_batch_tokens = 24;
  o.step_tokens = 12;
  auto batched_engine = MakeEngine(o);
  ASSERT_NE(batched_engine, nullptr);
  std::vector<std::shared_ptr<Collector>> collectors;
  for (const auto& p : prompts) {
    collectors.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(batched_engine->Submit(Greedy(p, 24), collectors.back()).ok());
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(collectors[i]->Wait());
    EXPECT_EQ(collectors[i]->reason(), FinishReason::kLength);
    EXPECT_EQ(collectors[i]->tokens(), alone[i]) << model << " prompt " << i;
    EXPECT_EQ(alone[i].size(), 24u);
  }
}

TEST(EngineTest, BatchedDecodeEqualsSingleSequenceStories) {
  ExpectBatchedEqualsAlone("stories260K.gguf");
}

TEST(EngineTest, BatchedDecodeEqualsSingleSequenceQwen2Q8) {
  ExpectBatchedEqualsAlone("tiny-qwen2-Q8_0.gguf");
}

TEST(EngineTest, PrefixCacheHitReportsCachedTokensAndSameOutput) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf"));
  ASSERT_NE(engine, nullptr);
  std::vector<int32_t> prompt = VariedPrompts(10).back();  // 103 tokens
  ASSERT_EQ(prompt.size(), 103u);
  auto first = std::make_shared<Collector>();
  ASSERT_TRUE(engine->Submit(Greedy(prompt, 16), first).ok());
  ASSERT_TRUE(first->Wait());
  auto second = std::make_shared<Collector>();
  ASSERT_TRUE(engine->Submit(Greedy(prompt, 16), second).ok());
  ASSERT_TRUE(second->Wait());
  EXPECT_EQ(first->cached(), 0);
  EXPECT_EQ(second->cached(), 96);  // 6 whole blocks of 16; the last token is recomputed
  EXPECT_EQ(second->tokens(), first->tokens());
  EngineStats s = WaitForIdle(*engine);
  EXPECT_EQ(s.prompt_tokens, 206u);
  EXPECT_EQ(s.cached_prompt_tokens, 96u);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_GT(s.kv_blocks_cached, 0);
}

TEST(EngineTest, ConcurrentRequestsComputeASharedPrefixOnce) {
  // Four requests submitted together share a 64-token prefix (4 blocks) that takes two steps
  // of 32 to prefill: whichever runs first computes it, the others wait for it and hit it.
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  EngineOptions o = Options("stories260K.gguf");
  o.max_batch_tokens = 32;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    std::vector<int32_t> p = VariedPrompts(7).back();  // 70 tokens
    p.resize(64);
    for (int j = 0; j < 9; ++j) p.push_back(300 + i * 20 + j);
    prompts.push_back(p);
  }
  std::vector<std::vector<int32_t>> alone;
  {
    EngineOptions no_cache = o;
    no_cache.prefix_cache = false;
    auto engine = MakeEngine(no_cache);
    ASSERT_NE(engine, nullptr);
    for (const auto& p : prompts) alone.push_back(GenerateAlone(*engine, Greedy(p, 12)));
  }
  auto engine = MakeEngine(o);
  ASSERT_NE(engine, nullptr);
  std::vector<std::shared_ptr<Collector>> collectors;
  for (const auto& p : prompts) {
    collectors.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(engine->Submit(Greedy(p, 12), collectors.back()).ok());
  }
  int cached_total = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(collectors[i]->Wait());
    EXPECT_EQ(collectors[i]->tokens(), alone[i]) << "prompt " << i;
    cached_total += collectors[i]->cached();
  }
  EXPECT_EQ(cached_total, 3 * 64);
  EngineStats s = WaitForIdle(*engine);
  EXPECT_EQ(s.prompt_tokens, 4u * 73u);
  EXPECT_EQ(s.cached_prompt_tokens, 3u * 64u);
}

TEST(EngineTest, PreemptionUnderTinyKvBudgetGivesSameGreedyOutput) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  EngineOptions o = Options("stories260K.gguf", /*context=*/64);
  o.prefix_cache = false;
  o.kv_block_tokens = 16;
  // Three 10-token prompts are admitted together (one block each) and each grows to 50 tokens
  // (4 blocks): 12 blocks wanted, 5 exist.
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 3; ++i) {
    std::vector<int32_t> p = {1};
    for (int j = 0; j < 9; ++j) p.push_back(270 + i * 50 + j * 3);
    prompts.push_back(p);
  }
  auto reference_engine = MakeEngine(o);
  ASSERT_NE(reference_engine, nullptr);
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : prompts) alone.push_back(GenerateAlone(*reference_engine, Greedy(p, 40)));

  o.kv_budget_bytes = 1;
  auto refused = Engine::Create(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("64-token context needs 4 blocks"),
            std::string::npos)
      << refused.status().message();
  // Room for one full 64-token context (4 blocks of 16) and one block more. stories260K:
  // 5 layers x 4 KV heads x head_dim 8 in F16, K and V: 5 * 2 * 32 * 2 = 640 bytes a token.
  o.kv_budget_bytes = 640ull * 16 * 5;
  auto engine = MakeEngine(o);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->Stats().kv_blocks_total, 5);
  std::vector<std::shared_ptr<Collector>> collectors;
  for (const auto& p : prompts) {
    collectors.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(engine->Submit(Greedy(p, 40), collectors.back()).ok());
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(collectors[i]->Wait());
    EXPECT_EQ(collectors[i]->reason(), FinishReason::kLength);
    EXPECT_EQ(collectors[i]->tokens(), alone[i]) << "prompt " << i;
  }
  EngineStats s = WaitForIdle(*engine);
  EXPECT_GT(s.preemptions, 0u);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.running + s.waiting, 0);
}

TEST(EngineTest, CancelFreesBlocksAndReportsCancelled) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf"));
  ASSERT_NE(engine, nullptr);
  auto c = std::make_shared<Collector>();
  Engine* raw = engine.get();
  SequenceId id = 0;
  std::mutex id_mutex;
  std::unique_lock id_lock(id_mutex);
  // Cancel from inside the observer, on the engine thread, after the third token: observers
  // may call back into the engine.
  c->on_token_ = [&](size_t n) {
    if (n == 3) {
      std::lock_guard lock(id_mutex);
      raw->Cancel(id);
    }
  };
  auto submitted = engine->Submit(Greedy(VariedPrompts(3).back(), 200), c);
  ASSERT_TRUE(submitted.ok());
  id = *submitted;
  id_lock.unlock();
  ASSERT_TRUE(c->Wait());
  EXPECT_EQ(c->reason(), FinishReason::kCancelled);
  EXPECT_GE(c->tokens().size(), 3u);
  EXPECT_LT(c->tokens().size(), 200u);
  EngineStats s = WaitForIdle(*engine);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.running, 0);
  engine->Cancel(id);  // finished already: ignored
  engine->Cancel(12345);
}

TEST(EngineTest, PriorityOrdersWaitingRequests) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  EngineOptions o = Options("stories260K.gguf");
  o.max_parallel = 1;
  auto engine = MakeEngine(o);
  ASSERT_NE(engine, nullptr);
  std::vector<int> order;
  std::mutex order_mutex;
  // The first request occupies the only slot while the others queue up behind it.
  auto blocker = std::make_shared<Collector>();
  blocker->finish_log_ = &order;
  blocker->finish_log_mutex_ = &order_mutex;
  GenerationRequest first = Greedy({1, 300}, 60);
  first.priority = 10;  // admitted first even if the others arrive before the first step
  ASSERT_TRUE(engine->Submit(first, blocker).ok());
  std::vector<std::shared_ptr<Collector>> cs;
  const int priorities[] = {0, 3, 0, 3, -2};
  for (int i = 0; i < 5; ++i) {
    auto c = std::make_shared<Collector>();
    c->tag_ = i + 1;
    c->finish_log_ = &order;
    c->finish_log_mutex_ = &order_mutex;
    GenerationRequest r = Greedy({1, 300 + i}, 2);
    r.priority = priorities[i];
    ASSERT_TRUE(engine->Submit(r, c).ok());
    cs.push_back(c);
  }
  for (auto& c : cs) ASSERT_TRUE(c->Wait());
  std::lock_guard lock(order_mutex);
  EXPECT_EQ(order, (std::vector<int>{0, 2, 4, 1, 3, 5}));
}

TEST(EngineTest, SubmitValidatesWithNumbers) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf", 32));
  ASSERT_NE(engine, nullptr);
  auto c = std::make_shared<Collector>();
  auto r = engine->Submit(Greedy({}, 4), c);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = engine->Submit(Greedy(std::vector<int32_t>(32, 5), 4), c);
  EXPECT_NE(r.status().message().find("32 tokens"), std::string::npos) << r.status().message();
  r = engine->Submit(Greedy({1, 512}, 4), c);
  EXPECT_NE(r.status().message().find("id 512"), std::string::npos) << r.status().message();
  // max_tokens is clipped to the context: 30 + 2 = 32.
  auto clipped = std::make_shared<Collector>();
  ASSERT_TRUE(engine->Submit(Greedy(std::vector<int32_t>(30, 300), 100), clipped).ok());
  ASSERT_TRUE(clipped->Wait());
  EXPECT_EQ(clipped->tokens().size(), 2u);
  EXPECT_EQ(clipped->reason(), FinishReason::kLength);
}

TEST(EngineTest, RejectsContextBeyondModelAndReportsMetadata) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  EngineOptions o = Options("stories260K.gguf", 1 << 20);
  auto refused = Engine::Create(o);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  o.context_length = 0;  // the model's own (512 here, under the 4096 cap)
  auto engine = MakeEngine(o);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->context_length(), engine->model_config().context_length);
  EXPECT_EQ(engine->model_config().vocab_size, 512);
  EXPECT_FALSE(engine->model_name().empty());
}

TEST(EngineTest, LogprobsAreReportedAndNonPositive) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf"));
  ASSERT_NE(engine, nullptr);
  GenerationRequest r = Greedy({1, 300, 301}, 8);
  r.sampling.logprobs = true;
  auto c = std::make_shared<Collector>();
  ASSERT_TRUE(engine->Submit(r, c).ok());
  ASSERT_TRUE(c->Wait());
  ASSERT_EQ(c->logprobs().size(), 8u);
  for (float lp : c->logprobs()) {
    EXPECT_LE(lp, 0.0f);
    EXPECT_GT(lp, -20.0f);  // greedy picks are likely tokens
  }
}

TEST(EngineTest, ShutdownCancelsRunningAndRefusesNewWork) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf", 512));
  ASSERT_NE(engine, nullptr);
  auto c = std::make_shared<Collector>();
  ASSERT_TRUE(engine->Submit(Greedy({1}, 500), c).ok());
  engine->Shutdown(0);
  ASSERT_TRUE(c->Wait(std::chrono::seconds(1)));
  EXPECT_EQ(c->reason(), FinishReason::kCancelled);
  auto late = engine->Submit(Greedy({1}, 5), std::make_shared<Collector>());
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  engine->Shutdown(0);  // idempotent
}

TEST(EngineTest, ShutdownDrainsThenStops) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf", 512));
  ASSERT_NE(engine, nullptr);
  std::vector<std::shared_ptr<Collector>> cs;
  for (int i = 0; i < 3; ++i) {
    cs.push_back(std::make_shared<Collector>());
    ASSERT_TRUE(engine->Submit(Greedy({1, 300 + i}, 20), cs.back()).ok());
  }
  engine->Shutdown(60'000);  // returns once all three have finished on their own
  for (auto& c : cs) {
    ASSERT_TRUE(c->Wait(std::chrono::seconds(0)));
    EXPECT_EQ(c->reason(), FinishReason::kLength);
    EXPECT_EQ(c->tokens().size(), 20u);
  }
}

TEST(EngineTest, ShutdownFromAnObserverDoesNotDeadlock) {
  HEARTH_REQUIRE_FIXTURE(FixturePath("models/stories260K.gguf"));
  auto engine = MakeEngine(Options("stories260K.gguf", 512));
  ASSERT_NE(engine, nullptr);
  auto c = std::make_shared<Collector>();
  Engine* raw = engine.get();
  c->on_token_ = [raw](size_t n) {
    if (n == 2) raw->Shutdown(0);
  };
  ASSERT_TRUE(engine->Submit(Greedy({1}, 100), c).ok());
  ASSERT_TRUE(c->Wait(std::chrono::seconds(30)));
  EXPECT_EQ(c->reason(), FinishReason::kCancelled);
  EXPECT_EQ(c->tokens().size(), 2u);
  engine.reset();  // the destructor joins the (already stopped) thread
}

}  // namespace
}  // namespace hearth::engine
