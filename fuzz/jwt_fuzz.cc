// Fuzzes ID-token verification (src/identity/id_token.h) and JWKS parsing. The input is split at
// the first NUL byte: before it, a token verified against a fixed JWKS (one P-256 and one RSA
// key); after it (if present), text given to Jwks::parse and, if it parses, used to verify the
// token too.
//
// Invariants: nothing throws; a token never verifies against the fixed JWKS (the fuzzer holds
// no private key); parse results only hold usable keys; error names are never empty.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "identity/id_token.h"

namespace {

using vallum::identity::IdTokenExpectations;
using vallum::identity::Jwks;

// Public keys whose private halves were generated once and thrown away, so no input can
// carry a valid signature.
constexpr char kJwks[] = R"({"keys":[
 {"kty":"EC","crv":"P-256","kid":"ec1","use":"sig",
  "x":"ZdseC2SuZQNxMRYjvNwUJusecFEN9LzQDy3-CZPvyws",
  "y":"kt4Xv1_97ySJLiyW_bkdNCd60EudszuiFsp8JEtr9ck"},
 {"kty":"RSA","kid":"rsa1","alg":"RS256","e":"AQAB",
  "n":"2k2Vublplbxf8Px7jeiav-lwiG2s0Z10OyN4E_K791_hBVOeYicdls0qxv9J8B5WKmqEMmbQZXc4FBXuSYbziGPBHFqrjkQZwHdh0-kdncOPS9HQNZnpmsJhqF0MUZG9RY0FXHMgxKJsR3ylROXHZm7NhY2DilSicqKTK_07TI6ZVVf4B6by2gsbqUA8oaOmn1le_RNPx_geKVyqlzrxpKX6uqzUvqVuRa6_zeTbxQS_gY6igf6mXF2Xk8giIugE_FM9wBp-s191h1sREGSz8IH4lbP44npdKytuBFBBzqSYmoWuqKg7XLVkJV5IUGS0rF3OsJ-kpgg-EbwHDXHJaQ"}
]})";

const Jwks& fixedJwks() {
  static const Jwks jwks = *Jwks::parse(kJwks);
  return jwks;
}

IdTokenExpectations expectations() {
  IdTokenExpectations e;
  e.issuer = "https://idp.example.com";
  e.client_id = "vallum";
  e.nonce = "n";
  e.now = 1700000000;
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 128 * 1024) {
    return 0;
  }
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view token = input.substr(0, nul);
  try {
    FUZZ_CHECK(fixedJwks().size() == 2);
    const vallum::identity::IdTokenResult r =
        vallum::identity::verifyIdToken(token, fixedJwks(), expectations());
    FUZZ_CHECK(!r.ok());
    FUZZ_CHECK(!vallum::identity::idTokenErrorName(r.error).empty());
    if (nul != std::string_view::npos) {
      const std::optional<Jwks> jwks = Jwks::parse(input.substr(nul + 1));
      if (jwks) {
        for (const Jwks::Key& key : jwks->keys()) {
          FUZZ_CHECK(key.pkey != nullptr);
          FUZZ_CHECK(jwks->has(key.kid));
        }
        const vallum::identity::IdTokenResult r2 =
            vallum::identity::verifyIdToken(token, *jwks, expectations());
        FUZZ_CHECK(r2.ok() == (r2.error == vallum::identity::IdTokenError::None));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jwt code threw: %s\n", e.what());
    std::abort();
  }
  return 0;
}
