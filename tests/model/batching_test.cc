// Batching must not change results: several sequences in one Forward, a prompt split into
// chunks, and scattered (non-contiguous, out-of-order) KV blocks all give the logits of the
// plain one-sequence, one-batch evaluation.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "model/model_test_util.h"
#include "support/fixtures.h"

namespace hearth::model::testing {
namespace {

using hearth::testing::FixturePath;

const std::vector<int32_t> kPromptA = {1, 423, 277, 51, 190, 301, 32, 468, 262, 112, 22, 47,
                                       225, 217, 38, 126, 49, 285, 220, 33, 426, 292, 66, 488,
                                       117, 325, 324, 301, 488, 34, 298, 302, 206, 28, 502, 116};
const std::vector<int32_t> kPromptB = {1, 108, 257, 351, 275, 221, 400, 163, 241, 302, 475, 235,
                                       188, 156, 130, 409, 95, 360, 402, 127, 44};

// Identical float results are not guaranteed (a matmul over 2 tokens may group its sums
// differently than over 1), so compare closely rather than bit for bit.
void ExpectClose(const std::vector<float>& a, const std::vector<float>& b, const char* what,
                 size_t index) {
  EXPECT_LE(NormalizedRmsError(a, std::vector<double>(b.begin(), b.end())), 1e-5)
      << what << " at token " << index;
}

class BatchingTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const auto path = FixturePath("models/" + GetParam());
    HEARTH_REQUIRE_FIXTURE(path);
    loaded_ = LoadModel(path);
    ASSERT_NE(loaded_.model, nullptr);
  }

  // Prompt alone, one batch, blocks in order.
  std::vector<std::vector<float>> Alone(const std::vector<int32_t>& prompt) {
    auto kv = MakeCache(*loaded_.model, 1, static_cast<int>(prompt.size()), kv_type_);
    Session session(Blocks(0, static_cast<int32_t>(kv->num_blocks())));
    return Evaluate(*loaded_.model, *kv, session, prompt, pool_);
  }

  LoadedModel loaded_;
  kernels::ThreadPool pool_{2};
  gguf::TensorType kv_type_ = gguf::TensorType::kF16;
};

TEST_P(BatchingTest, TwoSequencesInOneBatchEqualEachAlone) {
  const auto alone_a = Alone(kPromptA);
  const auto alone_b = Alone(kPromptB);
  Model& model = *loaded_.model;
  const int block_tokens = 16;
  auto kv = MakeCache(model, 2, static_cast<int>(kPromptA.size()), kv_type_, block_tokens);
  const int32_t half = static_cast<int32_t>(kv->num_blocks() / 2);
  const std::vector<int32_t> table_a = Blocks(0, half);
  const std::vector<int32_t> table_b = Blocks(half, half);
  // Interleave the two sequences' tokens in one batch.
  std::vector<BatchToken> batch;
  std::vector<std::pair<char, size_t>> origin;
  for (size_t i = 0; i < std::max(kPromptA.size(), kPromptB.size()); ++i) {
    if (i < kPromptA.size()) {
      batch.push_back({kPromptA[i], static_cast<int32_t>(i), table_a, true});
      origin.push_back({'a', i});
    }
    if (i < kPromptB.size()) {
      batch.push_back({kPromptB[i], static_cast<int32_t>(i), table_b, true});
      origin.push_back({'b', i});
    }
  }
  const int vocab = model.config().vocab_size;
  std::vector<float> logits(batch.size() * static_cast<size_t>(vocab));
  ASSERT_TRUE(model.Forward(batch, *kv, logits, pool_).ok());
  for (size_t r = 0; r < batch.size(); ++r) {
    const std::vector<float> row(logits.begin() + static_cast<ptrdiff_t>(r * vocab),
                                 logits.begin() + static_cast<ptrdiff_t>((r + 1) * vocab));
    const auto& [seq, i] = origin[r];
    ExpectClose(row, seq == 'a' ? alone_a[i] : alone_b[i], seq == 'a' ? "sequence a" : "b", i);
  }
}

TEST_P(BatchingTest, ChunkedPromptAndDecodeStepsEqualOneBatch) {
  const auto alone = Alone(kPromptA);
  auto kv = MakeCache(*loaded_.model, 1, static_cast<int>(kPromptA.size()), kv_type_);
  Session session(Blocks(0, static_cast<int32_t>(kv->num_blocks())));
  // Chunks of 7, 13, then the rest one token at a time (decode steps).
  std::vector<std::vector<float>> chunked;
  size_t begin = 0;
  for (size_t size : {size_t{7}, size_t{13}}) {
    auto part = Evaluate(*loaded_.model, *kv, session,
                         std::span(kPromptA).subspan(begin, size), pool_);
    chunked.insert(chunked.end(), part.begin(), part.end());
    begin += size;
  }
  for (; begin < kPromptA.size(); ++begin) {
    chunked.push_back(
        Evaluate(*loaded_.model, *kv, session, std::span(kPromptA).subspan(begin, 1), pool_)
            .at(0));
  }
  ASSERT_EQ(chunked.size(), alone.size());
  for (size_t i = 0; i < alone.size(); ++i) ExpectClose(chunked[i], alone[i], "chunked", i);
}

TEST_P(BatchingTest, ScatteredBlockTablesEqualContiguous) {
  const auto alone = Alone(kPromptA);
  for (int block_tokens : {1, 4, 16}) {
    SCOPED_TRACE("block_tokens " + std::to_string(block_tokens));
    // Three times the blocks needed, the sequence's blocks picked at random and shuffled.
    auto kv = MakeCache(*loaded_.model, 3, static_cast<int>(kPromptA.size()), kv_type_,
                        block_tokens);
    std::vector<int32_t> all = Blocks(0, static_cast<int32_t>(kv->num_blocks()));
    std::mt19937 rng(static_cast<uint32_t>(block_tokens));
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(all.size() / 3);
    Session session(all);
    const auto scattered = Evaluate(*loaded_.model, *kv, session, kPromptA, pool_);
    for (size_t i = 0; i < alone.size(); ++i) ExpectClose(scattered[i], alone[i], "paged", i);
  }
}

TEST_P(BatchingTest, OnlyRequestedLogitsAreWrittenInBatchOrder) {
  const auto alone = Alone(kPromptA);
  auto kv = MakeCache(*loaded_.model, 1, static_cast<int>(kPromptA.size()), kv_type_);
  const std::vector<int32_t> table = Blocks(0, static_cast<int32_t>(kv->num_blocks()));
  std::vector<BatchToken> batch;
  std::vector<size_t> wanted;
  for (size_t i = 0; i < kPromptA.size(); ++i) {
    const bool want = i % 5 == 3 || i + 1 == kPromptA.size();
    batch.push_back({kPromptA[i], static_cast<int32_t>(i), table, want});
    if (want) wanted.push_back(i);
  }
  const int vocab = loaded_.model->config().vocab_size;
  std::vector<float> logits(wanted.size() * static_cast<size_t>(vocab));
  ASSERT_TRUE(loaded_.model->Forward(batch, *kv, logits, pool_).ok());
  for (size_t r = 0; r < wanted.size(); ++r) {
    const std::vector<float> row(logits.begin() + static_cast<ptrdiff_t>(r * vocab),
                                 logits.begin() + static_cast<ptrdiff_t>((r + 1) * vocab));
    ExpectClose(row, alone[wanted[r]], "selected", wanted[r]);
  }
}

TEST_P(BatchingTest, Q8KvCacheStaysCloseToF16) {
  if (loaded_.model->config().head_dim % 32 != 0) GTEST_SKIP() << "Q8_0 KV needs head_dim % 32";
  const auto f16 = Alone(kPromptA);
  kv_type_ = gguf::TensorType::kQ8_0;
  const auto q8 = Alone(kPromptA);
  ErrorAccumulator error;
  for (size_t i = 0; i < f16.size(); ++i) {
    error.Add(q8[i], std::vector<double>(f16[i].begin(), f16[i].end()));
  }
  // Q8_0 keys and values carry ~0.4% relative rounding; the logits move by about that much.
  EXPECT_LE(error.Error(), 0.02);
  EXPECT_GT(error.Error(), 0.0) << "Q8_0 cache gave bit-identical logits: was it used at all?";
}

TEST_P(BatchingTest, RejectsBadBatches) {
  Model& model = *loaded_.model;
  auto kv = MakeCache(model, 1, 32);
  const std::vector<int32_t> table = Blocks(0, static_cast<int32_t>(kv->num_blocks()));
  const int vocab = model.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(vocab));
  auto run = [&](BatchToken t, std::span<float> out) {
    const BatchToken batch[] = {t};
    return model.Forward(batch, *kv, out, pool_);
  };
  EXPECT_EQ(run({vocab, 0, table, true}, logits).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(run({-1, 0, table, true}, logits).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(run({1, -1, table, true}, logits).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(run({1, 32, table, true}, logits).code(), StatusCode::kOutOfRange);  // past table
  const std::vector<int32_t> bad_block = {static_cast<int32_t>(kv->num_blocks())};
  EXPECT_EQ(run({1, 0, bad_block, true}, logits).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(run({1, 0, table, false}, logits).code(), StatusCode::kInvalidArgument);  // size
  EXPECT_EQ(run({1, 0, table, true}, std::span(logits).first(3)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(run({1, 0, table, true}, logits).ok());

  // A cache shaped for another model.
  KvCacheGeometry other = model.KvGeometry(gguf::TensorType::kF16, 16);
  other.layers += 1;
  auto wrong = KvCacheStorage::Create(other, other.BytesPerBlock() * 2, 2);
  ASSERT_TRUE(wrong.ok());
  const BatchToken batch[] = {{1, 0, std::span(table).first(1), true}};
  EXPECT_EQ(model.Forward(batch, **wrong, logits, pool_).code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Models, BatchingTest,
                         ::testing::Values("tiny-llama-Q4_K_M.gguf", "tiny-qwen2-Q8_0.gguf",
                                           "stories260K.gguf"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace hearth::model::testing
