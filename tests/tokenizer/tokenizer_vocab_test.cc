// Vocab construction: validation errors and the per-family defaults.
#include <gtest/gtest.h>

#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

VocabSpec Spm() {
  VocabSpec spec;
  spec.model = "llama";
  spec.tokens = {"<unk>", "<s>", "</s>", "<0x41>", "a"};
  spec.scores = {0, 0, 0, 0, -1};
  spec.token_types = {2, 3, 3, 6, 1};
  return spec;
}

TEST(VocabCreate, SpmDefaultsAndByteTokens) {
  auto vocab = Vocab::Create(Spm());
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  EXPECT_EQ(vocab->model(), VocabModel::kSpm);
  EXPECT_EQ(vocab->bos_id(), 1);
  EXPECT_EQ(vocab->eos_id(), 2);
  EXPECT_EQ(vocab->unknown_id(), 0);
  EXPECT_TRUE(vocab->add_bos());
  EXPECT_FALSE(vocab->add_eos());
  EXPECT_TRUE(vocab->add_space_prefix());
  EXPECT_EQ(vocab->ByteToken('A'), 3);
  EXPECT_EQ(vocab->ByteToken('B'), kNoToken);
  EXPECT_EQ(vocab->ByteOfToken(3), 'A');
  EXPECT_EQ(vocab->Find("a"), 4);
  EXPECT_EQ(vocab->Find("zz"), kNoToken);
  EXPECT_EQ(vocab->FindMergeable("<s>"), kNoToken);  // control tokens are not mergeable
  // Specials are control, user-defined and unknown tokens, longest first.
  EXPECT_EQ(vocab->special_tokens(), (std::vector<int32_t>{0, 2, 1}));
}

TEST(VocabCreate, ExplicitOptionsOverrideDefaults) {
  VocabSpec spec = Spm();
  spec.add_bos = false;
  spec.add_eos = true;
  spec.add_space_prefix = false;
  spec.eos_id = 4;
  auto vocab = Vocab::Create(spec);
  ASSERT_TRUE(vocab.ok());
  EXPECT_FALSE(vocab->add_bos());
  EXPECT_TRUE(vocab->add_eos());
  EXPECT_FALSE(vocab->add_space_prefix());
  EXPECT_EQ(vocab->eos_id(), 4);
}

TEST(VocabCreate, OutOfRangeSpecialIdsAreDropped) {
  VocabSpec spec = Spm();
  spec.bos_id = 1000;
  auto vocab = Vocab::Create(spec);
  ASSERT_TRUE(vocab.ok());
  EXPECT_EQ(vocab->bos_id(), kNoToken);
  EXPECT_FALSE(vocab->add_bos());  // nothing to add
}

TEST(VocabCreate, RejectsInconsistentSpecs) {
  VocabSpec no_tokens;
  no_tokens.model = "llama";
  EXPECT_FALSE(Vocab::Create(no_tokens).ok());

  VocabSpec bad_model = Spm();
  bad_model.model = "rwkv";
  auto r = Vocab::Create(bad_model);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("rwkv"), std::string::npos);

  VocabSpec bad_scores = Spm();
  bad_scores.scores.pop_back();
  r = Vocab::Create(bad_scores);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("scores"), std::string::npos);

  VocabSpec bad_types = Spm();
  bad_types.token_types[4] = 42;
  r = Vocab::Create(bad_types);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("token type 42"), std::string::npos);
}

}  // namespace
}  // namespace hearth::tokenizer
