// Byte-level BPE (GPT-2 family): merges of adjacent symbols by rank, lowest rank first and
// leftmost on ties, over the bytes of one pre-tokenized word (each byte is one initial
// symbol: the vocabulary stores it as its byte-mapped character, see unicode_bytes.h).
//
// Every string that takes part in a merge is interned as a symbol id: vocabulary tokens keep
// their token id, strings the vocabulary lacks (a merge whose result is not a token) get ids
// past the end of the vocabulary. A merge is then a hash lookup on a pair of ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hearth/base/status.h"
#include "hearth/tokenizer/vocab.h"

namespace hearth::tokenizer {

class BpeModel {
 public:
  // `ignore_merges`: a word that is itself a token is emitted whole (Llama 3).
  static Result<BpeModel> Create(const Vocab& vocab, bool ignore_merges);

  // Appends the tokens of one word (raw bytes, any value).
  void EncodeWord(std::string_view word, std::vector<int32_t>& out) const;

  // The two merge strategies, exposed so tests can check both against a reference: a linear
  // scan for short words and a priority queue for long ones. Same results.
  void EncodeWordByScan(std::string_view word, std::vector<int32_t>& out) const;
  void EncodeWordByQueue(std::string_view word, std::vector<int32_t>& out) const;

  // Rank of merging `left` and `right`, or -1.
  int32_t MergeRank(std::string_view left, std::string_view right) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // symbol id of left+right
  };
  struct Symbol {
    int32_t id;      // symbol id, or kNoToken for a byte whose character no merge knows
    uint32_t start;  // byte range in the word
    uint32_t length;
  };

  explicit BpeModel(const Vocab& vocab) : vocab_(&vocab) {}
  int32_t Intern(std::string_view text);
  int32_t SymbolOf(std::string_view text) const;
  const Merge* FindMerge(int32_t left, int32_t right) const;
  bool EmitWholeWord(std::string_view word, std::vector<int32_t>& out) const;
  void InitialSymbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void EmitSymbols(std::string_view word, const std::vector<Symbol>& symbols,
                   std::vector<int32_t>& out) const;
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  // Open-addressing hash table keyed by PairKey: merge lookups are the innermost loop of
  // encoding, and a flat table with linear probing keeps them to one or two cache lines.
  struct MergeSlot {
    uint64_t key;
    Merge merge;
  };
  static constexpr uint64_t kEmptySlot = ~uint64_t{0};  // ids are never negative
  void InsertMerge(uint64_t key, Merge merge);
  size_t SlotIndex(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> merge_shift_);
  }

  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  const Vocab* vocab_;
  bool ignore_merges_ = false;
  std::vector<std::string> extra_symbols_;  // ids vocab.size() + i
  std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>> extra_ids_;
  std::vector<MergeSlot> merge_slots_;
  int merge_shift_ = 64;
  int32_t byte_symbols_[256];
};

}  // namespace hearth::tokenizer
