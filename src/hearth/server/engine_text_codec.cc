// The production TextCodec: the engine's tokenizer plus the GGUF's chat template (or the
// family's fallback template when the file has none or its template does not parse).
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "hearth/model/model.h"
#include "hearth/server/text_codec.h"
#include "hearth/tokenizer/chat_template.h"
#include "hearth/tokenizer/tokenizer.h"

namespace hearth::server {
namespace {

class EngineTextCodec : public TextCodec {
 public:
  EngineTextCodec(const tokenizer::Tokenizer& tokenizer, tokenizer::ChatTemplate chat_template)
      : tokenizer_(tokenizer), template_(std::move(chat_template)) {
    const auto& vocab = tokenizer_.vocab();
    if (vocab.Contains(vocab.bos_id())) bos_text_ = std::string(vocab.text(vocab.bos_id()));
    if (vocab.Contains(vocab.eos_id())) eos_text_ = std::string(vocab.text(vocab.eos_id()));
  }

  Result<std::vector<int32_t>> EncodeChat(const std::vector<ChatMessage>& messages) const override {
    nlohmann::ordered_json context;
    context["messages"] = nlohmann::ordered_json::array();
    for (const auto& m : messages) {
      context["messages"].push_back({{"role", m.role}, {"content", m.content}});
    }
    context["add_generation_prompt"] = true;
    context["bos_token"] = bos_text_;
    context["eos_token"] = eos_text_;
    auto text = template_.Render(context);
    if (!text.ok()) {
      // Usually the template refusing the conversation (raise_exception: roles must
      // alternate, no system role, ...): the client's to fix.
      return Status::InvalidArgument("the model's chat template rejected the messages: " +
                                     text.status().message());
    }
    // Most templates write the BOS text themselves; adding BOS again would double it.
    const bool template_has_bos = !bos_text_.empty() && text->starts_with(bos_text_);
    return tokenizer_.Encode(*text, /*add_special=*/!template_has_bos, /*parse_special=*/true);
  }

  Result<std::vector<int32_t>> EncodePrompt(std::string_view text) const override {
    return tokenizer_.Encode(text, /*add_special=*/true, /*parse_special=*/true);
  }

  std::string TokenBytes(int32_t token) const override {
    return tokenizer_.TokenToPiece(token, /*render_special=*/false);
  }

  int vocab_size() const override { return tokenizer_.vocab().size(); }

 private:
  const tokenizer::Tokenizer& tokenizer_;
  tokenizer::ChatTemplate template_;
  std::string bos_text_;
  std::string eos_text_;
};

}  // namespace

Result<std::unique_ptr<TextCodec>> MakeEngineTextCodec(const engine::Engine& engine) {
  const auto& tokenizer = engine.tokenizer();
  const std::string fallback(
      tokenizer::FallbackTemplateFor(engine.model_config().architecture, tokenizer.vocab().pre()));
  std::string source = engine.chat_template();
  if (source.empty()) {
    spdlog::info("server: the model has no chat template; using the {} family default",
                 engine.model_config().architecture);
    source = fallback;
  }
  auto parsed = tokenizer::ChatTemplate::Parse(source);
  if (!parsed.ok() && source != fallback) {
    spdlog::warn(
        "server: the model's chat template does not parse ({}); using the family "
        "default",
        parsed.status().message());
    parsed = tokenizer::ChatTemplate::Parse(fallback);
  }
  if (!parsed.ok()) return parsed.status().WithContext("chat template");
  return std::unique_ptr<TextCodec>(
      std::make_unique<EngineTextCodec>(tokenizer, std::move(*parsed)));
}

}  // namespace hearth::server
