#include "hearth/kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "hearth/base/half.h"
#include "hearth/kernels/dispatch.h"
#include "hearth/kernels/isa.h"

namespace hearth::kernels {
namespace {

using internal::ActFormat;
using internal::ActQ8;
using internal::KernelTable;
using internal::kMaxTokens;

// Rows handed to one dot-kernel sweep over all tokens: their weights (at most ~16 × K bytes)
// stay in L1/L2 while every group of kMaxTokens tokens is applied to them.
constexpr int64_t kRowBlock = 16;
// Rows packed together by PanelMatMul: 64 x K int8 (56 KiB at K = 896) stay in L2 while every
// token panel passes over them, and a token panel (4 x K) stays in L1 across their row pairs.
// 64 beat 8..32 (the token panels are reloaded less often) and 128..256 (more L2 misses).
constexpr int64_t kPanelRowBlock = 64;

int Slot(gguf::TensorType type) { return static_cast<int>(type); }

size_t ActRowBytes(ActFormat format, int64_t k) {
  switch (format) {
    case ActFormat::kQ8:
      return static_cast<size_t>(k / 32) * sizeof(ActQ8);
    case ActFormat::kQ8K:
      return static_cast<size_t>(k / gguf::kQkK) * sizeof(gguf::BlockQ8_K);
    case ActFormat::kF32:
      break;
  }
  return static_cast<size_t>(k) * sizeof(float);
}

// How far ahead of the rows being multiplied their weights are requested from memory. With
// weights far larger than the caches (decode streams every matrix once per token), the dot
// kernels alone kept too few cache misses in flight: a Q8_0 matvec streamed ~7 GB/s on one Zen3
// core against ~17 GB/s for plain loads. Software prefetch 4 KiB ahead brought it to ~12 GB/s
// (bench/kernels_bench.cc) and single-thread decode of qwen2.5-0.5b Q8_0 from 20 to 32 tok/s
// (1, 2, 8 and 16 KiB were slower). It changes no arithmetic.
constexpr size_t kPrefetchBytesAhead = 4096;
constexpr size_t kCacheLine = 64;

// Where a prefetch puts its line: L1 for bytes needed within microseconds (the stream ahead of
// a dot kernel), L2 only for bytes needed after the current computation, which should not evict
// what that computation is using from L1.
enum class PrefetchLevel { kL1, kL2 };

// Prefetches bytes [begin, end) of a stream whose rows are contiguous in memory.
template <PrefetchLevel kLevel = PrefetchLevel::kL1>
inline void PrefetchBytes(const uint8_t* base, size_t begin, size_t end) {
  for (size_t offset = begin & ~(kCacheLine - 1); offset < end; offset += kCacheLine) {
#if HEARTH_X86
    // Inline asm, not __builtin_prefetch: GCC 12's mod/ref analysis judges a function made of
    // prefetches side-effect free and deletes its calls.
    if constexpr (kLevel == PrefetchLevel::kL1) {
      asm volatile("prefetcht0 %0" : : "m"(*(base + offset)));
    } else {
      asm volatile("prefetcht1 %0" : : "m"(*(base + offset)));
    }
#else
    __builtin_prefetch(base + offset, 0, kLevel == PrefetchLevel::kL1 ? 3 : 2);
#endif
  }
}

// Applies rows [r0, r1) to tokens [0, m): `act` rows are act_stride bytes apart and `row_ptr`
// gives the weight row in the format `dot` consumes. When `pair` is set (rows row_stride bytes
// apart), rows go two at a time through it so each activation load feeds two rows. When
// `stream` is set, row r lives at stream + r * row_stride (weights read straight from the model
// file), and the bytes kPrefetchBytesAhead past the current rows are prefetched while the first
// token group runs (later groups find the row block in cache).
template <typename RowPtr>
void SweepRows(const internal::RowDotFn dot, const internal::RowPairDotFn pair, size_t row_stride,
               int64_t k, int64_t r0, int64_t r1, RowPtr row_ptr, const uint8_t* act,
               size_t act_stride, int64_t m, float* y, int64_t ldy,
               const uint8_t* stream = nullptr) {
  float out[2 * kMaxTokens];
  // Prefetches the bytes kPrefetchBytesAhead past rows [r, r + count), within this sweep's rows.
  const size_t sweep_end = static_cast<size_t>(r1) * row_stride;
  auto prefetch_ahead = [&](int64_t r, int64_t count) {
    const size_t from =
        std::min(sweep_end, static_cast<size_t>(r) * row_stride + kPrefetchBytesAhead);
    const size_t to =
        std::min(sweep_end, static_cast<size_t>(r + count) * row_stride + kPrefetchBytesAhead);
    PrefetchBytes(stream, from, to);
  };
  if (stream != nullptr) {
    // The window the first rows' prefetches skip over.
    const size_t begin = static_cast<size_t>(r0) * row_stride;
    PrefetchBytes(stream, begin, std::min(sweep_end, begin + kPrefetchBytesAhead));
  }
  for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
    const int64_t rb_end = std::min(r1, rb + kRowBlock);
    for (int64_t t0 = 0; t0 < m; t0 += kMaxTokens) {
      const int nt = static_cast<int>(std::min<int64_t>(kMaxTokens, m - t0));
      const uint8_t* act_t0 = act + act_stride * t0;
      float* y_t0 = y + t0 * ldy;
      const bool prefetch = stream != nullptr && t0 == 0;
      int64_t r = rb;
      if (pair != nullptr) {
        for (; r + 2 <= rb_end; r += 2) {
          if (prefetch) prefetch_ahead(r, 2);
          pair(k, row_ptr(r), row_stride, act_t0, act_stride, nt, out);
          for (int t = 0; t < nt; ++t) {
            y_t0[t * ldy + r] = out[t];
            y_t0[t * ldy + r + 1] = out[kMaxTokens + t];
          }
        }
      }
      for (; r < rb_end; ++r) {
        if (prefetch) prefetch_ahead(r, 1);
        dot(k, row_ptr(r), act_t0, act_stride, nt, out);
        for (int t = 0; t < nt; ++t) y_t0[t * ldy + r] = out[t];
      }
    }
  }
}

std::vector<uint8_t>& ActivationBuffer() {
  thread_local std::vector<uint8_t> buffer;
  return buffer;
}

// Many tokens against a 32-block type with panel kernels (dispatch.h): activations are
// quantized and packed into panels of kPanelTokens tokens once, shared by all threads; each
// thread packs its rows kPanelRowBlock at a time into panels of kPanelRows rows and passes every
// token panel over them. (Blocking tokens as well, to keep a token block in L2 across row
// blocks, cost more in repacking than it saved at qwen2.5-0.5b sizes.)
// Weight bytes a thread will multiply next (the first row block of its next matrix), to be
// prefetched while the last block of the current matrix is multiplied.
struct NextBytes {
  const uint8_t* begin = nullptr;
  size_t bytes = 0;
};

class PanelMatMul {
 public:
  // Quantizes and packs x (m rows of k, ldx apart) on the pool.
  PanelMatMul(const KernelTable& kernels, int64_t k, const float* x, int64_t ldx, int64_t m,
              ThreadPool& pool)
      : kernels_(kernels),
        k_(k),
        m_(m),
        scales_per_row_(static_cast<size_t>(internal::PanelScalesPerRow(k))),
        token_panels_((m + kTokens - 1) / kTokens) {
    thread_local std::vector<int8_t> act_panels;
    thread_local std::vector<float> act_scales;
    act_panels.resize(static_cast<size_t>(k * kTokens * token_panels_));
    // Padding tokens of the last panel get zero scales, so their (stale) quants add nothing.
    act_scales.assign(scales_per_row_ * static_cast<size_t>(token_panels_ * kTokens), 0.0f);
    act_ = act_panels.data();
    act_scales_ = act_scales.data();
    pool.ParallelFor(m, [&](int64_t t0, int64_t t1) {
      thread_local std::vector<ActQ8> blocks;
      blocks.resize(static_cast<size_t>(k / 32));
      for (int64_t t = t0; t < t1; ++t) {
        kernels.quantize_q8(x + t * ldx, blocks.data(), k);
        kernels.panel_pack_act(blocks.data(), k, act_ + (t / kTokens) * (k * kTokens), kTokens,
                               static_cast<int>(t % kTokens), act_scales_ + scales_per_row_ * t);
      }
    });
  }

  static int64_t Units(const WeightView& w) {
    return (w.rows + kPanelRowBlock - 1) / kPanelRowBlock;
  }

  static NextBytes FirstBlock(const WeightView& w, int64_t u0, int64_t u1) {
    if (u0 >= u1) return {};
    const int64_t r0 = u0 * kPanelRowBlock, r1 = std::min(w.rows, r0 + kPanelRowBlock);
    return {w.row(r0), static_cast<size_t>(r1 - r0) * w.row_bytes};
  }

  // y[t * ldy + r] for the rows of units [u0, u1) of w (w.cols == k).
  void Run(const WeightView& w, int64_t u0, int64_t u1, float* y, int64_t ldy,
           NextBytes after = {}) const {
    const int64_t r0 = u0 * kPanelRowBlock, r1 = std::min(w.rows, u1 * kPanelRowBlock);
    const auto pack_rows = kernels_.panel_pack_rows[Slot(w.type)];
    thread_local std::vector<int8_t> row_panels;
    thread_local std::vector<float> row_scales;
    row_panels.resize(static_cast<size_t>(k_ * kPanelRowBlock));
    row_scales.resize(scales_per_row_ * kPanelRowBlock);
    for (int64_t rb = r0; rb < r1; rb += kPanelRowBlock) {
      const int64_t rb_end = std::min(r1, rb + kPanelRowBlock);
      for (int64_t r = rb; r < rb_end; ++r) {
        pack_rows(w.row(r), k_, &row_panels[((r - rb) / kRows) * (k_ * kRows)], kRows,
                  static_cast<int>((r - rb) % kRows), &row_scales[scales_per_row_ * (r - rb)]);
      }
      if ((rb_end - rb) % kRows != 0) {
        // The last panel's missing row: zero scales (its quants are stale but finite).
        std::fill_n(&row_scales[scales_per_row_ * (rb_end - rb)], scales_per_row_, 0.0f);
      }
      // While this block is multiplied, the next block's weights are requested from memory a
      // slice per micro-kernel call, so packing it finds them in cache instead of stalling on
      // DRAM (packing was ~15% of a 16-sequence decode step). Rows are contiguous in memory.
      const int64_t next_end = std::min(r1, rb_end + kPanelRowBlock);
      const NextBytes next_block =
          next_end > rb_end
              ? NextBytes{w.row(rb_end), static_cast<size_t>(next_end - rb_end) * w.row_bytes}
              : after;
      const uint8_t* next = next_block.begin;
      const size_t next_bytes = next_block.bytes;
      const int64_t calls = token_panels_ * ((rb_end - rb + kRows - 1) / kRows);
      int64_t call = 0;
      size_t prefetched = 0;
      for (int64_t tp = 0; tp < token_panels_; ++tp) {
        const int64_t t0 = tp * kTokens;
        const int nt = static_cast<int>(std::min<int64_t>(kTokens, m_ - t0));
        for (int64_t r = rb; r < rb_end; r += kRows) {
          const int nr = static_cast<int>(std::min<int64_t>(kRows, rb_end - r));
          kernels_.panel_gemm(k_, &row_panels[((r - rb) / kRows) * (k_ * kRows)],
                              &row_scales[scales_per_row_ * (r - rb)], act_ + tp * (k_ * kTokens),
                              act_scales_ + scales_per_row_ * t0, scales_per_row_, nr, nt,
                              y + t0 * ldy + r, ldy);
          if (next_bytes > 0) {
            const size_t target = next_bytes * static_cast<size_t>(++call) / calls;
            PrefetchBytes<PrefetchLevel::kL2>(next, prefetched, target);
            prefetched = target;
          }
        }
      }
    }
  }

 private:
  static constexpr int kRows = internal::kPanelRows, kTokens = internal::kPanelTokens;
  const KernelTable& kernels_;
  const int64_t k_, m_;
  const size_t scales_per_row_;
  const int64_t token_panels_;
  int8_t* act_ = nullptr;
  float* act_scales_ = nullptr;
};

bool UsesPanels(const KernelTable& kernels, const WeightView& w, int64_t m) {
  return m > kMaxTokens && kernels.panel_gemm != nullptr &&
         kernels.panel_pack_rows[Slot(w.type)] != nullptr;
}

}  // namespace

bool IsSupportedWeightType(gguf::TensorType type) {
  const int slot = Slot(type);
  if (slot < 0 || slot >= internal::kTypeSlots) return false;
  return internal::KernelsFor(IsaLevel::kScalar)->dequantize[slot] != nullptr;
}

Result<WeightView> WeightView::Make(gguf::TensorType type, const void* data, int64_t rows,
                                    int64_t cols) {
  if (!IsSupportedWeightType(type)) {
    return Status::Unimplemented(fmt::format("weight type {} is not supported by the CPU kernels",
                                             gguf::TraitsOf(type).name));
  }
  if (rows < 0 || cols <= 0) {
    return Status::InvalidArgument(fmt::format("bad weight shape {} x {}", rows, cols));
  }
  HEARTH_ASSIGN_OR_RETURN(uint64_t row_bytes, gguf::RowBytes(type, cols));
  if (data == nullptr && rows > 0) return Status::InvalidArgument("weight data is null");
  return WeightView{type, data, rows, cols, static_cast<size_t>(row_bytes)};
}

Result<WeightView> WeightView::FromTensor(const gguf::TensorInfo& tensor) {
  Result<WeightView> view = Make(tensor.type, tensor.data, tensor.rows(), tensor.row_length());
  if (!view.ok()) return view.status().WithContext(fmt::format("tensor '{}'", tensor.name));
  if (static_cast<uint64_t>(view->rows) * view->row_bytes > tensor.size_bytes) {
    return Status::Corruption(fmt::format("tensor '{}': {} bytes cannot hold {} x {} {}",
                                          tensor.name, tensor.size_bytes, view->rows, view->cols,
                                          gguf::TraitsOf(tensor.type).name));
  }
  return view;
}

void MatMul(const WeightView& w, const float* x, int64_t m, float* y, ThreadPool& pool) {
  MatMulStrided(w, x, w.cols, m, y, w.rows, pool);
}

void MatMulStrided(const WeightView& w, const float* x, int64_t ldx, int64_t m, float* y,
                   int64_t ldy, ThreadPool& pool) {
  if (m <= 0 || w.rows <= 0) return;
  const KernelTable& kernels = internal::Kernels();
  const int64_t k = w.cols;
  const int slot = Slot(w.type);
  const internal::RowDotFn direct = kernels.dot[slot];
  const internal::RowDotFn dot_f32 = kernels.dot[Slot(gguf::TensorType::kF32)];
  // Units of parallel work: blocks of rows, so each thread sweeps whole row blocks.
  const int64_t units = (w.rows + kRowBlock - 1) / kRowBlock;
  auto unit_rows = [&w](int64_t u0, int64_t u1) {
    return std::pair<int64_t, int64_t>(u0 * kRowBlock, std::min(w.rows, u1 * kRowBlock));
  };

  if (w.type == gguf::TensorType::kBF16) {
    // The reference engine (llama.cpp) multiplies BF16 weights by activations rounded to BF16;
    // the model tests compare logits with it closely enough that this matters. (It rounds them
    // to F16 for F16 weights too, but that costs more accuracy than it buys agreement.)
    thread_local std::vector<float> rounded;
    rounded.resize(static_cast<size_t>(m * k));
    for (int64_t t = 0; t < m; ++t) {
      const float* row = x + t * ldx;
      for (int64_t i = 0; i < k; ++i) rounded[t * k + i] = Bf16ToFp32(Fp32ToBf16(row[i]));
    }
    x = rounded.data();
    ldx = k;
  }

  if (direct == nullptr) {
    // Types without a direct kernel: widen each row to F32 once and apply it to every token.
    auto dequantize = kernels.dequantize[slot];
    pool.ParallelFor(units, [&](int64_t u0, int64_t u1) {
      auto [r0, r1] = unit_rows(u0, u1);
      thread_local std::vector<float> rows_f32;
      rows_f32.resize(static_cast<size_t>(kRowBlock * k));
      for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
        const int64_t rb_end = std::min(r1, rb + kRowBlock);
        for (int64_t r = rb; r < rb_end; ++r) dequantize(w.row(r), &rows_f32[(r - rb) * k], k);
        SweepRows(
            dot_f32, nullptr, 0, k, rb, rb_end, [&](int64_t r) { return &rows_f32[(r - rb) * k]; },
            reinterpret_cast<const uint8_t*>(x), static_cast<size_t>(ldx) * sizeof(float), m, y,
            ldy);
      }
    });
    return;
  }

  const ActFormat format = internal::ActFormatFor(w.type);
  if (UsesPanels(kernels, w, m)) {
    const PanelMatMul panels(kernels, k, x, ldx, m, pool);
    pool.ParallelFor(PanelMatMul::Units(w),
                     [&](int64_t u0, int64_t u1) { panels.Run(w, u0, u1, y, ldy); });
    return;
  }
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  size_t act_stride = static_cast<size_t>(ldx) * sizeof(float);
  if (format != ActFormat::kF32) {
    act_stride = ActRowBytes(format, k);
    std::vector<uint8_t>& buffer = ActivationBuffer();
    buffer.resize(act_stride * static_cast<size_t>(m));
    uint8_t* base = buffer.data();
    auto quantize = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        if (format == ActFormat::kQ8) {
          kernels.quantize_q8(x + t * ldx, reinterpret_cast<ActQ8*>(base + act_stride * t), k);
        } else {
          kernels.quantize_q8k(x + t * ldx,
                               reinterpret_cast<gguf::BlockQ8_K*>(base + act_stride * t), k);
        }
      }
    };
    if (m >= 8) {
      pool.ParallelFor(m, quantize);
    } else {
      quantize(0, m);
    }
    act = base;
  }
  const auto to_q8_0 = kernels.to_q8_0[slot];
  if (to_q8_0 != nullptr && m > kMaxTokens) {
    // Q4_0/Q5_0 with several token groups: unpack each row block once into Q8_0 (the same
    // weights) and run the Q8_0 kernels, instead of unpacking it again for every token group.
    const int q8_slot = Slot(gguf::TensorType::kQ8_0);
    const bool own_order = kernels.unpacked_dot[slot] != nullptr;
    const internal::RowDotFn unpacked_dot =
        own_order ? kernels.unpacked_dot[slot] : kernels.dot[q8_slot];
    const internal::RowPairDotFn unpacked_dot2 =
        own_order ? kernels.unpacked_dot2[slot] : kernels.dot2[q8_slot];
    const size_t q8_row_bytes = static_cast<size_t>(k / 32) * sizeof(gguf::BlockQ8_0);
    pool.ParallelFor(units, [&](int64_t u0, int64_t u1) {
      auto [r0, r1] = unit_rows(u0, u1);
      thread_local std::vector<gguf::BlockQ8_0> rows_q8;
      rows_q8.resize(static_cast<size_t>(kRowBlock * (k / 32)));
      const auto* rows_base = reinterpret_cast<const uint8_t*>(rows_q8.data());
      for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
        const int64_t rb_end = std::min(r1, rb + kRowBlock);
        for (int64_t r = rb; r < rb_end; ++r) to_q8_0(w.row(r), &rows_q8[(r - rb) * (k / 32)], k);
        SweepRows(
            unpacked_dot, unpacked_dot2, q8_row_bytes, k, rb, rb_end,
            [&](int64_t r) { return rows_base + static_cast<size_t>(r - rb) * q8_row_bytes; }, act,
            act_stride, m, y, ldy);
      }
    });
    return;
  }
  pool.ParallelFor(units, [&](int64_t u0, int64_t u1) {
    auto [r0, r1] = unit_rows(u0, u1);
    SweepRows(
        direct, kernels.dot2[slot], w.row_bytes, k, r0, r1, [&w](int64_t r) { return w.row(r); },
        act, act_stride, m, y, ldy, static_cast<const uint8_t*>(w.data));
  });
}

void MatMulGroup(std::span<const MatMulTarget> targets, const float* x, int64_t m,
                 ThreadPool& pool) {
  if (targets.empty() || m <= 0) return;
  const KernelTable& kernels = internal::Kernels();
  const WeightView& first = *targets.front().w;
  bool all_panels = true;
  for (const MatMulTarget& target : targets) {
    all_panels = all_panels && target.w->cols == first.cols && UsesPanels(kernels, *target.w, m);
  }
  if (all_panels) {
    // Many tokens: the activations are packed once for all the matrices.
    const PanelMatMul panels(kernels, first.cols, x, first.cols, m, pool);
    std::vector<int64_t> first_unit(targets.size() + 1, 0);
    for (size_t j = 0; j < targets.size(); ++j) {
      first_unit[j + 1] = first_unit[j] + PanelMatMul::Units(*targets[j].w);
    }
    pool.ParallelFor(first_unit.back(), [&](int64_t u0, int64_t u1) {
      for (size_t j = 0; j < targets.size(); ++j) {
        const int64_t lo = std::max(u0, first_unit[j]), hi = std::min(u1, first_unit[j + 1]);
        if (lo >= hi) continue;
        NextBytes after;
        for (size_t n = j + 1; n < targets.size() && after.bytes == 0; ++n) {
          after =
              PanelMatMul::FirstBlock(*targets[n].w, std::max(u0, first_unit[n]) - first_unit[n],
                                      std::min(u1, first_unit[n + 1]) - first_unit[n]);
        }
        panels.Run(*targets[j].w, lo - first_unit[j], hi - first_unit[j], targets[j].y,
                   targets[j].w->rows, after);
      }
    });
    return;
  }
  const ActFormat format = internal::ActFormatFor(first.type);
  bool fusable = m <= kMaxTokens && format != ActFormat::kF32;
  for (const MatMulTarget& target : targets) {
    const WeightView& w = *target.w;
    fusable = fusable && w.cols == first.cols && internal::ActFormatFor(w.type) == format &&
              kernels.dot[Slot(w.type)] != nullptr;
  }
  if (!fusable) {
    for (const MatMulTarget& target : targets) MatMul(*target.w, x, m, target.y, pool);
    return;
  }
  // The same quantization and the same per-row sweeps as MatMulStrided's direct path, so each
  // matrix's results are bit-identical to a MatMul of its own.
  const int64_t k = first.cols;
  const size_t act_stride = ActRowBytes(format, k);
  std::vector<uint8_t>& buffer = ActivationBuffer();
  buffer.resize(act_stride * static_cast<size_t>(m));
  for (int64_t t = 0; t < m; ++t) {
    if (format == ActFormat::kQ8) {
      kernels.quantize_q8(x + t * k, reinterpret_cast<ActQ8*>(buffer.data() + act_stride * t), k);
    } else {
      kernels.quantize_q8k(x + t * k,
                           reinterpret_cast<gguf::BlockQ8_K*>(buffer.data() + act_stride * t), k);
    }
  }
  const uint8_t* act = buffer.data();
  // Units: every matrix's row blocks, one after another.
  std::vector<int64_t> first_unit(targets.size() + 1, 0);
  for (size_t j = 0; j < targets.size(); ++j) {
    first_unit[j + 1] = first_unit[j] + (targets[j].w->rows + kRowBlock - 1) / kRowBlock;
  }
  pool.ParallelFor(first_unit.back(), [&](int64_t u0, int64_t u1) {
    for (size_t j = 0; j < targets.size(); ++j) {
      const int64_t lo = std::max(u0, first_unit[j]), hi = std::min(u1, first_unit[j + 1]);
      if (lo >= hi) continue;
      const WeightView& w = *targets[j].w;
      const int slot = Slot(w.type);
      const int64_t r0 = (lo - first_unit[j]) * kRowBlock;
      const int64_t r1 = std::min(w.rows, (hi - first_unit[j]) * kRowBlock);
      SweepRows(
          kernels.dot[slot], kernels.dot2[slot], w.row_bytes, k, r0, r1,
          [&w](int64_t r) { return w.row(r); }, act, act_stride, m, targets[j].y, w.rows,
          static_cast<const uint8_t*>(w.data));
    }
  });
}

Status EmbeddingLookup(const WeightView& w, int32_t token, float* out) {
  if (token < 0 || token >= w.rows) {
    return Status::OutOfRange(
        fmt::format("token id {} outside the embedding table of {} rows", token, w.rows));
  }
  DequantizeRowFast(w.type, w.row(token), out, w.cols);
  return Status::Ok();
}

void DequantizeRowFast(gguf::TensorType type, const void* src, float* dst, int64_t n) {
  internal::Kernels().dequantize[Slot(type)](src, dst, n);
}

}  // namespace hearth::kernels
