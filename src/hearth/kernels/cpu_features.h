// CPU feature detection and the instruction-set level kernels dispatch on.
//
// The level is chosen once, at first use: the best the CPU (and OS, for AVX register state)
// supports, capped by the environment variable HEARTH_CPU=scalar|avx2|avx512 when set. Tests
// and benchmarks may switch it later with SetIsaLevel().
#pragma once

#include <string>
#include <string_view>

#include "hearth/base/status.h"

namespace hearth::kernels {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  bool avx_vnni = false;

  // "avx2 fma f16c ..." (only the present ones), for logs.
  std::string ToString() const;
};

// Queries cpuid and xgetbv (the OS must save the wider registers for a feature to count).
CpuFeatures DetectCpuFeatures();

// Kernel families, each a superset of the one before.
enum class IsaLevel {
  kScalar = 0,  // portable C++
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F/BW/VL/VNNI (plus everything in kAvx2)
};

std::string_view IsaLevelName(IsaLevel level);
// Parses "scalar", "avx2", "avx512" (case-insensitive).
Result<IsaLevel> ParseIsaLevel(std::string_view name);

// The best level this CPU can run.
IsaLevel BestSupportedIsaLevel();
bool IsaLevelSupported(IsaLevel level);

// The level kernels currently use.
IsaLevel ActiveIsaLevel();
// Switches the kernels to `level`; FailedPrecondition when the CPU cannot run it. Not meant to
// be called while kernels run on other threads.
Status SetIsaLevel(IsaLevel level);

}  // namespace hearth::kernels
