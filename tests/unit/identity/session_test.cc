#include "identity/session.h"

#include <gtest/gtest.h>

namespace vallum::identity {
namespace {

Session sample() {
  Session s;
  s.id = "sess-1";
  s.idp_id = "idp-a";
  s.user = "sub-123";
  s.email = "a@example.com";
  s.name = "Ann";
  s.groups = {"admins", "dev"};
  s.claims = {{"email", "a@example.com"}, {"groups", {"admins", "dev"}}, {"n", 3}};
  s.id_token = "h.p.s";
  s.access_token = "at";
  s.refresh_token = "rt";
  s.issued_at = 1700000000;
  s.expires_at = 1700050400;
  s.refresh_at = 1700003600;
  return s;
}

TEST(SessionTest, RoundTrips) {
  const Session s = sample();
  EXPECT_EQ(decodeSession(encodeSession(s)), s);
  const Session empty;
  EXPECT_EQ(decodeSession(encodeSession(empty)), empty);
  EXPECT_EQ(encodeSession(empty), R"({"v":1})");
}

TEST(SessionTest, EncodingIsCompact) {
  const std::string text = encodeSession(sample());
  EXPECT_EQ(text.find(' '), std::string::npos);
  EXPECT_NE(text.find(R"("sub":"sub-123")"), std::string::npos);
}

TEST(SessionTest, InvalidUtf8IsReplacedNotThrown) {
  Session s;
  s.name = "bad\xff";
  const std::optional<Session> back = decodeSession(encodeSession(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "bad\xef\xbf\xbd");
}

TEST(SessionTest, RejectsBadJsonAndTypes) {
  for (const char* text :
       {"", "not json", "[]", "{}", R"({"v":2})", R"({"v":"1"})", R"({"v":1,"id":5})",
        R"({"v":1,"sub":null})", R"({"v":1,"groups":"admins"})", R"({"v":1,"groups":[1]})",
        R"({"v":1,"claims":[]})", R"({"v":1,"iat":"5"})", R"({"v":1,"exp":1.5})",
        R"({"v":1,"exp":18446744073709551615})", R"({"v":1} trailing)"}) {
    EXPECT_FALSE(decodeSession(text)) << text;
  }
  EXPECT_TRUE(decodeSession(R"({"v":1,"future":true})"));  // unknown keys are ignored
}

TEST(SessionTest, SealBindsTheCookieName) {
  const CookieCipher c = CookieCipher::fromKey(std::string(32, 's')).value();
  const std::string sealed = sealSession(c, sample(), "_vallum");
  EXPECT_EQ(openSession(c, sealed, "_vallum"), sample());
  EXPECT_FALSE(openSession(c, sealed, "_vallum_csrf"));
  EXPECT_FALSE(openSessionForHost(c, sealed, "_vallum"));
  EXPECT_FALSE(openSession(c, sealed.substr(1), "_vallum"));
}

TEST(SessionTest, HostSealBindsTheTargetHost) {
  const CookieCipher c = CookieCipher::fromKey(std::string(32, 's')).value();
  const std::string sealed = sealSessionForHost(c, sample(), "App.Example.com");
  EXPECT_EQ(openSessionForHost(c, sealed, "app.example.com"), sample());
  EXPECT_FALSE(openSessionForHost(c, sealed, "evil.example.com"));
  EXPECT_FALSE(openSession(c, sealed, "app.example.com"));
}

TEST(SessionTest, Expiry) {
  Session s;
  s.expires_at = 100;
  EXPECT_FALSE(sessionExpired(s, 99));
  EXPECT_TRUE(sessionExpired(s, 100));
  EXPECT_TRUE(sessionExpired(Session{}, 0));
}

}  // namespace
}  // namespace vallum::identity
