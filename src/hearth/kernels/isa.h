// Internal: function-level target attributes for instruction-set specific code. Only functions
// carrying these may use the matching intrinsics; the rest of the build stays baseline x86-64,
// so the binary runs on any CPU and dispatch (dispatch.h) picks what the CPU supports.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#define HEARTH_X86 1
#include <immintrin.h>
#define HEARTH_AVX2 __attribute__((target("avx2,fma,f16c")))
#define HEARTH_AVX512 \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#else
#define HEARTH_X86 0
#define HEARTH_AVX2
#define HEARTH_AVX512
#endif
