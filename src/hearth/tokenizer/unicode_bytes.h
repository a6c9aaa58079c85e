// The GPT-2 byte-level alphabet: every byte value gets a printable Unicode character so that
// byte-level BPE vocabularies can be stored as text. Printable Latin-1 bytes map to themselves,
// the other 68 bytes to U+0100.. in byte order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::tokenizer {

// UTF-8 text of the character standing for byte `b`.
const std::string& ByteToMappedText(uint8_t b);
// The code point standing for byte `b`.
char32_t ByteToMappedCodePoint(uint8_t b);
// The byte a mapped code point stands for, or -1 when `cp` is not in the alphabet.
int MappedCodePointToByte(char32_t cp);

// Maps every byte of `raw` to its character (appends to `out`).
void AppendByteMapped(std::string_view raw, std::string& out);

}  // namespace hearth::tokenizer
