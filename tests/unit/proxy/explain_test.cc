#include "proxy/explain.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/loader.h"

namespace vallum::proxy {
namespace {

SnapshotConstSharedPtr build(const std::string& yaml) {
  config::LoadResult loaded = config::loadString(yaml, "test.yaml", config::emptyEnvironment());
  EXPECT_TRUE(loaded.options.has_value()) << loaded.diagnostics.formatAll();
  SnapshotBuildOptions options;
  options.resolve_dns = false;
  return buildSnapshot(std::move(*loaded.options), options, loaded.diagnostics);
}

const char* kConfig = R"(
routes:
  - from: https://app.example.com
    prefix: /api/
    to: http://127.0.0.1:9001/v1/
    set_request_headers: {X-Route: api}
    remove_request_headers: [Cookie]
    allow_public_unauthenticated_access: true
  - from: https://app.example.com
    prefix: /old/
    redirect: {host_redirect: new.example.com, response_code: 308}
    allow_public_unauthenticated_access: true
  - from: https://app.example.com
    path: /private
    to: http://127.0.0.1:9001
  - from: https://*.wild.example.com
    to: http://127.0.0.1:9002
    allow_public_unauthenticated_access: true
)";

nlohmann::json explain(const SnapshotConstSharedPtr& s, std::string url,
                       std::vector<std::pair<std::string, std::string>> headers = {},
                       bool* matched = nullptr) {
  ExplainRequest request;
  request.url = std::move(url);
  request.headers = std::move(headers);
  ExplainResult result = explainRequest(*s, request);
  EXPECT_TRUE(result.error.empty()) << result.error;
  if (matched != nullptr) {
    *matched = result.route_matched;
  }
  return nlohmann::json::parse(result.json);
}

TEST(ExplainTest, ForwardShowsTheUpstreamRequestAndHeaderChanges) {
  auto s = build(kConfig);
  bool matched = false;
  auto j = explain(s, "https://app.example.com/api/users?id=1", {{"Cookie", "a=b"}}, &matched);
  EXPECT_TRUE(matched);
  EXPECT_EQ(j["result"], "forward");
  EXPECT_EQ(j["route"]["key"], "routes[0]");
  EXPECT_EQ(j["route"]["index"], 0);
  EXPECT_EQ(j["route"]["line"], 3);
  EXPECT_EQ(j["route"]["why"], "host app.example.com on any port; prefix \"/api/\" starts \"/api/users\"");
  EXPECT_EQ(j["upstream"]["request_line"], "GET /v1/users?id=1 HTTP/1.1");
  EXPECT_EQ(j["upstream"]["url"], "http://127.0.0.1:9001/v1/users?id=1");
  EXPECT_EQ(j["upstream"]["host"], "127.0.0.1:9001");
  EXPECT_EQ(j["upstream"]["removed"], nlohmann::json::array({"Cookie"}));
  bool has_route_header = false;
  for (const auto& h : j["upstream"]["added"]) {
    has_route_header = has_route_header || (h[0] == "X-Route" && h[1] == "api");
  }
  EXPECT_TRUE(has_route_header) << j.dump(2);
}

TEST(ExplainTest, RedirectAndDeny) {
  auto s = build(kConfig);
  auto redirect = explain(s, "https://app.example.com:8443/old/page?x=1");
  EXPECT_EQ(redirect["result"], "redirect");
  EXPECT_EQ(redirect["status"], 308);
  EXPECT_EQ(redirect["location"], "https://new.example.com/old/page?x=1");
  bool matched = false;
  auto deny = explain(s, "https://app.example.com/private", {}, &matched);
  EXPECT_TRUE(matched);  // a route matched; it denies
  EXPECT_EQ(deny["result"], "deny");
  EXPECT_EQ(deny["status"], 403);
}

TEST(ExplainTest, ExplainsTheDecodedPathAsTheProxyRoutesIt) {
  auto s = build(kConfig);
  bool matched = false;
  auto deny = explain(s, "https://app.example.com/%70riv%61te", {}, &matched);
  EXPECT_TRUE(matched);
  EXPECT_EQ(deny["request"]["path"], "/private");
  EXPECT_EQ(deny["route"]["key"], "routes[2]");
  EXPECT_EQ(deny["result"], "deny");
  auto forward = explain(s, "https://app.example.com/%61pi/%7Eme");
  EXPECT_EQ(forward["upstream"]["request_line"], "GET /v1/~me HTTP/1.1");
}

TEST(ExplainTest, AdjacentSlashesThatChangeTheRouteAreRefused) {
  auto s = build(kConfig);
  bool matched = true;
  auto j = explain(s, "https://app.example.com//private", {}, &matched);
  EXPECT_FALSE(matched);
  EXPECT_EQ(j["result"], "reply");
  EXPECT_EQ(j["status"], 400);
  EXPECT_NE(j["reason"].get<std::string>().find("adjacent slashes"), std::string::npos);
}

TEST(ExplainTest, NoRouteSaysWhy) {
  auto s = build(kConfig);
  bool matched = true;
  auto own = explain(s, "https://app.example.com/elsewhere", {}, &matched);
  EXPECT_FALSE(matched);
  EXPECT_EQ(own["result"], "no_route");
  EXPECT_EQ(own["reason"],
            "host app.example.com has routes of its own and none matches path \"/elsewhere\" "
            "(wildcard routes are not consulted for it)");
  auto none = explain(s, "https://other.example.com/", {}, &matched);
  EXPECT_FALSE(matched);
  EXPECT_EQ(none["reason"], "no route for host other.example.com on port 443");
  auto wild = explain(s, "https://a.b.wild.example.com/x", {}, &matched);
  EXPECT_TRUE(matched);
  EXPECT_EQ(wild["route"]["why"], "host *.wild.example.com (wildcard) on any port; no path "
                                  "specifier (prefix \"/\" matches every path)");
}

TEST(ExplainTest, BadInputIsAnError) {
  auto s = build(kConfig);
  ExplainRequest relative;
  relative.url = "/api";
  EXPECT_FALSE(explainRequest(*s, relative).error.empty());
  ExplainRequest bad_header;
  bad_header.url = "https://app.example.com/";
  bad_header.headers = {{"Bad Name", "x"}};
  auto j = nlohmann::json::parse(explainRequest(*s, bad_header).json);
  EXPECT_EQ(j["result"], "reply");
  EXPECT_EQ(j["status"], 400);
}

}  // namespace
}  // namespace vallum::proxy
