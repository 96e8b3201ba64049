// Route options (Pomerium's route options).
#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::Expected;
using test::hasDiag;
using test::load;
using test::loaded;
using test::routeWith;
using E = Severity;

TEST(LoaderRoutesTest, MinimalRoute) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://App.Example.com\n"
      "    to: http://LocalHost:9002/api/\n");
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->routes.size(), 1u);
  const Route& route = r.options->routes[0];
  EXPECT_EQ(route.index, 0u);
  EXPECT_EQ(route.key, "routes[0]");
  EXPECT_EQ(route.pos.file, "config.yaml");
  EXPECT_EQ(route.pos.line, 2);
  EXPECT_EQ(route.pos.column, 5);
  EXPECT_EQ(route.from.raw, "https://App.Example.com");
  EXPECT_EQ(route.from.scheme, "https");
  EXPECT_EQ(route.from.host, "app.example.com");
  EXPECT_FALSE(route.from.port.has_value());
  EXPECT_FALSE(route.from.wildcard);
  ASSERT_EQ(route.to.size(), 1u);
  const UpstreamUrl& up = route.to[0];
  EXPECT_EQ(up.raw, "http://LocalHost:9002/api/");
  EXPECT_EQ(up.scheme, "http");
  EXPECT_EQ(up.host, "localhost");
  ASSERT_TRUE(up.port.has_value());
  EXPECT_EQ(*up.port, 9002);
  EXPECT_EQ(up.effective_port, 9002);
  EXPECT_EQ(up.authority, "LocalHost:9002");
  EXPECT_EQ(up.path, "/api/");
  EXPECT_EQ(up.weight, 0u);
  EXPECT_FALSE(route.timeout.has_value());
  EXPECT_FALSE(route.allow_public_unauthenticated_access);
}

TEST(LoaderRoutesTest, PolicyEntriesComeFirstThenRoutes) {
  LoadResult r = load(
      "routes:\n"
      "  - {from: https://r0.example.com, to: http://r0}\n"
      "  - {from: https://r1.example.com, to: http://r1}\n"
      "policy:\n"
      "  - {from: https://p0.example.com, to: http://p0}\n");
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(r.options->routes.size(), 3u);
  EXPECT_EQ(r.options->routes[0].key, "policy[0]");
  EXPECT_EQ(r.options->routes[0].from.host, "p0.example.com");
  EXPECT_EQ(r.options->routes[1].key, "routes[0]");
  EXPECT_EQ(r.options->routes[2].key, "routes[1]");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.options->routes[i].index, i);
  }
}

TEST(LoaderRoutesTest, MetadataAndMatchers) {
  LoadResult r =
      load(routeWith("    name: app\n"
                     "    description: The app\n"
                     "    logo_url: https://cdn.example.com/logo.png\n"
                     "    id: route-1\n"
                     "    prefix: /api/\n"
                     "    path: /exact\n"
                     "    regex: '^/v[0-9]+/.*$'\n"
                     "    regex_priority_order: 10\n"
                     "    timeout: 1m\n"
                     "    allow_public_unauthenticated_access: true\n"));
  ASSERT_TRUE(loaded(r)) << r.diagnostics.formatAll();
  // Three path specifiers: regex wins; the others are reported as ignored (a `vallum check` lint).
  EXPECT_TRUE(hasDiag(r, {E::Warning, 8, 5, "routes[0].prefix", "ignored: the route also sets `regex`"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 9, 5, "routes[0].path", "ignored: the route also sets `regex`"}));
  EXPECT_EQ(r.diagnostics.warningCount(), 2u) << r.diagnostics.formatAll();
  const Route& route = r.options->routes[0];
  EXPECT_EQ(route.name, "app");
  EXPECT_EQ(route.description, "The app");
  EXPECT_EQ(route.logo_url, "https://cdn.example.com/logo.png");
  EXPECT_EQ(route.id, "route-1");
  EXPECT_EQ(route.prefix, "/api/");
  EXPECT_EQ(route.path, "/exact");
  EXPECT_EQ(route.regex, "^/v[0-9]+/.*$");
  ASSERT_TRUE(route.regex_priority_order.has_value());
  EXPECT_EQ(*route.regex_priority_order, 10);
  ASSERT_TRUE(route.timeout.has_value());
  EXPECT_EQ(*route.timeout, 1min);
  EXPECT_TRUE(route.allow_public_unauthenticated_access);
}

TEST(LoaderRoutesTest, TimeoutZeroAndRouteTimeout) {
  LoadResult r = load(routeWith("    timeout: 0\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(routeTimeout(r.options->routes[0], r.options->default_upstream_timeout), 0s);
  LoadResult unset = load(routeWith("") + "default_upstream_timeout: 45s\n");
  ASSERT_TRUE(loaded(unset));
  EXPECT_EQ(routeTimeout(unset.options->routes[0], unset.options->default_upstream_timeout), 45s);
}

// ---- from (Pomerium route option `from`) ----

struct FromCase {
  const char* from;
  Severity severity;
  const char* message;
};

void PrintTo(const FromCase& c, std::ostream* os) { *os << c.from; }

class LoaderFromTest : public ::testing::TestWithParam<FromCase> {};

TEST_P(LoaderFromTest, Validates) {
  LoadResult r =
      load(std::string("routes:\n  - to: http://app\n    from: ") + GetParam().from + "\n");
  EXPECT_TRUE(hasDiag(r, {GetParam().severity, 3, 11, "routes[0].from", GetParam().message}));
  EXPECT_EQ(r.options.has_value(), GetParam().severity == E::Warning);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, LoaderFromTest,
    ::testing::Values(
        FromCase{"''", E::Error, "url cannot be empty"},
        FromCase{"app.example.com", E::Error, "url does not contain a valid scheme"},
        FromCase{"app.example.com:8080/x", E::Error, "url does not contain a valid scheme"},
        FromCase{"https://", E::Error, "url does not contain a valid hostname"},
        FromCase{"https://app.example.com/admin", E::Error,
                 "source url (https://app.example.com/admin) contains a path, but it should be set "
                 "using the path field instead"},
        FromCase{"http://app.example.com", E::Warning, "uses http, but only https is supported"},
        FromCase{"https://user@app.example.com", E::Warning,
                 "user info in the source url is ignored"},
        FromCase{"tcp+https://db.example.com", E::Error,
                 "a tcp+https:// route needs a port: it is the CONNECT authority"},
        FromCase{"tcp+https://proxy.example.com/db.internal", E::Error,
                 "path segment \"db.internal\" is not a host:port CONNECT target"},
        FromCase{"udp+https://dns.example.com:53", E::Error,
                 "udp+https:// routes (UDP over HTTP) are not supported"},
        FromCase{"ssh://host.example.com", E::Error, "ssh:// routes are not supported"},
        FromCase{"ftp://files.example.com", E::Error, "unsupported scheme \"ftp\""},
        FromCase{"https://${APP_HOST}", E::Error, "environment variables are not expanded"},
        FromCase{"'https://app:http'", E::Error, "invalid port \"http\""},
        FromCase{"[https://a]", E::Error, "expected a string, got a list"}));

TEST(LoaderRoutesTest, UdpAndSshSayNotSupportedWithoutYet) {
  for (const char* from : {"udp+https://dns.example.com:53", "ssh://host.example.com"}) {
    LoadResult r = load(std::string("routes:\n  - {from: '") + from + "', to: http://a}\n");
    EXPECT_EQ(r.diagnostics.formatAll().find("yet"), std::string::npos) << from;
  }
}

TEST(LoaderRoutesTest, FromTrailingSlashAndWildcardAndPort) {
  LoadResult r = load(
      "routes:\n"
      "  - {from: 'https://app.example.com/', to: http://a}\n"
      "  - {from: 'https://*.Example.com:8443', to: http://b}\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->routes[0].from.host, "app.example.com");
  const FromUrl& wild = r.options->routes[1].from;
  EXPECT_EQ(wild.host, "*.example.com");
  EXPECT_TRUE(wild.wildcard);
  ASSERT_TRUE(wild.port.has_value());
  EXPECT_EQ(*wild.port, 8443);
}

TEST(LoaderRoutesTest, MissingFrom) {
  LoadResult r = load("routes:\n  - to: http://app\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 5, "routes[0].from", "every route needs a from URL"}));
}

// ---- to (Pomerium route option `to`) ----

TEST(LoaderRoutesTest, ToListWithWeights) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://weighted.example.com\n"
      "    to:\n"
      "      - http://myapp-srv-1:8080,10\n"
      "      - http://myapp-srv-2:8080, 20\n"
      "      - http://127.0.0.1:9001,4294967295\n");
  ASSERT_TRUE(test::clean(r));
  const auto& to = r.options->routes[0].to;
  ASSERT_EQ(to.size(), 3u);
  EXPECT_EQ(to[0].raw, "http://myapp-srv-1:8080");
  EXPECT_EQ(to[0].weight, 10u);
  EXPECT_EQ(to[1].weight, 20u);
  EXPECT_EQ(to[2].authority, "127.0.0.1:9001");
  EXPECT_EQ(to[2].weight, 4294967295u);
}

TEST(LoaderRoutesTest, ToAuthorityAsWritten) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: [http://localhost, 'http://[::1]:8080', http://Svc.Internal:81/x]\n");
  ASSERT_TRUE(test::clean(r));
  const auto& to = r.options->routes[0].to;
  EXPECT_EQ(to[0].authority, "localhost");
  EXPECT_EQ(to[0].effective_port, 80);
  EXPECT_FALSE(to[0].port.has_value());
  EXPECT_EQ(to[1].authority, "[::1]:8080");
  EXPECT_EQ(to[1].host, "::1");
  EXPECT_EQ(to[2].authority, "Svc.Internal:81");
  EXPECT_EQ(to[2].host, "svc.internal");
  EXPECT_EQ(to[2].path, "/x");
}

TEST(LoaderRoutesTest, NestedToListsAreFlattened) {
  LoadResult r = load("routes:\n  - from: https://a.example.com\n    to: [[http://a, http://b]]\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->routes[0].to.size(), 2u);
}

struct ToCase {
  const char* to;
  int line;
  int column;
  const char* key;
  const char* message;
};

void PrintTo(const ToCase& c, std::ostream* os) { *os << c.to; }

class LoaderToTest : public ::testing::TestWithParam<ToCase> {};

TEST_P(LoaderToTest, Validates) {
  LoadResult r = load(std::string("routes:\n  - from: https://a.example.com\n    to: ") +
                      GetParam().to + "\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(
      r, {E::Error, GetParam().line, GetParam().column, GetParam().key, GetParam().message}));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, LoaderToTest,
    ::testing::Values(
        ToCase{"http://a,0", 3, 9, "routes[0].to", "zero load balancing weight not permitted"},
        ToCase{"http://a,x", 3, 9, "routes[0].to", "invalid load balancing weight \"x\""},
        ToCase{"http://a,-1", 3, 9, "routes[0].to", "invalid load balancing weight \"-1\""},
        ToCase{"http://a,4294967296", 3, 9, "routes[0].to", "invalid load balancing weight"},
        ToCase{"[http://a, 'http://b,5']", 3, 9, "routes[0].to",
               "either no weights should be provided, or all endpoints must have non-zero weight "
               "specified"},
        ToCase{"app:8080", 3, 9, "routes[0].to", "url scheme must be provided"},
        ToCase{"[http://ok, app]", 3, 21, "routes[0].to[1]", "url scheme must be provided"},
        ToCase{"[http://a:80,10]", 3, 22, "routes[0].to[1]",
               "\"10\" looks like a load balancing weight split off by a YAML flow list"},
        ToCase{"http://", 3, 9, "routes[0].to", "endpoint hostname must be specified"},
        ToCase{"unix://app/run/app.sock", 3, 9, "routes[0].to",
               "a unix:// upstream names its socket by path, as unix:///run/app.sock"},
        ToCase{"https+unix:///run/app.sock", 3, 9, "routes[0].to",
               "https+unix:// upstreams are not supported yet"},
        ToCase{"udp://dns:53", 3, 9, "routes[0].to", "udp:// upstreams are not supported"},
        ToCase{"ssh://host:22", 3, 9, "routes[0].to", "ssh:// upstreams are not supported"},
        ToCase{"ws://app", 3, 9, "routes[0].to", "unsupported upstream scheme \"ws\""},
        ToCase{"'http://*.internal'", 3, 9, "routes[0].to", "cannot contain '*'"},
        ToCase{"[]", 3, 9, "routes[0].to", "url list is empty"},
        ToCase{"''", 3, 9, "routes[0].to", "url cannot be empty"},
        ToCase{"{url: http://a}", 3, 9, "routes[0].to", "expected a URL or a list of URLs"},
        ToCase{"[{url: http://a}]", 3, 10, "routes[0].to[0]", "expected a URL string"},
        ToCase{"[http://a, tcp://b:1]", 3, 9, "routes[0].to", "cannot mix tcp and non-tcp To URLs"},
        ToCase{"[http://a, udp://b:1]", 3, 9, "routes[0].to", "cannot mix udp and non-udp To URLs"},
        ToCase{"[http://a, 'unix:///s']", 3, 9, "routes[0].to",
               "cannot mix unix and non-unix To URLs"},
        ToCase{"tcp://b:1", 3, 9, "routes[0].to",
               "tcp:// upstreams are only allowed on tcp+https:// routes"},
        ToCase{"http://${UPSTREAM}", 3, 9, "routes[0].to",
               "environment variables are not expanded"}));

// Pomerium TCP routes: the CONNECT authority is the from URL's host:port, or each path segment.
TEST(LoaderRoutesTest, TcpRoutes) {
  LoadResult r = load(
      "routes:\n"
      "  - from: tcp+https://DB.example.com:5432\n"
      "    to: tcp://127.0.0.1:5432\n"
      "  - from: tcp+https://proxy.example.com/db.internal:5432/cache.internal:6379\n"
      "    to: [tcp://10.0.0.1:5432, tcp://10.0.0.2:5432]\n");
  ASSERT_TRUE(test::clean(r)) << r.diagnostics.formatAll();
  const Route& a = r.options->routes[0];
  EXPECT_TRUE(a.from.tcp());
  EXPECT_EQ(a.from.connect_authorities, std::vector<std::string>{"db.example.com:5432"});
  EXPECT_EQ(a.to[0].scheme, "tcp");
  EXPECT_EQ(a.to[0].effective_port, 5432);
  EXPECT_EQ(r.options->routes[1].from.connect_authorities,
            (std::vector<std::string>{"db.internal:5432", "cache.internal:6379"}));
  EXPECT_EQ(routeTimeout(a, 30s, longLivedRoute(a, {})), 0s);  // tunnels have no route timeout
  EXPECT_TRUE(hasDiag(load("routes:\n  - from: tcp+http://db.example.com:5432\n    to: tcp://a:1\n"),
                      {E::Warning, 2, 11, "routes[0].from",
                       "uses tcp+http, but only tcp+https is supported"}));
  // tcp:// only with tcp+https, and tcp+https needs tcp:// (the route docs).
  EXPECT_TRUE(hasDiag(load("routes:\n  - from: tcp+https://db.example.com:5432\n    to: http://a\n"),
                      {E::Error, 3, 9, "routes[0].to", "a tcp+https:// route needs tcp:// upstreams"}));
}

// Pomerium v0.33 unix upstreams: the URL path is the socket, never a path prefix.
TEST(LoaderRoutesTest, UnixUpstreams) {
  LoadResult r = load("routes:\n  - from: https://a.example.com\n    to: unix:///run/app.sock\n");
  ASSERT_TRUE(test::clean(r)) << r.diagnostics.formatAll();
  const UpstreamUrl& to = r.options->routes[0].to[0];
  EXPECT_EQ(to.scheme, "unix");
  EXPECT_EQ(to.unix_path, "/run/app.sock");
  EXPECT_EQ(to.path, "");  // never a path prefix
  EXPECT_EQ(to.authority, "");
  EXPECT_TRUE(hasDiag(load("routes:\n  - from: https://a.example.com\n    to: [unix:///s, http://b]\n"),
                      {E::Error, 3, 9, "routes[0].to", "cannot mix unix and non-unix To URLs"}));
}

TEST(LoaderRoutesTest, UpstreamUserInfoWarns) {
  LoadResult r = load("routes:\n  - from: https://a.example.com\n    to: http://u:p@app:8080\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 3, 9, "routes[0].to", "user info in the url is ignored"}));
  EXPECT_EQ(r.options->routes[0].to[0].authority, "app:8080");
}

TEST(LoaderRoutesTest, RouteWithoutAnAction) {
  LoadResult r = load("routes:\n  - from: https://a.example.com\n    name: x\n");
  EXPECT_TRUE(hasDiag(r, {E::Error, 2, 5, "routes[0]",
                          "route has none of `to`, `redirect` and `response`: it needs one of "
                          "them"}));
  EXPECT_EQ(r.diagnostics.errorCount(), 1u);
}

TEST(LoaderRoutesTest, RedirectRouteNeedsNoTo) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    redirect: {https_redirect: true}\n");
  ASSERT_TRUE(test::clean(r));
  ASSERT_TRUE(r.options->routes[0].redirect.has_value());
  EXPECT_TRUE(r.options->routes[0].redirect->https_redirect);
  EXPECT_EQ(r.options->routes[0].redirect->response_code, 301);
}

TEST(LoaderRoutesTest, EmptyRedirectIsARedirectRouteAndEmptyResponseNeedsAStatus) {
  // `redirect: {}` makes a redirect route (301 to the same URL), as in Pomerium.
  LoadResult redirect = load("routes:\n  - from: https://a.example.com\n    redirect: {}\n");
  ASSERT_TRUE(test::clean(redirect));
  EXPECT_TRUE(redirect.options->routes[0].redirect.has_value());
  LoadResult response = load("routes:\n  - from: https://a.example.com\n    response: {}\n");
  EXPECT_TRUE(hasDiag(response, {E::Error, 3, 15, "routes[0].response", "missing status"}));
}

TEST(LoaderRoutesTest, ToAndRedirectTogetherWarn) {
  LoadResult r = load(routeWith("    redirect: {https_redirect: true}\n"));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 2, 5, "routes[0]", "more than one of to, redirect"}));
}

// ---- path matching (Pomerium `prefix`, `path`, `regex`) ----

TEST(LoaderRoutesTest, PathsThatCanNeverMatchWarn) {
  LoadResult r = load(routeWith("    prefix: api/\n    path: health\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 13, "routes[0].prefix", "can never match"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 5, 11, "routes[0].path", "can never match"}));
}

TEST(LoaderRoutesTest, InvalidRegexIsAnError) {
  LoadResult r = load(routeWith("    regex: '^/(api'\n"));
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 12, "routes[0].regex", "invalid regex: missing ): ^/(api"}));
  EXPECT_TRUE(hasDiag(
      load(routeWith("    regex: 'a{2,1}'\n")),
      {E::Error, 4, 12, "routes[0].regex", "invalid regex: invalid repetition size: {2,1}"}));
  // Perl look-ahead is not RE2 syntax.
  EXPECT_TRUE(hasDiag(load(routeWith("    regex: '/(?=x)'\n")),
                      {E::Error, 4, 12, "routes[0].regex", "invalid regex"}));
}

TEST(LoaderRoutesTest, ImplementedKeyTypeErrors) {
  EXPECT_TRUE(hasDiag(load(routeWith("    timeout: 30\n")),
                      {E::Error, 4, 14, "routes[0].timeout", "missing unit in duration \"30\""}));
  EXPECT_TRUE(hasDiag(load(routeWith("    timeout: -1s\n")),
                      {E::Error, 4, 14, "routes[0].timeout", "negative duration not allowed"}));
  EXPECT_TRUE(hasDiag(load(routeWith("    regex_priority_order: high\n")),
                      {E::Error, 4, 27, "routes[0].regex_priority_order", "expected an integer"}));
  EXPECT_TRUE(hasDiag(
      load(routeWith("    allow_public_unauthenticated_access: maybe\n")),
      {E::Error, 4, 42, "routes[0].allow_public_unauthenticated_access", "expected a boolean"}));
  EXPECT_TRUE(hasDiag(load(routeWith("    prefix: [/a]\n")),
                      {E::Error, 4, 13, "routes[0].prefix", "expected a string, got a list"}));
  EXPECT_TRUE(hasDiag(load(routeWith("    name: {a: 1}\n")),
                      {E::Error, 4, 11, "routes[0].name", "expected a string, got a mapping"}));
}

// ---- keys not built yet: "not supported yet" unless empty ----

struct NotYetRouteCase {
  const char* line;   ///< "    key: value"
  const char* key;    ///< the YAML key
  const char* empty;  ///< a value that asks for nothing, or nullptr
};

void PrintTo(const NotYetRouteCase& c, std::ostream* os) { *os << c.line; }

class LoaderNotYetRouteTest : public ::testing::TestWithParam<NotYetRouteCase> {};

TEST_P(LoaderNotYetRouteTest, ValueIsNotSupportedYet) {
  LoadResult r = load(routeWith(std::string(GetParam().line) + "\n"));
  EXPECT_FALSE(r.options);
  std::string key = std::string("routes[0].") + GetParam().key;
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 5, key, "not supported yet"}));
  EXPECT_EQ(r.diagnostics.errorCount(), 1u) << r.diagnostics.formatAll();
}

TEST_P(LoaderNotYetRouteTest, NullIsUnset) {
  LoadResult r = load(routeWith(std::string("    ") + GetParam().key + ":\n"));
  EXPECT_TRUE(test::clean(r)) << GetParam().key;
}

const NotYetRouteCase kNotYetRouteCases[] = {
    NotYetRouteCase{"    tls_downstream_server_name: app.example.com", "tls_downstream_server_name",
                    "''"},
    NotYetRouteCase{"    tls_downstream_client_ca: LS0t", "tls_downstream_client_ca", "''"},
    NotYetRouteCase{"    tls_downstream_client_ca_file: /ca.pem", "tls_downstream_client_ca_file",
                    "''"},
    NotYetRouteCase{"    allow_renegotiation: true", "allow_renegotiation", "false"},
    NotYetRouteCase{"    tls_upstream_allow_renegotiation: true",
                    "tls_upstream_allow_renegotiation", "false"},
    NotYetRouteCase{"    kubernetes_service_account_token: abc", "kubernetes_service_account_token",
                    "''"},
    NotYetRouteCase{"    kubernetes_service_account_token_file: /t",
                    "kubernetes_service_account_token_file", "''"},
    NotYetRouteCase{"    idp_client_id: abc", "idp_client_id", "''"},
    NotYetRouteCase{"    idp_client_secret: abc", "idp_client_secret", "''"},
    NotYetRouteCase{"    depends_on: [other.example.com]", "depends_on", "[]"},
    NotYetRouteCase{"    bearer_token_format: idp_access_token", "bearer_token_format", "''"},
    NotYetRouteCase{"    circuit_breaker_thresholds: {max_requests: 10}",
                    "circuit_breaker_thresholds", "{}"},
    NotYetRouteCase{"    upstream_tunnel: {ssh_policy: {allow: {}}}", "upstream_tunnel", "{}"},
    NotYetRouteCase{"    session_recording: {enabled: true}", "session_recording", "{}"},
    NotYetRouteCase{"    sub_policies: [{allowed_users: [a]}]", "sub_policies", "[]"},
    NotYetRouteCase{"    identity_providers: [okta]", "identity_providers", "[]"},
    NotYetRouteCase{"    idp_access_token_allowed_audiences: [api]",
                    "idp_access_token_allowed_audiences", "[]"}};

INSTANTIATE_TEST_SUITE_P(Keys, LoaderNotYetRouteTest, ::testing::ValuesIn(kNotYetRouteCases));

// A value that asks for nothing (false, "", [], {}) is accepted silently: serving the route
// without the feature changes nothing.
TEST(LoaderRoutesTest, EmptyValuesOfNotYetKeysAskForNothing) {
  for (const NotYetRouteCase& c : kNotYetRouteCases) {
    if (c.empty == nullptr) {
      continue;  // durations, numbers, and mappings whose {} still asks for something
    }
    LoadResult r = load(routeWith(std::string("    ") + c.key + ": " + c.empty + "\n"));
    EXPECT_TRUE(test::clean(r)) << c.key << ": " << c.empty;
  }
}

struct RouteTypeErrorCase {
  const char* line;
  int column;
  const char* key;
  const char* message;
};

void PrintTo(const RouteTypeErrorCase& c, std::ostream* os) { *os << c.line; }

class LoaderRouteTypeErrorTest : public ::testing::TestWithParam<RouteTypeErrorCase> {};

TEST_P(LoaderRouteTypeErrorTest, IsATypeErrorNotNotSupportedYet) {
  LoadResult r = load(routeWith(std::string(GetParam().line) + "\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, GetParam().column, GetParam().key, GetParam().message}));
  EXPECT_EQ(r.diagnostics.formatAll().find("not supported yet"), std::string::npos)
      << r.diagnostics.formatAll();
}

INSTANTIATE_TEST_SUITE_P(
    Types, LoaderRouteTypeErrorTest,
    ::testing::Values(
        RouteTypeErrorCase{"    allow_websockets: sometimes", 23, "routes[0].allow_websockets",
                           "expected a boolean (true or false), got \"sometimes\""},
        RouteTypeErrorCase{"    idle_timeout: 30", 19, "routes[0].idle_timeout",
                           "missing unit in duration \"30\""},
        RouteTypeErrorCase{"    set_request_headers: [a]", 26, "routes[0].set_request_headers",
                           "expected a mapping of strings"},
        RouteTypeErrorCase{"    set_request_headers: {X-A: [b]}", 32,
                           "routes[0].set_request_headers.X-A", "expected a string"},
        RouteTypeErrorCase{"    remove_request_headers: {a: b}", 29,
                           "routes[0].remove_request_headers", "expected a list of strings"},
        RouteTypeErrorCase{"    health_checks: {timeout: 1s}", 20, "routes[0].health_checks",
                           "expected a list, got a mapping"},
        RouteTypeErrorCase{"    outlier_detection: [a]", 24, "routes[0].outlier_detection",
                           "expected a mapping, got a list"},
        RouteTypeErrorCase{"    healthy_panic_threshold: half", 30,
                           "routes[0].healthy_panic_threshold", "expected an integer"},
        RouteTypeErrorCase{"    host_rewrite: [a]", 19, "routes[0].host_rewrite",
                           "expected a string"},
        RouteTypeErrorCase{"    jwt_issuer_format: full", 24, "routes[0].jwt_issuer_format",
                           "unknown value \"full\" (expected one of: hostOnly, uri)"}));

TEST(LoaderRoutesTest, UpgradeKeys) {
  LoadResult r = load(
      "allow_upgrades: [Foo]\n"
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a\n"
      "    allow_websockets: true\n"
      "    allow_spdy: true\n"
      "    allow_upgrades: [Custom-Proto, spdy/3.1]\n"
      "    idle_timeout: 90s\n"
      "  - from: https://b.example.com\n"
      "    to: http://b\n");
  ASSERT_TRUE(test::clean(r)) << r.diagnostics.formatAll();
  EXPECT_EQ(r.options->allow_upgrades, std::vector<std::string>{"foo"});
  const Route& a = r.options->routes[0];
  EXPECT_TRUE(a.allow_websockets);
  EXPECT_TRUE(a.allow_spdy);
  EXPECT_EQ(a.allow_upgrades, (std::vector<std::string>{"custom-proto", "spdy/3.1"}));
  EXPECT_EQ(a.idle_timeout, 90s);
  const Route& b = r.options->routes[1];
  EXPECT_FALSE(b.allow_upgrades);
  EXPECT_FALSE(b.idle_timeout);
  EXPECT_EQ(routeUpgrades(b, r.options->allow_upgrades), std::vector<std::string>{"foo"});
}

TEST(LoaderRoutesTest, UpgradeTokensMustBeTokens) {
  LoadResult r = load(routeWith("    allow_upgrades: [websocket, \"bad token\", a/b/c]\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 0, "routes[0].allow_upgrades[1]",
                          "upgrade \"bad token\" is not an upgrade token"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 0, "routes[0].allow_upgrades[2]",
                          "upgrade \"a/b/c\" is not an upgrade token"}));
}

TEST(LoaderRoutesTest, DefaultValuedKeysTogetherLoadClean) {
  LoadResult r =
      load(routeWith("    allow_websockets: false\n"
                     "    allow_spdy: \"false\"\n"
                     "    tls_skip_verify: false\n"
                     "    pass_identity_headers: false\n"
                     "    set_request_headers: {}\n"
                     "    remove_request_headers: []\n"
                     "    health_checks: []\n"
                     "    policy: []\n"
                     "    allowed_users: []\n"));
  EXPECT_TRUE(test::clean(r));
}

TEST(LoaderRoutesTest, OutOfScopeRemovedAndUnknownRouteKeys) {
  LoadResult r =
      load(routeWith("    mcp: {server: {}}\n"
                     "    allowed_groups: [admins]\n"
                     "    set_authorization_header: true\n"
                     "    choice_count: 2\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 5, "routes[0].mcp", "not supported"}));
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 5, 5, "routes[0].allowed_groups", "config option was removed"}));
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 6, 5, "routes[0].set_authorization_header", "config option was removed"}));
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 7, 5, "routes[0].choice_count", "unknown route option \"choice_count\""}));
  EXPECT_EQ(r.diagnostics.errorCount(), 4u);
  EXPECT_EQ(r.diagnostics.formatAll().find("mcp: not supported yet"), std::string::npos);
}

// Vallum is stricter than Pomerium: an unknown route key is an error, so that a misspelled
// matcher never turns a route into a catch-all and a key cut by a half-written file is never
// applied without it (docs/decisions.md).
TEST(LoaderRoutesTest, UnknownRouteKeyIsAnError) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://app.example.com\n"
      "    to: http://app:8080\n"
      "    prefx: /public\n"
      "    allow_public_unauthenticated_access: true\n"
      "  - from: https://other.example.com\n"
      "    to: http://other:8080\n");
  EXPECT_FALSE(r.options);  // the whole config is refused, not just the route
  ASSERT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items()[0].format(),
            "config.yaml:4:5: error: routes[0].prefx: unknown route option \"prefx\" (did you "
            "mean \"prefix\"?)");
  EXPECT_TRUE(hasDiag(
      load(routeWith("    connect_timeout: 5s\n")),
      {E::Error, 4, 5, "routes[0].connect_timeout", "unknown route option \"connect_timeout\""}));
}

TEST(LoaderRoutesTest, ControlBytesInKeysAndValuesAreEscapedInDiagnostics) {
  // YAML's "\e" is ESC: a config can carry terminal escape sequences in keys and values.
  LoadResult r = load(routeWith("    \"pre\\e[2Jfix\": /x\n    regex: \"\\e]0;owned\\a(\"\n"));
  ASSERT_EQ(r.diagnostics.errorCount(), 2u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items()[0].key, "routes[0].pre\x1b[2Jfix");  // kept as written
  const std::string all = r.diagnostics.formatAll();
  EXPECT_EQ(all.find('\x1b'), std::string::npos) << all;
  EXPECT_EQ(all.find('\x07'), std::string::npos) << all;
  EXPECT_EQ(r.diagnostics.items()[0].format(),
            "config.yaml:4:5: error: routes[0].pre\\x1b[2Jfix: unknown route option "
            "\"pre\\x1b[2Jfix\"");
  EXPECT_NE(r.diagnostics.items()[1].format().find("\\x1b]0;owned\\x07("), std::string::npos)
      << r.diagnostics.items()[1].format();
}

TEST(LoaderRoutesTest, KeyCutShortByATruncatedWriteIsAnError) {
  // The file ends in the middle of a key: not even its ':' arrived, so it is not YAML (as
  // yaml.v3 says too) and nothing of the file is applied.
  LoadResult r = load(routeWith("    prefix: /admin\n    allow_public_unauth"));
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 6, 1, "yaml", "could not find expected ':'"}));
  LoadResult null_value = load(routeWith("    regx:\n"));
  EXPECT_FALSE(null_value.options);
  EXPECT_TRUE(hasDiag(null_value, {E::Error, 4, 5, "routes[0].regx",
                                   "unknown route option \"regx\" (did you mean \"regex\"?)"}));
}

TEST(LoaderRoutesTest, UnknownKeysFromTheEnvironmentAreErrorsToo) {
  // POLICY = base64 of "- {from: https://env.example.com, to: http://env, prefx: /x}".
  LoadResult r = load("address: ':8443'\n",
                      {{"POLICY",
                        "LSB7ZnJvbTogaHR0cHM6Ly9lbnYuZXhhbXBsZS5jb20sIHRvOiBodHRwOi8vZW52LCBwcmVm"
                        "eDogL3h9Cg=="}});
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 1, 51, "$POLICY[0].prefx", "unknown route option \"prefx\"", "$POLICY"}));
}

// ---- legacy allow lists (Pomerium `allowed_users`, `allowed_domains`, ...) ----

TEST(LoaderRoutesTest, PublicRouteWithWhitelists) {
  LoadResult r =
      load(routeWith("    allow_public_unauthenticated_access: true\n"
                     "    allowed_users: [a@example.com]\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 42, "routes[0].allow_public_unauthenticated_access",
                          "policy route marked as public but contains whitelists"}));
  EXPECT_TRUE(hasDiag(load(routeWith("    allow_public_unauthenticated_access: true\n"
                                     "    allow_any_authenticated_user: true\n")),
                      {E::Error, 4, 42, "routes[0].allow_public_unauthenticated_access",
                       "marked as public but contains whitelists"}));
  // Empty lists are no whitelists.
  EXPECT_TRUE(
      test::clean(load(routeWith("    allow_public_unauthenticated_access: true\n"
                                 "    allowed_domains: []\n"))));
}

TEST(LoaderRoutesTest, AnyAuthenticatedUserWithWhitelists) {
  LoadResult r =
      load(routeWith("    allow_any_authenticated_user: true\n"
                     "    allowed_domains: [example.com]\n"));
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 35, "routes[0].allow_any_authenticated_user",
                          "policy route marked accessible for any authenticated user but contains "
                          "whitelists"}));
}

// ---- structure ----

TEST(LoaderRoutesTest, RoutesMustBeAListOfMappings) {
  EXPECT_TRUE(hasDiag(load("routes: {from: https://a}\n"),
                      {E::Error, 1, 9, "routes", "expected a list of routes, got a mapping"}));
  EXPECT_TRUE(hasDiag(load("policy: https://a\n"),
                      {E::Error, 1, 9, "policy", "expected a list of routes"}));
  EXPECT_TRUE(
      hasDiag(load("routes:\n  - https://a.example.com\n"),
              {E::Error, 2, 5, "routes[0]",
               "expected a route (a mapping with from and to), got \"https://a.example.com\""}));
  EXPECT_TRUE(test::clean(load("routes: []\npolicy:\n")));
}

TEST(LoaderRoutesTest, EveryProblemOfEveryRouteIsReportedInFileOrder) {
  LoadResult r = load(
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a,0\n"
      "    timeout: 5\n"
      "  - from: https://b.example.com/x\n"
      "    to: app\n"
      "    depends_on: [c.example.com]\n");
  ASSERT_EQ(r.diagnostics.errorCount(), 5u) << r.diagnostics.formatAll();
  const auto& d = r.diagnostics.items();
  EXPECT_EQ(d[0].key, "routes[0].to");
  EXPECT_EQ(d[1].key, "routes[0].timeout");
  EXPECT_EQ(d[2].key, "routes[1].from");
  EXPECT_EQ(d[3].key, "routes[1].to");
  EXPECT_EQ(d[4].key, "routes[1].depends_on");
}

TEST(LoaderRoutesTest, DuplicateRouteKey) {
  LoadResult r = load(routeWith("    to: http://other\n"));
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 4, 5, "routes[0].to", "duplicate key (first defined at line 3)"}));
}

TEST(LoaderRoutesTest, RouteTimeoutBeyondTimeoutWriteWarns) {
  LoadResult r = load(routeWith("    timeout: 2m\n") + "timeout_write: 1m\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 14, "routes[0].timeout",
                          "timeout 2m0s will be cut short by timeout_write 1m0s"}));
  EXPECT_TRUE(test::clean(load(routeWith("    timeout: 2m\n"))));
}

TEST(LoaderRoutesTest, YamlMergeKeysShareRouteDefaults) {
  LoadResult r = load(
      "x-defaults: &defaults\n"
      "  to: http://shared:8080\n"
      "  timeout: 10s\n"
      "routes:\n"
      "  - <<: *defaults\n"
      "    from: https://a.example.com\n"
      "  - <<: *defaults\n"
      "    from: https://b.example.com\n"
      "    timeout: 20s\n");
  ASSERT_TRUE(loaded(r));
  ASSERT_EQ(r.options->routes.size(), 2u);
  EXPECT_EQ(r.options->routes[0].to[0].host, "shared");
  EXPECT_EQ(*r.options->routes[0].timeout, 10s);
  EXPECT_EQ(*r.options->routes[1].timeout, 20s);
}

}  // namespace
}  // namespace vallum::config
