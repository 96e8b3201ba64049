// Fuzzes session cookies (src/identity/cookie_cipher.h, session.h): arbitrary bytes as a sealed
// cookie value opened with a fixed key, and the same bytes as session JSON.
//
// Invariants: nothing throws; open never succeeds on input that is not a valid seal (so with a
// fixed key it only succeeds for corpus files made by sealing); a decoded session re-encodes and
// decodes to the same session; joinCookie over a jar built from the input never throws and
// only joins values whose chunks are all present.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "identity/cookie_cipher.h"
#include "identity/session.h"

namespace {

using vallum::identity::CookieCipher;

const CookieCipher& cipher() {
  static const CookieCipher c = CookieCipher::fromKey(std::string(32, 'F')).value();
  return c;
}

void checkDecoded(const std::optional<vallum::identity::Session>& session) {
  if (session) {
    const std::optional<vallum::identity::Session> again =
        vallum::identity::decodeSession(vallum::identity::encodeSession(*session));
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *session);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    checkDecoded(vallum::identity::openSession(cipher(), text, "_vallum"));
    checkDecoded(vallum::identity::decodeSession(text));
    const std::optional<std::string> plain = cipher().open(text, "");
    if (plain) {
      FUZZ_CHECK(plain->size() + 29 <= text.size());
    }
    // Cookie jar: lines "name=value".
    std::map<std::string, std::string, std::less<>> jar;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) {
        end = text.size();
      }
      const std::string_view line = text.substr(start, end - start);
      const size_t eq = line.find('=');
      if (eq != std::string_view::npos) {
        jar.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
      }
      start = end + 1;
    }
    const std::optional<std::string> joined = vallum::identity::joinCookie(
        "c", [&](std::string_view n) -> std::optional<std::string_view> {
          const auto it = jar.find(n);
          if (it == jar.end()) {
            return std::nullopt;
          }
          return std::string_view(it->second);
        });
    if (joined) {
      // Splitting the joined value again and re-joining gives the same value.
      const auto chunks = vallum::identity::splitCookie("c", *joined, 64);
      std::map<std::string, std::string, std::less<>> again(chunks.begin(), chunks.end());
      if (chunks.size() <= vallum::identity::kMaxCookieChunks) {
        const std::optional<std::string> rejoined = vallum::identity::joinCookie(
            "c", [&](std::string_view n) -> std::optional<std::string_view> {
              const auto it = again.find(n);
              if (it == again.end()) {
                return std::nullopt;
              }
              return std::string_view(it->second);
            });
        FUZZ_CHECK(rejoined == joined);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "session cookie code threw: %s\n", e.what());
    std::abort();
  }
  return 0;
}
