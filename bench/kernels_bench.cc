// Kernel throughput: matrix-vector (decode, memory-bound) in GB/s of weights streamed,
// matrix-matrix (prompt) in GOPS, and a STREAM-style triad for the machine's bandwidth roofline.
//
//   hearth_kernels_bench --benchmark_filter='Triad|MatVec'     (bytes_per_second = GB/s)
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "hearth/gguf/tensor_type.h"
#include "hearth/kernels/isa.h"
#include "hearth/kernels/matmul.h"
#include "hearth/kernels/thread_pool.h"

namespace hearth::kernels {
namespace {

using gguf::TensorType;

// Random bytes are valid quants; fp16 scale fields are overwritten with a sane small value by
// writing the whole buffer from a pattern whose every 16-bit word is a small finite half. Speed
// does not depend on the values, only on them not being NaN-heavy.
std::vector<uint8_t> BenchWeights(TensorType type, int64_t rows, int64_t cols) {
  const size_t bytes = static_cast<size_t>(*gguf::RowBytes(type, cols)) * rows;
  std::vector<uint8_t> data(bytes);
  std::mt19937 rng(1);
  for (size_t i = 0; i + 1 < bytes; i += 2) {
    // 0x2000..0x23ff: halves around 0.008, finite; as quants they are arbitrary bytes.
    const uint16_t h = static_cast<uint16_t>(0x2000 | (rng() & 0x3ff));
    std::memcpy(&data[i], &h, 2);
  }
  return data;
}

void MatVec(benchmark::State& state, TensorType type) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  if (!gguf::RowBytes(type, cols).ok()) {
    state.SkipWithError("row length is not a multiple of the block size");
    return;
  }
  auto data = BenchWeights(type, rows, cols);
  auto w = *WeightView::Make(type, data.data(), rows, cols);
  std::vector<float> x(cols, 0.5f), y(rows);
  ThreadPool pool(threads);
  for (auto _ : state) {
    MatMul(w, x.data(), 1, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(data.size()));
}

void MatMulPrompt(benchmark::State& state, TensorType type) {
  const int64_t rows = state.range(0), cols = state.range(1), m = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  if (!gguf::RowBytes(type, cols).ok()) {
    state.SkipWithError("row length is not a multiple of the block size");
    return;
  }
  auto data = BenchWeights(type, rows, cols);
  auto w = *WeightView::Make(type, data.data(), rows, cols);
  std::vector<float> x(m * cols, 0.25f), y(m * rows);
  ThreadPool pool(threads);
  for (auto _ : state) {
    MatMul(w, x.data(), m, y.data(), pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GOPS"] = benchmark::Counter(
      static_cast<double>(2 * rows * cols * m) * state.iterations() / 1e9,
      benchmark::Counter::kIsRate);
}

#if HEARTH_X86
// The int8 ceiling of the AVX2 kernels on one core: independent maddubs+madd chains whose
// inputs change every iteration (so nothing is hoisted out of the loop), 64 int8 ops per pair.
// Compare the kernels' GOPS per CPU-second with this one's (both count cpu_time when the
// machine is shared).
__attribute__((target("avx2"))) void Int8PeakAvx2(benchmark::State& state) {
  const int64_t iterations = 1 << 20;
  for (auto _ : state) {
    __m256i acc[8];
    __m256i a[8];
    for (int i = 0; i < 8; ++i) {
      acc[i] = _mm256_setzero_si256();
      a[i] = _mm256_set1_epi8(static_cast<char>(i + 1));
    }
    const __m256i b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
    for (int64_t it = 0; it < iterations; ++it) {
      for (int i = 0; i < 8; ++i) {
        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a[i], b), ones));
        a[i] = _mm256_add_epi8(a[i], b);  // new inputs each time: nothing can be hoisted
      }
    }
    for (int i = 1; i < 8; ++i) acc[0] = _mm256_add_epi32(acc[0], acc[i]);
    benchmark::DoNotOptimize(acc[0]);
  }
  state.counters["GOPS"] = benchmark::Counter(
      static_cast<double>(iterations) * 8 * 64 * state.iterations() / 1e9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(Int8PeakAvx2);
#endif

// a = b + s * c over arrays far larger than the caches; 12 bytes moved per element (the
// STREAM convention, not counting write-allocate).
void Triad(benchmark::State& state) {
  const int64_t n = int64_t{1} << 24;  // 64 MiB per array
  const int threads = static_cast<int>(state.range(0));
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  ThreadPool pool(threads);
  for (auto _ : state) {
    pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) a[i] = b[i] + 3.0f * c[i];
    });
    benchmark::DoNotOptimize(a.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 12);
}

void MatVecShapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    b->Args({896, 4864, threads});    // ffn_down-like: 896 outputs of 4864
    b->Args({4864, 896, threads});    // ffn_gate/up-like
    b->Args({151936, 896, threads});  // output projection of a 0.5B Qwen2
  }
  b->UseRealTime();
}

BENCHMARK(Triad)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_CAPTURE(MatVec, Q8_0, TensorType::kQ8_0)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatVec, Q4_K, TensorType::kQ4_K)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatVec, Q6_K, TensorType::kQ6_K)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatVec, Q5_0, TensorType::kQ5_0)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatVec, Q4_0, TensorType::kQ4_0)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatVec, Q5_K, TensorType::kQ5_K)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatVec, F16, TensorType::kF16)->Apply(MatVecShapes);
BENCHMARK_CAPTURE(MatMulPrompt, Q8_0, TensorType::kQ8_0)
    ->Args({4864, 896, 512, 1})
    ->Args({4864, 896, 512, 2})
    ->UseRealTime();
BENCHMARK_CAPTURE(MatMulPrompt, Q5_0, TensorType::kQ5_0)
    ->Args({4864, 896, 512, 1})
    ->Args({4864, 896, 512, 2})
    ->Args({4864, 896, 16, 1})  // batched decode of 16 sequences
    ->UseRealTime();
BENCHMARK_CAPTURE(MatMulPrompt, Q8_0_batch16, TensorType::kQ8_0)->Args({4864, 896, 16, 1});
// ffn_down is the K-quant tensor of a Q4_K_M qwen2.5-0.5b (K = 4864 = 19 x 256).
BENCHMARK_CAPTURE(MatMulPrompt, Q4_K, TensorType::kQ4_K)
    ->Args({896, 4864, 512, 1})
    ->Args({896, 4864, 512, 2})
    ->UseRealTime();
BENCHMARK_CAPTURE(MatMulPrompt, Q6_K, TensorType::kQ6_K)->Args({896, 4864, 512, 1});

}  // namespace
}  // namespace hearth::kernels

BENCHMARK_MAIN();
