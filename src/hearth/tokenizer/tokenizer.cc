#include "hearth/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <array>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "hearth/gguf/gguf_file.h"
#include "hearth/tokenizer/bpe.h"
#include "hearth/tokenizer/detokenizer.h"
#include "hearth/tokenizer/pretokenize.h"
#include "hearth/tokenizer/spm.h"
#include "hearth/tokenizer/tokenizer_special.h"
#include "hearth/tokenizer/wpm.h"

namespace hearth::tokenizer {
namespace {

// Pre-tokenizer names whose reference tokenizer takes a word that is itself a token whole,
// without running the merges (HF ignore_merges).
bool IgnoresMerges(std::string_view pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
}

// Word -> ids memo for byte-level BPE. Real text repeats words constantly, and merging is the
// expensive part of encoding. Sharded so that concurrent encoders rarely share a lock; a
// shard that fills up is simply cleared.
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 64;

  bool Lookup(std::string_view word, size_t hash, std::vector<int32_t>& out) const {
    const Shard& shard = shards_[hash % kShards];
    std::lock_guard lock(shard.mutex);
    auto it = shard.map.find(word);
    if (it == shard.map.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void Insert(std::string_view word, size_t hash, std::span<const int32_t> ids) {
    Shard& shard = shards_[hash % kShards];
    std::lock_guard lock(shard.mutex);
    if (shard.map.size() >= kMaxEntriesPerShard) shard.map.clear();
    shard.map.try_emplace(std::string(word), ids.begin(), ids.end());
  }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxEntriesPerShard = 16384;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> map;
  };
  std::array<Shard, kShards> shards_;
};

}  // namespace

struct Tokenizer::Impl {
  Vocab vocab;
  std::optional<PreTokenizer> pre_tokenizer;
  std::optional<BpeModel> bpe;
  std::optional<SpmModel> spm;
  std::optional<WpmModel> wpm;
  mutable WordCache cache;

  explicit Impl(Vocab v) : vocab(std::move(v)) {}

  void EncodeBpeText(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<std::string_view> words;
    pre_tokenizer->Split(text, words);
    for (std::string_view word : words) {
      if (word.size() > WordCache::kMaxWordBytes) {
        bpe->EncodeWord(word, out);
        continue;
      }
      const size_t hash = std::hash<std::string_view>()(word);
      if (cache.Lookup(word, hash, out)) continue;
      const size_t start = out.size();
      bpe->EncodeWord(word, out);
      cache.Insert(word, hash, std::span<const int32_t>(out).subspan(start));
    }
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

const Vocab& Tokenizer::vocab() const { return impl_->vocab; }

Result<Tokenizer> Tokenizer::FromSpec(VocabSpec spec) {
  HEARTH_ASSIGN_OR_RETURN(Vocab vocab, Vocab::Create(std::move(spec)));
  auto impl = std::make_unique<Impl>(std::move(vocab));
  const Vocab& v = impl->vocab;
  switch (v.model()) {
    case VocabModel::kBpe: {
      auto pre = PreTokenizer::ForName(v.pre());
      if (!pre.ok()) return pre.status();
      impl->pre_tokenizer.emplace(std::move(*pre));
      HEARTH_ASSIGN_OR_RETURN(BpeModel bpe, BpeModel::Create(v, IgnoresMerges(v.pre())));
      impl->bpe.emplace(std::move(bpe));
      break;
    }
    case VocabModel::kSpm:
      impl->spm.emplace(v);
      break;
    case VocabModel::kWpm:
      impl->wpm.emplace(v);
      break;
  }
  return Tokenizer(std::move(impl));
}

Result<Tokenizer> Tokenizer::FromGguf(const gguf::GgufFile& file) {
  HEARTH_ASSIGN_OR_RETURN(VocabSpec spec, VocabSpecFromGguf(file));
  return FromSpec(std::move(spec));
}

Result<Tokenizer> Tokenizer::Open(const std::filesystem::path& path) {
  HEARTH_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::GgufFile::Open(path));
  auto tokenizer = FromGguf(file);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path.string());
  return tokenizer;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Vocab& vocab = impl_->vocab;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && vocab.add_bos()) out.push_back(vocab.bos_id());
  const auto fragments = PartitionSpecialTokens(vocab, text, parse_special);
  // SentencePiece puts a space before the text and after every special token.
  bool after_special = true;
  for (const TextFragment& fragment : fragments) {
    if (fragment.token != kNoToken) {
      out.push_back(fragment.token);
      after_special = true;
      continue;
    }
    switch (vocab.model()) {
      case VocabModel::kSpm: {
        std::string raw;
        if (vocab.add_space_prefix() && after_special) raw.push_back(' ');
        raw.append(fragment.text);
        impl_->spm->Encode(EscapeSpmWhitespace(raw), out);
        break;
      }
      case VocabModel::kBpe:
        impl_->EncodeBpeText(fragment.text, out);
        break;
      case VocabModel::kWpm:
        impl_->wpm->Encode(fragment.text, out);
        break;
    }
    after_special = false;
  }
  if (add_special && vocab.add_eos()) out.push_back(vocab.eos_id());
  return out;
}

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  PieceAssembler assembler(impl_->vocab, render_special);
  for (const int32_t id : ids) HEARTH_RETURN_IF_ERROR(assembler.Append(id, out));
  return out;
}

std::string Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  std::string out;
  if (impl_->vocab.Contains(id)) AppendTokenPiece(impl_->vocab, id, render_special, out);
  return out;
}

}  // namespace hearth::tokenizer
