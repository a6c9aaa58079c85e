#include "hearth/tokenizer/chat_template.h"

#include "hearth/tokenizer/jinja_json.h"
#include "hearth/tokenizer/jinja_parser.h"
#include "hearth/tokenizer/jinja_renderer.h"

namespace hearth::tokenizer {

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<jinja::Program> program, jinja::ParseTemplate(source));
  ChatTemplate t;
  t.source_ = std::make_shared<const std::string>(source);
  t.program_ = std::shared_ptr<const jinja::Program>(std::move(program));
  return t;
}

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context,
                                         const RenderOptions& options) const {
  if (!context.is_object()) {
    return Status::InvalidArgument("chat template context must be a JSON object");
  }
  std::vector<std::pair<std::string, jinja::Value>> variables;
  variables.reserve(context.size());
  for (const auto& [key, value] : context.items()) {
    HEARTH_ASSIGN_OR_RETURN(jinja::Value v, jinja::FromJson(value));
    variables.emplace_back(key, std::move(v));
  }
  jinja::RenderEnv env;
  env.clock = options.clock;
  env.limits.max_output_bytes = options.max_output_bytes;
  env.limits.max_steps = options.max_steps;
  env.limits.max_call_depth = options.max_call_depth;
  jinja::Renderer renderer(env);
  return renderer.Render(*program_, std::move(variables));
}

namespace {

constexpr std::string_view kChatMl =
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

constexpr std::string_view kLlama3 =
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
    "message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}";

constexpr std::string_view kLlama2 =
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{%- set system_message = '<<SYS>>\\n' + messages[0]['content'] | trim + '\\n<</SYS>>\\n\\n' %}"
    "{%- set loop_messages = messages[1:] %}"
    "{%- else %}"
    "{%- set system_message = '' %}"
    "{%- set loop_messages = messages %}"
    "{%- endif %}"
    "{%- for message in loop_messages %}"
    "{%- if message['role'] == 'user' %}"
    "{{- bos_token + '[INST] ' + (system_message if loop.first else '') + "
    "message['content'] | trim + ' [/INST]' }}"
    "{%- elif message['role'] == 'assistant' %}"
    "{{- ' ' + message['content'] | trim + ' ' + eos_token }}"
    "{%- endif %}"
    "{%- endfor %}";

constexpr std::string_view kDeepSeekR1 =
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}{{- message['content'] }}"
    "{%- elif message['role'] == 'user' %}{{- '<｜User｜>' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1] %}{%- endif %}"
    "{{- '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<｜Assistant｜><think>\\n' }}{%- endif %}";

}  // namespace

std::string_view FallbackTemplateFor(std::string_view architecture,
                                     std::string_view tokenizer_pre) {
  if (tokenizer_pre == "llama-bpe") return kLlama3;
  if (tokenizer_pre == "deepseek-r1-qwen" || tokenizer_pre == "deepseek-llm" ||
      tokenizer_pre == "deepseek-v3") {
    return kDeepSeekR1;
  }
  if (architecture == "llama") return kLlama2;
  return kChatMl;
}

}  // namespace hearth::tokenizer
