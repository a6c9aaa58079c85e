// Measured ceilings of the machine the process runs on, so that every engine figure can be
// stated as a fraction of what the hardware can do:
//   - memory bandwidth: the STREAM triad a[i] = b[i] + s * c[i] over arrays far larger than the
//     caches, counted as 24 bytes per element (reads of b and c, write of a), in huge-page memory
//     as the engine's weights are;
//   - peak fp32 FMA rate: independent vector FMA chains in registers (2 flops per lane);
//   - peak int8 dot rate: the int8 multiply-accumulate instruction the kernels use (AVX2
//     maddubs+madd, or VNNI dpbusd where present), 2 ops per multiply-accumulate;
//   - int8 block-dot ceiling (AVX2 only): the whole per-block sequence of a Q8_0 x Q8_0 dot as
//     the GEMM kernels run it (sign transfer, maddubs, madd, int->float, scaled FMA: 5
//     instructions per 32 multiply-adds), eight independent tiles in registers. No matmul with
//     per-32-weight scales can beat it on this ISA; it is what prefill is judged against.
// Each figure is the median of several repetitions, all threads running at once.
#pragma once

#include <string>

namespace hearth::kernels {

struct RooflineOptions {
  int threads = 0;  // 0: one per core
  size_t triad_bytes_per_array = 256u << 20;
  int repetitions = 5;
};

struct Roofline {
  int threads = 0;
  double triad_gb_per_s = 0;  // 1e9 bytes / s
  double fma_gflops = 0;      // fp32
  double int8_gops = 0;
  double int8_block_gops = 0;    // 0: not measured (no AVX2, or VNNI present)
  std::string int8_instruction;  // "avx2-maddubs", "avx512-vnni", "scalar"
  std::string fma_instruction;   // "avx2-fma", "avx512-fma", "scalar"
};

Roofline MeasureRoofline(const RooflineOptions& options);

}  // namespace hearth::kernels
