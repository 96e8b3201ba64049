// Request-shaping route options: redirect, response, path and host rewrites, header
// policy, and the lints `vallum check` prints for them (Pomerium route options `to` through
// `set_response_headers`).
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::Expected;
using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;

std::string route(std::string_view extra) {
  return "routes:\n  - from: https://app.example.com\n" + std::string(extra);
}

TEST(LoaderShapingTest, RedirectWithEveryField) {
  LoadResult r = load(route(
      "    redirect:\n"
      "      https_redirect: true\n"
      "      scheme_redirect: http\n"
      "      host_redirect: docs.example.net\n"
      "      port_redirect: 8443\n"
      "      path_redirect: /guide\n"
      "      prefix_rewrite: /v2/\n"
      "      response_code: 308\n"
      "      strip_query: true\n"));
  ASSERT_TRUE(loaded(r));
  const RedirectAction& a = *r.options->routes[0].redirect;
  EXPECT_TRUE(a.https_redirect);
  EXPECT_EQ(a.scheme_redirect, "http");
  EXPECT_EQ(a.host_redirect, "docs.example.net");
  EXPECT_EQ(a.port_redirect, 8443u);
  EXPECT_EQ(a.path_redirect, "/guide");
  EXPECT_EQ(a.prefix_rewrite, "/v2/");
  EXPECT_EQ(a.response_code, 308);
  EXPECT_TRUE(a.strip_query);
  // The precedence rules are pointed out.
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 7, "routes[0].redirect", "https_redirect wins"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 7, "routes[0].redirect", "path_redirect wins"}));
}

TEST(LoaderShapingTest, RedirectValidation) {
  LoadResult r = load(route(
      "    redirect:\n"
      "      response_code: 305\n"
      "      port_redirect: 70000\n"
      "      path_redirect: relative\n"
      "      bogus: 1\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 22, "routes[0].redirect.response_code",
                          "unsupported redirect response code 305 (supported values: 301, 302, "
                          "303, 307, 308)"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 22, "routes[0].redirect.port_redirect",
                          "port must be between 0 and 65535"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 6, 22, "routes[0].redirect.path_redirect",
                          "must start with \"/\""}));
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 7, 7, "routes[0].redirect.bogus", "unknown redirect option \"bogus\""}));
  EXPECT_TRUE(
      hasDiag(load(route("    redirect: {host_redirect: a.example.com, stip_query: true}\n")),
              {E::Error, 3, 46, "routes[0].redirect.stip_query",
               "unknown redirect option \"stip_query\" (did you mean \"strip_query\"?)"}));
  // A key with no value is not "unset" when nobody knows it.
  EXPECT_TRUE(
      hasDiag(load(route("    redirect: {host_redirect: a.example.com, https_redirec: }\n")),
              {E::Error, 3, 46, "routes[0].redirect.https_redirec",
               "unknown redirect option \"https_redirec\""}));
  EXPECT_TRUE(hasDiag(load(route("    redirect: {response_code: 200}\n")),
                      {E::Error, 3, 31, "routes[0].redirect.response_code",
                       "unsupported redirect response code 200"}));
  EXPECT_TRUE(hasDiag(load(route("    redirect: [a]\n")),
                      {E::Error, 3, 15, "routes[0].redirect", "expected a mapping"}));
}

TEST(LoaderShapingTest, DirectResponse) {
  LoadResult r = load(route("    response: {status: 418, body: \"I'm a teapot\"}\n"));
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->routes[0].response->status, 418);
  EXPECT_EQ(r.options->routes[0].response->body, "I'm a teapot");
  EXPECT_TRUE(hasDiag(load(route("    response: {status: 99}\n")),
                      {E::Error, 3, 24, "routes[0].response.status",
                       "status must be between 200 and 599, got 99"}));
  EXPECT_TRUE(hasDiag(load(route("    response: {body: x}\n")),
                      {E::Error, 3, 15, "routes[0].response", "missing status"}));
  LoadResult typo = load(route("    response: {status: 200, bdy: ok}\n"));
  EXPECT_FALSE(typo.options);
  EXPECT_TRUE(hasDiag(typo, {E::Error, 3, 29, "routes[0].response.bdy",
                             "unknown response option \"bdy\" (did you mean \"body\"?)"}));
}

TEST(LoaderShapingTest, RewriteResponseHeadersUnknownFieldIsAnError) {
  LoadResult r = load(
      route("    rewrite_response_headers: [{header: Location, prefix: 'http://a/', valu: /}]\n"));
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 3, 72, "routes[0].rewrite_response_headers[0].valu",
                          "unknown rewrite_response_headers option \"valu\" (did you mean "
                          "\"value\"?)"}));
}

TEST(LoaderShapingTest, PrefixAndRegexRewriteTogetherIsAnError) {
  LoadResult r = load(route(
      "    to: http://app\n"
      "    prefix_rewrite: /a\n"
      "    regex_rewrite_pattern: '^/b'\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 28, "routes[0].regex_rewrite_pattern",
                          "only prefix_rewrite or regex_rewrite_pattern can be specified, but "
                          "not both"}));
}

TEST(LoaderShapingTest, RegexRewriteIsCompiledAndTheSubstitutionChecked) {
  LoadResult ok = load(route(
      "    to: http://app\n"
      "    regex_rewrite_pattern: '^/service/([^/]+)(/.*)$'\n"
      "    regex_rewrite_substitution: '\\2/instance/\\1'\n"));
  ASSERT_TRUE(test::clean(ok));
  EXPECT_EQ(ok.options->routes[0].regex_rewrite_substitution, "\\2/instance/\\1");
  EXPECT_TRUE(hasDiag(load(route("    to: http://app\n    regex_rewrite_pattern: '(unclosed'\n")),
                      {E::Error, 4, 28, "routes[0].regex_rewrite_pattern", "invalid regex"}));
  EXPECT_TRUE(hasDiag(load(route("    to: http://app\n"
                                 "    regex_rewrite_pattern: '^/(a)$'\n"
                                 "    regex_rewrite_substitution: '\\2'\n")),
                      {E::Error, 5, 33, "routes[0].regex_rewrite_substitution",
                       "invalid substitution"}));
  // `$1` is not a reference in RE2's syntax: accepted, sent literally (cases BR-03).
  EXPECT_TRUE(test::clean(load(route("    to: http://app\n"
                                     "    regex_rewrite_pattern: '^/b/([^/]+)$'\n"
                                     "    regex_rewrite_substitution: '/orders/$1'\n"))));
  EXPECT_TRUE(hasDiag(load(route("    to: http://app\n    regex_rewrite_substitution: /x\n")),
                      {E::Warning, 4, 33, "routes[0].regex_rewrite_substitution",
                       "ignored without regex_rewrite_pattern"}));
}

TEST(LoaderShapingTest, EmptyPrefixRewriteIsIgnoredWithAWarning) {
  LoadResult r = load(route("    to: http://app\n    prefix: /tool\n    prefix_rewrite: ''\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 21, "routes[0].prefix_rewrite",
                          "an empty prefix_rewrite is ignored"}));
}

TEST(LoaderShapingTest, HostRewriteOptionsAndTheirPrecedence) {
  LoadResult r = load(route(
      "    to: http://app\n"
      "    preserve_host_header: true\n"
      "    host_rewrite_header: X-Host\n"
      "    host_rewrite: internal.example\n"));
  ASSERT_TRUE(loaded(r));
  const Route& rt = r.options->routes[0];
  EXPECT_TRUE(rt.preserve_host_header);
  EXPECT_EQ(rt.host_rewrite, "internal.example");
  EXPECT_EQ(rt.host_rewrite_header, "X-Host");
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 5, "routes[0].preserve_host_header",
                          "ignored: the route also sets `host_rewrite`"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 5, "routes[0].host_rewrite_header",
                          "ignored: the route also sets `host_rewrite`"}));
  EXPECT_EQ(r.diagnostics.warningCount(), 2u);
  // One option alone: no warning; a bad regex or header name is an error.
  EXPECT_TRUE(test::clean(load(route("    to: http://app\n    preserve_host_header: true\n"))));
  EXPECT_TRUE(hasDiag(load(route("    to: http://app\n    host_path_regex_rewrite_pattern: '('\n")),
                      {E::Error, 4, 38, "routes[0].host_path_regex_rewrite_pattern",
                       "invalid regex"}));
  EXPECT_TRUE(hasDiag(load(route("    to: http://app\n    host_rewrite_header: 'X Host'\n")),
                      {E::Error, 4, 26, "routes[0].host_rewrite_header", "invalid header name"}));
}

TEST(LoaderShapingTest, SetRequestHeadersRefusesHostAndPseudoHeaders) {
  LoadResult r = load(route(
      "    to: http://app\n"
      "    set_request_headers:\n"
      "      X-Custom: one\n"
      "      Host: other.example\n"
      "      ':authority': other.example\n"
      "      X-Empty:\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 6, 7, "routes[0].set_request_headers.Host",
                          "cannot be set with set_request_headers and is not applied; use "
                          "host_rewrite"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 7, 7, "routes[0].set_request_headers.:authority",
                          "is not applied"}));
  const auto& set = r.options->routes[0].set_request_headers;
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0].name, "X-Custom");
  EXPECT_EQ(set[0].value, "one");
  EXPECT_EQ(set[1].name, "X-Empty");
  EXPECT_EQ(set[1].value, "");
  EXPECT_TRUE(hasDiag(load(route("    to: http://app\n    set_request_headers: {'Bad Name': x}\n")),
                      {E::Error, 4, 27, "routes[0].set_request_headers.Bad Name",
                       "invalid header name"}));
}

TEST(LoaderShapingTest, FramingHeadersInSetRequestHeadersAreNotApplied) {
  LoadResult r = load(route(
      "    to: http://app\n"
      "    set_request_headers: {Content-Length: '0', transfer-encoding: chunked, X-Ok: y}\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 27, "routes[0].set_request_headers.Content-Length",
                          "framing or hop-by-hop and is not applied"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 0, "routes[0].set_request_headers.transfer-encoding",
                          "not applied"}));
  ASSERT_EQ(r.options->routes[0].set_request_headers.size(), 1u);
  EXPECT_EQ(r.options->routes[0].set_request_headers[0].name, "X-Ok");
}

TEST(LoaderShapingTest, NoContentDirectResponseBodyWarns) {
  EXPECT_TRUE(hasDiag(load(route("    response: {status: 204, body: x}\n")),
                      {E::Warning, 3, 15, "routes[0].response.body", "the body is not sent"}));
}

TEST(LoaderShapingTest, SetAndRemoveTheSameHeaderWarnsThatSetWins) {
  LoadResult r = load(route(
      "    to: http://app\n"
      "    set_request_headers: {X-User: fixed}\n"
      "    remove_request_headers: [x-user, X-Other]\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 30, "routes[0].remove_request_headers[0]", "set wins"}));
  EXPECT_EQ(r.diagnostics.warningCount(), 1u);
  EXPECT_EQ(r.options->routes[0].remove_request_headers,
            (std::vector<std::string>{"x-user", "X-Other"}));
}

TEST(LoaderShapingTest, ResponseHeaderOptions) {
  LoadResult r = load(
      "set_response_headers: {X-Frame-Options: DENY, disable: true}\n" +
      route("    to: http://app\n"
            "    set_response_headers: {X-Route: r}\n"
            "    rewrite_response_headers:\n"
            "      - header: Location\n"
            "        prefix: http://127.0.0.1:9001/\n"
            "        value: https://app.example.com/\n"
            "      - prefix: x\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 10, 9, "routes[0].rewrite_response_headers[1].header",
                          "missing"}));
  LoadResult ok = load(
      "set_response_headers: {X-Frame-Options: DENY}\n" +
      route("    to: http://app\n"
            "    set_response_headers: {X-Route: r}\n"
            "    rewrite_response_headers: [{header: Location, prefix: 'http://a/', value: /}]\n"));
  ASSERT_TRUE(test::clean(ok));
  ASSERT_TRUE(ok.options->set_response_headers.has_value());
  EXPECT_EQ(ok.options->set_response_headers->at(0).name, "X-Frame-Options");
  EXPECT_EQ(ok.options->routes[0].set_response_headers.at(0).value, "r");
  const auto& rw = ok.options->routes[0].rewrite_response_headers.at(0);
  EXPECT_EQ(rw.header, "Location");
  EXPECT_EQ(rw.prefix, "http://a/");
  EXPECT_EQ(rw.value, "/");
  EXPECT_FALSE(load("address: :443\n").options->set_response_headers.has_value());
}

// ---- lints (`vallum check` warnings) ----

TEST(LoaderShapingTest, ToPathWithoutTrailingSlashUnderAPrefixRouteWarns) {
  LoadResult r = load(route("    prefix: /api/\n    to: http://app/v1\n"));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 9, "routes[0].to",
                          "/api/foo reaches the upstream as /v1foo; write \"/v1/\""}));
  // The default prefix "/" too.
  EXPECT_TRUE(hasDiag(load(route("    to: http://app/api\n")),
                      {E::Warning, 3, 9, "routes[0].to", "as /apifoo"}));
  // Not a pitfall: trailing slash present, a prefix without one, a path route, a rewrite.
  EXPECT_TRUE(test::clean(load(route("    prefix: /api/\n    to: http://app/v1/\n"))));
  EXPECT_TRUE(test::clean(load(route("    prefix: /api\n    to: http://app/v1\n"))));
  EXPECT_TRUE(test::clean(load(route("    path: /x\n    to: http://app/v1\n"))));
  EXPECT_TRUE(test::clean(
      load(route("    prefix: /api/\n    to: http://app/v1\n    prefix_rewrite: /z/\n"))));
}

TEST(LoaderShapingTest, PrefixRewriteSlashAfterPrefixWithoutSlashWarns) {
  LoadResult r = load(route("    to: http://app\n    prefix: /tool\n    prefix_rewrite: /\n"));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 21, "routes[0].prefix_rewrite",
                          "/tool/x reaches the upstream as //x; use prefix: \"/tool/\""}));
  EXPECT_TRUE(test::clean(load(route("    to: http://app\n    prefix: /tool/\n    prefix_rewrite: /\n"))));
}

}  // namespace
}  // namespace vallum::config
