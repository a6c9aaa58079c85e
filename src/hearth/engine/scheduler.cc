#include "hearth/engine/scheduler.h"

#include <algorithm>
#include <cstddef>
#include <limits>

namespace hearth::engine {

struct Scheduler::Sequence {
  Sequence(SequenceId id_in, GenerationRequest request_in,
           std::shared_ptr<SequenceObserver> observer_in, int vocab_size, uint64_t arrival_in)
      : id(id_in),
        request(std::move(request_in)),
        observer(std::move(observer_in)),
        sampler(request.sampling, vocab_size),
        tokens(request.prompt),
        prompt_length(request.prompt.size()),
        arrival(arrival_in) {
    sampler.AddPrompt(request.prompt);
  }

  SequenceId id;
  GenerationRequest request;
  std::shared_ptr<SequenceObserver> observer;
  Sampler sampler;
  std::vector<int32_t> tokens;  // prompt + generated so far
  size_t prompt_length;
  int generated = 0;
  uint64_t arrival;  // admission order within a priority; kept across preemptions

  bool running = false;
  bool finished = false;
  bool admitted_before = false;  // prompt statistics are counted on the first admission only
  bool prefill_reported = false;
  bool planned = false;  // part of the batch being built
  int cached_prompt_tokens = 0;

  // KV state, valid while running: tokens [0, computed) have their K/V in `blocks`.
  int computed = 0;
  std::vector<BlockId> blocks;
  size_t registered_blocks = 0;  // leading blocks registered in the prefix index
  uint64_t last_content = KvBlockPool::kRootContent;
};

Status ValidateRequest(GenerationRequest& request, int vocab_size, int context_length) {
  const auto prompt_length = static_cast<int64_t>(request.prompt.size());
  if (prompt_length == 0) return Status::InvalidArgument("the prompt is empty");
  if (prompt_length >= context_length) {
    return Status::InvalidArgument(fmt::format(
        "the prompt has {} tokens but the context holds {}, leaving no room to generate",
        prompt_length, context_length));
  }
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    const int32_t id = request.prompt[i];
    if (id < 0 || id >= vocab_size) {
      return Status::InvalidArgument(fmt::format(
          "prompt token {} is id {}, outside the vocabulary [0, {})", i, id, vocab_size));
    }
  }
  for (int32_t id : request.stop_token_ids) {
    if (id < 0 || id >= vocab_size) {
      return Status::InvalidArgument(fmt::format(
          "stop token id {} is outside the vocabulary [0, {})", id, vocab_size));
    }
  }
  if (request.max_tokens <= 0) {
    return Status::InvalidArgument(
        fmt::format("max_tokens is {}; it must be at least 1", request.max_tokens));
  }
  HEARTH_RETURN_IF_ERROR(ValidateSamplingParams(request.sampling, vocab_size));
  request.max_tokens = static_cast<int>(
      std::min<int64_t>(request.max_tokens, context_length - prompt_length));
  return Status::Ok();
}

Scheduler::Scheduler(const SchedulerOptions& options, ForwardBackend& backend, KvBlockPool& pool)
    : options_(options), backend_(backend), pool_(pool) {
  std::sort(options_.end_of_generation.begin(), options_.end_of_generation.end());
  if (options_.sampleable_vocab <= 0 || options_.sampleable_vocab > backend_.vocab_size()) {
    options_.sampleable_vocab = backend_.vocab_size();
  }
  options_.max_parallel = std::max(1, std::min(options_.max_parallel, options_.max_batch_tokens));
}

Scheduler::~Scheduler() { CancelAll(); }

bool Scheduler::Precedes(const Sequence& a, const Sequence& b) {
  if (a.request.priority != b.request.priority) return a.request.priority > b.request.priority;
  return a.arrival < b.arrival;
}

void Scheduler::Add(SequenceId id, GenerationRequest request,
                    std::shared_ptr<SequenceObserver> observer) {
  auto seq = std::make_unique<Sequence>(id, std::move(request), std::move(observer),
                                        backend_.vocab_size(), next_arrival_++);
  sequences_.emplace(id, std::move(seq));
}

void Scheduler::Cancel(SequenceId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end() || it->second->finished) return;
  Finish(*it->second, FinishReason::kCancelled, Status::Ok());
  sequences_.erase(it);
}

void Scheduler::CancelAll() {
  for (auto& [id, seq] : sequences_) {
    if (!seq->finished) Finish(*seq, FinishReason::kCancelled, Status::Ok());
  }
  sequences_.clear();
}

std::vector<Scheduler::Sequence*> Scheduler::RunningInOrder() const {
  std::vector<Sequence*> running;
  for (const auto& [id, seq] : sequences_) {
    if (seq->running) running.push_back(seq.get());
  }
  std::sort(running.begin(), running.end(),
            [](const Sequence* a, const Sequence* b) { return Precedes(*a, *b); });
  return running;
}

void Scheduler::Admit() {
  std::vector<Sequence*> waiting;
  for (const auto& [id, seq] : sequences_) {
    if (!seq->running && !seq->finished) waiting.push_back(seq.get());
  }
  std::sort(waiting.begin(), waiting.end(),
            [](const Sequence* a, const Sequence* b) { return Precedes(*a, *b); });
  for (Sequence* seq : waiting) {
    if (running_count_ >= options_.max_parallel) break;
    const Admission admission = TryAdmit(*seq);
    // A deferred sequence waits only for a running sequence's prefill, which always progresses
    // (or is preempted, ending the wait), so passing over it cannot starve it; and once it is
    // no longer deferred, it is again the head that later sequences cannot overtake.
    if (admission == Admission::kNoRoom) break;
  }
}

bool Scheduler::PrefixBlockInFlight(const Sequence& seq, size_t block) const {
  const size_t end = (block + 1) * static_cast<size_t>(pool_.block_tokens());
  for (const auto& [id, other] : sequences_) {
    if (!other->running || static_cast<size_t>(other->computed) >= end ||
        other->tokens.size() < end) {
      continue;
    }
    if (std::equal(seq.tokens.begin(), seq.tokens.begin() + static_cast<ptrdiff_t>(end),
                   other->tokens.begin())) {
      return true;
    }
  }
  return false;
}

Scheduler::Admission Scheduler::TryAdmit(Sequence& seq) {
  const int bt = pool_.block_tokens();
  const auto token_count = static_cast<int64_t>(seq.tokens.size());
  const int64_t blocks_needed = (token_count + bt - 1) / bt;
  // At least the last token is always computed: it produces the logits to sample from.
  const int64_t cacheable_blocks = (token_count - 1) / bt;
  std::vector<BlockId> matched;
  if (options_.prefix_cache) {
    matched = pool_.MatchPrefix(seq.tokens, cacheable_blocks);
    // Computing a block that another sequence is about to register would duplicate its work
    // (and, for a burst of requests sharing a long prefix, multiply it by the burst size).
    if (static_cast<int64_t>(matched.size()) < cacheable_blocks &&
        PrefixBlockInFlight(seq, matched.size())) {
      ++prefix_deferrals_;
      return Admission::kDeferred;
    }
  }
  const int64_t cost =
      blocks_needed - static_cast<int64_t>(matched.size()) + pool_.CountCached(matched);
  if (cost + running_count_ > pool_.available_blocks()) return Admission::kNoRoom;

  for (BlockId b : matched) pool_.Acquire(b);
  seq.blocks = matched;
  while (static_cast<int64_t>(seq.blocks.size()) < blocks_needed) {
    std::optional<BlockId> b = pool_.Allocate();
    if (!b) throw std::logic_error("Scheduler: admission reserved blocks the pool lacks");
    seq.blocks.push_back(*b);
  }
  seq.computed = static_cast<int>(matched.size()) * bt;
  seq.registered_blocks = matched.size();
  seq.last_content = matched.empty() ? KvBlockPool::kRootContent : pool_.ContentId(matched.back());
  if (!seq.admitted_before) {
    seq.admitted_before = true;
    seq.cached_prompt_tokens = std::min(seq.computed, static_cast<int>(seq.prompt_length));
    prompt_tokens_ += seq.prompt_length;
    cached_prompt_tokens_ += static_cast<uint64_t>(seq.cached_prompt_tokens);
  }
  seq.running = true;
  ++running_count_;
  return Admission::kAdmitted;
}

void Scheduler::ReleaseBlocks(Sequence& seq) {
  // Last block first: in the LRU a prefix's tail is then older than its head, so eviction
  // trims prefixes from the end and keeps their shared beginnings reachable.
  for (auto it = seq.blocks.rbegin(); it != seq.blocks.rend(); ++it) pool_.Release(*it);
  seq.blocks.clear();
  seq.computed = 0;
  seq.registered_blocks = 0;
  seq.last_content = KvBlockPool::kRootContent;
}

void Scheduler::Preempt(Sequence& seq) {
  ReleaseBlocks(seq);
  seq.running = false;
  --running_count_;
  ++preemptions_;
}

bool Scheduler::EnsureDecodeBlock(Sequence& seq) {
  const size_t needed = static_cast<size_t>(seq.computed / pool_.block_tokens()) + 1;
  while (seq.blocks.size() < needed) {
    if (std::optional<BlockId> b = pool_.Allocate()) {
      seq.blocks.push_back(*b);
      continue;
    }
    Sequence* victim = &seq;
    for (const auto& [id, other] : sequences_) {
      if (other->running && !other->planned && Precedes(*victim, *other)) victim = other.get();
    }
    Preempt(*victim);
    if (victim == &seq) return false;
  }
  return true;
}

void Scheduler::RegisterFullBlocks(Sequence& seq) {
  if (!options_.prefix_cache) return;
  const size_t bt = static_cast<size_t>(pool_.block_tokens());
  while ((seq.registered_blocks + 1) * bt <= static_cast<size_t>(seq.computed)) {
    const size_t i = seq.registered_blocks;
    auto tokens = std::span<const int32_t>(seq.tokens).subspan(i * bt, bt);
    KvBlockPool::Registration reg = pool_.Register(seq.blocks[i], seq.last_content, tokens);
    seq.blocks[i] = reg.block;
    seq.last_content = reg.content_id;
    ++seq.registered_blocks;
  }
}

bool Scheduler::AcceptToken(Sequence& seq, const TokenEvent& event) {
  const int32_t token = event.token;
  const bool end_of_generation =
      !seq.request.ignore_eos && std::binary_search(options_.end_of_generation.begin(),
                                                    options_.end_of_generation.end(), token);
  const auto& stops = seq.request.stop_token_ids;
  if (end_of_generation || std::find(stops.begin(), stops.end(), token) != stops.end()) {
    Finish(seq, FinishReason::kStop, Status::Ok());
    return true;
  }
  seq.tokens.push_back(token);
  ++seq.generated;
  ++generated_tokens_;
  seq.sampler.AddGenerated(token);
  seq.observer->OnToken(event);
  if (seq.generated >= seq.request.max_tokens ||
      static_cast<int64_t>(seq.tokens.size()) >= options_.context_length) {
    Finish(seq, FinishReason::kLength, Status::Ok());
    return true;
  }
  return false;
}

void Scheduler::Finish(Sequence& seq, FinishReason reason, const Status& status) {
  if (seq.running) {
    ReleaseBlocks(seq);
    seq.running = false;
    --running_count_;
  }
  seq.finished = true;
  seq.observer->OnFinish(reason, status);
}

void Scheduler::RemoveFinished() {
  std::erase_if(sequences_, [](const auto& entry) { return entry.second->finished; });
}

bool Scheduler::Step() {
  if (sequences_.empty()) return false;
  Admit();

  struct Planned {
    Sequence* seq;
    int count;
    bool wants_logits;
  };
  std::vector<Planned> plan;
  int budget = options_.max_batch_tokens;
  const std::vector<Sequence*> running = RunningInOrder();
  // Decodes first: one token each, so every running generation advances every step.
  for (Sequence* seq : running) {
    if (budget == 0) break;
    if (!seq->running || seq->tokens.size() - static_cast<size_t>(seq->computed) != 1) continue;
    if (!EnsureDecodeBlock(*seq)) continue;
    seq->planned = true;
    plan.push_back({seq, 1, true});
    --budget;
  }
  // Then prefill chunks, in precedence order, from what is left of the token budget. While
  // sequences decode, the step is kept to step_tokens so their next token is not held up by a
  // long prefill chunk; at least one block of prefill still runs, so admissions progress even
  // when the decodes alone fill the step.
  const int decodes = options_.max_batch_tokens - budget;
  if (decodes > 0 && options_.step_tokens > 0) {
    budget = std::min(budget, std::max(options_.step_tokens - decodes, pool_.block_tokens()));
  }
  for (Sequence* seq : running) {
    if (budget == 0) break;
    if (!seq->running) continue;
    const int remaining = static_cast<int>(seq->tokens.size()) - seq->computed;
    if (remaining <= 1) continue;
    const int chunk = std::min(remaining, budget);
    seq->planned = true;
    plan.push_back({seq, chunk, chunk == remaining});
    budget -= chunk;
  }
  if (plan.empty()) return false;

  batch_.clear();
  size_t logit_rows = 0;
  for (const Planned& p : plan) {
    std::span<const int32_t> table(p.seq->blocks);
    for (int j = 0; j < p.count; ++j) {
      const int position = p.seq->computed + j;
      batch_.push_back({p.seq->tokens[static_cast<size_t>(position)], position, table,
                        p.wants_logits && j == p.count - 1});
    }
    if (p.wants_logits) ++logit_rows;
  }
  const auto vocab = static_cast<size_t>(backend_.vocab_size());
  logits_.resize(logit_rows * vocab);
  Status status = backend_.Forward(batch_, logits_);

  size_t row = 0;
  for (const Planned& p : plan) {
    Sequence& seq = *p.seq;
    seq.planned = false;
    if (!status.ok()) {
      Finish(seq, FinishReason::kError, status);
      continue;
    }
    seq.computed += p.count;
    RegisterFullBlocks(seq);
    if (!p.wants_logits) continue;
    std::span<float> logits(logits_.data() + row++ * vocab, vocab);
    std::fill(logits.begin() + options_.sampleable_vocab, logits.end(),
              -std::numeric_limits<float>::infinity());
    if (!seq.prefill_reported) {
      seq.prefill_reported = true;
      seq.observer->OnPrefillDone(seq.cached_prompt_tokens);
    }
    AcceptToken(seq, seq.sampler.Sample(logits));
  }
  RemoveFinished();
  return true;
}

EngineStats Scheduler::Stats() const {
  EngineStats s;
  s.running = running_count_;
  s.waiting = static_cast<int>(sequences_.size()) - running_count_;
  s.kv_blocks_total = pool_.num_blocks();
  s.kv_blocks_used = pool_.used_blocks();
  s.kv_blocks_cached = pool_.cached_blocks();
  s.prompt_tokens = prompt_tokens_;
  s.cached_prompt_tokens = cached_prompt_tokens_;
  s.generated_tokens = generated_tokens_;
  s.preemptions = preemptions_;
  return s;
}

}  // namespace hearth::engine
