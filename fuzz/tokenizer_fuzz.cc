// Fuzzes the tokenizers with arbitrary bytes (invalid UTF-8 included): encode with and without
// special-token parsing, decode, stream-decode. Checks, beyond "no crash / no sanitizer report":
//   - byte-level BPE (Qwen2.5) is lossless for every input: Decode(Encode(x)) == x;
//   - SentencePiece (Llama 2) is lossless for inputs without a literal U+2581;
//   - the streaming decoder emits valid UTF-8 whose concatenation equals
//     ReplaceInvalidUtf8(Decode(ids)).
// Vocabularies come from $HEARTH_FIXTURES_DIR/tokenizer, else ../shared/fixtures beside the
// source tree; they are loaded once.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/tokenizer/detokenizer.h"
#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/unicode.h"

namespace {

using hearth::tokenizer::StreamingDecoder;
using hearth::tokenizer::Tokenizer;

std::unique_ptr<Tokenizer> Load(const char* name) {
  std::filesystem::path dir;
  if (const char* env = std::getenv("HEARTH_FIXTURES_DIR")) {
    dir = env;
  } else {
    dir = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "shared" /
          "fixtures";
  }
  auto tokenizer = Tokenizer::Open(dir / "tokenizer" / name);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", tokenizer.status().ToString().c_str());
    std::abort();
  }
  return std::make_unique<Tokenizer>(std::move(*tokenizer));
}

struct Vocabs {
  std::unique_ptr<Tokenizer> qwen = Load("ggml-vocab-qwen2.5.gguf");
  std::unique_ptr<Tokenizer> spm = Load("ggml-vocab-llama-spm.gguf");
  std::unique_ptr<Tokenizer> bert = Load("ggml-vocab-bert-bge.gguf");
};

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "tokenizer_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

// Decodes and stream-decodes `ids`; returns the full decode.
std::string DecodeBothWays(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                           bool render_special) {
  auto decoded = tokenizer.Decode(ids, render_special);
  Check(decoded.ok(), "Decode of Encode output failed");
  StreamingDecoder stream(tokenizer, render_special);
  std::string streamed;
  for (int32_t id : ids) {
    auto part = stream.Push(id);
    Check(part.ok(), "StreamingDecoder::Push failed");
    Check(hearth::tokenizer::IsValidUtf8(*part), "stream emitted invalid UTF-8");
    streamed += *part;
  }
  const std::string rest = stream.Flush();
  Check(hearth::tokenizer::IsValidUtf8(rest), "stream flush emitted invalid UTF-8");
  streamed += rest;
  Check(streamed == hearth::tokenizer::ReplaceInvalidUtf8(*decoded),
        "stream differs from the sanitised full decode");
  return *decoded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Vocabs vocabs;
  if (size == 0) return 0;
  // First byte: options; the rest: text.
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool parse_special = (flags & 1) != 0;
  const bool add_special = (flags & 2) != 0;

  {
    const auto ids = vocabs.qwen->Encode(text, add_special, parse_special);
    const std::string back = DecodeBothWays(*vocabs.qwen, ids, /*render_special=*/true);
    if (!add_special) Check(back == text, "qwen2.5: Decode(Encode(x)) != x");
  }
  {
    const auto ids = vocabs.spm->Encode(text, add_special, parse_special);
    const std::string back = DecodeBothWays(*vocabs.spm, ids, /*render_special=*/false);
    if (!parse_special && text.find("\xE2\x96\x81") == std::string_view::npos) {
      Check(back == text, "llama-spm: Decode(Encode(x)) != x");
    }
  }
  {
    const auto ids = vocabs.bert->Encode(text, add_special, parse_special);
    DecodeBothWays(*vocabs.bert, ids, /*render_special=*/false);
  }
  return 0;
}
