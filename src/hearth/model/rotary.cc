#include "hearth/model/rotary.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

namespace hearth::model {

Result<std::vector<double>> RopeInverseFrequencies(const ModelConfig& config,
                                                   std::span<const float> freq_factors) {
  const int pairs = config.rope_dims / 2;
  if (!freq_factors.empty() && static_cast<int>(freq_factors.size()) != pairs) {
    return Status::InvalidArgument(fmt::format(
        "model: rope_freqs has {} factors, expected rope_dims / 2 = {}", freq_factors.size(),
        pairs));
  }
  std::vector<double> inv_freq(pairs);
  for (int i = 0; i < pairs; ++i) {
    double f = std::pow(static_cast<double>(config.rope_freq_base),
                        -2.0 * i / static_cast<double>(config.rope_dims));
    f *= config.rope_freq_scale;
    if (config.rope_scaling_factor > 0) {
      // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, and the band
      // in between interpolated.
      const double original = config.rope_original_context;
      const double low_wavelen = original / config.rope_low_freq_factor;
      const double high_wavelen = original / config.rope_high_freq_factor;
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= config.rope_scaling_factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (original / wavelen - config.rope_low_freq_factor) /
                              (config.rope_high_freq_factor - config.rope_low_freq_factor);
        f = (1 - smooth) * f / config.rope_scaling_factor + smooth * f;
      }
    }
    if (!freq_factors.empty()) {
      if (!(freq_factors[i] > 0) || !std::isfinite(freq_factors[i])) {
        return Status::InvalidArgument(
            fmt::format("model: rope_freqs factor {} is {}, must be positive", i, freq_factors[i]));
      }
      f /= freq_factors[i];
    }
    inv_freq[i] = f;
  }
  return inv_freq;
}

void RopeAngles(std::span<const double> inv_freq, int64_t position, float* cos_sin) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double theta = static_cast<double>(position) * inv_freq[i];
    cos_sin[2 * i] = static_cast<float>(std::cos(theta));
    cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta));
  }
}

void ApplyRope(float* x, int heads, int64_t head_stride, int rope_dims, bool neox,
               const float* cos_sin) {
  const int pairs = rope_dims / 2;
  for (int h = 0; h < heads; ++h) {
    float* v = x + h * head_stride;
    for (int i = 0; i < pairs; ++i) {
      const float c = cos_sin[2 * i];
      const float s = cos_sin[2 * i + 1];
      float* a = neox ? v + i : v + 2 * i;
      float* b = neox ? v + i + pairs : v + 2 * i + 1;
      const float x0 = *a;
      const float x1 = *b;
      *a = x0 * c - x1 * s;
      *b = x0 * s + x1 * c;
    }
  }
}

}  // namespace hearth::model
