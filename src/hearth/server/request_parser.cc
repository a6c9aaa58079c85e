// Parsing and validation of /v1/chat/completions and /v1/completions bodies.
//
// Unknown top-level fields are ignored (OpenAI clients send many harmless extras such as
// "user" or "metadata"); fields whose meaning we cannot honour ("tools", "echo", a JSON
// response_format, ...) are rejected, so a client never silently gets something it did not ask
// for. A JSON null means "default" for every optional field, as in the OpenAI API.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "hearth/server/request.h"

namespace hearth::server {
namespace {

using nlohmann::json;

constexpr int64_t kMaxTokensAccepted = 1 << 24;  // anything larger is clipped to the context
constexpr size_t kMaxLogitBiasEntries = 1024;

// Validates one field at a time; the first failure is kept and later checks are skipped.
class FieldReader {
 public:
  explicit FieldReader(const json& object) : object_(object) {}

  const std::optional<ApiError>& error() const { return error_; }
  bool failed() const { return error_.has_value(); }

  void Fail(std::string message, std::string param) {
    if (!error_) error_ = ApiError::BadRequest(std::move(message), std::move(param));
  }

  // The field, or nullptr when absent or null.
  const json* Find(const char* name) const {
    auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  void Bool(const char* name, bool* out) {
    const json* v = Find(name);
    if (!v || failed()) return;
    if (!v->is_boolean()) return Fail(fmt::format("'{}' must be a boolean", name), name);
    *out = v->get<bool>();
  }

  // Number in [lo, hi] (open at the bound when the flag says so).
  void Number(const char* name, double lo, double hi, float* out, bool lo_open = false) {
    const json* v = Find(name);
    if (!v || failed()) return;
    if (!v->is_number()) return Fail(fmt::format("'{}' must be a number", name), name);
    const double x = v->get<double>();
    if (!std::isfinite(x) || x > hi || x < lo || (lo_open && x == lo)) {
      return Fail(fmt::format("'{}' must be {} {} and at most {} (got {})", name,
                              lo_open ? "greater than" : "at least", lo, hi, x),
                  name);
    }
    *out = static_cast<float>(x);
  }

  // Integer in [lo, hi]; returns false when absent or invalid.
  bool Integer(const char* name, int64_t lo, int64_t hi, int64_t* out) {
    const json* v = Find(name);
    if (!v || failed()) return false;
    return IntegerValue(*v, name, lo, hi, out);
  }

  bool IntegerValue(const json& v, const std::string& param, int64_t lo, int64_t hi, int64_t* out) {
    if (!v.is_number_integer()) {
      Fail(fmt::format("'{}' must be an integer", param), param);
      return false;
    }
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(fmt::format("'{}' must be at most {}", param, hi), param);
      return false;
    }
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) {
      Fail(fmt::format("'{}' must be between {} and {} (got {})", param, lo, hi, x), param);
      return false;
    }
    *out = x;
    return true;
  }

 private:
  const json& object_;
  std::optional<ApiError> error_;
};

void ParseStop(FieldReader& r, const json* stop, std::vector<std::string>* out) {
  if (!stop) return;
  auto add = [&](const json& s, const std::string& param) {
    if (!s.is_string()) return r.Fail("'stop' must be a string or an array of strings", param);
    const auto& text = s.get_ref<const std::string&>();
    if (text.empty()) return r.Fail("'stop' strings must not be empty", param);
    if (text.size() > kMaxStopStringBytes) {
      return r.Fail(fmt::format("'stop' strings must be at most {} bytes", kMaxStopStringBytes),
                    param);
    }
    out->push_back(text);
  };
  if (stop->is_string()) return add(*stop, "stop");
  if (!stop->is_array()) return r.Fail("'stop' must be a string or an array of strings", "stop");
  if (stop->size() > static_cast<size_t>(kMaxStopStrings)) {
    return r.Fail(fmt::format("'stop' may hold at most {} strings", kMaxStopStrings), "stop");
  }
  for (size_t i = 0; i < stop->size() && !r.failed(); ++i) {
    add((*stop)[i], fmt::format("stop[{}]", i));
  }
}

void ParseLogitBias(FieldReader& r, const json* bias, engine::SamplingParams* sampling) {
  if (!bias) return;
  if (!bias->is_object()) {
    return r.Fail("'logit_bias' must be an object mapping token ids to numbers", "logit_bias");
  }
  if (bias->size() > kMaxLogitBiasEntries) {
    return r.Fail(fmt::format("'logit_bias' may hold at most {} entries", kMaxLogitBiasEntries),
                  "logit_bias");
  }
  for (const auto& [key, value] : bias->items()) {
    int64_t id = -1;
    bool digits = !key.empty() && key.size() <= 10;
    for (char c : key) digits = digits && c >= '0' && c <= '9';
    if (digits) id = std::stoll(key);
    if (!digits || id > std::numeric_limits<int32_t>::max()) {
      return r.Fail(fmt::format("'logit_bias' key '{}' is not a token id", key), "logit_bias");
    }
    if (!value.is_number() || !std::isfinite(value.get<double>()) ||
        std::fabs(value.get<double>()) > 100.0) {
      return r.Fail(fmt::format("'logit_bias' value for token {} must be a number between -100 "
                                "and 100",
                                key),
                    "logit_bias");
    }
    sampling->logit_bias.emplace_back(static_cast<int32_t>(id), value.get<float>());
  }
}

// Text of a message's content: a string, or an array of {"type": "text", "text": ...} parts.
void ParseContent(FieldReader& r, const json& message, size_t index, const std::string& role,
                  std::string* out) {
  const std::string param = fmt::format("messages[{}].content", index);
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) {
    // An assistant turn may be empty (OpenAI allows null content there).
    if (role != "assistant") r.Fail(fmt::format("'{}' is required", param), param);
    return;
  }
  if (it->is_string()) {
    *out = it->get<std::string>();
    return;
  }
  if (!it->is_array()) {
    return r.Fail(fmt::format("'{}' must be a string or an array of content parts", param), param);
  }
  for (size_t j = 0; j < it->size(); ++j) {
    const json& part = (*it)[j];
    const std::string part_param = fmt::format("{}[{}]", param, j);
    if (!part.is_object()) {
      return r.Fail(fmt::format("'{}' must be an object", part_param), part_param);
    }
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return r.Fail(fmt::format("'{}.type' must be a string", part_param), part_param + ".type");
    }
    if (*type != "text") {
      return r.Fail(fmt::format("content part type '{}' is not supported (only 'text')",
                                type->get<std::string>()),
                    part_param + ".type");
    }
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) {
      return r.Fail(fmt::format("'{}.text' must be a string", part_param), part_param + ".text");
    }
    out->append(text->get<std::string>());
  }
}

void ParseMessages(FieldReader& r, const json& body, std::vector<ChatMessage>* out) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return r.Fail("'messages' is required", "messages");
  if (!it->is_array()) return r.Fail("'messages' must be an array", "messages");
  if (it->empty()) return r.Fail("'messages' must not be empty", "messages");
  for (size_t i = 0; i < it->size() && !r.failed(); ++i) {
    const json& m = (*it)[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object()) return r.Fail(fmt::format("'{}' must be an object", param), param);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return r.Fail(fmt::format("'{}.role' must be a string", param), param + ".role");
    }
    const auto& role_text = role->get_ref<const std::string&>();
    if (role_text != "system" && role_text != "developer" && role_text != "user" &&
        role_text != "assistant" && role_text != "tool") {
      return r.Fail(fmt::format("'{}.role' must be one of system, developer, user, assistant, "
                                "tool (got '{}')",
                                param, role_text),
                    param + ".role");
    }
    if (auto calls = m.find("tool_calls");
        calls != m.end() && !calls->is_null() && !(calls->is_array() && calls->empty())) {
      return r.Fail("tool calls are not supported", param + ".tool_calls");
    }
    ChatMessage message;
    message.role = role_text;
    ParseContent(r, m, i, role_text, &message.content);
    out->push_back(std::move(message));
  }
}

// A prompt: "text", [ids...], ["text"] or [[ids...]]. Batches of several prompts are refused.
void ParsePrompt(FieldReader& r, const json& body, ApiRequest* out) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) return r.Fail("'prompt' is required", "prompt");
  const json* prompt = &*it;
  if (prompt->is_array() && prompt->size() == 1 &&
      ((*prompt)[0].is_string() || (*prompt)[0].is_array())) {
    prompt = &(*prompt)[0];
  } else if (prompt->is_array() && !prompt->empty() &&
             ((*prompt)[0].is_string() || (*prompt)[0].is_array())) {
    return r.Fail("batched prompts are not supported; send one request per prompt", "prompt");
  }
  if (prompt->is_string()) {
    out->prompt_text = prompt->get<std::string>();
    return;
  }
  if (!prompt->is_array()) {
    return r.Fail("'prompt' must be a string or an array of token ids", "prompt");
  }
  if (prompt->empty()) return r.Fail("'prompt' must not be empty", "prompt");
  out->prompt_tokens.reserve(prompt->size());
  for (size_t i = 0; i < prompt->size() && !r.failed(); ++i) {
    int64_t id = 0;
    if (r.IntegerValue((*prompt)[i], fmt::format("prompt[{}]", i), 0,
                       std::numeric_limits<int32_t>::max(), &id)) {
      out->prompt_tokens.push_back(static_cast<int32_t>(id));
    }
  }
}

void RejectUnsupported(FieldReader& r, ApiKind kind) {
  if (const json* tools = r.Find("tools"); tools && !(tools->is_array() && tools->empty())) {
    return r.Fail("tools are not supported", "tools");
  }
  if (const json* functions = r.Find("functions"); functions) {
    return r.Fail("functions are not supported", "functions");
  }
  if (const json* choice = r.Find("tool_choice"); choice && *choice != "none") {
    return r.Fail("tool_choice other than 'none' is not supported", "tool_choice");
  }
  if (const json* format = r.Find("response_format"); format) {
    auto type = format->is_object() ? format->find("type") : format->end();
    if (!format->is_object() || type == format->end() || *type != "text") {
      return r.Fail("only response_format {\"type\": \"text\"} is supported", "response_format");
    }
  }
  if (kind == ApiKind::kCompletions) {
    if (const json* echo = r.Find("echo"); echo && *echo != false) {
      return r.Fail("'echo' is not supported", "echo");
    }
    if (const json* suffix = r.Find("suffix"); suffix && *suffix != "") {
      return r.Fail("'suffix' is not supported", "suffix");
    }
  }
}

}  // namespace

std::optional<ApiError> ParseApiRequest(ApiKind kind, std::string_view body_text, ApiRequest* out) {
  *out = ApiRequest{};
  out->kind = kind;
  json body;
  try {
    body = json::parse(body_text.begin(), body_text.end());
  } catch (const json::exception& e) {
    // Syntax errors, and numbers too large for a double ("1e309"), which nlohmann reports as
    // out_of_range. It prefixes "[json.exception.parse_error.101] "; the rest says where/why.
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    return ApiError::BadRequest("malformed JSON body: " + what, "", "invalid_json");
  }
  if (!body.is_object()) {
    return ApiError::BadRequest("the request body must be a JSON object", "", "invalid_json");
  }

  FieldReader r(body);
  if (const json* model = r.Find("model")) {
    if (!model->is_string()) {
      r.Fail("'model' must be a string", "model");
    } else {
      out->model = model->get<std::string>();
    }
  }
  RejectUnsupported(r, kind);
  if (kind == ApiKind::kChatCompletions) {
    ParseMessages(r, body, &out->messages);
  } else {
    ParsePrompt(r, body, out);
  }

  int64_t value = 0;
  // max_completion_tokens is the newer chat name and wins over the deprecated max_tokens.
  if (kind == ApiKind::kChatCompletions &&
      r.Integer("max_completion_tokens", 1, kMaxTokensAccepted, &value)) {
    out->max_tokens = static_cast<int>(value);
  } else if (r.Integer("max_tokens", 1, kMaxTokensAccepted, &value)) {
    out->max_tokens = static_cast<int>(value);
  }
  ParseStop(r, r.Find("stop"), &out->stop);

  engine::SamplingParams& s = out->sampling;
  r.Number("temperature", 0.0, 2.0, &s.temperature);
  r.Number("top_p", 0.0, 1.0, &s.top_p, /*lo_open=*/true);
  if (r.Integer("top_k", -1, std::numeric_limits<int32_t>::max(), &value)) {
    s.top_k = value < 0 ? 0 : static_cast<int>(value);  // -1 means off, as in vLLM
  }
  r.Number("min_p", 0.0, 1.0, &s.min_p);
  r.Number("presence_penalty", -2.0, 2.0, &s.presence_penalty);
  r.Number("frequency_penalty", -2.0, 2.0, &s.frequency_penalty);
  r.Number("repetition_penalty", 0.0, 10.0, &s.repetition_penalty, /*lo_open=*/true);
  if (r.Integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                &value)) {
    s.seed = static_cast<uint64_t>(value);
    out->seed_given = true;
  }
  ParseLogitBias(r, r.Find("logit_bias"), &s);

  if (kind == ApiKind::kChatCompletions) {
    r.Bool("logprobs", &s.logprobs);
    if (r.Integer("top_logprobs", 0, kMaxTopLogprobs, &value)) {
      if (!s.logprobs && value > 0) {
        r.Fail("'logprobs' must be true when 'top_logprobs' is used", "top_logprobs");
      }
      s.top_logprobs = static_cast<int>(value);
    }
  } else if (r.Integer("logprobs", 0, kMaxTopLogprobs, &value)) {
    s.logprobs = true;
    s.top_logprobs = static_cast<int>(value);
  }

  if (r.Integer("n", 1, kMaxChoices, &value)) out->n = static_cast<int>(value);
  if (kind == ApiKind::kCompletions && r.Integer("best_of", 1, kMaxChoices, &value) &&
      value != out->n) {
    r.Fail("'best_of' other than n is not supported", "best_of");
  }
  r.Bool("stream", &out->stream);
  if (const json* options = r.Find("stream_options"); options && !r.failed()) {
    if (!out->stream) {
      r.Fail("'stream_options' is only allowed when 'stream' is true", "stream_options");
    } else if (!options->is_object()) {
      r.Fail("'stream_options' must be an object", "stream_options");
    } else if (auto usage = options->find("include_usage");
               usage != options->end() && !usage->is_null()) {
      if (!usage->is_boolean()) {
        r.Fail("'stream_options.include_usage' must be a boolean", "stream_options.include_usage");
      } else {
        out->include_usage = usage->get<bool>();
      }
    }
  }
  r.Bool("ignore_eos", &out->ignore_eos);
  return r.error();
}

}  // namespace hearth::server
