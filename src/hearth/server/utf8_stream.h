// StreamingDetokenizer: turns the bytes of token pieces, arriving one token at a time, into
// text that is always valid UTF-8.
//
// A token may end in the middle of a multi-byte character (byte-fallback tokens such as <0xE2>
// or BPE pieces that split a character); those bytes are held until the character completes.
// Bytes that can never form a valid character are replaced by U+FFFD, so a client never sees a
// broken sequence, whatever the model emits.
#pragma once

#include <string>
#include <string_view>

namespace hearth::server {

class StreamingDetokenizer {
 public:
  // Appends a token's bytes; returns the text that is now complete.
  std::string Push(std::string_view bytes);
  // Ends the stream: an unfinished character at the end becomes U+FFFD.
  std::string Flush();
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string pending_;
};

// Length of the valid UTF-8 character at the start of `bytes`: > 0 when complete, 0 when the
// bytes are a valid but unfinished prefix, -1 when they can never be valid (the first byte must
// then be replaced).
int Utf8CharLength(std::string_view bytes);

}  // namespace hearth::server
