#include "identity/base64url.h"

#include <cstdint>

namespace vallum::identity {
namespace {

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum class Alphabet { Url, Std };
enum class Padding { Forbidden, Required };

int sextet(char c, Alphabet alphabet) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (alphabet == Alphabet::Url) {
    return c == '-' ? 62 : c == '_' ? 63 : -1;
  }
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

std::optional<std::string> decode(std::string_view in, Alphabet alphabet, Padding padding) {
  if (padding == Padding::Required) {
    if (in.size() % 4 != 0) {
      return std::nullopt;
    }
    size_t pads = 0;
    while (pads < 2 && pads < in.size() && in[in.size() - 1 - pads] == '=') {
      ++pads;
    }
    in.remove_suffix(pads);
  }
  if (in.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = sextet(c, alphabet);
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
  // Leftover bits (2 or 4) must be zero: otherwise two encodings would decode alike.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    acc = (acc << 8) | uint8_t(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kUrlAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) {
    out.push_back(kUrlAlphabet[(acc << (6 - bits)) & 63]);
  }
  return out;
}

std::string base64UrlEncodePadded(std::string_view in) {
  std::string out = base64UrlEncode(in);
  while (out.size() % 4 != 0) {
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view in) {
  return decode(in, Alphabet::Url, Padding::Forbidden);
}

std::optional<std::string> base64UrlDecodePadded(std::string_view in) {
  return decode(in, Alphabet::Url, Padding::Required);
}

std::optional<std::string> base64StdDecode(std::string_view in) {
  std::string compact;
  compact.reserve(in.size());
  for (char c : in) {
    if (c != '\r' && c != '\n') {
      compact.push_back(c);
    }
  }
  return decode(compact, Alphabet::Std, Padding::Required);
}

}  // namespace vallum::identity
