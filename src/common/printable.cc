#include "common/printable.h"

#include <cstdint>

namespace vallum {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendByteEscape(std::string& out, unsigned char c) {
  const char esc[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
  out.append(esc, sizeof(esc));
}

void appendCodePointEscape(std::string& out, uint32_t cp) {
  const char esc[6] = {
      '\\', 'u', kHex[(cp >> 12) & 15], kHex[(cp >> 8) & 15], kHex[(cp >> 4) & 15], kHex[cp & 15]};
  out.append(esc, sizeof(esc));
}

/// Code points a terminal or a reader of the log would not see as the text they are.
bool isInvisibleControl(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f || cp == 0x2028 ||
         cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/// Length of the well-formed UTF-8 sequence at the start of `s` (2..4) with its code point, or
/// 0 when the first byte does not start one (overlong forms and surrogates are not well-formed).
size_t utf8Sequence(std::string_view s, uint32_t& cp) {
  const auto byte = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  uint32_t min = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    cp = lead & 0x1f;
    min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    cp = lead & 0x0f;
    min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    cp = lead & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < length) {
    return 0;
  }
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (byte(i) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return length;
}

}  // namespace

void appendPrintable(std::string& out, std::string_view text) {
  size_t run = 0;  // start of the bytes copied as they are
  size_t i = 0;
  auto flush = [&] { out.append(text.data() + run, i - run); };
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      uint32_t cp = 0;
      size_t length = utf8Sequence(text.substr(i), cp);
      if (length != 0 && !isInvisibleControl(cp)) {
        i += length;
        continue;
      }
      flush();
      if (length != 0) {
        appendCodePointEscape(out, cp);
        i += length;
      } else {
        appendByteEscape(out, c);
        ++i;
      }
      run = i;
      continue;
    }
    flush();
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        appendByteEscape(out, c);
    }
    ++i;
    run = i;
  }
  flush();
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendPrintable(out, text);
  return out;
}

}  // namespace vallum
