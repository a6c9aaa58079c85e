// Forward-pass throughput of a qwen2.5-0.5b-shaped Q8_0 model (random weights, real shapes):
// single-sequence decode (tokens/s, one token per Forward through the KV cache) and prompt
// processing (tokens/s, 512 tokens in one Forward). The model is synthesized once into the temp
// directory (or taken from HEARTH_BENCH_MODEL).
//
//   build/bench/hearth_model_bench --benchmark_filter=Decode
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>
#include <vector>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/synth.h"
#include "hearth/kernels/thread_pool.h"
#include "hearth/model/kv_cache.h"
#include "hearth/model/model.h"

namespace {

using hearth::model::BatchToken;

constexpr int kBlockTokens = 16;
constexpr int kMaxTokens = 1024;

struct Loaded {
  std::shared_ptr<const hearth::gguf::GgufFile> file;
  std::unique_ptr<hearth::model::Model> model;
  std::unique_ptr<hearth::model::KvCacheStorage> kv;
  std::vector<int32_t> table;
};

Loaded* Model() {
  static Loaded* loaded = [] {
    auto* l = new Loaded;
    std::filesystem::path path;
    if (const char* env = std::getenv("HEARTH_BENCH_MODEL")) {
      path = env;
    } else {
      path = std::filesystem::temp_directory_path() / "hearth-bench-qwen2.5-0.5b-q8_0.gguf";
      if (!std::filesystem::exists(path)) {
        hearth::gguf::SynthOptions options;
        options.shape = hearth::gguf::ShapePreset("qwen2.5-0.5b", "").value();
        options.type = "q8_0";
        options.seed = 1;
        if (hearth::Status s = hearth::gguf::SynthesizeModel(path, options); !s.ok()) {
          std::fprintf(stderr, "synth: %s\n", s.ToString().c_str());
          std::exit(1);
        }
      }
    }
    auto file = hearth::gguf::GgufFile::Open(path);
    if (!file.ok()) {
      std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
      std::exit(1);
    }
    l->file = std::make_shared<const hearth::gguf::GgufFile>(std::move(file).value());
    l->model = hearth::model::Model::Load(l->file).value();
    const auto g = l->model->KvGeometry(hearth::gguf::TensorType::kF16, kBlockTokens);
    const int64_t blocks = kMaxTokens / kBlockTokens;
    l->kv = hearth::model::KvCacheStorage::Create(g, g.BytesPerBlock() * blocks, blocks).value();
    l->table.resize(blocks);
    std::iota(l->table.begin(), l->table.end(), 0);
    return l;
  }();
  return loaded;
}

int32_t TokenAt(int i) { return static_cast<int32_t>((i * 7919 + 13) % 150000); }

void BM_Decode(benchmark::State& state) {
  Loaded* l = Model();
  hearth::kernels::ThreadPool pool(static_cast<int>(state.range(0)));
  const int vocab = l->model->config().vocab_size;
  // A 128-token context first, then one token per step.
  constexpr int kContext = 128;
  std::vector<BatchToken> prompt;
  for (int i = 0; i < kContext; ++i) prompt.push_back({TokenAt(i), i, l->table, i + 1 == kContext});
  std::vector<float> logits(static_cast<size_t>(vocab));
  if (!l->model->Forward(prompt, *l->kv, logits, pool).ok()) state.SkipWithError("prefill");
  int position = kContext;
  for (auto _ : state) {
    const BatchToken step[] = {{TokenAt(position), position, l->table, true}};
    if (!l->model->Forward(step, *l->kv, logits, pool).ok()) state.SkipWithError("decode");
    benchmark::DoNotOptimize(logits.data());
    if (++position == kMaxTokens) position = kContext;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Prefill(benchmark::State& state) {
  Loaded* l = Model();
  hearth::kernels::ThreadPool pool(static_cast<int>(state.range(0)));
  const int tokens = static_cast<int>(state.range(1));
  std::vector<BatchToken> batch;
  for (int i = 0; i < tokens; ++i) batch.push_back({TokenAt(i), i, l->table, i + 1 == tokens});
  std::vector<float> logits(static_cast<size_t>(l->model->config().vocab_size));
  for (auto _ : state) {
    if (!l->model->Forward(batch, *l->kv, logits, pool).ok()) state.SkipWithError("prefill");
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * tokens);
}
BENCHMARK(BM_Prefill)->Args({2, 128})->Args({2, 512})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
