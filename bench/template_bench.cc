// Chat-template rendering cost: a ~4k-token conversation (40 messages of ~400 characters) with
// the Qwen2.5 template, the prompt formatting the server does once per request. Target: < 1 ms.
//   build/bench/hearth_template_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "hearth/tokenizer/chat_template.h"

namespace {

// $HEARTH_FIXTURES_DIR/templates or ../shared/fixtures/templates beside the repository.
std::string ReadTemplate(const std::string& name) {
  std::filesystem::path dir;
  if (const char* env = std::getenv("HEARTH_FIXTURES_DIR")) {
    dir = env;
  } else {
    dir = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "shared" /
          "fixtures";
  }
  std::ifstream in(dir / "templates" / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::ordered_json Conversation(int messages, int chars_per_message) {
  nlohmann::ordered_json context;
  context["bos_token"] = "<|endoftext|>";
  context["eos_token"] = "<|im_end|>";
  context["add_generation_prompt"] = true;
  auto& list = context["messages"];
  list.push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
  const std::string words = "The quick brown fox jumps over the lazy dog; 敏捷的狐狸. ";
  for (int i = 0; i < messages; ++i) {
    std::string content;
    while (static_cast<int>(content.size()) < chars_per_message) content += words;
    list.push_back({{"role", i % 2 == 0 ? "user" : "assistant"}, {"content", content}});
  }
  return context;
}

void BM_TemplateQwen25_40Messages(benchmark::State& state) {
  std::string source = ReadTemplate("Qwen-Qwen2.5-7B-Instruct.jinja");
  if (source.empty()) {
    state.SkipWithError("fixture templates/Qwen-Qwen2.5-7B-Instruct.jinja not found");
    return;
  }
  auto tmpl = hearth::tokenizer::ChatTemplate::Parse(source);
  if (!tmpl.ok()) {
    state.SkipWithError(tmpl.status().message().c_str());
    return;
  }
  nlohmann::ordered_json context = Conversation(40, 400);
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = tmpl->Render(context);
    if (!out.ok()) {
      state.SkipWithError(out.status().message().c_str());
      return;
    }
    bytes = out->size();
    benchmark::DoNotOptimize(out->data());
  }
  state.counters["output_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_TemplateQwen25_40Messages)->Unit(benchmark::kMicrosecond);

void BM_TemplateParseQwen25(benchmark::State& state) {
  std::string source = ReadTemplate("Qwen-Qwen2.5-7B-Instruct.jinja");
  if (source.empty()) {
    state.SkipWithError("fixture not found");
    return;
  }
  for (auto _ : state) {
    auto tmpl = hearth::tokenizer::ChatTemplate::Parse(source);
    benchmark::DoNotOptimize(tmpl.ok());
  }
}
BENCHMARK(BM_TemplateParseQwen25)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
