#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// Small allocation-free string helpers used across components. All functions treat text as
/// bytes; "ASCII" variants only change [A-Z]/[a-z].
namespace vallum::strings {

inline constexpr char toLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }
inline constexpr char toUpperAscii(char c) { return (c >= 'a' && c <= 'z') ? char(c - 32) : c; }

/// Lower-cases ASCII letters in place.
void lowerAsciiInPlace(std::string& s);
std::string lowerAscii(std::string_view s);

/// Case-insensitive (ASCII) equality.
/// Compares n bytes ASCII case-insensitively (iequals' loop).
bool iequalsBytes(const char* a, const char* b, size_t n);
/// ASCII case-insensitive equality. Inline so that the common mismatch — a different size —
/// costs no call (header names are compared by the dozen per request).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequalsBytes(a.data(), b.data(), a.size());
}
/// Case-insensitive (ASCII) prefix test.
bool istartsWith(std::string_view s, std::string_view prefix);

/// Strips spaces and horizontal tabs (HTTP OWS) from both ends.
std::string_view trimOws(std::string_view s);
/// Strips ASCII whitespace (space, \t, \r, \n, \v, \f) from both ends.
std::string_view trimSpace(std::string_view s);

/// Splits on `sep`; keeps empty pieces.
std::vector<std::string_view> split(std::string_view s, char sep);

/// Calls fn(token) for each comma-separated element of an HTTP list field (RFC 9110 §5.6.1),
/// trimmed of OWS, skipping empty elements. fn returns false to stop early.
template <class Fn>
void forEachListElement(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trimOws(value.substr(0, comma));
    if (!item.empty() && !fn(item)) {
      return;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
}

/// RFC 9110 §5.6.2 token character.
bool isTchar(char c);
/// True when every byte of s is a tchar and s is not empty.
bool isToken(std::string_view s);

/// Parses a non-negative decimal integer of at most 19 digits; no sign, no spaces.
std::optional<uint64_t> parseDecimal(std::string_view s);

/// Standard base64 (RFC 4648 §4), padding required; also accepts the URL-safe alphabet and
/// unpadded input, as Go's config decoders do. Returns nullopt on any invalid byte.
std::optional<std::string> base64Decode(std::string_view in);
std::string base64Encode(std::string_view in);

/// Appends the lowercase hex of `v` (no leading zeros, "0" for zero).
void appendHex(std::string& out, uint64_t v);
/// Appends the decimal digits of v (no printf: this runs for every response head).
void appendDecimal(std::string& out, uint64_t v);

/// Escapes s for inclusion inside a JSON string literal (no surrounding quotes).
void appendJsonEscaped(std::string& out, std::string_view s);
/// Escapes &, <, >, ", ' for HTML text and attribute values.
void appendHtmlEscaped(std::string& out, std::string_view s);

}  // namespace vallum::strings
