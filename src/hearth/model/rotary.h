// Rotary position embedding as the model needs it: base frequencies, linear and llama3 scaling,
// and llama3's per-frequency divisors stored as the `rope_freqs.weight` tensor (which the
// kernels' RopeTable has no way to take).
//
// A forward pass computes one cos/sin row per token (the angle depends only on the position)
// and reuses it for every layer and head.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/model/model.h"

namespace hearth::model {

// theta_i per unit of position for pair i in [0, rope_dims / 2): freq_base^(-2i / rope_dims),
// times rope_freq_scale, adjusted by llama3 scaling (from config) and divided by
// `freq_factors[i]` when given (rope_freqs.weight). InvalidArgument for a non-positive factor or
// a factor count other than rope_dims / 2.
Result<std::vector<double>> RopeInverseFrequencies(const ModelConfig& config,
                                                   std::span<const float> freq_factors);

// cos_sin[2i] = cos(pos * inv_freq[i]), cos_sin[2i + 1] = sin(...).
void RopeAngles(std::span<const double> inv_freq, int64_t position, float* cos_sin);

// Rotates the first rope_dims values of each of `heads` vectors (head h at x + h * head_stride)
// by the angles in `cos_sin`: adjacent pairs (2i, 2i + 1), or with `neox` the pairs
// (i, i + rope_dims / 2).
void ApplyRope(float* x, int heads, int64_t head_stride, int rope_dims, bool neox,
               const float* cos_sin);

}  // namespace hearth::model
