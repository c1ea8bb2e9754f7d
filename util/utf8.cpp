#include "util/utf8.hpp"

#include <algorithm>
#include <cstdint>

namespace ef {

std::optional<size_t> first_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;  // no overlongs
      if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;  // no overlongs
      if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + need >= text.size()) return i;  // cut short
    for (size_t k = 1; k <= need; ++k) {
      auto c = static_cast<uint8_t>(text[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return i;
    }
    i += need + 1;
  }
  return std::nullopt;
}

std::optional<std::string> not_utf8(std::string_view text) {
  auto bad = first_invalid_utf8(text);
  if (!bad) return std::nullopt;
  std::string_view before = text.substr(0, *bad);
  size_t line = 1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  size_t nl = before.rfind('\n');
  size_t column = *bad - (nl == std::string_view::npos ? 0 : nl + 1) + 1;
  static const char digits[] = "0123456789abcdef";
  auto b = static_cast<unsigned char>(text[*bad]);
  return std::to_string(line) + ":" + std::to_string(column) + ": not UTF-8 (byte 0x" +
         digits[b >> 4] + digits[b & 15] + "); save the file as UTF-8";
}

}  // namespace ef
