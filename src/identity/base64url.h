#pragma once

#include <optional>
#include <string>
#include <string_view>

/// Base64 codecs with the exact strictness that JOSE and Go's encoders need. common/strings.h
/// has a lenient decoder (either alphabet, optional padding) for config values; these are the
/// strict counterparts for tokens, where one accepted spelling per byte string matters.
///
/// Pure functions: no allocation beyond the result, no state; safe from any thread.
namespace vallum::identity {

/// Base64url (RFC 4648 §5) without padding, as JWS (RFC 7515 §2) and our cookies use.
std::string base64UrlEncode(std::string_view in);
/// Base64url with '=' padding, as Go's base64.URLEncoding (Pomerium's URL signatures).
std::string base64UrlEncodePadded(std::string_view in);

/// Decodes unpadded base64url (RFC 7515 §2). Rejects '=', '+', '/', whitespace, a length of
/// 4k+1 and non-zero trailing bits (so each byte string has exactly one accepted encoding).
std::optional<std::string> base64UrlDecode(std::string_view in);
/// Decodes padded base64url (Go base64.URLEncoding.DecodeString): length a multiple of 4,
/// padding exactly where needed, no trailing bits set. Used for pomerium_signature.
std::optional<std::string> base64UrlDecodePadded(std::string_view in);

/// Decodes standard base64 with padding (Go base64.StdEncoding.DecodeString): like Go, CR and
/// LF anywhere are skipped (wrapped PEM-in-base64 config values), everything else is strict.
std::optional<std::string> base64StdDecode(std::string_view in);

}  // namespace vallum::identity
