// `hearth template render (MODEL.gguf | --template FILE.jinja) --context FILE.json`: renders a
// chat template to stdout, exactly as the server will format prompts. For a GGUF without a
// `tokenizer.chat_template`, the documented fallback for its model family is used (and said so
// on stderr).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/base/file_util.h"
#include "hearth/cli/commands.h"
#include "hearth/gguf/gguf_file.h"
#include "hearth/tokenizer/chat_template.h"

namespace hearth::cli {
namespace {

struct TemplateRenderArgs {
  std::string model;
  std::string template_file;
  std::string context_file;
};

// The template source from --template or from the GGUF's metadata.
Result<std::string> LoadTemplateSource(const TemplateRenderArgs& args) {
  if (!args.template_file.empty()) {
    auto text = ReadFileToString(args.template_file);
    if (!text.ok()) return text.status().WithContext("template " + args.template_file);
    return text;
  }
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::Open(args.model));
  auto chat_template = file.GetString("tokenizer.chat_template");
  if (chat_template.ok()) return std::string(*chat_template);
  if (chat_template.status().code() != StatusCode::kNotFound) return chat_template.status();
  auto pre = file.GetString("tokenizer.ggml.pre");
  std::string_view tokenizer_pre = pre.ok() ? *pre : std::string_view();
  std::fprintf(stderr,
               "hearth: %s has no tokenizer.chat_template; using the fallback template for "
               "architecture '%.*s'\n",
               args.model.c_str(), static_cast<int>(file.architecture().size()),
               file.architecture().data());
  return std::string(tokenizer::FallbackTemplateFor(file.architecture(), tokenizer_pre));
}

Result<std::string> RenderTemplate(const TemplateRenderArgs& args) {
  if (args.model.empty() == args.template_file.empty()) {
    return Status::InvalidArgument("give either MODEL.gguf or --template FILE.jinja");
  }
  HEARTH_ASSIGN_OR_RETURN(std::string source, LoadTemplateSource(args));
  auto context_text = ReadFileToString(args.context_file);
  if (!context_text.ok()) return context_text.status().WithContext("context " + args.context_file);
  nlohmann::ordered_json context =
      nlohmann::ordered_json::parse(*context_text, nullptr, /*allow_exceptions=*/false);
  if (context.is_discarded()) {
    return Status::InvalidArgument("context " + args.context_file + ": not valid JSON");
  }
  auto tmpl = tokenizer::ChatTemplate::Parse(source);
  if (!tmpl.ok()) return tmpl.status().WithContext("chat template");
  auto text = tmpl->Render(context);
  if (!text.ok()) return text.status().WithContext("chat template");
  return text;
}

}  // namespace

void RegisterTemplate(CLI::App& app, GlobalOptions& /*globals*/, Action* action) {
  auto* tmpl = app.add_subcommand("template", "Chat templates (Jinja2, as transformers renders)");
  tmpl->require_subcommand(1);
  auto* render = tmpl->add_subcommand(
      "render", "Render a chat template with a JSON context (messages, tools, ...) to stdout");
  auto args = std::make_shared<TemplateRenderArgs>();
  render->add_option("model", args->model, "GGUF model whose tokenizer.chat_template to use");
  render->add_option("--template", args->template_file, "Jinja template file instead of a model");
  render
      ->add_option("--context", args->context_file,
                   "JSON object: messages, add_generation_prompt, tools, bos_token, ...")
      ->required();
  render->callback([args, action] {
    *action = [args] {
      auto text = RenderTemplate(*args);
      if (!text.ok()) {
        std::fprintf(stderr, "hearth: %s\n", text.status().message().c_str());
        return 1;
      }
      std::fwrite(text->data(), 1, text->size(), stdout);
      return 0;
    };
  });
}

}  // namespace hearth::cli
