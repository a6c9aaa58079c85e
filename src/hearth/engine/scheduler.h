// Scheduler: continuous batching over one model — which sequences run, what each step feeds the
// model, and what happens to the tokens that come out.
//
// The Scheduler is single-threaded: the Engine's scheduler thread owns it together with every
// sequence and the KvBlockPool. Each Step():
//   1. admits waiting sequences, highest priority first and FIFO within a priority, while the
//      running set has room (max_parallel) and the pool can hold the sequence's tokens beyond
//      its cached prefix (plus one spare block per running sequence, so a fresh admission does
//      not immediately force a preemption). Admission stops at the first sequence that does not
//      fit: a large request is never starved by smaller ones behind it. A sequence whose next
//      uncached prompt block is being prefilled right now by a running sequence (same tokens
//      from the start) is deferred instead: it is passed over until that block is registered,
//      then admitted with it as a prefix hit, so concurrent requests sharing a prefix compute
//      it once;
//   2. builds one batch: every decoding sequence contributes its last token, then prefilling
//      sequences contribute chunks of their uncomputed tokens (chunked prefill). The batch
//      holds at most max_batch_tokens; while any sequence decodes it holds at most step_tokens
//      (but always one block of prefill), which bounds the time between two tokens — a step
//      costs about as much per token whether it holds 32 or 512, so small steps lose little;
//      a decoding sequence that needs a new block and finds none preempts the running sequence
//      of lowest priority, latest arrival (possibly itself): its blocks are released and it
//      goes back to the waiting queue, to recompute prompt + generated tokens when readmitted;
//   3. runs the model, registers every block that became full in the prefix index, samples
//      for each sequence whose chunk reached its last token, reports the token, and retires
//      finished sequences (end-of-generation or stop token, max_tokens, context full),
//      releasing their blocks (registered ones stay cached for later prefix hits).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/engine/engine.h"
#include "hearth/engine/kv_block_pool.h"
#include "hearth/engine/sampler.h"
#include "hearth/model/model.h"

namespace hearth::engine {

// What the scheduler needs from a model: evaluate a batch (writing K/V into the blocks the
// batch's block tables name) and produce logits for the tokens that want them.
class ForwardBackend {
 public:
  virtual ~ForwardBackend() = default;
  virtual int vocab_size() const = 0;
  virtual Status Forward(std::span<const model::BatchToken> batch, std::span<float> logits) = 0;
};

struct SchedulerOptions {
  int context_length = 0;
  int max_parallel = 16;
  // Tokens per step when no sequence is decoding (prefill only).
  int max_batch_tokens = 512;
  // Tokens per step while some sequence is decoding (its decodes plus prefill chunks), so that
  // the time between two of its tokens stays about this many tokens of compute; 0 means
  // max_batch_tokens. Prefill still gets at least one block per step so it never starves.
  int step_tokens = 0;
  bool prefix_cache = true;
  // Tokens that end generation unless the request says ignore_eos.
  std::vector<int32_t> end_of_generation;
  // Ids at or above this are never sampled (a model's vocabulary padded beyond the
  // tokenizer's); 0 means the backend's vocab_size.
  int sampleable_vocab = 0;
};

// Checks a request against the model (vocabulary, context) and clips max_tokens so that prompt
// + max_tokens fits the context. Messages give the numbers. Safe to call from any thread.
Status ValidateRequest(GenerationRequest& request, int vocab_size, int context_length);

class Scheduler {
 public:
  Scheduler(const SchedulerOptions& options, ForwardBackend& backend, KvBlockPool& pool);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request that passed ValidateRequest.
  void Add(SequenceId id, GenerationRequest request, std::shared_ptr<SequenceObserver> observer);
  // Finishes the sequence with kCancelled and releases its blocks now. Unknown ids are ignored.
  void Cancel(SequenceId id);
  void CancelAll();

  // One scheduling step (see above). Returns false when there was nothing to run.
  bool Step();
  bool HasWork() const { return !sequences_.empty(); }
  EngineStats Stats() const;
  // How many times admission passed over a sequence to wait for a prefix being prefilled.
  uint64_t prefix_deferrals() const { return prefix_deferrals_; }

 private:
  struct Sequence;
  // Orders sequences by precedence: higher priority, then earlier arrival.
  static bool Precedes(const Sequence& a, const Sequence& b);

  enum class Admission { kAdmitted, kDeferred, kNoRoom };
  void Admit();
  Admission TryAdmit(Sequence& seq);
  // True when a running sequence holds the same first (block + 1) * block_tokens tokens as
  // `seq` and has not computed block `block` yet: waiting lets `seq` hit it in the cache.
  bool PrefixBlockInFlight(const Sequence& seq, size_t block) const;
  // Makes sure `seq` has a block for position `seq.computed`; preempts others (or `seq`
  // itself) when the pool is empty. False when `seq` was preempted.
  bool EnsureDecodeBlock(Sequence& seq);
  void Preempt(Sequence& seq);
  void ReleaseBlocks(Sequence& seq);
  void RegisterFullBlocks(Sequence& seq);
  // Handles a sampled token; returns true when the sequence is finished.
  bool AcceptToken(Sequence& seq, const TokenEvent& event);
  void Finish(Sequence& seq, FinishReason reason, const Status& status);
  void RemoveFinished();
  std::vector<Sequence*> RunningInOrder() const;

  SchedulerOptions options_;
  ForwardBackend& backend_;
  KvBlockPool& pool_;
  std::map<SequenceId, std::unique_ptr<Sequence>> sequences_;  // waiting and running
  uint64_t next_arrival_ = 0;
  int running_count_ = 0;

  // Per-step scratch.
  std::vector<model::BatchToken> batch_;
  std::vector<float> logits_;

  // Cumulative counters for Stats().
  uint64_t prompt_tokens_ = 0;
  uint64_t cached_prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  uint64_t preemptions_ = 0;
  uint64_t prefix_deferrals_ = 0;
};

}  // namespace hearth::engine
