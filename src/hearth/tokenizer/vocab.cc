#include "hearth/tokenizer/vocab.h"

#include <fmt/format.h>

#include <algorithm>

#include "hearth/tokenizer/unicode_bytes.h"

namespace hearth::tokenizer {
namespace {

Result<VocabModel> ParseModel(std::string_view name) {
  if (name == "llama") return VocabModel::kSpm;
  if (name == "gpt2") return VocabModel::kBpe;
  if (name == "bert") return VocabModel::kWpm;
  return Status::Unimplemented(fmt::format(
      "tokenizer: model '{}' is not supported (supported: llama, gpt2, bert)", name));
}

// "<0x4A>" -> 0x4A; -1 for anything else.
int ParseByteTokenText(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (char c : text.substr(3, 2)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

Result<Vocab> Vocab::Create(VocabSpec spec) {
  HEARTH_ASSIGN_OR_RETURN(VocabModel model, ParseModel(spec.model));
  const size_t n = spec.tokens.size();
  if (n == 0) return Status::InvalidArgument("tokenizer: vocabulary has no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) {
    return Status::InvalidArgument(fmt::format("tokenizer: {} tokens is too many", n));
  }
  if (!spec.scores.empty() && spec.scores.size() != n) {
    return Status::InvalidArgument(fmt::format(
        "tokenizer: {} scores for {} tokens (tokenizer.ggml.scores)", spec.scores.size(), n));
  }
  if (!spec.token_types.empty() && spec.token_types.size() != n) {
    return Status::InvalidArgument(fmt::format("tokenizer: {} token types for {} tokens "
                                               "(tokenizer.ggml.token_type)",
                                               spec.token_types.size(), n));
  }

  Vocab vocab;
  vocab.model_ = model;
  vocab.pre_ = spec.pre.empty() ? "default" : spec.pre;
  vocab.tokens_ = std::move(spec.tokens);
  vocab.scores_ = std::move(spec.scores);
  vocab.merges_ = std::move(spec.merges);
  vocab.types_.resize(n, TokenType::kNormal);
  for (size_t i = 0; i < spec.token_types.size(); ++i) {
    const int32_t t = spec.token_types[i];
    if (t < 0 || t > static_cast<int32_t>(TokenType::kByte)) {
      return Status::InvalidArgument(
          fmt::format("tokenizer: token {} has unknown token type {}", i, t));
    }
    vocab.types_[i] = t == 0 ? TokenType::kNormal : static_cast<TokenType>(t);
  }

  vocab.ids_by_text_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // The first token with a given text wins, as in the reference engine's map insertion.
    vocab.ids_by_text_.emplace(vocab.tokens_[i], static_cast<int32_t>(i));
    vocab.max_token_bytes_ = std::max(vocab.max_token_bytes_, vocab.tokens_[i].size());
  }

  // Family defaults, then the file's explicit choices.
  switch (model) {
    case VocabModel::kSpm:
      vocab.bos_id_ = 1, vocab.eos_id_ = 2, vocab.unknown_id_ = 0;
      vocab.add_bos_ = true, vocab.add_eos_ = false, vocab.add_space_prefix_ = true;
      break;
    case VocabModel::kBpe:
      vocab.add_bos_ = false, vocab.add_eos_ = false, vocab.add_space_prefix_ = false;
      break;
    case VocabModel::kWpm:
      // BERT: [CLS] text [SEP]; bos/eos stand for CLS/SEP.
      vocab.bos_id_ = 101, vocab.eos_id_ = 102, vocab.unknown_id_ = 100;
      vocab.separator_id_ = 102, vocab.padding_id_ = 0;
      vocab.add_bos_ = true, vocab.add_eos_ = true, vocab.add_space_prefix_ = false;
      break;
  }
  if (spec.bos_id) vocab.bos_id_ = *spec.bos_id;
  if (spec.unknown_id) vocab.unknown_id_ = *spec.unknown_id;
  if (spec.padding_id) vocab.padding_id_ = *spec.padding_id;
  if (spec.separator_id) vocab.separator_id_ = *spec.separator_id;
  if (spec.eos_id) {
    vocab.eos_id_ = *spec.eos_id;
  } else if (model == VocabModel::kWpm && spec.separator_id) {
    vocab.eos_id_ = *spec.separator_id;
  }
  if (spec.add_bos) vocab.add_bos_ = *spec.add_bos;
  if (spec.add_eos) vocab.add_eos_ = *spec.add_eos;
  if (spec.add_space_prefix) vocab.add_space_prefix_ = *spec.add_space_prefix;

  // Files in the wild carry ids for tokens they do not have (another family's defaults); an id
  // that names no token is dropped rather than trusted.
  for (int32_t* id : {&vocab.bos_id_, &vocab.eos_id_, &vocab.unknown_id_, &vocab.padding_id_,
                      &vocab.separator_id_}) {
    if (*id < 0 || static_cast<size_t>(*id) >= n) *id = kNoToken;
  }
  if (vocab.add_bos_ && vocab.bos_id_ == kNoToken) vocab.add_bos_ = false;
  if (vocab.add_eos_ && vocab.eos_id_ == kNoToken) vocab.add_eos_ = false;

  vocab.byte_tokens_.assign(256, kNoToken);
  if (model == VocabModel::kSpm) {
    for (size_t i = 0; i < n; ++i) {
      if (vocab.types_[i] != TokenType::kByte) continue;
      const int b = ParseByteTokenText(vocab.tokens_[i]);
      if (b >= 0 && vocab.byte_tokens_[b] == kNoToken) {
        vocab.byte_tokens_[b] = static_cast<int32_t>(i);
      }
    }
  } else if (model == VocabModel::kBpe) {
    for (int b = 0; b < 256; ++b) {
      vocab.byte_tokens_[b] = vocab.Find(ByteToMappedText(static_cast<uint8_t>(b)));
    }
  }

  for (size_t i = 0; i < n; ++i) {
    const TokenType t = vocab.types_[i];
    if ((t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown) &&
        !vocab.tokens_[i].empty()) {
      vocab.special_tokens_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(vocab.special_tokens_.begin(), vocab.special_tokens_.end(),
                   [&](int32_t a, int32_t b) {
                     return vocab.tokens_[a].size() > vocab.tokens_[b].size();
                   });
  return vocab;
}

int32_t Vocab::Find(std::string_view text) const {
  auto it = ids_by_text_.find(text);
  return it == ids_by_text_.end() ? kNoToken : it->second;
}

int Vocab::ByteOfToken(int32_t id) const {
  if (!Contains(id) || types_[id] != TokenType::kByte) return -1;
  return ParseByteTokenText(tokens_[id]);
}

}  // namespace hearth::tokenizer
