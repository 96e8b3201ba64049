#pragma once

#include <cstdint>
#include <string>
#include <string_view>

/// Pomerium's signed URLs (Pomerium's sign-in flow; pomerium internal/urlutil/signed.go), used for the
/// redirects between the authenticate host and route hosts (sign_in, callback, sign_out).
///
/// Signing: the query gains pomerium_issued=<now> and pomerium_expiry=<now+300> and is
/// re-encoded the way Go's url.Values.Encode() does (keys sorted bytewise, values of one key in
/// their original order, QueryEscape: unreserved [A-Za-z0-9-_.~] kept, space → '+', the rest
/// %XX upper-case); then
///   pomerium_signature = base64url-with-padding(HMAC-SHA-512/256(key, url + issued + " " +
///   expiry))
/// is added and the query re-encoded once more. The message URL is the text before '?' taken
/// verbatim, '?', the encoded query, and the '#fragment' verbatim; Go's URL.String() gives the
/// same text for the canonical URLs Vallum builds (lower-case scheme and host, escaped path).
///
/// Pure functions; safe from any thread. The key is never logged.
namespace vallum::identity {

inline constexpr int64_t kSignedUrlLifetimeSeconds = 300;  ///< expiry = issued + 5 min
inline constexpr int64_t kSignedUrlLeewaySeconds = 60;     ///< urlutil.DefaultLeeway

/// key: raw shared secret bytes (config's base64-decoded shared_secret). url: absolute URL; an
/// existing pomerium_issued/expiry/signature is replaced. now_unix: unix seconds. Returns the
/// signed URL.
std::string signUrl(std::string_view key, std::string_view url, int64_t now_unix);

enum class SignedUrlStatus {
  Ok,
  Malformed,       ///< signature not padded base64url, or issued/expiry missing or not integers
  Expired,         ///< now - 60 s is after pomerium_expiry
  IssuedInFuture,  ///< now + 60 s is before pomerium_issued
  BadSignature,    ///< HMAC mismatch (constant-time compare)
};

/// Validates a signed URL as Pomerium's SignedURL.Validate() does, in the same order: decode
/// the signature (first value), drop it, re-encode the query, parse issued and expiry (Go
/// strconv.ParseInt: optional sign, decimal), check the ±1 min leeway windows, compare the HMAC.
SignedUrlStatus checkSignedUrl(std::string_view key, std::string_view url, int64_t now_unix);

/// checkSignedUrl() == SignedUrlStatus::Ok.
bool verifySignedUrl(std::string_view key, std::string_view url, int64_t now_unix);

/// Go url.QueryEscape (encodeQueryComponent). Exposed for the callers that build the URLs.
std::string goQueryEscape(std::string_view s);

}  // namespace vallum::identity
