#include "config/url.h"

#include <gtest/gtest.h>

namespace vallum::config {
namespace {

TEST(SplitUrlTest, SplitsEveryPart) {
  auto u = splitUrl("HTTPS://user:pw@App.Example.com:8443/a/b?x=1#frag");
  ASSERT_TRUE(u.has_value()) << u.error().detail();
  EXPECT_EQ(u->scheme, "https");
  EXPECT_TRUE(u->has_userinfo);
  EXPECT_EQ(u->host, "App.Example.com");
  EXPECT_EQ(u->authority, "App.Example.com:8443");
  ASSERT_TRUE(u->port.has_value());
  EXPECT_EQ(*u->port, 8443);
  EXPECT_EQ(u->path, "/a/b");
  EXPECT_EQ(u->query, "x=1");
  EXPECT_EQ(u->fragment, "frag");
}

TEST(SplitUrlTest, HostOnly) {
  auto u = splitUrl("http://localhost");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->authority, "localhost");
  EXPECT_FALSE(u->port.has_value());
  EXPECT_EQ(u->path, "");
}

TEST(SplitUrlTest, Ipv6) {
  auto u = splitUrl("http://[::1]:8080/x");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->authority, "[::1]:8080");
  EXPECT_EQ(*u->port, 8080);
}

// An embedded NUL used to end the text inet_pton saw (found by fuzz/url).
TEST(SplitUrlTest, Ipv6WithEmbeddedNulIsRejected) {
  EXPECT_FALSE(splitUrl(std::string("http://[::1\0junk]:8080/x", 24)).has_value());
  EXPECT_FALSE(parseListenAddress(std::string("[::1\0junk]:80", 13)).has_value());
}

TEST(SplitUrlTest, EmptyPortIsNoPort) {
  auto u = splitUrl("http://app:/x");
  ASSERT_TRUE(u.has_value());
  EXPECT_FALSE(u->port.has_value());
  EXPECT_EQ(u->authority, "app");
}

TEST(SplitUrlTest, WildcardHost) {
  auto u = splitUrl("https://*.example.com");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "*.example.com");
}

TEST(SplitUrlTest, NoSchemeIsNotAnError) {
  auto u = splitUrl("example.com:8080/x");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "");
}

TEST(SplitUrlTest, Errors) {
  EXPECT_EQ(splitUrl("").error().detail(), "url cannot be empty");
  EXPECT_EQ(splitUrl("http://app:99999").error().detail(), "invalid port \"99999\"");
  EXPECT_EQ(splitUrl("http://app:x1").error().detail(), "invalid port \"x1\"");
  EXPECT_NE(splitUrl("http://::1:80/").error().detail().find("must be enclosed in brackets"),
            std::string::npos);
  EXPECT_NE(splitUrl("http://[zz]:80").error().detail().find("invalid IPv6 address"),
            std::string::npos);
  EXPECT_NE(splitUrl("1http://x").error().detail().find("invalid url scheme"), std::string::npos);
  std::string env = splitUrl("https://${HOST}").error().detail();
  EXPECT_NE(env.find("invalid character \"$\""), std::string::npos) << env;
  EXPECT_NE(env.find("environment variables are not expanded"), std::string::npos) << env;
}

TEST(CheckAbsoluteUrlTest, NeedsSchemeAndHost) {
  EXPECT_EQ(checkAbsoluteUrl("https://authenticate.example.com"), "");
  EXPECT_NE(checkAbsoluteUrl("authenticate.example.com").find("no scheme"), std::string::npos);
  EXPECT_NE(checkAbsoluteUrl("https:///x").find("no host"), std::string::npos);
}

struct AddressCase {
  const char* text;
  const char* host;
  uint16_t port;
  bool has_port;
};

void PrintTo(const AddressCase& c, std::ostream* os) { *os << c.text; }

class ParseListenAddressTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(ParseListenAddressTest, Parses) {
  auto a = parseListenAddress(GetParam().text);
  ASSERT_TRUE(a.has_value()) << GetParam().text << ": " << a.error().detail();
  EXPECT_EQ(a->address.host, GetParam().host);
  EXPECT_EQ(a->address.port, GetParam().port);
  EXPECT_EQ(a->has_port, GetParam().has_port);
}

INSTANTIATE_TEST_SUITE_P(Forms, ParseListenAddressTest,
                         ::testing::Values(AddressCase{":443", "", 443, true},
                                           AddressCase{"localhost:0", "localhost", 0, true},
                                           AddressCase{"127.0.0.1:8443", "127.0.0.1", 8443, true},
                                           AddressCase{"[::1]:8080", "::1", 8080, true},
                                           AddressCase{"[::]:80", "::", 80, true},
                                           AddressCase{"0.0.0.0:65535", "0.0.0.0", 65535, true},
                                           AddressCase{"localhost", "localhost", 0, false},
                                           AddressCase{"[::1]", "::1", 0, false}));

TEST(ParseListenAddressTest, Errors) {
  auto message = [](const char* text) { return parseListenAddress(text).error().detail(); };
  EXPECT_NE(message(":65536").find("port must be a number from 0 to 65535"), std::string::npos);
  EXPECT_NE(message(":https").find("port must be a number"), std::string::npos);
  EXPECT_NE(message("localhost:").find("missing port number"), std::string::npos);
  EXPECT_NE(message("::1:443").find("must be enclosed in brackets"), std::string::npos);
  EXPECT_NE(message("[::1:443").find("missing ']'"), std::string::npos);
  EXPECT_NE(message("[1.2.3.4]:80").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(message("my host:80").find("invalid character"), std::string::npos);
  EXPECT_NE(message("[::1]x").find("unexpected"), std::string::npos);
}

}  // namespace
}  // namespace vallum::config
