// Listen addresses: global `address`, `metrics_address` and `http_redirect_addr` (Pomerium
// global options) must be host:port forms a socket can bind; `$` gets a hint.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/url.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;

constexpr const char* kNotExpanded = " (environment variables are not expanded)";

TEST(ParseListenAddressTest, DollarGetsTheEnvironmentHint) {
  for (const char* text : {":$PORT", "${ADDRESS}", "$HOST:443", "127.0.0.1:${PORT}"}) {
    auto parsed = parseListenAddress(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    const std::string detail = parsed.error().detail();
    EXPECT_EQ(detail.rfind(kNotExpanded), detail.size() - std::string(kNotExpanded).size())
        << detail;
  }
  // No '$', no hint.
  EXPECT_EQ(parseListenAddress(":70000").error().detail().find("environment"), std::string::npos);
}

struct AddressCase {
  std::string value;    // as written after "KEY: "
  std::string message;  // the whole message
};

class AddressErrorTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(AddressErrorTest, AddressIsAnErrorAtItsValue) {
  LoadResult r = load("address: " + GetParam().value + "\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 10, "address", GetParam().message}));
  EXPECT_FALSE(r.options);
}

INSTANTIATE_TEST_SUITE_P(
    All, AddressErrorTest,
    ::testing::Values(
        AddressCase{"':$PORT'",
                    "invalid address \":$PORT\": port must be a number from 0 to 65535 "
                    "(environment variables are not expanded)"},
        AddressCase{"'${ADDRESS}'",
                    "invalid address \"${ADDRESS}\": invalid character \"$\" in host "
                    "(environment variables are not expanded)"},
        AddressCase{"':65536'",
                    "invalid address \":65536\": port must be a number from 0 to 65535"},
        AddressCase{"'my host:443'",
                    "invalid address \"my host:443\": invalid character \" \" in host"},
        AddressCase{"'localhost:'",
                    "invalid address \"localhost:\": missing port number after ':'"}));

TEST(AddressTest, MetricsAddressWithDollarGetsTheHint) {
  LoadResult r = load("metrics_address: ':${METRICS_PORT}'\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 18, "metrics_address",
                          "invalid metrics_addr: expected host:port (e.g. :9090 or "
                          "127.0.0.1:9090): invalid address \":${METRICS_PORT}\": port must be a "
                          "number from 0 to 65535 (environment variables are not expanded)"}));
  EXPECT_TRUE(hasDiag(load("metrics_address: 'bad host:9090'\n"),
                      {E::Error, 1, 18, "metrics_address", "invalid character \" \" in host"}));
}

TEST(AddressTest, AddressFromTheEnvironmentIsCheckedToo) {
  LoadResult r = load("", {{"ADDRESS", ":$PORT"}});
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$ADDRESS",
                          "invalid address \":$PORT\": port must be a number from 0 to 65535 "
                          "(environment variables are not expanded)",
                          "$ADDRESS"}));
}

// ---- http_redirect_addr: recognized, not served yet; its form is checked ----

TEST(HttpRedirectAddrTest, ValidFormsAreStillIgnoredWithAWarning) {
  for (const char* value :
       {"':80'", "0.0.0.0:80", "'[::]:8080'", "localhost", "'\":80\"'", "\"':80'\""}) {
    SCOPED_TRACE(value);
    LoadResult r = load(std::string("http_redirect_addr: ") + value + "\n");
    EXPECT_TRUE(loaded(r));
    EXPECT_TRUE(hasDiag(r, {E::Warning, 1, 1, "http_redirect_addr", "not supported yet; ignored"}));
    EXPECT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
  }
}

TEST(HttpRedirectAddrTest, SurroundingQuotesAreStrippedAsPomeriumDoes) {
  // Pomerium: strings.Trim(addr, `"'`) (its issue #811): the YAML value '":80"' is ":80".
  EXPECT_TRUE(loaded(load("http_redirect_addr: '\"'':80'''\n")));
  // Quotes only around the text: one inside is still an error.
  EXPECT_TRUE(hasDiag(load("http_redirect_addr: ':8\"0'\n"),
                      {E::Error, 1, 21, "http_redirect_addr",
                       "invalid address \":8\"0\": port must be a number from 0 to 65535"}));
}

TEST(HttpRedirectAddrTest, BadFormIsAnErrorAtTheValueWithoutTheIgnoredWarning) {
  LoadResult r = load(
      "address: ':8443'\n"
      "http_redirect_addr: ':${HTTP_PORT}'\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 21, "http_redirect_addr",
                          "invalid address \":${HTTP_PORT}\": port must be a number from 0 to "
                          "65535 (environment variables are not expanded)"}));
  ASSERT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items().front().format(),
            "config.yaml:2:21: error: http_redirect_addr: invalid address \":${HTTP_PORT}\": port "
            "must be a number from 0 to 65535 (environment variables are not expanded)");

  EXPECT_TRUE(hasDiag(load("http_redirect_addr: ':99999'\n"),
                      {E::Error, 1, 21, "http_redirect_addr",
                       "invalid address \":99999\": port must be a number from 0 to 65535"}));
  EXPECT_TRUE(hasDiag(load("http_redirect_addr: 'a b:80'\n"),
                      {E::Error, 1, 21, "http_redirect_addr",
                       "invalid address \"a b:80\": invalid character \" \" in host"}));
  // The type is checked first, as before.
  EXPECT_TRUE(hasDiag(load("http_redirect_addr: [a]\n"),
                      {E::Error, 1, 21, "http_redirect_addr", "expected a string"}));
}

TEST(HttpRedirectAddrTest, FromTheEnvironment) {
  LoadResult r = load("", {{"HTTP_REDIRECT_ADDR", "$PORT"}});
  EXPECT_TRUE(hasDiag(r, {E::Error, 1, 1, "$HTTP_REDIRECT_ADDR",
                          "invalid address \"$PORT\": invalid character \"$\" in host "
                          "(environment variables are not expanded)",
                          "$HTTP_REDIRECT_ADDR"}));
  EXPECT_TRUE(loaded(load("", {{"HTTP_REDIRECT_ADDR", ":80"}})));
}

}  // namespace
}  // namespace vallum::config
