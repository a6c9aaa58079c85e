// `hearth tokenize MODEL (TEXT | --file F) [--special] [--json]`: shows how a model's
// tokenizer splits text. Default: no BOS/EOS and special-token texts are plain text, so the
// output is exactly what the text alone contributes; --special turns both on.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "hearth/base/file_util.h"
#include "hearth/cli/commands.h"
#include "hearth/tokenizer/tokenizer.h"
#include "hearth/tokenizer/unicode.h"

namespace hearth::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string file;
  bool special = false;
  bool json = false;
};

int Fail(const Status& status) {
  std::fprintf(stderr, "hearth: %s\n", status.message().c_str());
  return 1;
}

int RunTokenize(const TokenizeOptions& options, bool text_given) {
  if (text_given == !options.file.empty()) {
    return Fail(Status::InvalidArgument("tokenize: give either TEXT or --file F (exactly one)"));
  }
  std::string text = options.text;
  if (!options.file.empty()) {
    auto contents = ReadFileToString(options.file);
    if (!contents.ok()) return Fail(contents.status());
    text = std::move(*contents);
  }
  auto tokenizer = tokenizer::Tokenizer::Open(options.model);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  const std::vector<int32_t> ids = tokenizer->Encode(text, options.special, options.special);
  if (options.json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) {
      // A piece may be part of a UTF-8 sequence (byte tokens); JSON needs valid UTF-8.
      pieces.push_back(tokenizer::ReplaceInvalidUtf8(tokenizer->TokenToPiece(id, true)));
    }
    nlohmann::json out = {{"ids", ids}, {"pieces", pieces}};
    std::cout << out.dump() << "\n";
  } else {
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) line += ' ';
      line += std::to_string(ids[i]);
    }
    std::cout << line << "\n";
  }
  return 0;
}

}  // namespace

void RegisterTokenize(CLI::App& app, GlobalOptions& /*globals*/, Action* action) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text for a model");
  cmd->add_option("model", options->model, "GGUF model or vocabulary file")->required();
  auto* text_option = cmd->add_option("text", options->text, "text to tokenize");
  cmd->add_option("--file", options->file, "read the text from this file");
  cmd->add_flag("--special", options->special,
                "add BOS/EOS and parse special-token texts such as <|im_start|>");
  cmd->add_flag("--json", options->json, "print {\"ids\": [...], \"pieces\": [...]}");
  cmd->callback([options, text_option, action] {
    const bool text_given = text_option->count() > 0;
    *action = [options, text_given] { return RunTokenize(*options, text_given); };
  });
}

}  // namespace hearth::cli
