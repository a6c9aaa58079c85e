#include "hearth/kernels/roofline.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "hearth/base/file_util.h"
#include "hearth/kernels/cpu_features.h"

namespace hearth::kernels {
namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs body(thread_index) on `threads` threads started together; returns the wall seconds from
// the common start to the last finish.
double TimeParallel(int threads, const std::function<void(int)>& body) {
  std::barrier start(threads + 1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  start.arrive_and_wait();
  auto t0 = Clock::now();
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// An array of n doubles in transparent-huge-page memory where the kernel grants it, as the
// engine keeps its weights (gguf MapMode::kPrivateHugePages): the triad then measures DRAM
// bandwidth, not DRAM bandwidth minus a page walk every 4 KiB.
struct HugePageArray {
  explicit HugePageArray(size_t n)
      : bytes(HugePageRoundUp(n * sizeof(double))),
        data(reinterpret_cast<double*>(MapHugePageMemory(bytes))) {
    if (data == nullptr) throw std::bad_alloc();
  }
  ~HugePageArray() { munmap(data, bytes); }
  HugePageArray(const HugePageArray&) = delete;
  HugePageArray& operator=(const HugePageArray&) = delete;
  double* get() const { return data; }
  double& operator[](size_t i) const { return data[i]; }

  size_t bytes;
  double* data;
};

double MeasureTriad(int threads, size_t bytes_per_array, int repetitions) {
  size_t n = bytes_per_array / sizeof(double);
  HugePageArray a(n), b(n), c(n);
  // First touch by the threads that will use each part.
  TimeParallel(threads, [&](int t) {
    size_t lo = n * t / threads, hi = n * (t + 1) / threads;
    for (size_t i = lo; i < hi; ++i) {
      a[i] = 0;
      b[i] = 1.0 + static_cast<double>(i % 7);
      c[i] = 2.0;
    }
  });
  const double s = 3.0;
  std::vector<double> rates;
  for (int r = 0; r < repetitions; ++r) {
    double seconds = TimeParallel(threads, [&](int t) {
      size_t lo = n * t / threads, hi = n * (t + 1) / threads;
      double* __restrict pa = a.get();
      const double* __restrict pb = b.get();
      const double* __restrict pc = c.get();
      for (size_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
    });
    rates.push_back(3.0 * sizeof(double) * static_cast<double>(n) / seconds / 1e9);
  }
  // Keep the result observable so the loop is not removed.
  volatile double sink = a[n / 2];
  (void)sink;
  return Median(rates);
}

constexpr int64_t kComputeIterations = 20'000'000;

__attribute__((target("avx2,fma"))) float FmaChainsAvx2(int64_t iterations) {
  __m256 acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 mul = _mm256_set1_ps(0.999999f);
  const __m256 add = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 10; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 10; ++i) sum = _mm256_add_ps(sum, acc[i]);
  return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx512f"))) float FmaChainsAvx512(int64_t iterations) {
  __m512 acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 mul = _mm512_set1_ps(0.999999f);
  const __m512 add = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 10; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 10; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx2"))) int Int8ChainsAvx2(int64_t iterations) {
  __m256i acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_set1_epi32(i);
  __m256i a[8];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_set1_epi8(static_cast<char>(3 + i));
  const __m256i b = _mm256_set1_epi8(-2);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 8; ++i) {
      // Inputs that differ per chain and per iteration (one cheap byte add): with constant
      // ones the compiler computes maddubs+madd once and only the adds would be timed.
      a[i] = _mm256_add_epi8(a[i], b);
      __m256i p = _mm256_maddubs_epi16(a[i], b);
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(p, ones));
    }
  }
  __m256i sum = acc[0];
  for (int i = 1; i < 8; ++i) sum = _mm256_add_epi32(sum, acc[i]);
  return _mm256_extract_epi32(sum, 0);
}

// Eight tiles (2 weight rows x 4 tokens, as the panel GEMM) of the Q8_0 block dot: per tile
// the sign of the weights moved onto the activations, maddubs, madd, conversion and a scaled FMA.
// The weights change every iteration so that no tile is computed once and reused.
__attribute__((target("avx2,fma"))) float Int8BlockTilesAvx2(int64_t iterations) {
  __m256 acc[8];
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
  __m256i w[2] = {_mm256_set1_epi8(5), _mm256_set1_epi8(-7)};
  __m256i a[4] = {_mm256_set1_epi8(3), _mm256_set1_epi8(-4), _mm256_set1_epi8(9),
                  _mm256_set1_epi8(-11)};
  const __m256i step = _mm256_set1_epi8(1);
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256 scale = _mm256_set1_ps(1e-6f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int r = 0; r < 2; ++r) {
      const __m256i w_abs = _mm256_sign_epi8(w[r], w[r]);
      for (int t = 0; t < 4; ++t) {
        const __m256i dot =
            _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(a[t], w[r])), ones);
        acc[r * 4 + t] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot), acc[r * 4 + t]);
      }
    }
    // Both weight rows change (so does every tile's sign transfer and product); changing the
    // activations too would only add instructions the kernels do not have.
    w[0] = _mm256_add_epi8(w[0], step);
    w[1] = _mm256_sub_epi8(w[1], step);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 8; ++i) sum = _mm256_add_ps(sum, acc[i]);
  return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx512f,avx512vnni"))) int Int8ChainsVnni(int64_t iterations) {
  __m512i acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3);
  const __m512i b = _mm512_set1_epi8(-2);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < 10; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  }
  __m512i sum = acc[0];
  for (int i = 1; i < 10; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  alignas(64) int lanes[16];
  _mm512_store_si512(lanes, sum);
  return lanes[0] + lanes[15];
}

}  // namespace

Roofline MeasureRoofline(const RooflineOptions& options) {
  Roofline r;
  r.threads = options.threads > 0
                  ? options.threads
                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  r.triad_gb_per_s = MeasureTriad(r.threads, options.triad_bytes_per_array, options.repetitions);

  CpuFeatures cpu = DetectCpuFeatures();
  std::atomic<int64_t> sink{0};
  std::vector<double> fma, int8, int8_block;
  for (int rep = 0; rep < options.repetitions; ++rep) {
    if (cpu.avx512f) {
      double s =
          TimeParallel(r.threads, [&](int) { sink += FmaChainsAvx512(kComputeIterations) > 0; });
      fma.push_back(r.threads * kComputeIterations * 10.0 * 16 * 2 / s / 1e9);
      r.fma_instruction = "avx512-fma";
    } else if (cpu.avx2 && cpu.fma) {
      double s =
          TimeParallel(r.threads, [&](int) { sink += FmaChainsAvx2(kComputeIterations) > 0; });
      fma.push_back(r.threads * kComputeIterations * 10.0 * 8 * 2 / s / 1e9);
      r.fma_instruction = "avx2-fma";
    }
    if (cpu.avx512f && cpu.avx512_vnni) {
      double s = TimeParallel(r.threads, [&](int) { sink += Int8ChainsVnni(kComputeIterations); });
      int8.push_back(r.threads * kComputeIterations * 10.0 * 64 * 2 / s / 1e9);
      r.int8_instruction = "avx512-vnni";
    } else if (cpu.avx2) {
      double s = TimeParallel(r.threads, [&](int) { sink += Int8ChainsAvx2(kComputeIterations); });
      int8.push_back(r.threads * kComputeIterations * 8.0 * 32 * 2 / s / 1e9);
      r.int8_instruction = "avx2-maddubs";
    }
    if (cpu.avx2 && cpu.fma && !(cpu.avx512f && cpu.avx512_vnni)) {
      double s =
          TimeParallel(r.threads, [&](int) { sink += Int8BlockTilesAvx2(kComputeIterations) > 0; });
      int8_block.push_back(r.threads * kComputeIterations * 8.0 * 32 * 2 / s / 1e9);
    }
  }
  if (!fma.empty()) r.fma_gflops = Median(fma);
  if (!int8.empty()) r.int8_gops = Median(int8);
  if (!int8_block.empty()) r.int8_block_gops = Median(int8_block);
  return r;
}

}  // namespace hearth::kernels
