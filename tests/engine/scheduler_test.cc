#include "hearth/engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/fake_backend.h"

namespace hearth::engine {
namespace {

using testing::FakeBackend;

constexpr int kVocab = 64;

// Records everything the scheduler tells one sequence's observer.
class Recorder : public SequenceObserver {
 public:
  void OnPrefillDone(int cached) override {
    EXPECT_FALSE(prefill_done) << "OnPrefillDone twice";
    EXPECT_TRUE(tokens.empty()) << "OnPrefillDone after a token";
    prefill_done = true;
    cached_prompt_tokens = cached;
  }
  void OnToken(const TokenEvent& e) override {
    EXPECT_TRUE(prefill_done);
    EXPECT_FALSE(finished);
    tokens.push_back(e.token);
  }
  void OnFinish(FinishReason r, const Status& s) override {
    EXPECT_FALSE(finished) << "OnFinish twice";
    finished = true;
    reason = r;
    status = s;
    if (finish_order != nullptr) finish_order->push_back(tag);
  }

  bool prefill_done = false;
  int cached_prompt_tokens = -1;
  std::vector<int32_t> tokens;
  bool finished = false;
  FinishReason reason = FinishReason::kError;
  Status status;
  std::vector<int>* finish_order = nullptr;
  int tag = 0;
};

// Greedy generation straight from the reference logits: the lowest id among the largest.
std::vector<int32_t> ReferenceGreedy(std::vector<int32_t> history, int max_tokens,
                                     const std::vector<int32_t>& eog = {}) {
  std::vector<int32_t> out;
  while (static_cast<int>(out.size()) < max_tokens) {
    std::vector<float> l = FakeBackend::ReferenceLogits(history, kVocab);
    const int32_t next = static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
    if (std::find(eog.begin(), eog.end(), next) != eog.end()) break;
    out.push_back(next);
    history.push_back(next);
  }
  return out;
}

std::vector<int32_t> Prompt(int length, int32_t salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < length; ++i) p.push_back((salt * 7 + i * 13 + i * i) % kVocab);
  return p;
}

GenerationRequest Greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

struct Harness {
  Harness(int64_t blocks, int block_tokens, SchedulerOptions options)
      : backend(blocks, block_tokens, kVocab),
        pool(blocks, block_tokens),
        scheduler(options, backend, pool) {}

  std::shared_ptr<Recorder> Submit(SequenceId id, GenerationRequest request) {
    EXPECT_TRUE(ValidateRequest(request, kVocab, context_length).ok());
    auto rec = std::make_shared<Recorder>();
    scheduler.Add(id, std::move(request), rec);
    return rec;
  }
  void RunToCompletion() {
    for (int i = 0; i < 100000 && scheduler.HasWork(); ++i) {
      ASSERT_TRUE(scheduler.Step()) << "no progress with work pending";
    }
    ASSERT_FALSE(scheduler.HasWork());
  }

  int context_length = 64;
  FakeBackend backend;
  KvBlockPool pool;
  Scheduler scheduler;
};

SchedulerOptions Options(int context = 64, int max_parallel = 8, int max_batch = 64) {
  SchedulerOptions o;
  o.context_length = context;
  o.max_parallel = max_parallel;
  o.max_batch_tokens = max_batch;
  return o;
}

TEST(ValidateRequestTest, RejectsBadRequestsWithNumbersAndClipsMaxTokens) {
  GenerationRequest empty;
  Status s = ValidateRequest(empty, kVocab, 64);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("empty"), std::string::npos);

  GenerationRequest too_long = Greedy(Prompt(64, 1), 5);
  s = ValidateRequest(too_long, kVocab, 64);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("64 tokens"), std::string::npos) << s.message();

  GenerationRequest bad_id = Greedy({1, 2, 64}, 5);
  s = ValidateRequest(bad_id, kVocab, 64);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("id 64"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("token 2"), std::string::npos) << s.message();

  GenerationRequest zero = Greedy({1}, 0);
  EXPECT_EQ(ValidateRequest(zero, kVocab, 64).code(), StatusCode::kInvalidArgument);

  GenerationRequest bad_sampling = Greedy({1}, 5);
  bad_sampling.sampling.top_p = 2;
  EXPECT_EQ(ValidateRequest(bad_sampling, kVocab, 64).code(), StatusCode::kInvalidArgument);

  GenerationRequest clipped = Greedy(Prompt(60, 1), 100);
  ASSERT_TRUE(ValidateRequest(clipped, kVocab, 64).ok());
  EXPECT_EQ(clipped.max_tokens, 4);
}

TEST(SchedulerTest, SingleSequenceMatchesReference) {
  Harness h(32, 4, Options());
  auto prompt = Prompt(10, 3);
  auto rec = h.Submit(1, Greedy(prompt, 20));
  h.RunToCompletion();
  EXPECT_TRUE(rec->finished);
  EXPECT_EQ(rec->reason, FinishReason::kLength);
  EXPECT_EQ(rec->cached_prompt_tokens, 0);
  EXPECT_EQ(rec->tokens, ReferenceGreedy(prompt, 20));
  EXPECT_EQ(h.pool.used_blocks(), 0);
  EXPECT_EQ(h.pool.available_blocks(), 32);
  EngineStats st = h.scheduler.Stats();
  EXPECT_EQ(st.prompt_tokens, 10u);
  EXPECT_EQ(st.generated_tokens, 20u);
}

TEST(SchedulerTest, ContextFullFinishesWithLength) {
  Harness h(32, 4, Options(/*context=*/16));
  h.context_length = 16;
  auto prompt = Prompt(10, 4);
  auto rec = h.Submit(1, Greedy(prompt, 1000));  // clipped to 6
  h.RunToCompletion();
  EXPECT_EQ(rec->reason, FinishReason::kLength);
  EXPECT_EQ(rec->tokens, ReferenceGreedy(prompt, 6));
}

TEST(SchedulerTest, ConcurrentChunkedPrefillMatchesEachAlone) {
  // A batch budget of 7 tokens forces prompts of up to 40 tokens through many chunks while
  // other sequences decode.
  Harness h(128, 4, Options(64, 8, /*max_batch=*/7));
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 8; ++i) {
    prompts.push_back(Prompt(3 + i * 5, i));
    recs.push_back(h.Submit(static_cast<SequenceId>(i + 1), Greedy(prompts.back(), 12 + i)));
  }
  h.RunToCompletion();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(recs[i]->reason, FinishReason::kLength) << i;
    EXPECT_EQ(recs[i]->tokens, ReferenceGreedy(prompts[i], 12 + i)) << "sequence " << i;
  }
  EXPECT_LE(h.backend.max_batch_seen, 7);
  EXPECT_EQ(h.pool.used_blocks(), 0);
}

TEST(SchedulerTest, PrefixCacheHitSkipsPrefillAndGivesSameOutput) {
  Harness h(64, 8, Options());
  auto prompt = Prompt(40, 9);
  auto first = h.Submit(1, Greedy(prompt, 5));
  h.RunToCompletion();
  const int64_t processed_first = h.backend.tokens_processed;
  EXPECT_EQ(first->cached_prompt_tokens, 0);

  auto second = h.Submit(2, Greedy(prompt, 5));
  h.RunToCompletion();
  // 39 tokens can come from cache at most (the last one must be computed for logits); whole
  // blocks of 8 make that 32.
  EXPECT_EQ(second->cached_prompt_tokens, 32);
  EXPECT_EQ(second->tokens, first->tokens);
  EXPECT_EQ(second->tokens, ReferenceGreedy(prompt, 5));
  EXPECT_EQ(h.backend.tokens_processed - processed_first, processed_first - 32);
  EngineStats st = h.scheduler.Stats();
  EXPECT_EQ(st.cached_prompt_tokens, 32u);
  EXPECT_EQ(st.prompt_tokens, 80u);
  EXPECT_GT(st.kv_blocks_cached, 0);
  EXPECT_EQ(st.kv_blocks_used, 0);

  // A prompt sharing only the first 20 tokens reuses 2 blocks, and its output is still right.
  auto diverging = Prompt(40, 9);
  diverging[20] = (diverging[20] + 1) % kVocab;
  auto third = h.Submit(3, Greedy(diverging, 5));
  h.RunToCompletion();
  EXPECT_EQ(third->cached_prompt_tokens, 16);
  EXPECT_EQ(third->tokens, ReferenceGreedy(diverging, 5));
}

TEST(SchedulerTest, GeneratedBlocksAreCachedForFollowUpTurns) {
  // A multi-turn chat resends prompt + answer: the answer's full blocks are cached too.
  Harness h(64, 4, Options());
  auto prompt = Prompt(8, 2);
  auto first = h.Submit(1, Greedy(prompt, 12));
  h.RunToCompletion();
  std::vector<int32_t> follow_up = prompt;
  follow_up.insert(follow_up.end(), first->tokens.begin(), first->tokens.end());
  follow_up.push_back(5);
  auto second = h.Submit(2, Greedy(follow_up, 4));
  h.RunToCompletion();
  // 8 + 12 tokens were computed (the last sampled token never was): 19 in 4 full blocks.
  EXPECT_EQ(second->cached_prompt_tokens, 16);
  EXPECT_EQ(second->tokens, ReferenceGreedy(follow_up, 4));
}

TEST(SchedulerTest, ConcurrentIdenticalPromptsShareBlocks) {
  Harness h(64, 4, Options());
  auto prompt = Prompt(17, 5);
  auto a = h.Submit(1, Greedy(prompt, 6));
  auto b = h.Submit(2, Greedy(prompt, 6));
  h.scheduler.Step();  // a prefills; b waits for a's blocks
  EXPECT_FALSE(b->prefill_done);
  h.scheduler.Step();  // b hits them in the cache
  // The four full prompt blocks are shared: 4 shared + 2 private tails.
  EXPECT_EQ(h.pool.used_blocks(), 6);
  h.RunToCompletion();
  EXPECT_EQ(a->tokens, ReferenceGreedy(prompt, 6));
  EXPECT_EQ(b->tokens, a->tokens);
  EXPECT_EQ(b->cached_prompt_tokens, 16);
}

// `count` prompts made of one shared prefix and a distinct suffix each.
std::vector<std::vector<int32_t>> SharedPrefixPrompts(int count, int prefix_length,
                                                      int suffix_length) {
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < count; ++i) {
    std::vector<int32_t> p = Prompt(prefix_length, 50);
    std::vector<int32_t> suffix = Prompt(suffix_length, i);
    p.insert(p.end(), suffix.begin(), suffix.end());
    prompts.push_back(p);
  }
  return prompts;
}

TEST(SchedulerTest, ConcurrentSharedPrefixIsComputedOnce) {
  // Six requests arrive together sharing a 32-token prefix (8 blocks of 4) that takes several
  // steps to prefill: the first computes it, the others wait and hit it in the cache.
  constexpr int kCount = 6, kPrefix = 32, kSuffix = 6, kMaxTokens = 5;
  const auto prompts = SharedPrefixPrompts(kCount, kPrefix, kSuffix);
  for (bool prefix_cache : {true, false}) {
    SchedulerOptions options = Options(64, 8, /*max_batch=*/12);
    options.prefix_cache = prefix_cache;
    Harness h(128, 4, options);
    std::vector<std::shared_ptr<Recorder>> recs;
    for (int i = 0; i < kCount; ++i) {
      recs.push_back(h.Submit(static_cast<SequenceId>(i + 1), Greedy(prompts[i], kMaxTokens)));
    }
    h.RunToCompletion();
    for (int i = 0; i < kCount; ++i) {
      EXPECT_EQ(recs[i]->tokens, ReferenceGreedy(prompts[i], kMaxTokens)) << i;
      EXPECT_EQ(recs[i]->cached_prompt_tokens, prefix_cache && i > 0 ? kPrefix : 0) << i;
    }
    // Every generated token but the last is fed back once.
    const int64_t decode_rows = kCount * (kMaxTokens - 1);
    const int64_t prompt_rows = prefix_cache ? kPrefix + kCount * kSuffix
                                             : kCount * (kPrefix + kSuffix);
    EXPECT_EQ(h.backend.tokens_processed, prompt_rows + decode_rows) << prefix_cache;
    EXPECT_EQ(h.scheduler.Stats().cached_prompt_tokens,
              prefix_cache ? static_cast<uint64_t>((kCount - 1) * kPrefix) : 0u);
    EXPECT_EQ(h.scheduler.prefix_deferrals() > 0, prefix_cache);
    EXPECT_EQ(h.pool.used_blocks(), 0);
  }
}

TEST(SchedulerTest, DeferredSequenceIsNotOvertakenOnceItsPrefixIsReady) {
  // Two slots. W shares R's prefix and waits for it; X1 (unrelated) takes the free slot
  // meanwhile, but once R's prefix is registered W is the head of the queue again, so X2 and
  // X3 must not start before it.
  Harness h(128, 4, Options(64, /*max_parallel=*/2, /*max_batch=*/8));
  const auto shared = SharedPrefixPrompts(2, 24, 3);
  std::vector<int> prefill_order;
  struct OrderRecorder : Recorder {
    std::vector<int>* order = nullptr;
    void OnPrefillDone(int cached) override {
      Recorder::OnPrefillDone(cached);
      order->push_back(tag);
    }
  };
  std::vector<std::shared_ptr<OrderRecorder>> recs;
  std::vector<std::vector<int32_t>> prompts = {shared[0], shared[1], Prompt(5, 31),
                                               Prompt(5, 32), Prompt(5, 33)};
  for (int i = 0; i < 5; ++i) {
    auto rec = std::make_shared<OrderRecorder>();
    rec->order = &prefill_order;
    rec->tag = i;
    GenerationRequest r = Greedy(prompts[i], 6);
    ASSERT_TRUE(ValidateRequest(r, kVocab, 64).ok());
    h.scheduler.Add(static_cast<SequenceId>(i), r, rec);
    recs.push_back(rec);
  }
  h.RunToCompletion();
  ASSERT_EQ(prefill_order.size(), 5u);
  auto position = [&](int tag) {
    return std::find(prefill_order.begin(), prefill_order.end(), tag) - prefill_order.begin();
  };
  EXPECT_LT(position(1), position(3));
  EXPECT_LT(position(1), position(4));
  EXPECT_EQ(recs[1]->cached_prompt_tokens, 24);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(recs[i]->tokens, ReferenceGreedy(prompts[i], 6)) << i;
  }
}

TEST(SchedulerTest, CancellingThePrefixOwnerEndsTheWait) {
  Harness h(128, 4, Options(64, 8, /*max_batch=*/8));
  const auto prompts = SharedPrefixPrompts(2, 32, 4);
  auto owner = h.Submit(1, Greedy(prompts[0], 4));
  auto waiter = h.Submit(2, Greedy(prompts[1], 4));
  h.scheduler.Step();
  h.scheduler.Step();  // the owner computed 16 of its 36 tokens; the waiter is deferred
  EXPECT_FALSE(waiter->prefill_done);
  EXPECT_EQ(h.scheduler.Stats().running, 1);
  h.scheduler.Cancel(1);
  h.RunToCompletion();  // the waiter runs on its own, reusing the two blocks already cached
  EXPECT_EQ(owner->reason, FinishReason::kCancelled);
  EXPECT_EQ(waiter->cached_prompt_tokens, 16);
  EXPECT_EQ(waiter->tokens, ReferenceGreedy(prompts[1], 4));
}

TEST(SchedulerTest, StepTokensBoundStepsWhileSequencesDecode) {
  // A long prompt arrives while another sequence decodes: the steps that carry a decode hold
  // at most step_tokens tokens, so the decode advances every few tokens of prefill; a prompt
  // alone uses the full max_batch_tokens.
  SchedulerOptions options = Options(64, 8, /*max_batch=*/40);
  options.step_tokens = 6;
  Harness h(128, 4, options);
  const auto short_prompt = Prompt(5, 1);
  auto decoder = h.Submit(1, Greedy(short_prompt, 30));
  ASSERT_TRUE(h.scheduler.Step());
  const auto long_prompt = Prompt(40, 2);
  auto late = h.Submit(2, Greedy(long_prompt, 4));
  h.RunToCompletion();
  EXPECT_EQ(decoder->tokens, ReferenceGreedy(short_prompt, 30));
  EXPECT_EQ(late->tokens, ReferenceGreedy(long_prompt, 4));
  // Step 1: the 5-token prompt alone. Then 1 decode + 5 prefill tokens per step: 40 prompt
  // tokens take 8 steps.
  ASSERT_GE(h.backend.batch_sizes.size(), 9u);
  EXPECT_EQ(h.backend.batch_sizes[0], 5);
  for (size_t i = 1; i <= 8; ++i) EXPECT_EQ(h.backend.batch_sizes[i], 6) << "step " << i;
  EXPECT_LE(h.backend.max_batch_seen, 6);

  // Alone, the same prompt goes in one step.
  Harness alone(128, 4, options);
  alone.Submit(1, Greedy(long_prompt, 4));
  alone.RunToCompletion();
  EXPECT_EQ(alone.backend.batch_sizes[0], 40);
}

TEST(SchedulerTest, PrefillProgressesWhenDecodesFillTheStep) {
  // Eight sequences decode and step_tokens is 4: each step still carries one block (4 tokens)
  // of the waiting prompt, so it is not starved until the decoders finish.
  SchedulerOptions options = Options(64, 9, /*max_batch=*/64);
  options.step_tokens = 4;
  Harness h(256, 4, options);
  std::vector<std::shared_ptr<Recorder>> decoders;
  for (int i = 0; i < 8; ++i) {
    decoders.push_back(h.Submit(static_cast<SequenceId>(i + 1), Greedy(Prompt(3, i), 40)));
  }
  ASSERT_TRUE(h.scheduler.Step());
  const auto prompt = Prompt(20, 9);
  auto late = h.Submit(9, Greedy(prompt, 3));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.scheduler.Step());
  EXPECT_TRUE(late->prefill_done);  // 20 tokens, 4 per step
  EXPECT_EQ(decoders[0]->tokens.size(), 6u);
  for (size_t i = 1; i <= 5; ++i) EXPECT_EQ(h.backend.batch_sizes[i], 12) << "step " << i;
  h.RunToCompletion();
  EXPECT_EQ(late->tokens, ReferenceGreedy(prompt, 3));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(decoders[i]->tokens, ReferenceGreedy(Prompt(3, i), 40));
}

TEST(SchedulerTest, PreemptionUnderTinyKvBudgetStillCompletesCorrectly) {
  // One full 32-token context needs 8 blocks of 4; 10 blocks cannot hold six sequences that
  // each grow to 26 tokens, so decoding must preempt and recompute.
  SchedulerOptions options = Options(/*context=*/32, /*max_parallel=*/6, /*max_batch=*/16);
  options.prefix_cache = false;
  Harness h(10, 4, options);
  h.context_length = 32;
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(Prompt(6, 20 + i));
    recs.push_back(h.Submit(static_cast<SequenceId>(i + 1), Greedy(prompts.back(), 20)));
  }
  h.RunToCompletion();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(recs[i]->reason, FinishReason::kLength) << i;
    EXPECT_EQ(recs[i]->tokens, ReferenceGreedy(prompts[i], 20)) << "sequence " << i;
  }
  EXPECT_GT(h.scheduler.Stats().preemptions, 0u);
  EXPECT_EQ(h.pool.used_blocks(), 0);
  EXPECT_EQ(h.pool.free_blocks(), 10);
}

TEST(SchedulerTest, PreemptionWithPrefixCacheReusesOwnBlocks) {
  Harness h(10, 4, Options(32, 6, 16));
  h.context_length = 32;
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(Prompt(9, i % 2));  // two families of identical prompts
    recs.push_back(h.Submit(static_cast<SequenceId>(i + 1), Greedy(prompts.back(), 18)));
  }
  h.RunToCompletion();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(recs[i]->tokens, ReferenceGreedy(prompts[i], 18)) << "sequence " << i;
  }
  EXPECT_EQ(h.pool.used_blocks(), 0);
  EXPECT_EQ(h.pool.available_blocks(), 10);
}

TEST(SchedulerTest, SeededSamplingDoesNotDependOnBatchComposition) {
  auto request = [](int salt) {
    GenerationRequest r;
    r.prompt = Prompt(5 + salt, salt);
    r.max_tokens = 15;
    r.sampling.temperature = 1.5f;
    r.sampling.top_k = 20;
    r.sampling.seed = 1000 + static_cast<uint64_t>(salt);
    return r;
  };
  std::vector<std::vector<int32_t>> alone;
  for (int i = 0; i < 4; ++i) {
    Harness h(64, 4, Options());
    auto rec = h.Submit(1, request(i));
    h.RunToCompletion();
    alone.push_back(rec->tokens);
  }
  Harness h(64, 4, Options(64, 4, 9));
  std::vector<std::shared_ptr<Recorder>> recs;
  for (int i = 0; i < 4; ++i) recs.push_back(h.Submit(static_cast<SequenceId>(i), request(i)));
  h.RunToCompletion();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(recs[i]->tokens, alone[i]) << i;
}

TEST(SchedulerTest, EndOfGenerationAndStopTokens) {
  // Find a prompt whose greedy continuation reaches some token after a few steps, then make
  // that token end generation.
  auto prompt = Prompt(6, 11);
  std::vector<int32_t> free_run = ReferenceGreedy(prompt, 10);
  const int32_t stopper = free_run[3];
  const auto first_stop = std::find(free_run.begin(), free_run.end(), stopper) - free_run.begin();

  SchedulerOptions options = Options();
  options.end_of_generation = {stopper};
  Harness h(64, 4, options);
  auto stopped = h.Submit(1, Greedy(prompt, 10));
  GenerationRequest ignoring = Greedy(prompt, 10);
  ignoring.ignore_eos = true;
  auto ignored = h.Submit(2, ignoring);
  h.RunToCompletion();
  EXPECT_EQ(stopped->reason, FinishReason::kStop);
  EXPECT_EQ(stopped->tokens,
            std::vector<int32_t>(free_run.begin(), free_run.begin() + first_stop));
  EXPECT_EQ(ignored->reason, FinishReason::kLength);
  EXPECT_EQ(ignored->tokens, free_run);

  Harness h2(64, 4, Options());
  GenerationRequest with_stop = Greedy(prompt, 10);
  with_stop.stop_token_ids = {stopper};
  with_stop.ignore_eos = true;  // request stop ids apply regardless
  auto rec = h2.Submit(1, with_stop);
  h2.RunToCompletion();
  EXPECT_EQ(rec->reason, FinishReason::kStop);
  EXPECT_EQ(rec->tokens.size(), static_cast<size_t>(first_stop));
}

TEST(SchedulerTest, CancelFreesBlocksAtOnce) {
  Harness h(64, 4, Options(64, 1, 64));
  auto running = h.Submit(1, Greedy(Prompt(20, 1), 30));
  auto waiting = h.Submit(2, Greedy(Prompt(20, 2), 30));
  for (int i = 0; i < 3; ++i) h.scheduler.Step();
  EXPECT_GT(h.pool.used_blocks(), 0);
  EXPECT_EQ(h.scheduler.Stats().waiting, 1);
  h.scheduler.Cancel(1);
  EXPECT_TRUE(running->finished);
  EXPECT_EQ(running->reason, FinishReason::kCancelled);
  EXPECT_EQ(h.pool.used_blocks(), 0);
  h.scheduler.Cancel(2);
  EXPECT_EQ(waiting->reason, FinishReason::kCancelled);
  EXPECT_FALSE(waiting->prefill_done);
  h.scheduler.Cancel(2);   // already gone: ignored
  h.scheduler.Cancel(99);  // never existed: ignored
  EXPECT_FALSE(h.scheduler.HasWork());
  EXPECT_EQ(h.pool.available_blocks(), 64);
}

TEST(SchedulerTest, HigherPriorityRunsFirstFifoWithin) {
  Harness h(64, 4, Options(64, /*max_parallel=*/1, 64));
  std::vector<int> order;
  auto submit = [&](SequenceId id, int priority) {
    GenerationRequest r = Greedy(Prompt(4, static_cast<int32_t>(id)), 3);
    r.priority = priority;
    auto rec = h.Submit(id, r);
    rec->finish_order = &order;
    rec->tag = static_cast<int>(id);
    return rec;
  };
  auto a = submit(1, 0);
  auto b = submit(2, 5);
  auto c = submit(3, 0);
  auto d = submit(4, 5);
  auto e = submit(5, -1);
  h.RunToCompletion();
  EXPECT_EQ(order, (std::vector<int>{2, 4, 1, 3, 5}));
}

TEST(SchedulerTest, ForwardFailureFinishesBatchWithError) {
  Harness h(64, 4, Options());
  auto a = h.Submit(1, Greedy(Prompt(5, 1), 10));
  auto b = h.Submit(2, Greedy(Prompt(5, 2), 10));
  h.backend.fail_next = true;
  h.scheduler.Step();
  EXPECT_EQ(a->reason, FinishReason::kError);
  EXPECT_EQ(b->reason, FinishReason::kError);
  EXPECT_NE(a->status.message().find("fake forward failure"), std::string::npos);
  EXPECT_FALSE(h.scheduler.HasWork());
  EXPECT_EQ(h.pool.used_blocks(), 0);
}

TEST(SchedulerTest, PaddedVocabularyIsNeverSampled) {
  SchedulerOptions options = Options();
  options.sampleable_vocab = 10;
  Harness h(64, 4, options);
  GenerationRequest r;
  r.prompt = Prompt(5, 1);
  r.max_tokens = 40;
  r.sampling.temperature = 2.0f;
  auto rec = h.Submit(1, r);
  h.RunToCompletion();
  ASSERT_EQ(rec->tokens.size(), 40u);
  for (int32_t t : rec->tokens) EXPECT_LT(t, 10);
}

}  // namespace
}  // namespace hearth::engine
