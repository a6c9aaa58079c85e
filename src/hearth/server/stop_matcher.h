// StopMatcher: finds stop strings in streamed text, across token boundaries.
//
// Text that could be the beginning of a stop string is held back until it is resolved: either
// the stop string completes (generation ends and neither it nor anything after it is returned)
// or the text diverges (it is released). So a streaming client never sees part of a stop string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Output {
    std::string text;      // safe to send now
    bool stopped = false;  // a stop string matched; `text` is everything before it
  };
  // Feeds more generated text (valid UTF-8). After a stop, further input is ignored.
  Output Push(std::string_view text);
  // End of generation without a stop: releases the held text.
  std::string Flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace hearth::server
