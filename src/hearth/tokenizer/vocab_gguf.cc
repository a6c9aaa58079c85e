// VocabSpecFromGguf: the tokenizer.ggml.* keys of a GGUF file.
#include <fmt/format.h>

#include "hearth/gguf/gguf_file.h"
#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

constexpr std::string_view kPrefix = "tokenizer.ggml.";

std::string Key(std::string_view suffix) { return fmt::format("{}{}", kPrefix, suffix); }

// Optional id key: absent is fine, any other failure (wrong type) is reported.
Status ReadOptionalId(const gguf::GgufFile& file, std::string_view suffix,
                      std::optional<int32_t>* out) {
  const std::string key = Key(suffix);
  if (file.Find(key) == nullptr) return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(int64_t value, file.GetInt(key));
  // Converters write -1 (or its uint32 form 0xFFFFFFFF) for "no such token".
  if (value == -1 || value == 0xFFFFFFFFll) return Status::Ok();
  if (value < INT32_MIN || value > INT32_MAX) {
    return Status::InvalidArgument(fmt::format("tokenizer: {} = {} is out of range", key, value));
  }
  *out = static_cast<int32_t>(value);
  return Status::Ok();
}

Status ReadOptionalBool(const gguf::GgufFile& file, std::string_view suffix,
                        std::optional<bool>* out) {
  const std::string key = Key(suffix);
  if (file.Find(key) == nullptr) return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(bool value, file.GetBool(key));
  *out = value;
  return Status::Ok();
}

}  // namespace

Result<VocabSpec> VocabSpecFromGguf(const gguf::GgufFile& file) {
  VocabSpec spec;
  auto model = file.GetString(Key("model"));
  if (!model.ok()) {
    return model.status().WithContext(
        fmt::format("{}: no tokenizer in this file", file.path().string()));
  }
  spec.model = std::string(*model);
  if (file.Find(Key("pre")) != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(std::string_view pre, file.GetString(Key("pre")));
    spec.pre = std::string(pre);
  }

  HEARTH_ASSIGN_OR_RETURN(auto tokens, file.GetStringArray(Key("tokens")));
  spec.tokens.assign(tokens.begin(), tokens.end());
  if (file.Find(Key("scores")) != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(spec.scores, file.GetFloatArray(Key("scores")));
  }
  if (file.Find(Key("token_type")) != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(auto types, file.GetIntArray(Key("token_type")));
    spec.token_types.reserve(types.size());
    for (int64_t t : types) {
      spec.token_types.push_back(t < INT32_MIN || t > INT32_MAX ? -1 : static_cast<int32_t>(t));
    }
  }
  if (file.Find(Key("merges")) != nullptr) {
    HEARTH_ASSIGN_OR_RETURN(auto merges, file.GetStringArray(Key("merges")));
    spec.merges.assign(merges.begin(), merges.end());
  }

  HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "bos_token_id", &spec.bos_id));
  HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "eos_token_id", &spec.eos_id));
  HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "unknown_token_id", &spec.unknown_id));
  HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "padding_token_id", &spec.padding_id));
  // The GGUF spec spells it "seperator"; accept the correct spelling too.
  HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "seperator_token_id", &spec.separator_id));
  if (!spec.separator_id) {
    HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "separator_token_id", &spec.separator_id));
  }
  // BERT files name the [CLS] token separately; it is what add_bos prepends.
  if (spec.model == "bert" && !spec.bos_id) {
    HEARTH_RETURN_IF_ERROR(ReadOptionalId(file, "cls_token_id", &spec.bos_id));
  }
  HEARTH_RETURN_IF_ERROR(ReadOptionalBool(file, "add_bos_token", &spec.add_bos));
  HEARTH_RETURN_IF_ERROR(ReadOptionalBool(file, "add_eos_token", &spec.add_eos));
  HEARTH_RETURN_IF_ERROR(ReadOptionalBool(file, "add_space_prefix", &spec.add_space_prefix));
  return spec;
}

}  // namespace hearth::tokenizer
