#pragma once

#include <cstddef>
#include <string>
#include <string_view>

/// PKCE (RFC 7636) and random tokens for the sign-in flow (CSRF tokens, nonces, verifiers,
/// session ids). Thread-safe: OpenSSL's RAND_bytes is.
namespace vallum::identity {

/// RFC 7636 §4.2 S256: base64url-nopad(SHA-256(ASCII(verifier))).
std::string pkceChallengeS256(std::string_view verifier);

/// `bytes` bytes from OpenSSL RAND_bytes, base64url without padding (32 bytes → 43 chars, a
/// valid RFC 7636 §4.1 code_verifier). Aborts the process if the RNG fails rather than return a
/// guessable token.
std::string randomToken(size_t bytes);

}  // namespace vallum::identity
