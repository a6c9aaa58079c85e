// Single-thread throughput of the scalar reference dequantizers (bytes/s counts the float
// output) and of quantization (bytes/s counts the float input).
//
//   build/bench/hearth_dequant_bench --benchmark_filter=Dequantize
//
// Target: dequantization at 1 GB/s of float output or more per core for every type.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "hearth/gguf/quantize.h"
#include "hearth/gguf/tensor_type.h"

namespace hearth::gguf {
namespace {

constexpr int64_t kRowLength = 4096;
constexpr int64_t kRows = 64;  // 1 MiB of float output per pass: stays in L2

std::vector<float> RandomWeights(int64_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng);
  return x;
}

std::vector<uint8_t> QuantizeRows(TensorType type, const std::vector<float>& x) {
  const uint64_t row_bytes = RowBytes(type, kRowLength).value();
  std::vector<uint8_t> packed(row_bytes * kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    if (!QuantizeRow(type, x.data() + r * kRowLength, packed.data() + r * row_bytes, kRowLength)
             .ok()) {
      return {};
    }
  }
  return packed;
}

void BM_Dequantize(benchmark::State& state, TensorType type) {
  const auto x = RandomWeights(kRowLength * kRows);
  const auto packed = QuantizeRows(type, x);
  if (packed.empty()) {
    state.SkipWithError("quantization failed");
    return;
  }
  const uint64_t row_bytes = RowBytes(type, kRowLength).value();
  std::vector<float> out(x.size());
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r) {
      DequantizeRow(type, packed.data() + r * row_bytes, out.data() + r * kRowLength, kRowLength);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size() * sizeof(float)));
}

void BM_Quantize(benchmark::State& state, TensorType type) {
  const auto x = RandomWeights(kRowLength * kRows);
  const uint64_t row_bytes = RowBytes(type, kRowLength).value();
  std::vector<uint8_t> packed(row_bytes * kRows);
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r) {
      benchmark::DoNotOptimize(QuantizeRow(type, x.data() + r * kRowLength,
                                           packed.data() + r * row_bytes, kRowLength));
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(x.size() * sizeof(float)));
}

#define HEARTH_DEQUANT_BENCH(type) \
  BENCHMARK_CAPTURE(BM_Dequantize, type, TensorType::k##type)

HEARTH_DEQUANT_BENCH(F16);
HEARTH_DEQUANT_BENCH(BF16);
HEARTH_DEQUANT_BENCH(Q8_0);
HEARTH_DEQUANT_BENCH(Q4_0);
HEARTH_DEQUANT_BENCH(Q4_1);
HEARTH_DEQUANT_BENCH(Q5_0);
HEARTH_DEQUANT_BENCH(Q5_1);
HEARTH_DEQUANT_BENCH(Q2_K);
HEARTH_DEQUANT_BENCH(Q3_K);
HEARTH_DEQUANT_BENCH(Q4_K);
HEARTH_DEQUANT_BENCH(Q5_K);
HEARTH_DEQUANT_BENCH(Q6_K);

BENCHMARK_CAPTURE(BM_Quantize, Q8_0, TensorType::kQ8_0);
BENCHMARK_CAPTURE(BM_Quantize, Q4_0, TensorType::kQ4_0);
BENCHMARK_CAPTURE(BM_Quantize, Q4_K, TensorType::kQ4_K);
BENCHMARK_CAPTURE(BM_Quantize, Q6_K, TensorType::kQ6_K);

}  // namespace
}  // namespace hearth::gguf

BENCHMARK_MAIN();
