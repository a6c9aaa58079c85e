#include <gtest/gtest.h>

#include "hearth/server/request.h"

namespace hearth::server {
namespace {

ApiRequest ParseOk(ApiKind kind, const std::string& body) {
  ApiRequest request;
  auto error = ParseApiRequest(kind, body, &request);
  EXPECT_FALSE(error.has_value()) << body << " -> " << (error ? error->message : "");
  return request;
}

ApiError ParseError(ApiKind kind, const std::string& body) {
  ApiRequest request;
  auto error = ParseApiRequest(kind, body, &request);
  EXPECT_TRUE(error.has_value()) << "accepted: " << body;
  return error.value_or(ApiError{});
}

constexpr auto kChat = ApiKind::kChatCompletions;
constexpr auto kCompletions = ApiKind::kCompletions;

TEST(RequestParserTest, FullChatRequest) {
  const ApiRequest r = ParseOk(kChat, R"({
    "model": "m", "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
      {"role": "assistant", "content": null}],
    "max_tokens": 7, "max_completion_tokens": 9, "stop": ["x", "yz"], "temperature": 0.5,
    "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": -3, "presence_penalty": 0.5,
    "frequency_penalty": -0.5, "repetition_penalty": 1.1, "logit_bias": {"42": -100, "7": 2.5},
    "logprobs": true, "top_logprobs": 3, "n": 2, "stream": true,
    "stream_options": {"include_usage": true}, "ignore_eos": true, "user": "ignored"})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "hi there");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(r.max_tokens, 9);  // max_completion_tokens wins
  EXPECT_EQ(r.stop, (std::vector<std::string>{"x", "yz"}));
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.sampling.seed, static_cast<uint64_t>(-3));
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
  ASSERT_EQ(r.sampling.logit_bias.size(), 2u);
  EXPECT_TRUE(r.sampling.logprobs);
  EXPECT_EQ(r.sampling.top_logprobs, 3);
  EXPECT_EQ(r.n, 2);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.ignore_eos);
}

TEST(RequestParserTest, DefaultsAndNulls) {
  const ApiRequest r = ParseOk(
      kChat,
      R"({"messages": [{"role": "user", "content": "x"}], "temperature": null, "stop": null})");
  EXPECT_TRUE(r.model.empty());
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FLOAT_EQ(r.sampling.temperature, engine::SamplingParams{}.temperature);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.seed_given);
}

TEST(RequestParserTest, CompletionPromptForms) {
  EXPECT_EQ(*ParseOk(kCompletions, R"({"prompt": "abc"})").prompt_text, "abc");
  EXPECT_EQ(*ParseOk(kCompletions, R"({"prompt": ["abc"]})").prompt_text, "abc");
  EXPECT_EQ(ParseOk(kCompletions, R"({"prompt": [1, 2, 3]})").prompt_tokens,
            (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(ParseOk(kCompletions, R"({"prompt": [[4, 5]]})").prompt_tokens,
            (std::vector<int32_t>{4, 5}));
  const ApiRequest r = ParseOk(kCompletions, R"({"prompt": "a", "logprobs": 2, "stop": "\n"})");
  EXPECT_TRUE(r.sampling.logprobs);
  EXPECT_EQ(r.sampling.top_logprobs, 2);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
}

struct BadCase {
  ApiKind kind;
  const char* body;
  const char* param;  // expected error param ("" for none)
};

TEST(RequestParserTest, RejectsBadInputNamingTheField) {
  const BadCase cases[] = {
      {kChat, R"({"messages": [)", ""},
      {kChat, R"([1, 2])", ""},
      {kChat, R"("text")", ""},
      {kChat, R"({})", "messages"},
      {kChat, R"({"messages": []})", "messages"},
      {kChat, R"({"messages": "hi"})", "messages"},
      {kChat, R"({"messages": [1]})", "messages[0]"},
      {kChat, R"({"messages": [{"content": "x"}]})", "messages[0].role"},
      {kChat, R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role"},
      {kChat, R"({"messages": [{"role": "user"}]})", "messages[0].content"},
      {kChat, R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {kChat, R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content[0].type"},
      {kChat, R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})",
       "messages[0].content[0].text"},
      {kChat, R"({"model": 5, "messages": [{"role": "user", "content": "x"}]})", "model"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})",
       "temperature"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "temperature": 2.5})",
       "temperature"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", "top_p"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "top_k": -2})", "top_k"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})",
       "max_tokens"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e30})",
       "max_tokens"},
      {kChat,
       R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 18446744073709551615})",
       "max_tokens"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "n": 0})", "n"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "n": 99})", "n"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stop": 3})", "stop"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a", ""]})", "stop[1]"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {}})",
       "stream_options"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"a": 1}})",
       "logit_bias"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"1": 500}})",
       "logit_bias"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})",
       "top_logprobs"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "f"}]})",
       "tools"},
      {kChat,
       R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})",
       "response_format"},
      {kCompletions, R"({})", "prompt"},
      {kCompletions, R"({"prompt": []})", "prompt"},
      {kCompletions, R"({"prompt": ["a", "b"]})", "prompt"},
      {kCompletions, R"({"prompt": [1, -1]})", "prompt[1]"},
      {kCompletions, R"({"prompt": [1, "x"]})", "prompt[1]"},
      {kCompletions, R"({"prompt": 7})", "prompt"},
      {kCompletions, R"({"prompt": "a", "echo": true})", "echo"},
      {kCompletions, R"({"prompt": "a", "logprobs": 99})", "logprobs"},
      {kCompletions, R"({"prompt": "a", "best_of": 3})", "best_of"},
  };
  for (const auto& c : cases) {
    const ApiError error = ParseError(c.kind, c.body);
    EXPECT_EQ(error.http_status, 400) << c.body;
    EXPECT_EQ(error.type, "invalid_request_error") << c.body;
    EXPECT_EQ(error.param, c.param) << c.body << " -> " << error.message;
    EXPECT_FALSE(error.message.empty());
  }
}

TEST(RequestParserTest, MalformedJsonSaysWhere) {
  const ApiError error = ParseError(kChat, "{\"messages\": [}");
  EXPECT_EQ(error.code, "invalid_json");
  EXPECT_NE(error.message.find("column"), std::string::npos) << error.message;
}

TEST(RequestParserTest, NumbersBeyondDoubleAreAnError) {
  // Found by request_fuzz: nlohmann reports these as out_of_range, not as a parse error.
  const ApiError error =
      ParseError(kChat, R"({"messages": [{"role": "user", "content": "x"}], "top_p": 1e309})");
  EXPECT_EQ(error.code, "invalid_json");
  EXPECT_NE(error.message.find("1e309"), std::string::npos) << error.message;
  ParseError(kCompletions, R"({"prompt": [-1e400]})");
}

TEST(RequestParserTest, InvalidUtf8AndDeepNestingAreErrorsNotCrashes) {
  ParseError(kChat, "{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}");
  std::string deep(100000, '[');
  ParseError(kChat, deep);
  std::string nested = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"user\": ";
  nested += std::string(20000, '[') + std::string(20000, ']') + "}";
  ParseOk(kChat, nested);  // unknown fields are ignored, however deep
}

}  // namespace
}  // namespace hearth::server
