#include <algorithm>
#include "proxy/stages/stage_chain.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "http/http1/parser.h"
#include "http/http1/server_codec.h"
#include "http/http1/writer.h"
#include "proxy/response_headers.h"
#include "proxy/stages/rewrite_request.h"

namespace vallum::proxy {
namespace {

SnapshotConstSharedPtr build(const std::string& yaml) {
  config::LoadResult loaded = config::loadString(yaml, "test.yaml", config::emptyEnvironment());
  EXPECT_TRUE(loaded.options.has_value()) << loaded.diagnostics.formatAll();
  if (!loaded.options) {
    return nullptr;
  }
  SnapshotBuildOptions options;
  options.resolve_dns = false;
  auto snapshot = buildSnapshot(std::move(*loaded.options), options, loaded.diagnostics);
  EXPECT_NE(snapshot, nullptr) << loaded.diagnostics.formatAll();
  return snapshot;
}

enum class Decision { Forward, Reply };

/// Parses `wire` (a whole request) and runs the stage chain on a TLS listener.
struct Pipeline {
  SnapshotConstSharedPtr snapshot;
  http::http1::RequestParser parser;
  StreamContext ctx;
  Decision decision = Decision::Reply;

  Pipeline(SnapshotConstSharedPtr s, const std::string& wire, bool tls = true) : snapshot(std::move(s)) {
    std::vector<std::string_view> body;
    http::http1::ParseEvents ev = parser.execute(wire, body);
    EXPECT_EQ(ev.error_status, 0) << wire;
    ctx.reset(snapshot.get(), tls, &parser.head());
    ctx.client_ip = "192.0.2.7";
    ctx.request_id = "rid";
    decision = runStages(ctx) == StageStatus::Continue ? Decision::Forward : Decision::Reply;
  }

  /// The request head an HTTP/1.1 upstream gets (endpoint `endpoint` picked).
  std::string upstreamHead(size_t endpoint = 0) {
    http::OutgoingRequest& out = ctx.upstream;
    if (ctx.route->host_rewrite == RouteRuntime::HostRewrite::Endpoint) {
      out.authority = ctx.route->cluster.endpoints[endpoint].authority;
    }
    std::string head;
    http::http1::appendRequestHead(out, head);
    return head;
  }
};

std::string get(std::string_view host, std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n" +
         std::string(extra) + "\r\n";
}

std::string requestLine(const std::string& head) { return head.substr(0, head.find("\r\n")); }

bool hasLine(const std::string& head, std::string_view line) {
  return head.find("\r\n" + std::string(line) + "\r\n") != std::string::npos;
}

// ---- redirects (Envoy route.v3.RedirectAction, cases BR-13) ----

const char* kRedirects = R"(
routes:
  - from: https://go.example.test
    redirect: {host_redirect: docs.example.net, path_redirect: /guide/start}
    allow_public_unauthenticated_access: true
  - from: https://go2.example.test
    redirect: {host_redirect: docs.example.net, path_redirect: /guide/start, strip_query: true, response_code: 302}
    allow_public_unauthenticated_access: true
  - from: https://go3.example.test
    prefix: /v1/
    redirect: {prefix_rewrite: /v2/}
    allow_public_unauthenticated_access: true
  - from: https://secure.example.test
    redirect: {https_redirect: true}
    allow_public_unauthenticated_access: true
  - from: https://port.example.test
    redirect: {port_redirect: 443, scheme_redirect: https}
    allow_public_unauthenticated_access: true
  - from: https://pq.example.test
    redirect: {path_redirect: '/new?foo=1', strip_query: true}
    allow_public_unauthenticated_access: true
  - from: https://private.example.test
    redirect: {host_redirect: elsewhere.example.net}
)";

TEST(RedirectTest, CasesBr13) {
  auto s = build(kRedirects);
  Pipeline go(s, get("go.example.test:8443", "/anything?q=1"));
  ASSERT_EQ(go.decision, Decision::Reply);
  EXPECT_EQ(go.ctx.reply.kind, LocalReply::Kind::Redirect);
  EXPECT_EQ(go.ctx.reply.status, 301);
  EXPECT_EQ(go.ctx.reply.location, "https://docs.example.net/guide/start?q=1");
  Pipeline go2(s, get("go2.example.test:8443", "/anything?q=1"));
  EXPECT_EQ(go2.ctx.reply.status, 302);
  EXPECT_EQ(go2.ctx.reply.location, "https://docs.example.net/guide/start");
  Pipeline go3(s, get("go3.example.test:8443", "/v1/items?id=3"));
  EXPECT_EQ(go3.ctx.reply.location, "https://go3.example.test:8443/v2/items?id=3");
}

TEST(RedirectTest, SchemeChangeDropsOnlyTheOriginalDefaultPort) {
  auto s = build(kRedirects);
  // Envoy's conformance vector, on a plain listener: http://example.com:80/a?b=1 →
  // https://example.com/a?b=1, and :8080 is kept.
  Pipeline plain80(s, get("secure.example.test:80", "/a?b=1"), /*tls=*/false);
  EXPECT_EQ(plain80.ctx.reply.location, "https://secure.example.test/a?b=1");
  Pipeline plain8080(s, get("secure.example.test:8080", "/a?b=1"), false);
  EXPECT_EQ(plain8080.ctx.reply.location, "https://secure.example.test:8080/a?b=1");
  // Already https: the scheme does not change, an explicit :443 stays.
  Pipeline tls443(s, get("secure.example.test:443", "/a"), true);
  EXPECT_EQ(tls443.ctx.reply.location, "https://secure.example.test:443/a");
}

TEST(RedirectTest, PortRedirectIsAlwaysWritten) {
  auto s = build(kRedirects);
  Pipeline r(s, get("port.example.test:8080", "/x"), false);
  EXPECT_EQ(r.ctx.reply.location, "https://port.example.test:443/x");
}

TEST(RedirectTest, PathRedirectQueryReplacesTheRequestsEvenWithStripQuery) {
  auto s = build(kRedirects);
  Pipeline r(s, get("pq.example.test", "/old?bar=1"));
  EXPECT_EQ(r.ctx.reply.location, "https://pq.example.test/new?foo=1");
}

TEST(RedirectTest, RedirectRoutesAreAuthorizedLikeAnyRoute) {
  auto s = build(kRedirects);
  Pipeline r(s, get("private.example.test", "/"));
  EXPECT_EQ(r.ctx.reply.status, 403);
  EXPECT_EQ(r.ctx.reply.kind, LocalReply::Kind::ErrorPage);
}

TEST(DirectResponseTest, StatusAndBody) {
  auto s = build(R"(
routes:
  - from: https://teapot.example.test
    response: {status: 418, body: "short and stout"}
    allow_public_unauthenticated_access: true
)");
  Pipeline r(s, get("teapot.example.test", "/"));
  EXPECT_EQ(r.ctx.reply.kind, LocalReply::Kind::Text);
  EXPECT_EQ(r.ctx.reply.status, 418);
  EXPECT_EQ(r.ctx.reply.body, "short and stout");
}

// ---- path rewrites (Pomerium `to` path, prefix_rewrite, regex_rewrite_*; cases BR-01, BR-03) ----

TEST(PathRewriteTest, CasesBr01) {
  auto s = build(R"(
routes:
  - from: https://app.example.test
    to: http://127.0.0.1:9001
    prefix: /tool/
    prefix_rewrite: /
    allow_public_unauthenticated_access: true
  - from: https://app.example.test
    to: http://127.0.0.1:9002
    prefix: /v1
    prefix_rewrite: /api/v2
    allow_public_unauthenticated_access: true
)");
  struct Case {
    const char* target;
    const char* forwarded;  // nullptr: no route
  };
  for (const Case& c : {Case{"/tool/health", "/health"}, Case{"/tool/", "/"},
                        Case{"/tool/a/b?x=1&y=%2F", "/a/b?x=1&y=%2F"}, Case{"/tool", nullptr},
                        Case{"/v1/users", "/api/v2/users"}, Case{"/v1", "/api/v2"}}) {
    Pipeline r(s, get("app.example.test", c.target));
    if (c.forwarded == nullptr) {
      EXPECT_EQ(r.ctx.reply.status, 404) << c.target;
      continue;
    }
    ASSERT_EQ(r.decision, Decision::Forward) << c.target;
    EXPECT_EQ(requestLine(r.upstreamHead()), "GET " + std::string(c.forwarded) + " HTTP/1.1")
        << c.target;
  }
}

TEST(PathRewriteTest, CasesBr03RegexRewrite) {
  auto s = build(R"(
routes:
  - from: https://rw.example.test
    to: http://127.0.0.1:9001
    prefix: /service/
    regex_rewrite_pattern: '^/service/([^/]+)(/.*)$'
    regex_rewrite_substitution: '\2/instance/\1'
    allow_public_unauthenticated_access: true
  - from: https://rw.example.test
    to: http://127.0.0.1:9002
    prefix: /bookings/
    regex_rewrite_pattern: '^/bookings/([^/]+)/sometask$'
    regex_rewrite_substitution: '/orders/$1/sometask'
    allow_public_unauthenticated_access: true
  - from: https://rw.example.test
    to: http://127.0.0.1:9003
    prefix: /xxx/
    regex_rewrite_pattern: 'one'
    regex_rewrite_substitution: 'two'
    allow_public_unauthenticated_access: true
)");
  EXPECT_EQ(requestLine(Pipeline(s, get("rw.example.test", "/service/foo/v1/api?x=1")).upstreamHead()),
            "GET /v1/api/instance/foo?x=1 HTTP/1.1");
  EXPECT_EQ(requestLine(Pipeline(s, get("rw.example.test", "/bookings/1234/sometask")).upstreamHead()),
            "GET /orders/$1/sometask HTTP/1.1");
  EXPECT_EQ(requestLine(Pipeline(s, get("rw.example.test", "/xxx/one/yyy/one/zzz")).upstreamHead()),
            "GET /xxx/two/yyy/two/zzz HTTP/1.1");
}

TEST(PathRewriteTest, ToPathActsAsPrefixRewriteAndPathRoutesReplaceEverything) {
  auto s = build(R"(
routes:
  - from: https://a.test
    path: /exact
    to: http://127.0.0.1:1/target
    allow_public_unauthenticated_access: true
  - from: https://a.test
    prefix: /admin
    to: http://127.0.0.1:1/
    allow_public_unauthenticated_access: true
  - from: https://a.test
    to: http://127.0.0.1:1/api
    allow_public_unauthenticated_access: true
)");
  EXPECT_EQ(requestLine(Pipeline(s, get("a.test", "/exact?q")).upstreamHead()), "GET /target?q HTTP/1.1");
  // The documented gotchas, reproduced literally (Pomerium route option `to`).
  EXPECT_EQ(requestLine(Pipeline(s, get("a.test", "/admin/x")).upstreamHead()), "GET //x HTTP/1.1");
  EXPECT_EQ(requestLine(Pipeline(s, get("a.test", "/foo")).upstreamHead()), "GET /apifoo HTTP/1.1");
}

// ---- Host and X-Forwarded-Host (Pomerium host_rewrite*, preserve_host_header) ----

TEST(HostRewriteTest, EveryModeAndTheForwardedHostRule) {
  auto s = build(R"(
routes:
  - from: https://default.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
  - from: https://literal.test
    to: http://127.0.0.1:9001
    host_rewrite: internal.example
    allow_public_unauthenticated_access: true
  - from: https://header.test
    to: http://127.0.0.1:9001
    host_rewrite_header: X-Target-Host
    allow_public_unauthenticated_access: true
  - from: https://regex.test
    to: http://127.0.0.1:9001
    host_path_regex_rewrite_pattern: '^/([^/]+)/.*$'
    host_path_regex_rewrite_substitution: '\1'
    allow_public_unauthenticated_access: true
  - from: https://preserve.test
    to: http://127.0.0.1:9001
    preserve_host_header: true
    allow_public_unauthenticated_access: true
  - from: https://noxfh.test
    to: http://localhost:9002
    remove_request_headers: [X-Forwarded-Host]
    allow_public_unauthenticated_access: true
)");
  std::string h = Pipeline(s, get("default.test:8443", "/", "X-Forwarded-Host: prev\r\n")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: 127.0.0.1:9001")) << h;
  EXPECT_TRUE(hasLine(h, "X-Forwarded-Host: prev, default.test:8443")) << h;
  h = Pipeline(s, get("literal.test", "/")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: internal.example")) << h;
  EXPECT_TRUE(hasLine(h, "X-Forwarded-Host: literal.test")) << h;
  h = Pipeline(s, get("header.test", "/", "X-Target-Host: from-header.example\r\n")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: from-header.example")) << h;
  h = Pipeline(s, get("header.test", "/")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: header.test")) << h;  // header absent: Host unchanged
  EXPECT_EQ(h.find("X-Forwarded-Host"), std::string::npos) << h;
  h = Pipeline(s, get("regex.test", "/envoyproxy.io/some/path")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: envoyproxy.io")) << h;
  h = Pipeline(s, get("preserve.test:8443", "/", "X-Forwarded-Host: prev\r\n")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: preserve.test:8443")) << h;
  EXPECT_TRUE(hasLine(h, "X-Forwarded-Host: prev")) << h;  // passed through, nothing appended
  h = Pipeline(s, get("noxfh.test", "/", "X-Forwarded-Host: prev\r\n")).upstreamHead();
  EXPECT_TRUE(hasLine(h, "Host: localhost:9002")) << h;
  EXPECT_EQ(h.find("X-Forwarded-Host"), std::string::npos) << h;
}

// ---- request header policy (Pomerium set_request_headers, remove_request_headers) ----

TEST(HeaderTemplateTest, Syntax) {
  auto render = [](std::string_view value) {
    HeaderTemplate t = HeaderTemplate::parse(value);
    std::string out;
    for (const auto& piece : t.pieces) {
      out += piece.header_ref ? "<" + piece.text + ">" : piece.text;
    }
    return out;
  };
  EXPECT_EQ(render("plain"), "plain");
  EXPECT_EQ(render("a$$b"), "a$b");
  EXPECT_EQ(render("${pomerium.request.headers.X-Foo}!"), "<X-Foo>!");
  EXPECT_EQ(render("${pomerium.request.headers[\"X-Foo\"]}"), "<X-Foo>");
  EXPECT_EQ(render("u=$pomerium.request.headers.X-User;"), "u=<X-User>;");
  EXPECT_EQ(render("[${pomerium.jwt}]"), "[]");        // identity: empty until sign-in
  EXPECT_EQ(render("[${unknown.ref}]"), "[]");
  EXPECT_EQ(render("broken ${pomerium.request"), "broken ${pomerium.request");
  EXPECT_EQ(render("cost $5"), "cost ");      // an unknown reference, as Go's os.Expand: write $$5
  EXPECT_TRUE(HeaderTemplate::parse("static").literal());
  EXPECT_FALSE(HeaderTemplate::parse("$pomerium.request.headers.A").literal());
}

TEST(RequestHeadersTest, SetRemoveAndSetWins) {
  auto s = build(R"(
routes:
  - from: https://h.test
    to: http://127.0.0.1:9001
    set_request_headers:
      X-Your-favorite-authenticating-Proxy: Pomerium
      Authorization: Basic cm9vdDpodW50ZXI0Mg==
      X-Copied: 'from ${pomerium.request.headers.X-Source} $$5'
      X-Both: configured
      X-Empty: '${pomerium.id_token}'
      X-Jwt: '${pomerium.jwt}'
    remove_request_headers: [X-Email, x-both, X-Forwarded-For]
    allow_public_unauthenticated_access: true
)");
  std::string h = Pipeline(s, get("h.test", "/",
                             "X-Email: client@example.com\r\nX-Both: client\r\nX-Source: src\r\n"
                             "Authorization: Bearer client-token\r\nX-Forwarded-For: 10.0.0.1\r\n"))
                      .upstreamHead();
  EXPECT_TRUE(hasLine(h, "X-Your-favorite-authenticating-Proxy: Pomerium")) << h;
  EXPECT_TRUE(hasLine(h, "Authorization: Basic cm9vdDpodW50ZXI0Mg==")) << h;
  EXPECT_EQ(h.find("client-token"), std::string::npos) << h;  // overwritten, not appended
  EXPECT_TRUE(hasLine(h, "X-Copied: from src $5")) << h;
  EXPECT_TRUE(hasLine(h, "X-Both: configured")) << h;
  EXPECT_EQ(h.find("X-Both: client"), std::string::npos) << h;
  EXPECT_EQ(h.find("X-Email"), std::string::npos) << h;
  EXPECT_EQ(h.find("X-Empty"), std::string::npos) << h;  // anonymous: no ID token, not sent
  // Public routes get an (anonymous) assertion, as in Pomerium: a compact JWS.
  const size_t jwt = h.find("X-Jwt: eyJ");
  ASSERT_NE(jwt, std::string::npos) << h;
  const std::string line = h.substr(jwt, h.find("\r\n", jwt) - jwt);
  EXPECT_EQ(std::count(line.begin(), line.end(), '.'), 2) << line;
  EXPECT_EQ(h.find("X-Forwarded-For"), std::string::npos) << h;  // removed, generated one too
  EXPECT_TRUE(hasLine(h, "X-Source: src")) << h;
}

TEST(RequestHeadersTest, ClientsCannotInjectPomeriumIdentityHeaders) {
  auto s = build(R"(
routes:
  - from: https://h.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
)");
  std::string h = Pipeline(s, get("h.test", "/",
                             "X-Pomerium-Jwt-Assertion: forged\r\nx-pomerium-authorization: t\r\n"
                             "Authorization: Pomerium abc\r\nX-Pomerium-Other: dropped\r\n"
                             "X-Pomerium-Claim-Email: admin@example.com\r\n"
                             "x-pomerium-claim-groups: admins\r\nX-Envoy-Internal: true\r\n"
                             "X-Envoy-Original-Path: /admin\r\nx-envoy-upstream-rq-timeout-ms: 1\r\n"
                             "Authorization: Bearer kept\r\nX-Envoyish: kept\r\n"))
                      .upstreamHead();
  EXPECT_EQ(h.find("forged"), std::string::npos) << h;
  EXPECT_EQ(h.find("x-pomerium-authorization"), std::string::npos) << h;
  EXPECT_EQ(h.find("Authorization: Pomerium"), std::string::npos) << h;
  EXPECT_EQ(h.find("X-Pomerium-Other"), std::string::npos) << h;
  EXPECT_EQ(h.find("admin@example.com"), std::string::npos) << h;
  EXPECT_EQ(h.find("admins"), std::string::npos) << h;
  EXPECT_EQ(h.find("X-Envoy-Internal"), std::string::npos) << h;
  EXPECT_EQ(h.find("/admin"), std::string::npos) << h;
  EXPECT_EQ(h.find("rq-timeout"), std::string::npos) << h;
  EXPECT_TRUE(hasLine(h, "Authorization: Bearer kept")) << h;
  EXPECT_TRUE(hasLine(h, "X-Envoyish: kept")) << h;
}

TEST(RequestHeadersTest, ClaimHeadersAreStrippedEvenWithJwtClaimsHeadersConfigured) {
  auto s = build(R"(
jwt_claims_headers: [email]
routes:
  - from: https://h.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
)");
  ASSERT_NE(s, nullptr);
  std::string h =
      Pipeline(s, get("h.test", "/", "X-Pomerium-Claim-Email: admin@example.com\r\n")).upstreamHead();
  EXPECT_EQ(h.find("admin@example.com"), std::string::npos) << h;
}

TEST(IsReservedRequestHeaderTest, Namespaces) {
  EXPECT_TRUE(isReservedRequestHeader("X-POMERIUM-CLAIM-EMAIL", "a"));
  EXPECT_TRUE(isReservedRequestHeader("x-envoy-internal", "true"));
  EXPECT_TRUE(isReservedRequestHeader("authorization", "Pomerium x"));
  EXPECT_FALSE(isReservedRequestHeader("authorization", "Bearer x"));
  EXPECT_FALSE(isReservedRequestHeader("x-pomerium", "a"));  // not the namespace
  EXPECT_FALSE(isReservedRequestHeader("x-envoy", "a"));
  EXPECT_FALSE(isReservedRequestHeader("x-request-id", "a"));
}

// ---- normalization and route selection (security review) ----

const char* kAdminAndCatchAll = R"(
routes:
  - from: https://app.test
    to: http://127.0.0.1:9001
    prefix: /admin
  - from: https://app.test
    to: http://127.0.0.1:9002
    allow_public_unauthenticated_access: true
)";

TEST(RouteSelectionTest, EncodedUnreservedCharactersMatchAsDecoded) {
  auto s = build(kAdminAndCatchAll);
  // The protected /admin route, never the catch-all, whichever letters are encoded.
  for (const char* target : {"/%61dmin/secret.txt", "/%61%64%6D%69%6e", "/adm%69n", "/admin"}) {
    Pipeline run(s, get("app.test", target));
    ASSERT_EQ(run.decision, Decision::Reply) << target;
    EXPECT_EQ(run.ctx.reply.status, 403) << target;
  }
  // Matching stays case-sensitive after decoding: "/Admin" and "/admIn" are other paths.
  struct Case {
    const char* target;
    const char* upstream_line;
  };
  for (const Case& c : {Case{"/%41dmin", "GET /Admin HTTP/1.1"},
                        Case{"/%61%64%6D%49%6e", "GET /admIn HTTP/1.1"}}) {
    Pipeline run(s, get("app.test", c.target));
    ASSERT_EQ(run.decision, Decision::Forward) << c.target;
    EXPECT_EQ(requestLine(run.upstreamHead()), c.upstream_line);
  }
}

TEST(RouteSelectionTest, DecodedPathIsWhatTheUpstreamReceives) {
  auto s = build(kAdminAndCatchAll);
  Pipeline run(s, get("app.test", "/%70ublic/%7Euser?q=%61"));
  ASSERT_EQ(run.decision, Decision::Forward);
  EXPECT_EQ(requestLine(run.upstreamHead()), "GET /public/~user?q=%61 HTTP/1.1");
}

TEST(RouteSelectionTest, AdjacentSlashesThatWouldSelectAnotherRouteAre400) {
  auto s = build(kAdminAndCatchAll);
  for (const char* target : {"//admin/secret.txt", "/admin//x", "///admin", "//%61dmin",
                             "//ping", "//.pomerium/x"}) {
    Pipeline run(s, get("app.test", target));
    ASSERT_EQ(run.decision, Decision::Reply) << target;
    if (std::string_view(target) == "/admin//x") {
      EXPECT_EQ(run.ctx.reply.status, 403) << target;  // both forms select /admin: denied
    } else {
      EXPECT_EQ(run.ctx.reply.status, 400) << target;
    }
  }
  // Both forms select the catch-all: the route docs' "//" tip keeps working, "//" forwarded.
  Pipeline tip(s, get("app.test", "//foo//bar"));
  ASSERT_EQ(tip.decision, Decision::Forward);
  EXPECT_EQ(requestLine(tip.upstreamHead()), "GET //foo//bar HTTP/1.1");
}

TEST(RouteSelectionTest, MergeSlashesMergesFirst) {
  auto s = build(std::string("merge_slashes: true\n") + kAdminAndCatchAll);
  Pipeline run(s, get("app.test", "//admin/secret.txt"));
  ASSERT_EQ(run.decision, Decision::Reply);
  EXPECT_EQ(run.ctx.reply.status, 403);
  Pipeline other(s, get("app.test", "//foo//bar"));
  ASSERT_EQ(other.decision, Decision::Forward);
  EXPECT_EQ(requestLine(other.upstreamHead()), "GET /foo/bar HTTP/1.1");
}

TEST(RouteSelectionTest, NoRouteForTheMergedFormIsAmbiguousToo) {
  auto s = build(R"(
routes:
  - from: https://app.test
    to: http://127.0.0.1:9001
    path: //exact
    allow_public_unauthenticated_access: true
)");
  Pipeline written(s, get("app.test", "//exact"));
  EXPECT_EQ(written.ctx.reply.status, 400);  // merged "/exact" has no route: not the same
  Pipeline none(s, get("app.test", "//other"));
  EXPECT_EQ(none.ctx.reply.status, 404);     // neither form has a route
}

TEST(HostTest, AbsoluteFormWithoutHostIs400) {
  auto s = build(kAdminAndCatchAll);
  Pipeline run(s, "GET https://app.test/x HTTP/1.1\r\n\r\n");
  ASSERT_EQ(run.decision, Decision::Reply);
  EXPECT_EQ(run.ctx.reply.status, 400);
  Pipeline with_host(s, "GET https://app.test/x HTTP/1.1\r\nHost: other.test\r\n\r\n");
  ASSERT_EQ(with_host.decision, Decision::Forward);  // the target's authority wins
  EXPECT_EQ(with_host.ctx.host, "app.test");
}

TEST(HostTest, Ipv6LiteralsMatchInCanonicalForm) {
  auto s = build(R"(
routes:
  - from: https://[::1]
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
  - from: https://[0:0:0:0:0:0:0:2]
    to: http://127.0.0.1:9002
    allow_public_unauthenticated_access: true
)");
  for (const char* host : {"[::1]", "[0:0:0:0:0:0:0:1]", "[0::1]:8443"}) {
    Pipeline run(s, get(host, "/"));
    ASSERT_EQ(run.decision, Decision::Forward) << host;
    EXPECT_EQ(run.ctx.route_index, 0u) << host;
  }
  Pipeline two(s, get("[::2]", "/"));
  ASSERT_EQ(two.decision, Decision::Forward);
  EXPECT_EQ(two.ctx.route_index, 1u);
  for (const char* host : {"[:::1]", "[1::2::3]", "[fe80::1%25eth0]", "[v1.x]"}) {
    Pipeline bad(s, get(host, "/"));
    ASSERT_EQ(bad.decision, Decision::Reply) << host;
    EXPECT_EQ(bad.ctx.reply.status, 400) << host;
  }
}

TEST(MaxForwardsTest, TraceAndOptionsWithZeroAreAnsweredByTheProxy) {
  auto s = build(kAdminAndCatchAll);
  Pipeline options(s, "OPTIONS /x HTTP/1.1\r\nHost: app.test\r\nMax-Forwards: 0\r\n\r\n");
  ASSERT_EQ(options.decision, Decision::Reply);
  EXPECT_EQ(options.ctx.reply.status, 200);
  EXPECT_NE(options.ctx.reply.allow.find("OPTIONS"), std::string_view::npos);
  Pipeline trace(s, "TRACE /x HTTP/1.1\r\nHost: app.test\r\nMax-Forwards: 0\r\n"
                    "Cookie: secret=1\r\nX-Probe: yes\r\n\r\n");
  ASSERT_EQ(trace.decision, Decision::Reply);
  EXPECT_EQ(trace.ctx.reply.status, 200);
  EXPECT_EQ(trace.ctx.reply.content_type, "message/http");
  EXPECT_EQ(trace.ctx.reply.body,
            "TRACE /x HTTP/1.1\r\nHost: app.test\r\nMax-Forwards: 0\r\nX-Probe: yes\r\n\r\n");
  // Other methods, or a value above zero: forwarded, TRACE/OPTIONS with the value decremented.
  Pipeline get0(s, get("app.test", "/x", "Max-Forwards: 0\r\n"));
  ASSERT_EQ(get0.decision, Decision::Forward);
  EXPECT_TRUE(hasLine(get0.upstreamHead(), "Max-Forwards: 0"));
  Pipeline options3(s, "OPTIONS /x HTTP/1.1\r\nHost: app.test\r\nMax-Forwards: 3\r\n\r\n");
  ASSERT_EQ(options3.decision, Decision::Forward);
  EXPECT_TRUE(hasLine(options3.upstreamHead(), "Max-Forwards: 2")) << options3.upstreamHead();
}

TEST(HostRewriteTest, AnInvalidRewrittenHostIs400) {
  auto s = build(R"(
routes:
  - from: https://header.test
    to: http://127.0.0.1:9001
    host_rewrite_header: X-Target-Host
    allow_public_unauthenticated_access: true
  - from: https://regex.test
    to: http://127.0.0.1:9001
    host_path_regex_rewrite_pattern: '^/([^/]*)/.*$'
    host_path_regex_rewrite_substitution: '\1'
    allow_public_unauthenticated_access: true
)");
  for (const char* value : {"a b/c@d", "x/y", "[::1", "a@b"}) {
    Pipeline run(s, get("header.test", "/", std::string("X-Target-Host: ") + value + "\r\n"));
    ASSERT_EQ(run.decision, Decision::Reply) << value;
    EXPECT_EQ(run.ctx.reply.status, 400) << value;
  }
  Pipeline ok(s, get("header.test", "/", "X-Target-Host: good.example:8080\r\n"));
  ASSERT_EQ(ok.decision, Decision::Forward);
  EXPECT_TRUE(hasLine(ok.upstreamHead(), "Host: good.example:8080"));
  Pipeline empty(s, get("regex.test", "//x"));  // the substitution is empty
  ASSERT_EQ(empty.decision, Decision::Reply);
  EXPECT_EQ(empty.ctx.reply.status, 400);
}

// ---- response headers (Pomerium set_response_headers, rewrite_response_headers; BR-15) ----

struct NullCallbacks : http::ServerCodecCallbacks {
  void onRequestHeaders(http::StreamId, http::RequestHeaders&, bool) override {}
  void onRequestData(http::StreamId, std::string_view, bool) override {}
  void onRequestTrailers(http::StreamId) override {}
  void onRequestError(http::StreamId, int, std::string_view) override {}
  void onStreamReset(http::StreamId, http::StreamResetReason) override {}
};

/// The response head an HTTP/1.1 client gets for the upstream response `wire`.
std::string responseHead(const Pipeline& run, const std::string& wire, bool upgrade = false,
                         bool* closes = nullptr) {
  http::http1::ResponseParser parser;
  parser.reset(false, upgrade);
  std::vector<std::string_view> body;
  parser.execute(wire, body);
  std::vector<std::string_view> nominated;
  http::OutgoingResponse response;
  composeResponse(parser.head(), *run.ctx.route, "rid", nominated, response);
  NullCallbacks callbacks;
  http::http1::ServerCodec codec(callbacks);
  codec.dispatch("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  codec.encodeHeaders(1, response, false);
  http::OutputPieces pieces;
  codec.takeOutput(pieces);
  std::string out;
  for (std::string_view p : pieces) {
    out += p;
  }
  if (closes != nullptr) {
    codec.encodeData(1, {}, true);
    codec.streamDone(1);
    *closes = codec.wantsClose();
  }
  return out;
}

TEST(ResponseHeadersTest, RewriteResponseHeadersCasesBr15) {
  auto s = build(R"(
routes:
  - from: https://app.example.test
    to: http://127.0.0.1:9001
    rewrite_response_headers:
      - header: Location
        prefix: http://127.0.0.1:9001/
        value: https://app.example.test:8443/
      - header: X-Backend-Url
        prefix: http://127.0.0.1:9001/two/
        value: https://app.example.test:8443/one/
    allow_public_unauthenticated_access: true
)");
  Pipeline run(s, get("app.example.test:8443", "/login"));
  auto head = [&](std::string_view header) {
    return responseHead(run, "HTTP/1.1 302 Found\r\n" + std::string(header) +
                                 "\r\nContent-Length: 0\r\n\r\n");
  };
  EXPECT_TRUE(hasLine(head("Location: http://127.0.0.1:9001/dashboard?x=1"),
                      "Location: https://app.example.test:8443/dashboard?x=1"));
  EXPECT_TRUE(hasLine(head("Location: https://other.example.net/x"),
                      "Location: https://other.example.net/x"));
  EXPECT_TRUE(hasLine(head("Location: https://other.example.net/?next=http://127.0.0.1:9001/"),
                      "Location: https://other.example.net/?next=http://127.0.0.1:9001/"));
  EXPECT_TRUE(hasLine(head("x-backend-url: http://127.0.0.1:9001/two/some/path/"),
                      "x-backend-url: https://app.example.test:8443/one/some/path/"));
}

TEST(ResponseHeadersTest, EveryRuleForAHeaderAppliesInOrder) {
  auto s = build(R"(
routes:
  - from: https://app.example.test
    to: http://127.0.0.1:9001
    rewrite_response_headers:
      - {header: Location, prefix: 'http://127.0.0.1:9001/', value: 'https://app.example.test/'}
      - {header: Location, prefix: 'http://alt.internal/', value: 'https://app.example.test/alt/'}
    allow_public_unauthenticated_access: true
)");
  Pipeline run(s, get("app.example.test", "/"));
  std::string h = responseHead(run, "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://alt.internal/q?r=1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(hasLine(h, "Location: https://app.example.test/alt/q?r=1")) << h;
}

TEST(RequestHeadersTest, FramingHeadersAreNeverSetFromTheConfig) {
  // A configured Content-Length next to the real framing would smuggle bytes upstream.
  auto s = build(R"(
routes:
  - from: https://h.test
    to: http://127.0.0.1:9001
    set_request_headers: {Content-Length: '0', Transfer-Encoding: chunked, Connection: close, X-Ok: yes}
    allow_public_unauthenticated_access: true
)");
  Pipeline run(s, "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\n\r\nhello");
  std::string h = run.upstreamHead();
  EXPECT_TRUE(hasLine(h, "Content-Length: 5")) << h;
  EXPECT_EQ(h.find("Content-Length: 0"), std::string::npos) << h;
  EXPECT_EQ(h.find("Transfer-Encoding"), std::string::npos) << h;
  EXPECT_EQ(h.find("Connection"), std::string::npos) << h;
  EXPECT_TRUE(hasLine(h, "X-Ok: yes")) << h;
}

TEST(RedirectTest, ExplicitHttpsRedirectFalseWinsOverSchemeRedirect) {
  // Pomerium checks https_redirect for presence: false keeps the request's scheme.
  auto s = build(R"(
routes:
  - from: https://r.test
    redirect: {https_redirect: false, scheme_redirect: http, host_redirect: x.test}
    allow_public_unauthenticated_access: true
)");
  Pipeline run(s, get("r.test", "/p"));
  EXPECT_EQ(run.ctx.reply.location, "https://x.test/p");
}

TEST(ResponseHeadersTest, GlobalDefaultsRouteOverridesAndDisable) {
  auto s = build(R"(
routes:
  - from: https://a.test
    to: http://127.0.0.1:9001
    set_response_headers: {X-Frame-Options: DENY, X-Route: a}
    allow_public_unauthenticated_access: true
  - from: https://b.test
    to: http://127.0.0.1:9001
    set_response_headers: {disable: true}
    allow_public_unauthenticated_access: true
)");
  // No certificates (self-signed): HSTS is not among the defaults.
  ASSERT_EQ(s->response_headers.size(), 2u);
  EXPECT_EQ(s->response_headers[0].first, "X-Frame-Options");
  EXPECT_EQ(s->response_headers[0].second, "SAMEORIGIN");
  EXPECT_EQ(s->response_headers[1].first, "X-XSS-Protection");
  Pipeline a(s, get("a.test", "/"));
  std::string h = responseHead(a, "HTTP/1.1 200 OK\r\nX-Frame-Options: ALLOW\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(hasLine(h, "X-Frame-Options: DENY")) << h;
  EXPECT_EQ(h.find("ALLOW"), std::string::npos) << h;  // overwritten
  EXPECT_TRUE(hasLine(h, "X-Route: a")) << h;
  EXPECT_TRUE(hasLine(h, "X-XSS-Protection: 1; mode=block")) << h;
  Pipeline b(s, get("b.test", "/"));
  h = responseHead(b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(h.find("X-Frame-Options"), std::string::npos) << h;
}

TEST(ResponseHeadersTest, GlobalMapReplacesDefaultsAndDisableEmptiesIt) {
  auto replaced = build("set_response_headers: {X-Global: g}\n");
  ASSERT_EQ(replaced->response_headers.size(), 1u);
  EXPECT_EQ(replaced->response_headers[0].first, "X-Global");
  auto disabled = build("set_response_headers: {disable: true}\n");
  EXPECT_TRUE(disabled->response_headers.empty());
}

// ---- upgrades (Pomerium allow_websockets / allow_spdy / allow_upgrades; Envoy upgrade_configs) ----

const char* kUpgrades = R"(
allow_upgrades: [global-proto]
routes:
  - from: https://ws.example.test
    to: http://127.0.0.1:9001
    allow_websockets: true
    allow_public_unauthenticated_access: true
  - from: https://spdy.example.test
    to: http://127.0.0.1:9001
    allow_spdy: true
    allow_upgrades: [custom-proto]
    allow_public_unauthenticated_access: true
  - from: https://plain.example.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
  - from: https://private.example.test
    to: http://127.0.0.1:9001
    policy: {allow: {and: [{email: {is: a@example.test}}]}}
)";

std::string upgradeRequest(std::string_view host, std::string_view connection,
                           std::string_view upgrade) {
  return get(host, "/chat",
             "Connection: " + std::string(connection) + "\r\nUpgrade: " + std::string(upgrade) +
                 "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n");
}

TEST(UpgradeTest, AnAllowedUpgradeGoesUpstreamWithItsConnectionAndUpgrade) {
  auto s = build(kUpgrades);
  // RFC 9110 §7.6.1: Connection is a list; "upgrade" may come in any case and position.
  for (const char* connection : {"Upgrade", "upgrade", "keep-alive, Upgrade", "UPGRADE,keep-alive",
                                 "foo, bar ,  upgrade  "}) {
    Pipeline run(s, upgradeRequest("ws.example.test", connection, "WebSocket"));
    ASSERT_EQ(run.decision, Decision::Forward) << connection;
    EXPECT_EQ(run.ctx.upgrade, "WebSocket");
    const std::string head = run.upstreamHead();
    EXPECT_TRUE(hasLine(head, "Connection: upgrade")) << head;
    EXPECT_TRUE(hasLine(head, "Upgrade: WebSocket")) << head;
    EXPECT_TRUE(hasLine(head, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")) << head;
    EXPECT_EQ(head.find("keep-alive"), std::string::npos) << head;
  }
}

TEST(UpgradeTest, TokensMatchTheRouteListCaseInsensitively) {
  auto s = build(kUpgrades);
  struct Case {
    const char* host;
    const char* upgrade;
    bool allowed;
  };
  for (const Case& c : {Case{"spdy.example.test", "SPDY/3.1", true},
                        Case{"spdy.example.test", "Custom-Proto", true},
                        Case{"spdy.example.test", "websocket", false},
                        Case{"spdy.example.test", "global-proto", false},  // the route's list wins
                        Case{"plain.example.test", "global-proto", true},   // the global list
                        Case{"plain.example.test", "websocket", false},
                        Case{"ws.example.test", "spdy/3.1", false},
                        Case{"ws.example.test", "websocket, spdy/3.1", false}}) {
    Pipeline run(s, upgradeRequest(c.host, "Upgrade", c.upgrade));
    EXPECT_EQ(run.decision, c.allowed ? Decision::Forward : Decision::Reply)
        << c.host << " " << c.upgrade;
    if (!c.allowed) {
      EXPECT_EQ(run.ctx.reply.status, 403);
      EXPECT_EQ(run.ctx.upgrade, "");
    }
  }
}

TEST(UpgradeTest, RefusedBeforeAuthorization) {
  // Envoy decides upgrades while building the filter chain, before ext_authz: an anonymous
  // client gets 403, not a sign-in redirect.
  auto s = build(kUpgrades);
  Pipeline refused(s, upgradeRequest("private.example.test", "Upgrade", "websocket"));
  EXPECT_EQ(refused.ctx.reply.status, 403);
  EXPECT_EQ(refused.ctx.reply.details, "upgrade not allowed on this route");
}

TEST(UpgradeTest, WithoutUpgradeInConnectionItIsAnOrdinaryRequest) {
  auto s = build(kUpgrades);
  Pipeline run(s, upgradeRequest("plain.example.test", "keep-alive", "websocket"));
  ASSERT_EQ(run.decision, Decision::Forward);
  EXPECT_EQ(run.ctx.upgrade, "");
  const std::string head = run.upstreamHead();
  EXPECT_EQ(head.find("Upgrade:"), std::string::npos) << head;
  EXPECT_EQ(head.find("Connection:"), std::string::npos) << head;
}

TEST(UpgradeTest, SwitchingProtocolsReachesTheClientWithUpgradeAndTheConnectionEnds) {
  auto s = build(kUpgrades);
  Pipeline run(s, upgradeRequest("ws.example.test", "Upgrade", "websocket"));
  bool closes = false;
  const std::string head = responseHead(
      run,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nKeep-Alive: timeout=5\r\n\r\n",
      /*upgrade=*/true, &closes);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << head;
  EXPECT_TRUE(hasLine(head, "Upgrade: websocket")) << head;
  EXPECT_TRUE(hasLine(head, "connection: upgrade")) << head;
  EXPECT_TRUE(hasLine(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) << head;
  EXPECT_EQ(head.find("Keep-Alive"), std::string::npos) << head;
  EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
  EXPECT_TRUE(closes);  // no further HTTP message on this connection
}

// ---- CONNECT (Pomerium tcp+https routes; RFC 9110 §9.3.6) ----

const char* kTcpRoutes = R"(
routes:
  - from: tcp+https://db.example.test:5432
    to: tcp://127.0.0.1:15432
    allow_public_unauthenticated_access: true
  - from: tcp+https://proxy.example.test/cache.internal:6379
    to: tcp://127.0.0.1:16379
    allow_public_unauthenticated_access: true
  - from: https://db.example.test
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
)";

std::string connect(std::string_view target) {
  return "CONNECT " + std::string(target) + " HTTP/1.1\r\nHost: " + std::string(target) +
         "\r\n\r\n";
}

TEST(ConnectTest, MatchesTcpRoutesByAuthorityOnly) {
  auto s = build(kTcpRoutes);
  Pipeline db(s, connect("DB.example.test:5432"));
  ASSERT_EQ(db.decision, Decision::Forward);
  EXPECT_TRUE(db.ctx.connect);
  EXPECT_EQ(db.ctx.route_index, 0u);
  Pipeline cache(s, connect("cache.internal:6379"));
  ASSERT_EQ(cache.decision, Decision::Forward);
  EXPECT_EQ(cache.ctx.route_index, 1u);
  // An HTTP request for the same host never reaches a tcp+https route.
  Pipeline web(s, get("db.example.test:5432", "/"));
  ASSERT_EQ(web.decision, Decision::Forward);
  EXPECT_EQ(web.ctx.route_index, 2u);
  EXPECT_FALSE(web.ctx.connect);
}

TEST(ConnectTest, UnknownOrMalformedTargets) {
  auto s = build(kTcpRoutes);
  for (const char* target : {"db.example.test:5433", "proxy.example.test:443", "other:5432"}) {
    Pipeline run(s, connect(target));
    EXPECT_EQ(run.ctx.reply.status, 404) << target;
    EXPECT_TRUE(run.ctx.reply.close) << target;
  }
  Pipeline no_port(s, connect("db.example.test"));
  EXPECT_EQ(no_port.ctx.reply.status, 400);
}

TEST(ConnectTest, TheTwoHundredHasNoFramingAndEndsHttp) {
  NullCallbacks callbacks;
  http::http1::ServerCodec codec(callbacks);
  codec.dispatch(connect("db.example.test:5432"));
  http::OutgoingResponse response;
  response.status = 200;
  codec.encodeHeaders(1, response, false);
  http::OutputPieces pieces;
  codec.takeOutput(pieces);
  std::string out;
  for (std::string_view p : pieces) {
    out += p;
  }
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\n\r\n");
  codec.encodeData(1, {}, true);
  codec.streamDone(1);
  EXPECT_TRUE(codec.wantsClose());
}

}  // namespace
}  // namespace vallum::proxy
