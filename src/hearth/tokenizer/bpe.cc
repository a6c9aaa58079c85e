#include "hearth/tokenizer/bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <queue>

#include "hearth/tokenizer/unicode_bytes.h"

namespace hearth::tokenizer {
namespace {

// Below this many bytes a word is merged by rescanning an array of pair ranks, which beats a
// heap on the short words that dominate real text.
constexpr size_t kScanLimit = 48;

}  // namespace

Result<BpeModel> BpeModel::Create(const Vocab& vocab, bool ignore_merges) {
  BpeModel model(vocab);
  model.ignore_merges_ = ignore_merges;
  const auto& merges = vocab.merges();
  // Table size: a power of two at least twice the number of merges.
  size_t slots = 16;
  int bits = 4;
  while (slots < merges.size() * 2) slots *= 2, ++bits;
  model.merge_slots_.assign(slots, MergeSlot{kEmptySlot, Merge{0, 0}});
  model.merge_shift_ = 64 - bits;
  std::string merged;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& line = merges[rank];
    // "left right"; the separator is the first space after the first character, since a
    // byte-level symbol never contains a raw space but could in principle start with one.
    const size_t space = line.size() > 1 ? line.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) {
      return Status::InvalidArgument(fmt::format(
          "tokenizer: merge {} ('{}') is not of the form 'left right'", rank, line));
    }
    const std::string_view left(line.data(), space);
    const std::string_view right(line.data() + space + 1, line.size() - space - 1);
    merged.assign(left);
    merged.append(right);
    const int32_t left_id = model.Intern(left);
    const int32_t right_id = model.Intern(right);
    const int32_t result_id = model.Intern(merged);
    model.InsertMerge(PairKey(left_id, right_id), Merge{static_cast<int32_t>(rank), result_id});
  }
  for (int b = 0; b < 256; ++b) {
    model.byte_symbols_[b] = model.SymbolOf(ByteToMappedText(static_cast<uint8_t>(b)));
  }
  return model;
}

void BpeModel::InsertMerge(uint64_t key, Merge merge) {
  const size_t mask = merge_slots_.size() - 1;
  for (size_t i = SlotIndex(key);; i = (i + 1) & mask) {
    if (merge_slots_[i].key == key) return;  // a repeated pair keeps its first (best) rank
    if (merge_slots_[i].key == kEmptySlot) {
      merge_slots_[i] = MergeSlot{key, merge};
      return;
    }
  }
}

int32_t BpeModel::Intern(std::string_view text) {
  const int32_t id = SymbolOf(text);
  if (id != kNoToken) return id;
  const int32_t new_id = vocab_->size() + static_cast<int32_t>(extra_symbols_.size());
  extra_symbols_.emplace_back(text);
  extra_ids_.emplace(std::string(text), new_id);
  return new_id;
}

int32_t BpeModel::SymbolOf(std::string_view text) const {
  const int32_t id = vocab_->Find(text);
  if (id != kNoToken) return id;
  auto it = extra_ids_.find(text);
  return it == extra_ids_.end() ? kNoToken : it->second;
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  if (left == kNoToken || right == kNoToken) return nullptr;
  const uint64_t key = PairKey(left, right);
  const size_t mask = merge_slots_.size() - 1;
  for (size_t i = SlotIndex(key);; i = (i + 1) & mask) {
    const MergeSlot& slot = merge_slots_[i];
    if (slot.key == key) return &slot.merge;
    if (slot.key == kEmptySlot) return nullptr;
  }
}

int32_t BpeModel::MergeRank(std::string_view left, std::string_view right) const {
  const Merge* merge = FindMerge(SymbolOf(left), SymbolOf(right));
  return merge == nullptr ? -1 : merge->rank;
}

bool BpeModel::EmitWholeWord(std::string_view word, std::vector<int32_t>& out) const {
  if (!ignore_merges_) return false;
  std::string mapped;
  AppendByteMapped(word, mapped);
  const int32_t id = vocab_->FindMergeable(mapped);
  if (id == kNoToken) return false;
  out.push_back(id);
  return true;
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<Symbol>& symbols) const {
  symbols.clear();
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    symbols.push_back(
        Symbol{byte_symbols_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), 1});
  }
}

void BpeModel::EmitSymbols(std::string_view word, const std::vector<Symbol>& symbols,
                           std::vector<int32_t>& out) const {
  for (const Symbol& symbol : symbols) {
    if (symbol.length == 0) continue;
    if (symbol.id != kNoToken && symbol.id < vocab_->size() && vocab_->IsMergeable(symbol.id)) {
      out.push_back(symbol.id);
      continue;
    }
    // Not a token (an unknown character, or a merge result the vocabulary lacks): fall back
    // to one token per byte. A vocabulary without the byte's character loses that byte, as
    // the reference engine does; every real byte-level vocabulary has all 256.
    for (uint32_t i = 0; i < symbol.length; ++i) {
      const int32_t id = vocab_->ByteToken(static_cast<uint8_t>(word[symbol.start + i]));
      if (id != kNoToken) out.push_back(id);
    }
  }
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() <= kScanLimit) {
    EncodeWordByScan(word, out);
  } else {
    EncodeWordByQueue(word, out);
  }
}

void BpeModel::EncodeWordByScan(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty() || EmitWholeWord(word, out)) return;
  std::vector<Symbol> symbols;
  InitialSymbols(word, symbols);
  // ranks[i]: rank of merging symbols[i] and symbols[i + 1] (INT_MAX: no merge).
  std::vector<const Merge*> merges(symbols.size(), nullptr);
  const auto rank_of = [&](size_t i) { return merges[i] ? merges[i]->rank : INT_MAX; };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    merges[i] = FindMerge(symbols[i].id, symbols[i + 1].id);
  }
  while (symbols.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < symbols.size(); ++i) {
      if (rank_of(i) < rank_of(best)) best = i;
    }
    if (merges[best] == nullptr) break;
    symbols[best].id = merges[best]->result;
    symbols[best].length += symbols[best + 1].length;
    symbols.erase(symbols.begin() + static_cast<ptrdiff_t>(best) + 1);
    merges.erase(merges.begin() + static_cast<ptrdiff_t>(best) + 1);
    merges[best] =
        best + 1 < symbols.size() ? FindMerge(symbols[best].id, symbols[best + 1].id) : nullptr;
    if (best > 0) merges[best - 1] = FindMerge(symbols[best - 1].id, symbols[best].id);
  }
  EmitSymbols(word, symbols, out);
}

void BpeModel::EncodeWordByQueue(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty() || EmitWholeWord(word, out)) return;
  std::vector<Symbol> symbols;
  InitialSymbols(word, symbols);
  const int n = static_cast<int>(symbols.size());
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int left;
    int right;
    int32_t left_id;
    int32_t right_id;
  };
  // Lowest rank first; leftmost first among equal ranks.
  const auto worse = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> queue(worse);
  const auto push = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Merge* merge = FindMerge(symbols[left].id, symbols[right].id);
    if (merge != nullptr) {
      queue.push(Candidate{merge->rank, left, right, symbols[left].id, symbols[right].id});
    }
  };
  for (int i = 0; i + 1 < n; ++i) push(i, i + 1);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    // Stale: one side was merged away or into something else since this pair was queued.
    if (left.length == 0 || right.length == 0 || next[c.left] != c.right ||
        left.id != c.left_id || right.id != c.right_id) {
      continue;
    }
    left.id = FindMerge(c.left_id, c.right_id)->result;
    left.length += right.length;
    right.length = 0;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    push(prev[c.left], c.left);
    push(c.left, next[c.left]);
  }
  EmitSymbols(word, symbols, out);
}

}  // namespace hearth::tokenizer
