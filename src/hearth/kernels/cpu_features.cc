#include "hearth/kernels/cpu_features.h"

#include <atomic>
#include <cctype>
#include <cstdlib>

#include "hearth/kernels/isa.h"

#if HEARTH_X86
#include <cpuid.h>
#endif

namespace hearth::kernels {
namespace {

#if HEARTH_X86
// XCR0: which register states the OS saves on context switch.
uint64_t ReadXcr0() {
  uint32_t eax = 0;
  uint32_t edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

}  // namespace

std::string CpuFeatures::ToString() const {
  std::string out;
  auto add = [&out](bool present, const char* name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512_vnni, "avx512_vnni");
  add(avx512_bf16, "avx512_bf16");
  add(avx_vnni, "avx_vnni");
  return out.empty() ? "none" : out;
}

CpuFeatures DetectCpuFeatures() {
  CpuFeatures f;
#if HEARTH_X86
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  if (!osxsave) return f;
  const uint64_t xcr0 = ReadXcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;      // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;    // plus opmask, ZMM_Hi256, Hi16_ZMM
  const bool avx = ((ecx >> 28) & 1) && ymm_state;
  f.fma = avx && ((ecx >> 12) & 1);
  f.f16c = avx && ((ecx >> 29) & 1);
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f.avx2 = avx && ((ebx >> 5) & 1);
    f.avx512f = zmm_state && ((ebx >> 16) & 1);
    f.avx512bw = f.avx512f && ((ebx >> 30) & 1);
    f.avx512vl = f.avx512f && ((ebx >> 31) & 1);
    f.avx512_vnni = f.avx512f && ((ecx >> 11) & 1);
    const unsigned leaf7_max_sub = eax;
    if (leaf7_max_sub >= 1) {
      __cpuid_count(7, 1, eax, ebx, ecx, edx);
      f.avx_vnni = avx && ((eax >> 4) & 1);
      f.avx512_bf16 = f.avx512f && ((eax >> 5) & 1);
    }
  }
#endif
  return f;
}

std::string_view IsaLevelName(IsaLevel level) {
  switch (level) {
    case IsaLevel::kScalar:
      return "scalar";
    case IsaLevel::kAvx2:
      return "avx2";
    case IsaLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

Result<IsaLevel> ParseIsaLevel(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
    if (lower == IsaLevelName(level)) return level;
  }
  return Status::InvalidArgument(
      fmt::format("unknown CPU level '{}' (expected scalar, avx2 or avx512)", name));
}

bool IsaLevelSupported(IsaLevel level) {
  static const CpuFeatures f = DetectCpuFeatures();
  switch (level) {
    case IsaLevel::kScalar:
      return true;
    case IsaLevel::kAvx2:
      return f.avx2 && f.fma && f.f16c;
    case IsaLevel::kAvx512:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl &&
             f.avx512_vnni;
  }
  return false;
}

IsaLevel BestSupportedIsaLevel() {
  if (IsaLevelSupported(IsaLevel::kAvx512)) return IsaLevel::kAvx512;
  if (IsaLevelSupported(IsaLevel::kAvx2)) return IsaLevel::kAvx2;
  return IsaLevel::kScalar;
}

}  // namespace hearth::kernels
