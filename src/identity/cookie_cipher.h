#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

/// Authenticated encryption of cookie values (docs/decisions.md "Identity and sign-in": the
/// session cookie is the AEAD-encrypted session, keyed by cookie_secret) and splitting of values
/// too large for one cookie.
namespace vallum::identity {

/// AES-256-GCM sealing keyed by Pomerium's `cookie_secret` (32 bytes after base64 decoding).
///
/// Sealed form, base64url without padding (RFC 4648 §5) of:
///   version (1 byte, 0x01) || nonce (12 random bytes) || ciphertext || tag (16 bytes)
/// The GCM additional authenticated data is the version byte followed by `associated_data`, so
/// neither the version nor the context (cookie name, target host) can be changed without the tag
/// failing. Random 96-bit nonces keep the NIST SP 800-38D bound of 2^32 seals per key, far above
/// any cookie_secret lifetime.
///
/// Thread-safety: immutable after construction; seal() and open() are const and may run
/// concurrently on any thread. Each call creates and frees its own EVP_CIPHER_CTX (about a
/// microsecond; simpler than per-thread caches and keeps the class copyable). The key copy is
/// wiped on destruction and never logged.
class CookieCipher {
 public:
  static constexpr uint8_t kVersion = 0x01;
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  /// key: exactly 32 raw bytes (config already base64-decoded cookie_secret). Any other size →
  /// Errc::InvalidArgument (source Config).
  static Result<CookieCipher> fromKey(std::string_view key);

  /// An unkeyed cipher (a placeholder member until fromKey() provides the real one): seal()
  /// returns "" and open() returns nullopt.
  CookieCipher() = default;
  CookieCipher(const CookieCipher&) = default;
  CookieCipher& operator=(const CookieCipher&) = default;
  ~CookieCipher();

  /// Encrypts and authenticates plaintext bound to associated_data. Returns the base64url text
  /// (cookie-safe), or "" when unkeyed. Aborts the process if OpenSSL's RNG or cipher fails (never
  /// emits a value with a predictable nonce).
  std::string seal(std::string_view plaintext, std::string_view associated_data) const;

  /// Reverses seal(). nullopt on any format error, wrong version, wrong key, wrong associated
  /// data or tampering. Never throws.
  std::optional<std::string> open(std::string_view sealed, std::string_view associated_data) const;

 private:
  std::array<uint8_t, kKeySize> key_{};
  bool keyed_ = false;
};

/// Cookie chunking (browsers cap one cookie near 4096 bytes). Scheme:
///  - value of at most max_chunk bytes and not starting with '~': one cookie `name=value`;
///  - otherwise: `name=~<n>~<chunk 0>`, `name_1=<chunk 1>`, … `name_<n-1>=<chunk n-1>`, where
///    n (decimal, 1..kMaxCookieChunks) is the number of cookies and every cookie value, marker
///    included, is at most max_chunk bytes.
/// Sealed values are base64url and never contain '~'; the '~' rule keeps any value unambiguous.
inline constexpr size_t kMaxCookieChunks = 16;
inline constexpr size_t kDefaultCookieChunkSize = 3800;

/// Splits value into (cookie name, cookie value) pairs per the scheme above. max_chunk is
/// clamped to at least 16 bytes. Values needing more than kMaxCookieChunks cookies are still
/// split (the caller should refuse to set them; joinCookie() rejects them). When a smaller
/// value replaces a chunked one, the caller must expire the leftover `name_<i>` cookies, since
/// joinCookie() rejects an unexpected extra chunk.
std::vector<std::pair<std::string, std::string>> splitCookie(
    std::string_view name, std::string_view value, size_t max_chunk = kDefaultCookieChunkSize);

/// Returns the value of the cookie with this exact name, or nullopt if absent. The view must
/// stay valid until joinCookie() returns.
using CookieLookup = std::function<std::optional<std::string_view>(std::string_view name)>;

/// Reassembles a value written by splitCookie(). nullopt when `name` is absent, the marker is
/// malformed, a chunk is missing, or one more chunk (`name_<n>`) than announced is present
/// (for a single-cookie value: `name_1` is present).
std::optional<std::string> joinCookie(std::string_view name, const CookieLookup& lookup);

}  // namespace vallum::identity
