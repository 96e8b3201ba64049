#include "identity/identity_jwt.h"

#include <gtest/gtest.h>

namespace vallum::identity {
namespace {

using nlohmann::json;

Session sample() {
  Session s;
  s.id = "sid-1";
  s.user = "sub-1";
  s.email = "a@example.com";
  s.name = "Fallback Name";
  s.groups = {"admins", "dev", "ops"};
  s.claims = {{"name", "Ann Example"},
              {"department", {"eng", "sre"}},
              {"level", 3},
              {"active", true},
              {"nothing", nullptr}};
  return s;
}

TEST(AssertionClaimsTest, SignedInShape) {
  const Session s = sample();
  const std::vector<std::string> extra = {"department", "level", "email", "missing", "nothing"};
  const json c = assertionClaims(&s, "app.example.com:8443", false, 1700000000, "jti-1", {}, extra);
  const json expected = {{"iss", "app.example.com"},
                         {"aud", "app.example.com"},
                         {"jti", "jti-1"},
                         {"iat", 1700000000},
                         {"exp", 1700000300},
                         {"sub", "sub-1"},
                         {"user", "sub-1"},
                         {"email", "a@example.com"},
                         {"groups", {"admins", "dev", "ops"}},
                         {"sid", "sid-1"},
                         {"name", "Ann Example"},
                         {"department", "eng,sre"},
                         {"level", "3"}};
  EXPECT_EQ(c, expected);
  EXPECT_TRUE(c["iat"].is_number_integer());
  EXPECT_TRUE(c["aud"].is_string());
}

TEST(AssertionClaimsTest, AnonymousHasEmptyIdentityAndGroupsArray) {
  const json c = assertionClaims(nullptr, "[::1]:443", true, 10, "j", {}, {});
  EXPECT_EQ(c["iss"], "https://[::1]/");
  EXPECT_EQ(c["aud"], "[::1]");
  EXPECT_EQ(c["sub"], "");
  EXPECT_EQ(c["user"], "");
  EXPECT_EQ(c["email"], "");
  EXPECT_EQ(c["sid"], "");
  EXPECT_EQ(c["name"], "");
  ASSERT_TRUE(c["groups"].is_array());
  EXPECT_TRUE(c["groups"].empty());
  EXPECT_EQ(c["exp"], 310);
}

TEST(AssertionClaimsTest, GroupsFilterAndNameFallback) {
  Session s = sample();
  s.claims.erase("name");
  const std::vector<std::string> filter = {"ops", "admins", "absent"};
  const json c = assertionClaims(&s, "h", false, 0, "j", filter, {});
  EXPECT_EQ(c["groups"], json({"admins", "ops"}));
  EXPECT_EQ(c["name"], "Fallback Name");
  s.claims["name"] = {"A", "B"};
  EXPECT_EQ(assertionClaims(&s, "h", false, 0, "j", {}, {})["name"], "A,B");
  s.groups.clear();
  EXPECT_TRUE(assertionClaims(&s, "h", false, 0, "j", filter, {})["groups"].is_array());
}

TEST(ClaimHeaderValueTest, Formatting) {
  const json claims = {{"email", "a@example.com"},
                       {"groups", {"a", "b", 3}},
                       {"n", 42},
                       {"neg", -1},
                       {"f", 1.5},
                       {"b", false},
                       {"null", nullptr},
                       {"empty", json::array()},
                       {"obj", {{"k", "v"}}}};
  EXPECT_EQ(claimHeaderValue(claims, "email"), "a@example.com");
  EXPECT_EQ(claimHeaderValue(claims, "groups"), "a,b,3");
  EXPECT_EQ(claimHeaderValue(claims, "n"), "42");
  EXPECT_EQ(claimHeaderValue(claims, "neg"), "-1");
  EXPECT_EQ(claimHeaderValue(claims, "f"), "1.5");
  EXPECT_EQ(claimHeaderValue(claims, "b"), "false");
  EXPECT_EQ(claimHeaderValue(claims, "null"), "");
  EXPECT_EQ(claimHeaderValue(claims, "empty"), "");
  EXPECT_EQ(claimHeaderValue(claims, "obj"), R"({"k":"v"})");
  EXPECT_EQ(claimHeaderValue(claims, "missing"), "");
  EXPECT_EQ(claimHeaderValue(json::array(), "x"), "");
}

}  // namespace
}  // namespace vallum::identity
