#include "identity/cookie_cipher.h"

#include <map>

#include <gtest/gtest.h>

#include "identity/base64url.h"

namespace vallum::identity {
namespace {

const std::string kKey(32, 'k');

CookieCipher cipher(const std::string& key = kKey) { return CookieCipher::fromKey(key).value(); }

std::string flip(const std::string& sealed, size_t byte, uint8_t mask = 1) {
  std::string raw = *base64UrlDecode(sealed);
  raw[byte] = char(raw[byte] ^ mask);
  return base64UrlEncode(raw);
}

TEST(CookieCipherTest, RejectsWrongKeySize) {
  EXPECT_FALSE(CookieCipher::fromKey(std::string(31, 'k')));
  EXPECT_FALSE(CookieCipher::fromKey(std::string(33, 'k')));
  EXPECT_FALSE(CookieCipher::fromKey(""));
}

TEST(CookieCipherTest, UnkeyedCipherNeitherSealsNorOpens) {
  const CookieCipher unkeyed;
  EXPECT_EQ(unkeyed.seal("x", ""), "");
  EXPECT_FALSE(unkeyed.open(cipher(std::string(32, '\0')).seal("x", ""), ""));
}

TEST(CookieCipherTest, RoundTripsAndUsesFreshNonces) {
  const CookieCipher c = cipher();
  for (const std::string& plain : {std::string(), std::string("hello"), std::string(5000, 'x')}) {
    const std::string sealed = c.seal(plain, "ad");
    EXPECT_EQ(c.open(sealed, "ad"), plain);
    EXPECT_EQ(base64UrlDecode(sealed)->size(), 1 + 12 + plain.size() + 16);
  }
  EXPECT_NE(c.seal("same", "ad"), c.seal("same", "ad"));
}

TEST(CookieCipherTest, LayoutIsVersionNonceCiphertextTag) {
  const std::string raw = *base64UrlDecode(cipher().seal("abc", ""));
  EXPECT_EQ(uint8_t(raw[0]), CookieCipher::kVersion);
  EXPECT_EQ(raw.size(), 1u + 12 + 3 + 16);
}

TEST(CookieCipherTest, OpensIndependentlySealedVector) {
  // Sealed with Python's cryptography AESGCM: key 'F'×32, nonce 00..0b, plaintext "hello",
  // AAD = 0x01 || "ad" (the documented layout).
  const CookieCipher c = cipher(std::string(32, 'F'));
  EXPECT_EQ(c.open("AQABAgMEBQYHCAkKC6h6btLFgW7m88ioyCUJRVS49xXpPA", "ad"), "hello");
  EXPECT_FALSE(c.open("AQABAgMEBQYHCAkKC6h6btLFgW7m88ioyCUJRVS49xXpPA", "ae"));
}

TEST(CookieCipherTest, EveryTamperIsRejected) {
  const CookieCipher c = cipher();
  const std::string sealed = c.seal("secret session", "cookie");
  const size_t size = base64UrlDecode(sealed)->size();
  for (size_t i = 0; i < size; ++i) {  // version, nonce, ciphertext and tag bytes
    EXPECT_FALSE(c.open(flip(sealed, i), "cookie")) << "byte " << i;
    EXPECT_FALSE(c.open(flip(sealed, i, 0x80), "cookie")) << "byte " << i;
  }
  const std::string raw = *base64UrlDecode(sealed);
  EXPECT_FALSE(c.open(base64UrlEncode(raw.substr(0, raw.size() - 1)), "cookie"));  // truncated
  EXPECT_FALSE(c.open(base64UrlEncode(raw.substr(0, 29)), "cookie"));  // shorter than overhead
  EXPECT_FALSE(c.open(base64UrlEncode(raw + "x"), "cookie"));          // extended
  EXPECT_FALSE(c.open(sealed, "cookie2"));                             // wrong associated data
  EXPECT_FALSE(c.open(sealed, ""));
  EXPECT_FALSE(cipher(std::string(32, 'j')).open(sealed, "cookie"));  // wrong key
  EXPECT_FALSE(c.open(sealed + "=", "cookie"));                       // bad base64
  EXPECT_FALSE(c.open("!!!!", "cookie"));
  EXPECT_FALSE(c.open("", "cookie"));
  EXPECT_TRUE(c.open(sealed, "cookie"));
}

std::optional<std::string> joinFrom(const std::vector<std::pair<std::string, std::string>>& v,
                                    std::string_view name) {
  std::map<std::string, std::string, std::less<>> jar(v.begin(), v.end());
  return joinCookie(name, [&](std::string_view n) -> std::optional<std::string_view> {
    const auto it = jar.find(n);
    if (it == jar.end()) {
      return std::nullopt;
    }
    return std::string_view(it->second);
  });
}

TEST(CookieChunkTest, SmallValueIsOneCookie) {
  const auto chunks = splitCookie("_vallum", "abc");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].first, "_vallum");
  EXPECT_EQ(chunks[0].second, "abc");
  EXPECT_EQ(joinFrom(chunks, "_vallum"), "abc");
}

TEST(CookieChunkTest, LargeValueSplitsAndJoins) {
  std::string value;
  for (int i = 0; i < 10000; ++i) {
    value.push_back(char('a' + i % 26));
  }
  const auto chunks = splitCookie("_vallum", value, 3800);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].first, "_vallum");
  EXPECT_TRUE(chunks[0].second.starts_with("~3~"));
  EXPECT_EQ(chunks[1].first, "_vallum_1");
  EXPECT_EQ(chunks[2].first, "_vallum_2");
  for (const auto& [name, v] : chunks) {
    EXPECT_LE(v.size(), 3800u) << name;
  }
  EXPECT_EQ(joinFrom(chunks, "_vallum"), value);
}

TEST(CookieChunkTest, BoundarySizesRoundTrip) {
  for (size_t size : {0, 1, 99, 100, 101, 196, 197, 198, 300, 1000}) {
    const std::string value(size, 'v');
    const auto chunks = splitCookie("c", value, 100);
    for (const auto& [name, v] : chunks) {
      EXPECT_LE(v.size(), 100u);
    }
    EXPECT_EQ(joinFrom(chunks, "c"), value) << size;
  }
}

TEST(CookieChunkTest, ValueStartingWithMarkerIsEncodedUnambiguously) {
  const auto chunks = splitCookie("c", "~2~x");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].second, "~1~~2~x");
  EXPECT_EQ(joinFrom(chunks, "c"), "~2~x");
}

TEST(CookieChunkTest, MissingOrExtraChunkIsRejected) {
  const auto chunks = splitCookie("c", std::string(350, 'v'), 100);
  ASSERT_EQ(chunks.size(), 4u);
  auto missing = chunks;
  missing.erase(missing.begin() + 2);
  EXPECT_FALSE(joinFrom(missing, "c"));
  auto extra = chunks;
  extra.emplace_back("c_4", "zzz");
  EXPECT_FALSE(joinFrom(extra, "c"));
  auto single = splitCookie("c", "small", 100);
  single.emplace_back("c_1", "stale");
  EXPECT_FALSE(joinFrom(single, "c"));
  EXPECT_FALSE(joinFrom({}, "c"));
  EXPECT_FALSE(joinFrom({{"c", "~x~abc"}}, "c"));
  EXPECT_FALSE(joinFrom({{"c", "~0~abc"}}, "c"));
  EXPECT_FALSE(joinFrom({{"c", "~01~abc"}}, "c"));
  EXPECT_FALSE(joinFrom({{"c", "~17~abc"}}, "c"));
  EXPECT_FALSE(joinFrom({{"c", "~2abc"}}, "c"));
  EXPECT_FALSE(joinFrom({{"c", "~2~abc"}, {"c_1", ""}}, "c"));
  EXPECT_EQ(joinFrom({{"c", "~2~abc"}, {"c_1", "def"}}, "c"), "abcdef");
}

}  // namespace
}  // namespace vallum::identity
