// The pre-tokenizer regular expressions of the model families Hearth supports. These are facts
// about the published tokenizers (their tokenizer.json Split patterns); where a pattern uses a
// case-insensitive group for contractions it is spelled out with character classes so that
// case folding cannot reach beyond ASCII.
#include <fmt/format.h>

#include "hearth/tokenizer/pretokenize.h"

namespace hearth::tokenizer {
namespace {

// GPT-2 style: contractions, optional space + letters / numbers / other, trailing whitespace.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3 (tiktoken cl100k-like): numbers in groups of up to three.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: as Llama 3 but every digit on its own.
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: a letter class spelled out by code point ranges (Latin, Greek, Cyrillic,
// Armenian, Georgian, Cherokee, ... but not CJK), ASCII/fullwidth punctuation runs, CJK runs.
constexpr const char* kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293"
    "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C"
    "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
    "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59"
    "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC"
    "\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
    "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE"
    "\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"
    "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F"
    "\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2"
    "\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
constexpr const char* kDeepseekLlmPunct =
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
constexpr const char* kCjkRuns = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

// Falcon / default: punctuation runs isolated first, then GPT-2, then digit triples.
constexpr const char* kPunctRun = R"([\p{P}\$\+<=>\^~\|`]+)";
constexpr const char* kDefaultPunctRun = R"([\p{P}\$\+<=>\^~\|]+)";

}  // namespace

Result<std::vector<std::string>> PreTokenizerPatterns(std::string_view name) {
  if (name == "llama3" || name == "llama-v3" || name == "llama-bpe" || name == "dbrx" ||
      name == "smaug-bpe" || name == "falcon3" || name == "chatglm-bpe") {
    return std::vector<std::string>{kLlama3};
  }
  if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "stablelm2" ||
      name == "hunyuan") {
    return std::vector<std::string>{kQwen2};
  }
  if (name == "deepseek-llm") {
    return std::vector<std::string>{"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct,
                                    R"(\s+$)", kCjkRuns, R"(\p{N}+)"};
  }
  if (name == "deepseek-coder") {
    return std::vector<std::string>{"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkRuns,
                                    R"(\p{N})"};
  }
  if (name == "gpt-2" || name == "mpt" || name == "olmo" || name == "jais") {
    return std::vector<std::string>{kGpt2};
  }
  if (name == "starcoder" || name == "refact" || name == "command-r" || name == "smollm" ||
      name == "codeshell" || name == "exaone") {
    return std::vector<std::string>{R"(\p{N})", kGpt2};
  }
  if (name == "falcon") {
    return std::vector<std::string>{kPunctRun, kGpt2, "[0-9][0-9][0-9]"};
  }
  if (name == "default") {
    return std::vector<std::string>{kDefaultPunctRun, kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  }
  return Status::NotFound(fmt::format(
      "tokenizer: unknown pre-tokenizer '{}' (known: default, llama-bpe, qwen2, "
      "deepseek-r1-qwen, deepseek-llm, deepseek-coder, gpt-2, starcoder, falcon, mpt, refact, "
      "and aliases)",
      name));
}

}  // namespace hearth::tokenizer
