// The reference test vectors (shared/fixtures/tokenizer): for every vocabulary and every input,
// Encode(add_special=false, parse_special=false) must give exactly the ids an independent
// engine produced, and decoding must give the input back where the format is lossless.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "hearth/base/file_util.h"
#include "hearth/tokenizer/tokenizer.h"
#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

const char* const kVocabs[] = {
    "llama-spm", "phi-3",     "llama-bpe", "qwen2.5", "deepseek-r1-qwen", "deepseek-llm",
    "deepseek-coder", "gpt-2", "starcoder", "falcon", "mpt", "refact", "bert-bge",
};
constexpr int kCasesPerVocab = 46;  // every .inp file holds this many inputs

std::filesystem::path VocabPath(const std::string& vocab) {
  return testing::FixturePath("tokenizer/ggml-vocab-" + vocab + ".gguf");
}

struct VectorFile {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> expected;
};

// .inp: inputs separated by "\n__ggml_vocab_test__\n" (also after the last one);
// .out: one line of space-separated ids per input.
Result<VectorFile> ReadVectors(const std::filesystem::path& gguf) {
  HEARTH_ASSIGN_OR_RETURN(std::string inp, ReadFileToString(gguf.string() + ".inp"));
  HEARTH_ASSIGN_OR_RETURN(std::string out, ReadFileToString(gguf.string() + ".out"));
  VectorFile file;
  const std::string separator = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  for (size_t at = inp.find(separator); at != std::string::npos;
       at = inp.find(separator, pos)) {
    file.inputs.push_back(inp.substr(pos, at - pos));
    pos = at + separator.size();
  }
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ids(line);
    std::vector<int32_t> row;
    int32_t id;
    while (ids >> id) row.push_back(id);
    file.expected.push_back(std::move(row));
  }
  if (file.inputs.size() != file.expected.size()) {
    return Status::Corruption("inputs and expected lines differ in number");
  }
  return file;
}

struct LoadedVocab {
  std::unique_ptr<Tokenizer> tokenizer;
  VectorFile vectors;
  std::string error;
};

// Each vocabulary is loaded once for all of its cases.
const LoadedVocab& Load(const std::string& vocab) {
  static std::map<std::string, LoadedVocab> loaded;
  auto it = loaded.find(vocab);
  if (it != loaded.end()) return it->second;
  LoadedVocab entry;
  auto tokenizer = Tokenizer::Open(VocabPath(vocab));
  auto vectors = ReadVectors(VocabPath(vocab));
  if (!tokenizer.ok()) {
    entry.error = tokenizer.status().ToString();
  } else if (!vectors.ok()) {
    entry.error = vectors.status().ToString();
  } else {
    entry.tokenizer = std::make_unique<Tokenizer>(std::move(*tokenizer));
    entry.vectors = std::move(*vectors);
  }
  return loaded.emplace(vocab, std::move(entry)).first->second;
}

std::string Printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct VectorCase {
  std::string vocab;
  int index;
};

class TokenizerVectors : public ::testing::TestWithParam<VectorCase> {};

TEST_P(TokenizerVectors, EncodesExactlyAndDecodesBack) {
  const VectorCase& c = GetParam();
  HEARTH_REQUIRE_FIXTURE(VocabPath(c.vocab));
  const LoadedVocab& vocab = Load(c.vocab);
  ASSERT_TRUE(vocab.error.empty()) << vocab.error;
  ASSERT_EQ(vocab.vectors.inputs.size(), static_cast<size_t>(kCasesPerVocab));
  const std::string& input = vocab.vectors.inputs[c.index];
  const std::vector<int32_t>& expected = vocab.vectors.expected[c.index];

  const std::vector<int32_t> ids = vocab.tokenizer->Encode(input, false, false);
  EXPECT_EQ(ids, expected) << "input: \"" << Printable(input) << "\"";

  auto decoded = vocab.tokenizer->Decode(ids);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  if (vocab.tokenizer->vocab().model() == VocabModel::kWpm) {
    // WordPiece loses case, accents and spacing; what it keeps must be stable: the decoded
    // text encodes to the same ids (unless a word was unknown, which decodes as "[UNK]").
    const int32_t unk = vocab.tokenizer->vocab().unknown_id();
    if (std::find(ids.begin(), ids.end(), unk) == ids.end()) {
      EXPECT_EQ(vocab.tokenizer->Encode(*decoded, false, false), ids)
          << "decoded: \"" << Printable(*decoded) << "\"";
    }
  } else {
    EXPECT_EQ(*decoded, input);
  }
}

std::vector<VectorCase> AllCases() {
  std::vector<VectorCase> cases;
  for (const char* vocab : kVocabs) {
    for (int i = 0; i < kCasesPerVocab; ++i) cases.push_back({vocab, i});
  }
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<VectorCase>& info) {
  std::string name;
  for (char c : info.param.vocab) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name + "_case" + std::to_string(info.param.index);
}

INSTANTIATE_TEST_SUITE_P(TokenizerFixtures, TokenizerVectors, ::testing::ValuesIn(AllCases()),
                         CaseName);

}  // namespace
}  // namespace hearth::tokenizer
