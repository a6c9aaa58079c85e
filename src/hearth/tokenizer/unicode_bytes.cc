#include "hearth/tokenizer/unicode_bytes.h"

#include <array>

#include "hearth/tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

struct ByteAlphabet {
  std::array<char32_t, 256> code_points{};
  std::array<std::string, 256> texts;
  std::array<int16_t, 512> bytes_by_code_point{};  // every mapped code point is < 0x144

  ByteAlphabet() {
    bytes_by_code_point.fill(-1);
    const auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next_extra = 0x100;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : next_extra++;
      code_points[b] = cp;
      AppendUtf8(cp, texts[b]);
      bytes_by_code_point[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

}  // namespace

const std::string& ByteToMappedText(uint8_t b) { return Alphabet().texts[b]; }
char32_t ByteToMappedCodePoint(uint8_t b) { return Alphabet().code_points[b]; }

int MappedCodePointToByte(char32_t cp) {
  return cp < 512 ? Alphabet().bytes_by_code_point[cp] : -1;
}

void AppendByteMapped(std::string_view raw, std::string& out) {
  const auto& alphabet = Alphabet();
  for (char c : raw) out += alphabet.texts[static_cast<uint8_t>(c)];
}

}  // namespace hearth::tokenizer
