// Engine throughput: prompt (prefill) and decode tokens per second through the whole engine
// (scheduler, KV pool, sampler, model), on a model of real published shape.
//
// The model is HEARTH_BENCH_MODEL when set; otherwise a qwen2.5-0.5b-shaped Q8_0 model with
// all-zero weights is synthesized once into $TMPDIR/hearth-bench/ (the arithmetic and memory
// traffic per token do not depend on the weight values). Run:
//   build/bench/hearth_engine_bench --benchmark_min_time=0.01
// Counters: tok/s of the phase measured (prompt tokens or generated tokens).
#include <benchmark/benchmark.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hearth/engine/engine.h"
#include "hearth/gguf/synth.h"

namespace hearth::engine {
namespace {

std::filesystem::path BenchModel() {
  if (const char* env = std::getenv("HEARTH_BENCH_MODEL")) return env;
  const auto dir = std::filesystem::temp_directory_path() / "hearth-bench";
  const auto path = dir / "qwen2.5-0.5b-q8_0-zero.gguf";
  if (std::filesystem::exists(path)) return path;
  std::filesystem::create_directories(dir);
  auto shape = gguf::ShapePreset("qwen2.5-0.5b", "");
  if (!shape.ok()) return {};
  gguf::SynthOptions o;
  o.shape = *shape;
  o.type = "q8_0";
  o.zero_weights = true;
  o.context_length = 4096;
  if (Status s = gguf::SynthesizeModel(path, o); !s.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", s.message().c_str());
    return {};
  }
  return path;
}

class Waiter : public SequenceObserver {
 public:
  void OnToken(const TokenEvent&) override {}
  void OnFinish(FinishReason, const Status&) override {
    std::lock_guard lock(mutex_);
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return done_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
};

std::unique_ptr<Engine> MakeEngine(int max_parallel) {
  static const std::filesystem::path model = BenchModel();
  EngineOptions o;
  o.model_path = model;
  o.context_length = 1024;
  o.max_parallel = max_parallel;
  o.prefix_cache = false;  // measure computation, not cache hits
  auto engine = Engine::Create(o);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", engine.status().message().c_str());
    return nullptr;
  }
  return std::move(engine).value();
}

GenerationRequest Request(int prompt_tokens, int max_tokens, int salt) {
  GenerationRequest r;
  for (int i = 0; i < prompt_tokens; ++i) r.prompt.push_back(100 + (i * 31 + salt * 7) % 5000);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  return r;
}

void RunAll(Engine& engine, const std::vector<GenerationRequest>& requests) {
  std::vector<std::shared_ptr<Waiter>> waiters;
  for (const auto& r : requests) {
    waiters.push_back(std::make_shared<Waiter>());
    (void)engine.Submit(r, waiters.back());
  }
  for (auto& w : waiters) w->Wait();
}

// Prefill: one 512-token prompt, one generated token.
void BM_EnginePrefill(benchmark::State& state) {
  auto engine = MakeEngine(1);
  if (!engine) return state.SkipWithError("no model");
  const int prompt = static_cast<int>(state.range(0));
  int64_t tokens = 0;
  for (auto _ : state) {
    RunAll(*engine, {Request(prompt, 1, 0)});
    tokens += prompt;
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(tokens),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EnginePrefill)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode: `parallel` sequences with short prompts generate 32 tokens each; the rate counts
// generated tokens (the short prefill is included in the time).
void BM_EngineDecode(benchmark::State& state) {
  const int parallel = static_cast<int>(state.range(0));
  auto engine = MakeEngine(parallel);
  if (!engine) return state.SkipWithError("no model");
  constexpr int kGenerated = 32;
  int64_t tokens = 0;
  for (auto _ : state) {
    std::vector<GenerationRequest> requests;
    for (int i = 0; i < parallel; ++i) requests.push_back(Request(8, kGenerated, i));
    RunAll(*engine, requests);
    tokens += static_cast<int64_t>(parallel) * kGenerated;
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(tokens),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EngineDecode)->Arg(1)->Arg(4)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace hearth::engine

BENCHMARK_MAIN();
