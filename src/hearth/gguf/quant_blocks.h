// Bit-exact layouts of the GGUF (ggml) quantized blocks.
//
// These are facts of the file format: every GGUF writer and reader agrees on them byte for byte.
// A block holds `block_size` consecutive weights of one row. fp16 fields are stored as raw
// uint16_t bits (see base/half.h).
#pragma once

#include <cstdint>

namespace hearth::gguf {

inline constexpr int kQk4_0 = 32;
inline constexpr int kQk4_1 = 32;
inline constexpr int kQk5_0 = 32;
inline constexpr int kQk5_1 = 32;
inline constexpr int kQk8_0 = 32;
inline constexpr int kQk8_1 = 32;
inline constexpr int kQkK = 256;        // super-block size of the K-quants
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales/mins of Q4_K and Q5_K

struct BlockQ4_0 {
  uint16_t d;              // scale
  uint8_t qs[kQk4_0 / 2];  // 4-bit quants: low nibbles are weights 0..15, high nibbles 16..31
};
static_assert(sizeof(BlockQ4_0) == 18);

struct BlockQ4_1 {
  uint16_t d;  // scale
  uint16_t m;  // min
  uint8_t qs[kQk4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20);

struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // 5th bit of each weight
  uint8_t qs[kQk5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQk5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24);

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQk8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ8_1 {
  uint16_t d;  // scale
  uint16_t s;  // d * sum(qs)
  int8_t qs[kQk8_1];
};
static_assert(sizeof(BlockQ8_1) == 36);

struct BlockQ2_K {
  uint8_t scales[kQkK / 16];  // 4-bit scale (low) and min (high) per 16 weights
  uint8_t qs[kQkK / 4];       // 2-bit quants
  uint16_t d;                 // super-block scale for scales
  uint16_t dmin;              // super-block scale for mins
};
static_assert(sizeof(BlockQ2_K) == 84);

struct BlockQ3_K {
  uint8_t hmask[kQkK / 8];  // high bit of each quant
  uint8_t qs[kQkK / 4];     // low 2 bits
  uint8_t scales[12];       // 6-bit scales, packed
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];  // 8 6-bit scales and 8 6-bit mins, packed
  uint8_t qs[kQkK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQkK / 8];
  uint8_t qs[kQkK / 2];
};
static_assert(sizeof(BlockQ5_K) == 176);

struct BlockQ6_K {
  uint8_t ql[kQkK / 2];      // low 4 bits
  uint8_t qh[kQkK / 4];      // high 2 bits
  int8_t scales[kQkK / 16];  // 8-bit scales per 16 weights
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Intermediate activation format used by K-quant dot products (never stored in files).
struct BlockQ8_K {
  float d;
  int8_t qs[kQkK];
  int16_t bsums[kQkK / 16];  // sums of each group of 16 quants
};
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace hearth::gguf
