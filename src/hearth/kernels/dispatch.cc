// Chooses the kernel table once and lets tests switch it.
#include "hearth/kernels/dispatch.h"

#include <atomic>
#include <cstdlib>


namespace hearth::kernels {
namespace internal {
namespace {

struct Tables {
  KernelTable scalar;
  KernelTable avx2;
  KernelTable avx512;
  Tables() {
    FillScalarKernels(scalar);
    avx2 = scalar;
    FillAvx2Kernels(avx2);
    avx512 = avx2;
    FillAvx512Kernels(avx512);
  }
};

const Tables& AllTables() {
  static const Tables tables;
  return tables;
}

IsaLevel InitialLevel() {
  IsaLevel level = BestSupportedIsaLevel();
  if (const char* env = std::getenv("HEARTH_CPU"); env != nullptr && *env != '\0') {
    Result<IsaLevel> wanted = ParseIsaLevel(env);
    // An unknown or unsupported request falls back to the best level rather than failing
    // every kernel call; the cap only ever lowers the level.
    if (wanted.ok() && static_cast<int>(*wanted) < static_cast<int>(level)) level = *wanted;
  }
  return level;
}

std::atomic<const KernelTable*>& ActiveTable() {
  static std::atomic<const KernelTable*> active{KernelsFor(InitialLevel())};
  return active;
}

}  // namespace

ActFormat ActFormatFor(gguf::TensorType type) {
  switch (type) {
    case gguf::TensorType::kQ8_0:
    case gguf::TensorType::kQ4_0:
    case gguf::TensorType::kQ4_1:
    case gguf::TensorType::kQ5_0:
    case gguf::TensorType::kQ5_1:
      return ActFormat::kQ8;
    case gguf::TensorType::kQ4_K:
    case gguf::TensorType::kQ5_K:
    case gguf::TensorType::kQ6_K:
      return ActFormat::kQ8K;
    default:
      return ActFormat::kF32;
  }
}

const KernelTable& Kernels() { return *ActiveTable().load(std::memory_order_relaxed); }

const KernelTable* KernelsFor(IsaLevel level) {
  if (!IsaLevelSupported(level)) return nullptr;
  switch (level) {
    case IsaLevel::kScalar:
      return &AllTables().scalar;
    case IsaLevel::kAvx2:
      return &AllTables().avx2;
    case IsaLevel::kAvx512:
      return &AllTables().avx512;
  }
  return nullptr;
}

}  // namespace internal

IsaLevel ActiveIsaLevel() { return internal::Kernels().level; }

Status SetIsaLevel(IsaLevel level) {
  const internal::KernelTable* table = internal::KernelsFor(level);
  if (table == nullptr) {
    return Status::FailedPrecondition(
        fmt::format("this CPU cannot run the {} kernels", IsaLevelName(level)));
  }
  internal::ActiveTable().store(table, std::memory_order_relaxed);
  return Status::Ok();
}

}  // namespace hearth::kernels
