#include "identity/pkce.h"

#include <cstdio>
#include <cstdlib>

#include <openssl/rand.h>

#include "identity/base64url.h"
#include "identity/jose_key.h"

namespace vallum::identity {

std::string pkceChallengeS256(std::string_view verifier) {
  return base64UrlEncode(jose::sha256(verifier));
}

std::string randomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  if (bytes > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), int(bytes)) != 1) {
    std::fprintf(stderr, "identity::randomToken: RAND_bytes failed\n");
    std::abort();
  }
  return base64UrlEncode(raw);
}

}  // namespace vallum::identity
