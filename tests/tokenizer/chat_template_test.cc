// Chat templates against the shared fixtures: every case in templates/cases.jsonl (rendered by
// Python Jinja2 3.1.6 configured as transformers does) must render byte for byte, or fail where
// the reference failed. Plus the public API: parse errors, limits, the injected clock and the
// fallback templates.
#include "hearth/tokenizer/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include "support/fixtures.h"

namespace hearth::tokenizer {
namespace {

using ::testing::HasSubstr;

struct TemplateCase {
  std::string name;  // "<template>__<case>", sanitized for gtest
  std::string template_file;
  nlohmann::ordered_json context;
  std::string expected;
  std::string expected_error;  // non-empty: rendering must fail with this message
};

std::string Sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::vector<TemplateCase> LoadCases() {
  std::vector<TemplateCase> cases;
  std::ifstream in(testing::FixturePath("templates/cases.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::ordered_json::parse(line);
    TemplateCase c;
    c.template_file = j["template"].get<std::string>();
    std::string base = c.template_file.substr(0, c.template_file.rfind('.'));
    c.name = Sanitize(base + "__" + j["case"].get<std::string>());
    c.context = j["context"];
    if (j.contains("expected")) c.expected = j["expected"].get<std::string>();
    if (j.contains("expected_error")) c.expected_error = j["expected_error"].get<std::string>();
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fixtures froze strftime_now at 2025-01-15 10:30:00 local time.
std::chrono::system_clock::time_point FixtureTime() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_hour = 10;
  tm.tm_min = 30;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

class TemplateFixtureTest : public ::testing::TestWithParam<TemplateCase> {};

TEST_P(TemplateFixtureTest, RendersLikeTransformers) {
  const TemplateCase& c = GetParam();
  auto path = testing::FixturePath("templates/" + c.template_file);
  HEARTH_REQUIRE_FIXTURE(path);
  auto tmpl = ChatTemplate::Parse(ReadFile(path));
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().message();
  RenderOptions options;
  options.clock = FixtureTime;
  auto rendered = tmpl->Render(c.context, options);
  if (!c.expected_error.empty()) {
    ASSERT_FALSE(rendered.ok()) << "expected failure '" << c.expected_error << "', rendered:\n"
                                << *rendered;
    EXPECT_THAT(rendered.status().message(), HasSubstr(c.expected_error));
    return;
  }
  ASSERT_TRUE(rendered.ok()) << rendered.status().message();
  EXPECT_EQ(*rendered, c.expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TemplateFixtureTest, ::testing::ValuesIn(LoadCases()),
                         [](const ::testing::TestParamInfo<TemplateCase>& info) {
                           return info.param.name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TemplateFixtureTest);

TEST(ChatTemplateTest, FixtureCasesArePresent) {
  auto path = testing::FixturePath("templates/cases.jsonl");
  HEARTH_REQUIRE_FIXTURE(path);
  EXPECT_GT(LoadCases().size(), 300u);
}

TEST(ChatTemplateTest, ContextMustBeAnObject) {
  auto tmpl = ChatTemplate::Parse("x");
  ASSERT_TRUE(tmpl.ok());
  auto out = tmpl->Render(nlohmann::ordered_json::array());
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("must be a JSON object"));
}

TEST(ChatTemplateTest, CopiesShareTheParsedProgramAndRenderIndependently) {
  auto tmpl = ChatTemplate::Parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}"
      "{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
  ASSERT_TRUE(tmpl.ok());
  ChatTemplate copy = *tmpl;
  auto two = nlohmann::ordered_json::parse(R"({"messages": [1, 2]})");
  auto three = nlohmann::ordered_json::parse(R"({"messages": [1, 2, 3]})");
  EXPECT_EQ(*tmpl->Render(two), "2");
  EXPECT_EQ(*copy.Render(three), "3");
  EXPECT_EQ(*tmpl->Render(two), "2");  // no state leaks between renders
  EXPECT_EQ(copy.source(), tmpl->source());
}

TEST(ChatTemplateTest, StrftimeNowUsesTheInjectedClock) {
  auto tmpl = ChatTemplate::Parse("{{ strftime_now('%Y-%m-%d %H:%M') }}");
  ASSERT_TRUE(tmpl.ok());
  RenderOptions options;
  options.clock = FixtureTime;
  EXPECT_EQ(*tmpl->Render(nlohmann::ordered_json::object(), options), "2025-01-15 10:30");
}

// Reference renders of the fallback templates by Python Jinja2 (transformers' settings).
const char* kFallbackContext = R"({"bos_token": "<s>", "eos_token": "</s>",
  "add_generation_prompt": true, "messages": [{"role": "system", "content": "Be brief."},
  {"role": "user", "content": " Hi "}, {"role": "assistant", "content": "<think>x</think>Hello"},
  {"role": "user", "content": "Bye"}]})";

std::string RenderFallback(std::string_view architecture, std::string_view pre) {
  auto tmpl = ChatTemplate::Parse(FallbackTemplateFor(architecture, pre));
  if (!tmpl.ok()) return "parse error: " + tmpl.status().message();
  auto out = tmpl->Render(nlohmann::ordered_json::parse(kFallbackContext));
  return out.ok() ? *out : "render error: " + out.status().message();
}

TEST(ChatTemplateTest, FallbackChatMlForQwen2) {
  EXPECT_EQ(RenderFallback("qwen2", "qwen2"), R"J(<|im_start|>system
Be brief.<|im_end|>
<|im_start|>user
 Hi <|im_end|>
<|im_start|>assistant
<think>x</think>Hello<|im_end|>
<|im_start|>user
Bye<|im_end|>
<|im_start|>assistant
)J");
  EXPECT_EQ(RenderFallback("unknown-arch", ""), RenderFallback("qwen2", "qwen2"));
}

TEST(ChatTemplateTest, FallbackLlama3ForLlamaBpeVocab) {
  EXPECT_EQ(RenderFallback("llama", "llama-bpe"), R"J(<s><|start_header_id|>system<|end_header_id|>

Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>

Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>

<think>x</think>Hello<|eot_id|><|start_header_id|>user<|end_header_id|>

Bye<|eot_id|><|start_header_id|>assistant<|end_header_id|>

)J");
}

TEST(ChatTemplateTest, FallbackLlama2ForSentencePieceLlama) {
  EXPECT_EQ(RenderFallback("llama", "default"), R"J(<s>[INST] <<SYS>>
Be brief.
<</SYS>>

Hi [/INST] <think>x</think>Hello </s><s>[INST] Bye [/INST])J");
}

TEST(ChatTemplateTest, FallbackDeepSeekR1) {
  const char* expected =
      R"J(<s>Be brief.<｜User｜> Hi <｜Assistant｜>Hello<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜><think>
)J";
  EXPECT_EQ(RenderFallback("qwen2", "deepseek-r1-qwen"), expected);
  EXPECT_EQ(RenderFallback("llama", "deepseek-llm"), expected);
}

TEST(ChatTemplateTest, CliRendersTemplateFile) {
  auto path = testing::FixturePath("templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  HEARTH_REQUIRE_FIXTURE(path);
  if (!std::filesystem::exists(testing::HearthBinary())) GTEST_SKIP() << "hearth not built";
  testing::TempDir dir;
  std::ofstream(dir / "ctx.json") << R"({"messages": [{"role": "user", "content": "Hi"}],
      "add_generation_prompt": true})";
  auto result =
      testing::RunCommand(testing::HearthBinary().string() + " template render --template " +
                          path.string() + " --context " + (dir / "ctx.json").string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  auto bad = testing::RunCommand(testing::HearthBinary().string() + " template render --template " +
                                 path.string() + " --context " + (dir / "missing.json").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("hearth: context"));
}

}  // namespace
}  // namespace hearth::tokenizer
