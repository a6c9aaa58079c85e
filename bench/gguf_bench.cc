// GGUF benchmarks:
//  - inspect (open + validate + describe) of 7B-shaped files (DeepSeek-R1-Distill-Qwen-7B
//    shapes, F16 and Q4_K_M), which must cost the same whatever the file size: only the header
//    is read. The files are synthesized with zero weights into /tmp (reused when present,
//    removed at exit unless HEARTH_BENCH_KEEP=1).
//  - quantize throughput F16 -> Q8_0 of a whole model file, in MB/s of F16 tensor input.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/model_info.h"
#include "hearth/gguf/quantize_model.h"
#include "hearth/gguf/synth.h"

namespace {

using namespace hearth::gguf;

std::vector<std::filesystem::path>& CreatedFiles() {
  static std::vector<std::filesystem::path> files;
  return files;
}

std::filesystem::path EnsureSevenB(const std::string& type) {
  const std::filesystem::path path = "/tmp/hearth-bench-r1-distill-qwen-7b-" + type + ".gguf";
  if (std::filesystem::exists(path)) return path;
  SynthOptions options;
  options.shape = *ShapePreset("deepseek-r1-distill-qwen-7b", "qwen2");
  options.type = type;
  options.zero_weights = true;
  if (hearth::Status s = SynthesizeModel(path, options); !s.ok()) {
    std::fprintf(stderr, "cannot synthesize %s: %s\n", path.c_str(), s.message().c_str());
    return {};
  }
  CreatedFiles().push_back(path);
  return path;
}

void BM_InspectSevenB(benchmark::State& state, const std::string& type) {
  const auto path = EnsureSevenB(type);
  if (path.empty()) {
    state.SkipWithError("could not create the 7B file");
    return;
  }
  for (auto _ : state) {
    auto file = GgufFile::Open(path);
    if (!file.ok()) {
      state.SkipWithError(file.status().message().c_str());
      return;
    }
    auto info = DescribeModel(*file);
    benchmark::DoNotOptimize(EstimateMemory(*info, 4096, 1).total_f16);
  }
  state.counters["file_GB"] = static_cast<double>(std::filesystem::file_size(path)) / 1e9;
}
BENCHMARK_CAPTURE(BM_InspectSevenB, f16, std::string("f16"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_InspectSevenB, q4_k_m, std::string("q4_k_m"))->Unit(benchmark::kMillisecond);

void BM_QuantizeF16ToQ8_0(benchmark::State& state) {
  const std::filesystem::path source = "/tmp/hearth-bench-quantize-source-f16.gguf";
  const std::filesystem::path target = "/tmp/hearth-bench-quantize-target-q8_0.gguf";
  if (!std::filesystem::exists(source)) {
    SynthOptions options;
    options.shape = *ShapePreset("tiny", "llama");
    options.shape.n_layers = 4;
    options.shape.n_embd = 1024;
    options.shape.n_heads = 16;
    options.shape.n_kv_heads = 4;
    options.shape.n_ff = 4096;
    options.shape.vocab = 8192;
    options.type = "f16";
    if (!SynthesizeModel(source, options).ok()) {
      state.SkipWithError("could not create the source model");
      return;
    }
    CreatedFiles().push_back(source);
  }
  QuantizeOptions options;
  options.type = "q8_0";
  options.threads = static_cast<int>(state.range(0));
  options.progress = false;
  uint64_t input_bytes = 0;
  for (auto _ : state) {
    auto report = QuantizeModel(source, target, options);
    if (!report.ok()) {
      state.SkipWithError(report.status().message().c_str());
      return;
    }
    input_bytes += report->input_bytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(input_bytes));
  std::filesystem::remove(target);
}
BENCHMARK(BM_QuantizeF16ToQ8_0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const char* keep = std::getenv("HEARTH_BENCH_KEEP");
  if (keep == nullptr || std::string(keep) != "1") {
    for (const auto& path : CreatedFiles()) std::filesystem::remove(path);
  }
  return 0;
}
