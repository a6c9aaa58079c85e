// A stand-in model for scheduler tests whose output depends on the exact token history it reads
// back through the block tables, so any scheduling bug that corrupts, shares or frees KV blocks
// wrongly changes the generated tokens.
//
// "KV" here is the token id and position stored in each slot. Forward() first writes every
// batch token into its slot (like a real model writes K/V), then, for each token that wants
// logits, reads positions [0, position] of its sequence back through the block table — failing
// loudly on a slot that was never written or holds another position — and returns logits that
// are a pseudo-random function of that history. ReferenceLogits() computes the same function
// from a plain token list, which is what the tests compare against.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hearth/engine/scheduler.h"

namespace hearth::engine::testing {

class FakeBackend : public ForwardBackend {
 public:
  FakeBackend(int64_t num_blocks, int block_tokens, int vocab_size)
      : block_tokens_(block_tokens),
        vocab_size_(vocab_size),
        slots_(static_cast<size_t>(num_blocks * block_tokens)) {}

  int vocab_size() const override { return vocab_size_; }

  Status Forward(std::span<const model::BatchToken> batch, std::span<float> logits) override {
    ++forward_calls;
    if (fail_next) {
      fail_next = false;
      return Status::Internal("fake forward failure");
    }
    max_batch_seen = std::max<int64_t>(max_batch_seen, static_cast<int64_t>(batch.size()));
    batch_sizes.push_back(static_cast<int64_t>(batch.size()));
    for (const model::BatchToken& t : batch) {
      Slot& s = SlotAt(t.block_table, t.position);
      s = {t.token, t.position, true};
      ++tokens_processed;
    }
    size_t row = 0;
    for (const model::BatchToken& t : batch) {
      if (!t.want_logits) continue;
      std::vector<int32_t> history;
      for (int p = 0; p <= t.position; ++p) {
        const Slot& s = SlotAt(t.block_table, p);
        if (!s.written || s.position != p) {
          return Status::Internal("fake: read a slot that does not hold this position");
        }
        history.push_back(s.token);
      }
      std::vector<float> l = ReferenceLogits(history, vocab_size_);
      std::copy(l.begin(), l.end(), logits.begin() + static_cast<long>(row * vocab_size_));
      ++row;
    }
    return Status::Ok();
  }

  // The logits after `history`: a hash of the whole history, expanded per vocabulary entry.
  static std::vector<float> ReferenceLogits(std::span<const int32_t> history, int vocab_size) {
    uint64_t h = 1469598103934665603ULL;
    for (int32_t t : history) h = (h ^ static_cast<uint32_t>(t)) * 1099511628211ULL;
    std::vector<float> out(static_cast<size_t>(vocab_size));
    for (int v = 0; v < vocab_size; ++v) {
      uint64_t x = h + static_cast<uint64_t>(v) * 0x9e3779b97f4a7c15ULL;
      x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ULL;
      x ^= x >> 29;
      out[static_cast<size_t>(v)] = static_cast<float>(x % 10000) / 1000.0f;  // [0, 10)
    }
    return out;
  }

  int64_t tokens_processed = 0;
  int64_t forward_calls = 0;
  int64_t max_batch_seen = 0;
  std::vector<int64_t> batch_sizes;  // of every successful Forward, in order
  bool fail_next = false;

 private:
  struct Slot {
    int32_t token = -1;
    int32_t position = -1;
    bool written = false;
  };
  Slot& SlotAt(std::span<const int32_t> table, int position) {
    const int32_t block = table[static_cast<size_t>(position / block_tokens_)];
    return slots_[static_cast<size_t>(block * block_tokens_ + position % block_tokens_)];
  }

  int block_tokens_;
  int vocab_size_;
  std::vector<Slot> slots_;
};

}  // namespace hearth::engine::testing
