#include "proxy/access_users.h"

#include <gtest/gtest.h>

namespace vallum::proxy {
namespace {

TEST(AccessUsersTest, DefaultsUserToEmailAndAddsTheEmailClaim) {
  AccessUsersResult r = parseAccessUsers(R"([
    {"email": "alice@example.com", "groups": ["eng"], "claims": {"department": "r&d"}},
    {"email": "bob@example.com", "user": "sub-bob", "claims": {"email": "b@other.test"}}
  ])");
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.users.size(), 2U);
  EXPECT_EQ(r.users[0].user, "alice@example.com");
  EXPECT_EQ(r.users[0].groups, std::vector<std::string>{"eng"});
  EXPECT_EQ(r.users[0].claims["email"], "alice@example.com");
  EXPECT_EQ(r.users[0].claims["department"], "r&d");
  EXPECT_EQ(r.users[1].user, "sub-bob");
  EXPECT_TRUE(r.users[1].groups.empty());
  EXPECT_EQ(r.users[1].claims["email"], "b@other.test");  // an explicit claim is kept
  EXPECT_EQ(findAccessUser(r.users, "bob@example.com"), &r.users[1]);
  EXPECT_EQ(findAccessUser(r.users, "BOB@example.com"), nullptr);
}

TEST(AccessUsersTest, DefaultAccessUser) {
  AccessUser u = defaultAccessUser("carol@example.com");
  EXPECT_EQ(u.email, "carol@example.com");
  EXPECT_EQ(u.user, "carol@example.com");
  EXPECT_TRUE(u.groups.empty());
  EXPECT_EQ(u.claims, nlohmann::json({{"email", "carol@example.com"}}));
  policy::Identity who = policyIdentity(u);
  EXPECT_TRUE(who.signed_in);
  EXPECT_EQ(who.email, "carol@example.com");
  EXPECT_EQ(who.claims, &u.claims);
}

TEST(AccessUsersTest, ErrorsNameTheElement) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"{}", "expected a JSON array of users"},
      {"[1]", "users[0]: expected an object"},
      {R"([{"user": "x"}])", "users[0].email: expected a non-empty string"},
      {R"([{"email": ""}])", "users[0].email: expected a non-empty string"},
      {R"([{"email": "a@x", "groups": "eng"}])", "users[0].groups: expected an array"},
      {R"([{"email": "a@x", "groups": [1]}])", "users[0].groups[0]: expected a string"},
      {R"([{"email": "a@x", "claims": []}])", "users[0].claims: expected an object"},
      {R"([{"email": "a@x", "user": 7}])", "users[0].user: expected a string"},
      {R"([{"email": "a@x", "group": []}])", "users[0]: unknown key \"group\""},
      {R"([{"email": "a@x"}, {"email": "a@x"}])", "users[1].email: \"a@x\" is listed twice"},
      {"[{", "invalid JSON"},
  };
  for (const Case& c : cases) {
    AccessUsersResult r = parseAccessUsers(c.text);
    EXPECT_NE(r.error.find(c.error), std::string::npos) << c.text << " → " << r.error;
    EXPECT_TRUE(r.users.empty()) << c.text;
  }
}

}  // namespace
}  // namespace vallum::proxy
