#include "common/strings.h"

#include <charconv>
#include <cstdint>
#include <cstring>

#include <array>

namespace vallum::strings {

void lowerAsciiInPlace(std::string& s) {
  for (char& c : s) {
    c = toLowerAscii(c);
  }
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  lowerAsciiInPlace(out);
  return out;
}

namespace {

constexpr std::array<unsigned char, 256> makeLowerTable() {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = static_cast<unsigned char>(toLowerAscii(char(c)));
  }
  return t;
}
constexpr auto kLower = makeLowerTable();

/// Bytes that JSON strings must escape: controls, '"' and '\\'.
constexpr std::array<bool, 256> makeJsonEscapeTable() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) {
    t[c] = true;
  }
  t['"'] = true;
  t['\\'] = true;
  return t;
}
constexpr auto kJsonEscape = makeJsonEscapeTable();

}  // namespace

namespace {

uint64_t load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

/// The eight bytes of `w` with 'A'..'Z' lowered and every other byte kept (SWAR: for each byte
/// h of w & 0x7f, h + 0x3f carries into bit 7 from 'A' on and h + 0x25 from '[' on; neither
/// carries out of its byte).
uint64_t lowerAscii8(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  const uint64_t h = w & (0x7f * kOnes);
  const uint64_t upper = ((h + 0x3f * kOnes) ^ (h + 0x25 * kOnes)) & ~w & (0x80 * kOnes);
  return w | (upper >> 2);
}

}  // namespace

bool iequalsBytes(const char* a, const char* b, size_t n) {
  // Header names are compared on every request: eight bytes at a time.
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      const uint64_t x = load8(a + i);
      const uint64_t y = load8(b + i);
      if (x != y && lowerAscii8(x) != lowerAscii8(y)) {
        return false;
      }
    }
    const uint64_t x = load8(a + n - 8);  // the last eight bytes, overlapping the loop's
    const uint64_t y = load8(b + n - 8);
    return x == y || lowerAscii8(x) == lowerAscii8(y);
  }
  const auto* x = reinterpret_cast<const unsigned char*>(a);
  const auto* y = reinterpret_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i] && kLower[x[i]] != kLower[y[i]]) {
      return false;
    }
  }
  return true;
}

bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view trimSpace(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

namespace {

constexpr std::array<bool, 256> makeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = makeTcharTable();

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

}  // namespace

bool isTchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }

bool isToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  bool ok = true;
  for (char c : s) {
    ok &= kTchar[static_cast<unsigned char>(c)];
  }
  return ok;
}

std::optional<uint64_t> parseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 19) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

std::optional<std::string> base64Decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') {
    in.remove_suffix(1);
  }
  if (in.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = base64Value(c);
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                 uint8_t(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

void appendHex(std::string& out, uint64_t v) {
  char buf[16];
  int n = 16;
  do {
    buf[--n] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  out.append(buf + n, size_t(16 - n));
}

void appendDecimal(std::string& out, uint64_t v) {
  char buf[20];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, size_t(result.ptr - buf));
}

namespace {

/// Whether any of the eight bytes of `w` is one JSON must escape: below 0x20, '"' or '\\'
/// (SWAR: the "has a byte less than" and "has a zero byte" tests are exact for "any byte").
bool wordNeedsJsonEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x80 * kOnes;
  const uint64_t quote = w ^ ('"' * kOnes);
  const uint64_t backslash = w ^ ('\\' * kOnes);
  return (((w - 0x20 * kOnes) & ~w) | ((quote - kOnes) & ~quote) |
          ((backslash - kOnes) & ~backslash)) &
         kHigh;
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view s) {
  // Copy runs of safe bytes in one append; escape the rest (RFC 8259 §7). Access-log fields
  // rarely need escaping: eight bytes at a time are skipped when none does.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i % 8 == 0 && i + 8 <= s.size() && !wordNeedsJsonEscape(load8(s.data() + i))) {
      i += 7;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (!kJsonEscape[c]) {
      continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        char esc[6] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 15], kHex[c & 15]};
        out.append(esc, sizeof(esc));
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void appendHtmlEscaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace vallum::strings
