#include "identity/cookie_cipher.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/strings.h"
#include "identity/base64url.h"

namespace vallum::identity {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

[[noreturn]] void fatal(const char* what) {
  // A broken RNG or cipher must never produce a cookie; there is no safe fallback.
  std::fprintf(stderr, "identity::CookieCipher: %s failed\n", what);
  std::abort();
}

// Feeds the version byte then the caller's associated data as GCM AAD.
bool addAad(EVP_CIPHER_CTX* ctx, std::string_view associated_data) {
  int len = 0;
  const uint8_t version = CookieCipher::kVersion;
  if (EVP_CipherUpdate(ctx, nullptr, &len, &version, 1) != 1) {
    return false;
  }
  return associated_data.empty() || EVP_CipherUpdate(ctx, nullptr, &len, bytes(associated_data),
                                                     static_cast<int>(associated_data.size())) == 1;
}

}  // namespace

Result<CookieCipher> CookieCipher::fromKey(std::string_view key) {
  if (key.size() != kKeySize) {
    return configError("cookie_secret must decode to 32 bytes, got " + std::to_string(key.size()));
  }
  CookieCipher cipher;
  std::copy(key.begin(), key.end(), cipher.key_.begin());
  cipher.keyed_ = true;
  return cipher;
}

CookieCipher::~CookieCipher() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string CookieCipher::seal(std::string_view plaintext, std::string_view associated_data) const {
  if (!keyed_) {
    return {};
  }
  if (plaintext.size() > (1u << 30) || associated_data.size() > (1u << 30)) {
    fatal("seal size check");
  }
  std::string raw(1 + kNonceSize + plaintext.size() + kTagSize, '\0');
  uint8_t* out = reinterpret_cast<uint8_t*>(raw.data());
  out[0] = kVersion;
  uint8_t* nonce = out + 1;
  if (RAND_bytes(nonce, kNonceSize) != 1) {
    fatal("RAND_bytes");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      !addAad(ctx.get(), associated_data)) {
    fatal("EVP_EncryptInit");
  }
  uint8_t* ciphertext = nonce + kNonceSize;
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ciphertext, &len, bytes(plaintext),
                                              static_cast<int>(plaintext.size())) != 1) {
    fatal("EVP_EncryptUpdate");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), ciphertext + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          ciphertext + plaintext.size()) != 1) {
    fatal("EVP_EncryptFinal");
  }
  return base64UrlEncode(raw);
}

std::optional<std::string> CookieCipher::open(std::string_view sealed,
                                              std::string_view associated_data) const {
  std::optional<std::string> raw = base64UrlDecode(sealed);
  if (!keyed_ || !raw || raw->size() < 1 + kNonceSize + kTagSize ||
      uint8_t((*raw)[0]) != kVersion || raw->size() > (1u << 30) ||
      associated_data.size() > (1u << 30)) {
    return std::nullopt;
  }
  const uint8_t* in = bytes(*raw);
  const uint8_t* nonce = in + 1;
  const uint8_t* ciphertext = nonce + kNonceSize;
  const size_t ciphertext_size = raw->size() - 1 - kNonceSize - kTagSize;
  std::string plaintext(ciphertext_size, '\0');
  uint8_t* out = reinterpret_cast<uint8_t*>(plaintext.data());
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  // The tag is a const input; OpenSSL's ctrl signature takes void*.
  std::array<uint8_t, kTagSize> tag;
  std::copy(ciphertext + ciphertext_size, ciphertext + ciphertext_size + kTagSize, tag.begin());
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) == 1 &&
      addAad(ctx.get(), associated_data) &&
      (ciphertext_size == 0 || EVP_DecryptUpdate(ctx.get(), out, &len, ciphertext,
                                                 static_cast<int>(ciphertext_size)) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out + len, &final_len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  return plaintext;
}

std::vector<std::pair<std::string, std::string>> splitCookie(std::string_view name,
                                                             std::string_view value,
                                                             size_t max_chunk) {
  max_chunk = std::max<size_t>(max_chunk, 16);
  std::vector<std::pair<std::string, std::string>> out;
  if (value.size() <= max_chunk && !value.starts_with('~')) {
    out.emplace_back(std::string(name), std::string(value));
    return out;
  }
  // The marker "~<n>~" eats into the first chunk; find the smallest n that fits.
  size_t count = 1;
  for (;;) {
    const size_t marker = 2 + std::to_string(count).size();
    const size_t capacity = (max_chunk - marker) + (count - 1) * max_chunk;
    if (capacity >= value.size()) {
      break;
    }
    ++count;
  }
  const std::string marker = "~" + std::to_string(count) + "~";
  const size_t first = std::min(value.size(), max_chunk - marker.size());
  out.emplace_back(std::string(name), marker + std::string(value.substr(0, first)));
  value.remove_prefix(first);
  for (size_t i = 1; i < count; ++i) {
    const size_t n = std::min(value.size(), max_chunk);
    out.emplace_back(std::string(name) + "_" + std::to_string(i), std::string(value.substr(0, n)));
    value.remove_prefix(n);
  }
  return out;
}

std::optional<std::string> joinCookie(std::string_view name, const CookieLookup& lookup) {
  const std::optional<std::string_view> head = lookup(name);
  const std::string base(name);
  if (!head) {
    return std::nullopt;
  }
  if (!head->starts_with('~')) {
    if (lookup(base + "_1")) {
      return std::nullopt;
    }
    return std::string(*head);
  }
  const size_t end = head->find('~', 1);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view digits = head->substr(1, end - 1);
  const std::optional<uint64_t> count = strings::parseDecimal(digits);
  if (!count || *count == 0 || *count > kMaxCookieChunks || digits.starts_with('0')) {
    return std::nullopt;
  }
  std::string value(head->substr(end + 1));
  for (uint64_t i = 1; i < *count; ++i) {
    const std::optional<std::string_view> chunk = lookup(base + "_" + std::to_string(i));
    if (!chunk || chunk->empty()) {
      return std::nullopt;
    }
    value.append(*chunk);
  }
  if (lookup(base + "_" + std::to_string(*count))) {
    return std::nullopt;
  }
  return value;
}

}  // namespace vallum::identity
