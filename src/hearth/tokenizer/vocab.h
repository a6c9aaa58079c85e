// Vocab: the token table of a model (texts, scores, types, special ids, options) as carried by
// the GGUF `tokenizer.ggml.*` keys, with the lookups every tokenizer algorithm needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hearth/base/status.h"

namespace hearth::gguf {
class GgufFile;
}

namespace hearth::tokenizer {

// tokenizer.ggml.model: "llama" (SentencePiece-style BPE over scores), "gpt2" (byte-level BPE
// with merges), "bert" (WordPiece).
enum class VocabModel { kSpm, kBpe, kWpm };

// tokenizer.ggml.token_type values (llama.cpp / SentencePiece numbering).
enum class TokenType : uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

inline constexpr int32_t kNoToken = -1;

// Plain data read from a GGUF (or written by a test). Absent optional fields take the model
// family's defaults in Vocab::Create.
struct VocabSpec {
  std::string model;  // "llama", "gpt2", "bert"
  std::string pre = "default";
  std::vector<std::string> tokens;
  std::vector<float> scores;          // empty, or one per token
  std::vector<int32_t> token_types;   // empty (all normal), or one per token
  std::vector<std::string> merges;    // "left right", best first (gpt2 only)
  std::optional<int32_t> bos_id, eos_id, unknown_id, padding_id, separator_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
};

class Vocab {
 public:
  // Validates the spec (sizes agree, ids in range, model known) and builds the lookups.
  static Result<Vocab> Create(VocabSpec spec);

  Vocab(Vocab&&) noexcept = default;
  Vocab& operator=(Vocab&&) noexcept = default;
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  VocabModel model() const { return model_; }
  const std::string& pre() const { return pre_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool Contains(int32_t id) const { return id >= 0 && id < size(); }

  std::string_view text(int32_t id) const { return tokens_[id]; }
  float score(int32_t id) const { return scores_.empty() ? 0.0f : scores_[id]; }
  TokenType type(int32_t id) const { return types_[id]; }
  // kNoToken when no token has exactly this text.
  int32_t Find(std::string_view text) const;
  // Find, restricted to tokens that merging may produce from plain text: normal and
  // user-defined ones. Control, byte and unused tokens only come from their own paths, so
  // typing "<s>" or "<0x41>" never yields those tokens.
  int32_t FindMergeable(std::string_view text) const {
    const int32_t id = Find(text);
    return id != kNoToken && IsMergeable(id) ? id : kNoToken;
  }
  bool IsMergeable(int32_t id) const {
    return types_[id] == TokenType::kNormal || types_[id] == TokenType::kUserDefined;
  }

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t unknown_id() const { return unknown_id_; }
  int32_t padding_id() const { return padding_id_; }
  int32_t separator_id() const { return separator_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  // The token that stands for raw byte `b`: SPM "<0xNN>" byte tokens, or for byte-level BPE the
  // token whose text is the byte's mapped character. kNoToken when the vocabulary lacks it.
  int32_t ByteToken(uint8_t b) const { return byte_tokens_[b]; }
  // For an SPM byte token, the byte it stands for; -1 otherwise.
  int ByteOfToken(int32_t id) const;

  // Control, user-defined and unknown tokens, longest text first: what the special-token
  // partition looks for in input text.
  const std::vector<int32_t>& special_tokens() const { return special_tokens_; }
  size_t max_token_bytes() const { return max_token_bytes_; }
  const std::vector<std::string>& merges() const { return merges_; }

 private:
  Vocab() = default;

  VocabModel model_ = VocabModel::kSpm;
  std::string pre_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<std::string> merges_;
  std::unordered_map<std::string_view, int32_t> ids_by_text_;
  int32_t bos_id_ = kNoToken, eos_id_ = kNoToken, unknown_id_ = kNoToken;
  int32_t padding_id_ = kNoToken, separator_id_ = kNoToken;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  std::vector<int32_t> byte_tokens_;
  std::vector<int32_t> special_tokens_;
  size_t max_token_bytes_ = 0;
};

// Reads the tokenizer.ggml.* keys of a GGUF file into a VocabSpec (copies: the result does not
// depend on the file staying open).
Result<VocabSpec> VocabSpecFromGguf(const gguf::GgufFile& file);

}  // namespace hearth::tokenizer
