// Tokenizer throughput with the Qwen2.5 vocabulary (byte-level BPE, qwen2 pre-tokenizer) on
// deterministic English and Chinese text. Targets: >= 20 MB/s English, >= 10 MB/s Chinese on
// one core.
//
//   build/bench/hearth_tokenizer_bench --benchmark_filter=Tokenize
//
// The vocabulary comes from $HEARTH_FIXTURES_DIR/tokenizer or ../shared/fixtures/tokenizer
// beside the source tree.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hearth/tokenizer/tokenizer.h"

namespace {

using hearth::tokenizer::Tokenizer;

std::filesystem::path VocabPath(const std::string& name) {
  std::filesystem::path dir;
  if (const char* env = std::getenv("HEARTH_FIXTURES_DIR")) {
    dir = env;
  } else {
    dir = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "shared" /
          "fixtures";
  }
  return dir / "tokenizer" / name;
}

const Tokenizer* Qwen() {
  static std::unique_ptr<Tokenizer> tokenizer = [] {
    auto t = Tokenizer::Open(VocabPath("ggml-vocab-qwen2.5.gguf"));
    return t.ok() ? std::make_unique<Tokenizer>(std::move(*t)) : nullptr;
  }();
  return tokenizer.get();
}

// A small linear congruential generator: the text is the same on every run and machine.
struct Lcg {
  uint64_t state;
  uint32_t Next(uint32_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33) % bound;
  }
};

std::string EnglishText(size_t bytes) {
  static const char* const kWords[] = {
      "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "inference", "engine",
      "model", "tokenizer", "throughput", "private", "server", "request", "latency", "memory",
      "weights", "quantized", "attention", "layer", "Hearth", "runs", "locally", "and",
      "answers", "questions", "about", "documents", "without", "sending", "data", "anywhere",
      "it's", "they're", "we've", "configuration", "deployment", "performance", "2024",
      "3.14159", "users", "can't", "wouldn't", "Internationalization", "benchmark", "results"};
  constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);
  static const char* const kEnds[] = {".", "!", "?", ",", ";", ":"};
  Lcg rng{42};
  std::string text;
  while (text.size() < bytes) {
    const uint32_t words = 6 + rng.Next(14);
    for (uint32_t w = 0; w < words; ++w) {
      std::string word = kWords[rng.Next(kWordCount)];
      if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      text += word;
      text += (w + 1 == words) ? kEnds[rng.Next(3)] : (rng.Next(8) == 0 ? kEnds[3] : "");
      text += ' ';
    }
    if (rng.Next(5) == 0) text += "\n\n";
  }
  return text;
}

std::string ChineseText(size_t bytes) {
  static const char* const kPhrases[] = {
      "我们", "今天", "模型", "推理", "引擎", "服务器", "用户", "数据",
      "隐私", "安全", "快速", "回答", "问题", "文档", "本地", "运行", "量化",
      "权重", "注意力", "性能", "测试", "中文", "分词器", "吞吐量", "部署",
      "配置", "结果", "非常", "重要", "可以", "没有", "发送", "任何", "地方",
      "学习", "人工智能", "自然语言处理", "计算机",
  };
  constexpr size_t kPhraseCount = sizeof(kPhrases) / sizeof(kPhrases[0]);
  static const char* const kPunct[] = {"，", "。", "！", "？", "、", "；"};
  Lcg rng{7};
  std::string text;
  while (text.size() < bytes) {
    const uint32_t phrases = 4 + rng.Next(10);
    for (uint32_t p = 0; p < phrases; ++p) text += kPhrases[rng.Next(kPhraseCount)];
    text += kPunct[rng.Next(6)];
    if (rng.Next(10) == 0) text += "\n";
  }
  return text;
}

void Run(benchmark::State& state, const std::string& text) {
  const Tokenizer* tokenizer = Qwen();
  if (tokenizer == nullptr) {
    state.SkipWithError("ggml-vocab-qwen2.5.gguf not found (set HEARTH_FIXTURES_DIR)");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer->Encode(text, false, false);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes_per_token"] =
      tokens == 0 ? 0.0 : static_cast<double>(text.size()) / static_cast<double>(tokens);
}

void BM_TokenizeEnglish(benchmark::State& state) {
  static const std::string text = EnglishText(1 << 20);
  Run(state, text);
}
BENCHMARK(BM_TokenizeEnglish)->Unit(benchmark::kMillisecond);

void BM_TokenizeChinese(benchmark::State& state) {
  static const std::string text = ChineseText(1 << 20);
  Run(state, text);
}
BENCHMARK(BM_TokenizeChinese)->Unit(benchmark::kMillisecond);

// Decoding, for scale: generation decodes one token at a time.
void BM_DecodeEnglish(benchmark::State& state) {
  const Tokenizer* tokenizer = Qwen();
  if (tokenizer == nullptr) {
    state.SkipWithError("ggml-vocab-qwen2.5.gguf not found (set HEARTH_FIXTURES_DIR)");
    return;
  }
  static const std::string text = EnglishText(1 << 20);
  const auto ids = tokenizer->Encode(text, false, false);
  for (auto _ : state) {
    auto decoded = tokenizer->Decode(ids);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_DecodeEnglish)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
