// The Engine: loads a model and runs the Scheduler on its own thread.
//
// Threads: callers (server I/O threads, the CLI) only touch the command queue, the accepting
// flag and the published stats, all under `mutex_`. The scheduler thread owns the Scheduler,
// every sequence, the KvBlockPool and the KV storage; it applies queued commands between steps
// and never holds `mutex_` while calling the model or an observer, so observers may call
// Submit/Cancel/Stats.
#include "hearth/engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "hearth/engine/end_of_generation.h"
#include "hearth/engine/kv_block_pool.h"
#include "hearth/engine/scheduler.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/kernels/thread_pool.h"
#include "hearth/model/kv_cache.h"
#include "hearth/model/model.h"
#include "hearth/tokenizer/tokenizer.h"

namespace hearth::engine {
namespace {

using Clock = std::chrono::steady_clock;

// Contexts larger than this are opt-in: the default KV budget is context * max_parallel.
constexpr int kDefaultContextCap = 4096;

class ModelBackend : public ForwardBackend {
 public:
  ModelBackend(model::Model& model, model::KvCacheStorage& kv, kernels::ThreadPool& pool)
      : model_(model), kv_(kv), pool_(pool) {}
  int vocab_size() const override { return model_.config().vocab_size; }
  Status Forward(std::span<const model::BatchToken> batch, std::span<float> logits) override {
    return model_.Forward(batch, kv_, logits, pool_);
  }

 private:
  model::Model& model_;
  model::KvCacheStorage& kv_;
  kernels::ThreadPool& pool_;
};

std::string MiB(uint64_t bytes) { return fmt::format("{:.1f} MiB", bytes / 1048576.0); }

class EngineImpl final : public Engine {
 public:
  EngineImpl() = default;
  ~EngineImpl() override { Shutdown(0); }

  Status Init(const EngineOptions& options);

  Result<SequenceId> Submit(GenerationRequest request,
                            std::shared_ptr<SequenceObserver> observer) override;
  void Cancel(SequenceId id) override;
  EngineStats Stats() const override;
  const tokenizer::Tokenizer& tokenizer() const override { return *tokenizer_; }
  const model::ModelConfig& model_config() const override { return model_->config(); }
  std::string model_name() const override { return model_name_; }
  std::string chat_template() const override { return chat_template_; }
  int context_length() const override { return context_length_; }
  void Shutdown(int drain_ms) override;

 private:
  struct Command {
    bool cancel = false;
    SequenceId id = 0;
    GenerationRequest request;
    std::shared_ptr<SequenceObserver> observer;
  };

  void Loop();

  std::shared_ptr<const gguf::GgufFile> file_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<model::KvCacheStorage> kv_;
  std::unique_ptr<kernels::ThreadPool> threads_;
  std::unique_ptr<ModelBackend> backend_;
  std::unique_ptr<KvBlockPool> pool_;
  std::unique_ptr<Scheduler> scheduler_;
  std::string model_name_;
  std::string chat_template_;
  int context_length_ = 0;
  int vocab_size_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Command> commands_;
  bool accepting_ = true;
  bool stop_requested_ = false;
  Clock::time_point drain_deadline_;
  EngineStats stats_;
  SequenceId next_id_ = 1;
  std::mutex shutdown_mutex_;  // serializes Shutdown callers around join()
  std::thread thread_;
  std::thread::id loop_thread_id_;
};

Status EngineImpl::Init(const EngineOptions& o) {
  if (o.max_parallel <= 0 || o.max_batch_tokens <= 0 || o.kv_block_tokens <= 0 ||
      o.context_length < 0 || o.threads < 0 || o.step_tokens < 0) {
    return Status::InvalidArgument(fmt::format(
        "engine: max_parallel ({}), max_batch_tokens ({}) and kv_block_tokens ({}) must be "
        "positive, context_length ({}), threads ({}) and step_tokens ({}) not negative",
        o.max_parallel, o.max_batch_tokens, o.kv_block_tokens, o.context_length, o.threads,
        o.step_tokens));
  }
  HEARTH_ASSIGN_OR_RETURN(
      gguf::GgufFile file,
      gguf::GgufFile::Open(o.model_path,
                           o.huge_pages ? MapMode::kPrivateHugePages : MapMode::kShared));
  file_ = std::make_shared<const gguf::GgufFile>(std::move(file));
  HEARTH_ASSIGN_OR_RETURN(model_, model::Model::Load(file_));
  HEARTH_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::FromGguf(*file_));
  tokenizer_ = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
  const model::ModelConfig& config = model_->config();
  vocab_size_ = config.vocab_size;
  if (tokenizer_->vocab().size() > vocab_size_) {
    return Status::InvalidArgument(
        fmt::format("engine: {}: the tokenizer has {} tokens but the model's output has only {}",
                    o.model_path.string(), tokenizer_->vocab().size(), vocab_size_));
  }

  const int model_context = config.context_length > 0 ? config.context_length : kDefaultContextCap;
  if (o.context_length > model_context) {
    return Status::InvalidArgument(
        fmt::format("engine: context length {} exceeds the model's trained context of {} tokens",
                    o.context_length, model_context));
  }
  context_length_ =
      o.context_length > 0 ? o.context_length : std::min(model_context, kDefaultContextCap);

  const model::KvCacheGeometry geometry = model_->KvGeometry(o.kv_type, o.kv_block_tokens);
  const uint64_t block_bytes = geometry.BytesPerBlock();
  const int64_t blocks_per_sequence = (context_length_ + o.kv_block_tokens - 1) / o.kv_block_tokens;
  const int parallel = std::min(o.max_parallel, o.max_batch_tokens);
  const uint64_t budget = o.kv_budget_bytes > 0
                              ? o.kv_budget_bytes
                              : static_cast<uint64_t>(blocks_per_sequence) * parallel * block_bytes;
  if (block_bytes == 0 || budget / block_bytes < static_cast<uint64_t>(blocks_per_sequence)) {
    return Status::ResourceExhausted(fmt::format(
        "engine: the KV budget of {} holds {} blocks of {} tokens ({} bytes each), but one "
        "sequence of the full {}-token context needs {} blocks ({}); raise the KV budget to at "
        "least that or lower the context length",
        MiB(budget), block_bytes ? budget / block_bytes : 0, o.kv_block_tokens, block_bytes,
        context_length_, blocks_per_sequence, MiB(blocks_per_sequence * block_bytes)));
  }
  HEARTH_ASSIGN_OR_RETURN(kv_,
                          model::KvCacheStorage::Create(geometry, budget, blocks_per_sequence));

  threads_ = std::make_unique<kernels::ThreadPool>(o.threads);
  backend_ = std::make_unique<ModelBackend>(*model_, *kv_, *threads_);
  pool_ = std::make_unique<KvBlockPool>(kv_->num_blocks(), o.kv_block_tokens);

  SchedulerOptions so;
  so.context_length = context_length_;
  so.max_parallel = parallel;
  so.max_batch_tokens = o.max_batch_tokens;
  so.step_tokens = o.step_tokens;
  so.prefix_cache = o.prefix_cache;
  so.end_of_generation = EndOfGenerationTokens(*file_, tokenizer_->vocab());
  so.sampleable_vocab = tokenizer_->vocab().size();
  scheduler_ = std::make_unique<Scheduler>(so, *backend_, *pool_);

  auto name = file_->GetString("general.name");
  model_name_ = name.ok() && !name->empty() ? std::string(*name) : o.model_path.stem().string();
  auto tmpl = file_->GetString("tokenizer.chat_template");
  if (tmpl.ok()) chat_template_ = std::string(*tmpl);

  stats_ = scheduler_->Stats();
  spdlog::info("engine: {} ({}), context {}, KV {} blocks x {} tokens = {} ({}), {} threads",
               model_name_, config.architecture, context_length_, kv_->num_blocks(),
               o.kv_block_tokens, MiB(kv_->bytes()), gguf::TraitsOf(o.kv_type).name,
               threads_->size());
  thread_ = std::thread([this] { Loop(); });
  loop_thread_id_ = thread_.get_id();  // before any Submit, hence before any observer call
  return Status::Ok();
}

Result<SequenceId> EngineImpl::Submit(GenerationRequest request,
                                      std::shared_ptr<SequenceObserver> observer) {
  if (observer == nullptr) return Status::InvalidArgument("engine: Submit without an observer");
  HEARTH_RETURN_IF_ERROR(ValidateRequest(request, vocab_size_, context_length_));
  std::lock_guard lock(mutex_);
  if (!accepting_) return Status::Unavailable("engine: shutting down");
  const SequenceId id = next_id_++;
  commands_.push_back({false, id, std::move(request), std::move(observer)});
  wake_.notify_one();
  return id;
}

void EngineImpl::Cancel(SequenceId id) {
  std::lock_guard lock(mutex_);
  Command c;
  c.cancel = true;
  c.id = id;
  commands_.push_back(std::move(c));
  wake_.notify_one();
}

EngineStats EngineImpl::Stats() const {
  std::lock_guard lock(mutex_);
  EngineStats s = stats_;
  for (const Command& c : commands_) s.waiting += c.cancel ? 0 : 1;  // queued, not yet seen
  return s;
}

void EngineImpl::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    std::deque<Command> commands;
    commands.swap(commands_);
    const bool stopping = stop_requested_;
    const Clock::time_point deadline = drain_deadline_;
    lock.unlock();

    for (Command& c : commands) {
      if (c.cancel) {
        scheduler_->Cancel(c.id);
      } else {
        scheduler_->Add(c.id, std::move(c.request), std::move(c.observer));
      }
    }
    const bool done = stopping && (!scheduler_->HasWork() || Clock::now() >= deadline);
    if (done) scheduler_->CancelAll();
    const bool progressed = !done && scheduler_->Step();
    const EngineStats stats = scheduler_->Stats();

    lock.lock();
    stats_ = stats;
    if (done) return;
    if (progressed || !commands_.empty()) continue;
    // Idle (or blocked until a command changes something): sleep until there is news.
    if (stop_requested_) {
      wake_.wait_until(lock, drain_deadline_);
    } else {
      wake_.wait(lock, [this] { return !commands_.empty() || stop_requested_; });
    }
  }
}

void EngineImpl::Shutdown(int drain_ms) {
  {
    std::lock_guard lock(mutex_);
    accepting_ = false;
    if (!stop_requested_) {
      stop_requested_ = true;
      drain_deadline_ = Clock::now() + std::chrono::milliseconds(std::max(drain_ms, 0));
    }
    wake_.notify_one();
  }
  // From an observer (on the scheduler thread itself) the loop sees the request when the
  // current step ends; joining there would wait for ourselves.
  if (std::this_thread::get_id() == loop_thread_id_) return;
  std::lock_guard shutdown_lock(shutdown_mutex_);
  if (thread_.joinable()) thread_.join();
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  auto engine = std::make_unique<EngineImpl>();
  HEARTH_RETURN_IF_ERROR(engine->Init(options));
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace hearth::engine
