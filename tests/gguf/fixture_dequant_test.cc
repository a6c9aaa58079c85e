// Checks the dequantizers against real GGUF files written by llama.cpp.
//
// Every tiny-* fixture model was quantized from the same F32 original, and the F16 file is within
// fp16 rounding of it. So each tensor, dequantized from any of the quantized files, must lie
// within that format's quantization error of the F16 tensor; a wrong nibble order, a misplaced
// high bit or a mis-unpacked scale gives errors of order 1 instead. Re-quantizing the F16 tensor
// with QuantizeRow must then land at an error of the same order as the file's own.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "hearth/gguf/gguf_file.h"
#include "hearth/gguf/quantize.h"
#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

// Normalized RMS difference of `actual` from `expected`: |actual - expected| / |expected|.
double NormalizedRmsError(const std::vector<float>& actual, const std::vector<float>& expected) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double d = static_cast<double>(actual[i]) - expected[i];
    diff += d * d;
    norm += static_cast<double>(expected[i]) * expected[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// Largest error allowed between a tensor stored as `type` and the F16 tensor: the largest error
// measured over all tensors of these fixtures (in brackets) with about 25% margin. A wrong bit
// layout gives errors of order 1.
double MaxErrorVsF16(TensorType type) {
  switch (type) {
    case TensorType::kF32: return 1e-6;    // [0: norms are F32 in every file]
    case TensorType::kBF16: return 0.0025;  // [0.0017]
    case TensorType::kQ8_0: return 0.007;   // [0.0054]
    case TensorType::kQ6_K: return 0.023;   // [0.0181]
    case TensorType::kQ5_0: return 0.055;   // [0.0433]
    case TensorType::kQ5_1: return 0.05;    // [0.0388]
    case TensorType::kQ5_K: return 0.047;   // [0.0369]
    case TensorType::kQ4_0: return 0.11;    // [0.0880]
    case TensorType::kQ4_1: return 0.10;    // [0.0793]
    case TensorType::kQ4_K: return 0.092;   // [0.0728]
    case TensorType::kQ3_K: return 0.19;    // [0.1520]
    case TensorType::kQ2_K: return 0.375;   // [0.3001]
    default: return 0;  // no other type is expected in these files
  }
}

std::vector<float> DequantizeTensor(const TensorInfo& tensor) {
  std::vector<float> out(static_cast<size_t>(tensor.element_count));
  for (int64_t r = 0; r < tensor.rows(); ++r) {
    const uint64_t row_bytes = RowBytes(tensor.type, tensor.row_length()).value();
    DequantizeRow(tensor.type, tensor.data + r * row_bytes, out.data() + r * tensor.row_length(),
                  tensor.row_length());
  }
  return out;
}

class FixtureDequantTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureDequantTest, EveryTensorMatchesF16WithinQuantizationError) {
  const std::string model = GetParam();
  const std::string family = model.substr(0, model.rfind('-'));
  const auto quantized_path = testing::FixturePath("models/" + model + ".gguf");
  const auto reference_path = testing::FixturePath("models/" + family + "-F16.gguf");
  HEARTH_REQUIRE_FIXTURE(quantized_path);
  HEARTH_REQUIRE_FIXTURE(reference_path);
  auto quantized = GgufFile::Open(quantized_path);
  ASSERT_TRUE(quantized.ok()) << quantized.status().ToString();
  auto reference = GgufFile::Open(reference_path);
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();

  ASSERT_EQ(quantized->tensors().size(), reference->tensors().size());
  std::map<TensorType, double> worst;
  std::map<TensorType, double> worst_requantized;
  for (const TensorInfo& tensor : quantized->tensors()) {
    SCOPED_TRACE(std::string(tensor.name) + " (" + std::string(TraitsOf(tensor.type).name) + ")");
    const TensorInfo* ref = reference->FindTensor(tensor.name);
    ASSERT_NE(ref, nullptr);
    ASSERT_EQ(tensor.dims, ref->dims);
    auto row_bytes = RowBytes(tensor.type, tensor.row_length());
    ASSERT_TRUE(row_bytes.ok()) << row_bytes.status().ToString();
    ASSERT_EQ(tensor.size_bytes, *row_bytes * static_cast<uint64_t>(tensor.rows()));

    const std::vector<float> expected = DequantizeTensor(*ref);
    const std::vector<float> actual = DequantizeTensor(tensor);
    const double error = NormalizedRmsError(actual, expected);
    EXPECT_LE(error, MaxErrorVsF16(tensor.type));
    worst[tensor.type] = std::max(worst[tensor.type], error);

    if (!CanQuantizeTo(tensor.type) || !TraitsOf(tensor.type).quantized) continue;
    // Re-quantize the F16 tensor ourselves. A sample of rows keeps this fast under sanitizers.
    const int64_t rows =
        std::min<int64_t>(tensor.rows(), std::max<int64_t>(1, 16384 / tensor.row_length()));
    const int64_t n = rows * tensor.row_length();
    const std::vector<float> sample(expected.begin(), expected.begin() + n);
    std::vector<uint8_t> packed(*row_bytes * rows);
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(QuantizeRow(tensor.type, sample.data() + r * tensor.row_length(),
                              packed.data() + r * *row_bytes, tensor.row_length())
                      .ok());
    }
    std::vector<float> ours(n);
    DequantizeRow(tensor.type, packed.data(), ours.data(), n);
    const std::vector<float> theirs(actual.begin(), actual.begin() + n);
    if (tensor.type == TensorType::kQ4_0 || tensor.type == TensorType::kQ5_0) {
      // These scales are the extreme weight divided by a power of two, so they come out the same
      // from the F16 weights as from the F32 original, and with the same rounding rules almost
      // every level must match the file's (a few weights sit at a rounding boundary that the
      // fp16 rounding of the input moved).
      int64_t equal = 0;
      for (int64_t k = 0; k < n; ++k) equal += ours[k] == theirs[k];
      EXPECT_GE(static_cast<double>(equal) / static_cast<double>(n), 0.995);
    }
    const double our_error = NormalizedRmsError(ours, sample);
    const double their_error = NormalizedRmsError(theirs, sample);
    EXPECT_LE(our_error, 1.05 * their_error + 1e-5) << "file's error " << their_error;
    double& worst_ratio = worst_requantized[tensor.type];
    worst_ratio = std::max(worst_ratio, our_error / their_error);
  }
  for (const auto& [type, error] : worst) {
    std::printf("%s %s: worst error vs F16 %.5f, worst requantized/file error ratio %.3f\n",
                model.c_str(), std::string(TraitsOf(type).name).c_str(), error,
                worst_requantized.count(type) ? worst_requantized[type] : 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    FixtureModels, FixtureDequantTest,
    ::testing::Values("tiny-llama-BF16", "tiny-llama-Q8_0", "tiny-llama-Q4_0", "tiny-llama-Q4_1",
                      "tiny-llama-Q5_0", "tiny-llama-Q5_1", "tiny-llama-Q2_K",
                      "tiny-llama-Q3_K_M", "tiny-llama-Q4_K_M", "tiny-llama-Q5_K_M",
                      "tiny-llama-Q6_K", "tiny-qwen2-Q8_0", "tiny-qwen2-Q4_K_M",
                      "tiny-qwen2-Q5_K_M", "tiny-qwen2-Q6_K"),
    [](const ::testing::TestParamInfo<std::string>& info) {
      std::string name = info.param;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace hearth::gguf
