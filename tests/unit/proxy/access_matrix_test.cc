#include "proxy/access_matrix.h"

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
  - from: https://public.example.com
    to: http://127.0.0.1:9001
    allow_public_unauthenticated_access: true
  - from: https://app.example.com
    prefix: /admin/
    to: http://127.0.0.1:9001
    name: admin
    allowed_users: [alice@example.com]
  - from: https://app.example.com
    path: /eng
    to: http://127.0.0.1:9001
    policy:
      allow:
        or:
          - groups: {has: engineering}
  - from: https://app.example.com
    regex: '/hr/.*'
    to: http://127.0.0.1:9001
    policy:
      allow:
        and:
          - claim/department: people
  - from: https://app.example.com
    prefix: /read/
    to: http://127.0.0.1:9001
    policy:
      allow:
        and:
          - domain: {is: example.com}
          - http_method: {is: GET}
  - from: https://app.example.com
    to: http://127.0.0.1:9001
    name: nobody
)";

std::vector<AccessUser> users() {
  AccessUsersResult r = parseAccessUsers(R"([
    {"email": "alice@example.com", "groups": ["engineering"]},
    {"email": "bob@example.com", "claims": {"department": ["people", "finance"]}},
    {"email": "eve@evil.test"}
  ])");
  EXPECT_TRUE(r.error.empty()) << r.error;
  return r.users;
}

std::vector<std::string> row(const AccessMatrix& m, size_t index) {
  std::vector<std::string> out;
  for (const AccessCell& cell : m.routes.at(index).cells) {
    out.push_back(cellText(cell));
  }
  return out;
}

using Cells = std::vector<std::string>;

TEST(AccessMatrixTest, AllowDenyAndDependsPerRouteAndUser) {
  auto s = build(kConfig);
  ASSERT_NE(s, nullptr);
  const AccessMatrix m = buildAccessMatrix(*s, users());
  EXPECT_EQ(m.users, (Cells{"alice@example.com", "bob@example.com", "eve@evil.test"}));
  ASSERT_EQ(m.routes.size(), 6U);
  EXPECT_EQ(row(m, 0), (Cells{"allow", "allow", "allow"}));  // public
  EXPECT_EQ(row(m, 1), (Cells{"allow", "deny", "deny"}));    // legacy allowed_users
  EXPECT_EQ(row(m, 2), (Cells{"allow", "deny", "deny"}));    // groups
  EXPECT_EQ(row(m, 3), (Cells{"deny", "allow", "deny"}));    // claim (a list claim)
  EXPECT_EQ(row(m, 4), (Cells{"depends (http_method)", "depends (http_method)", "deny"}));
  EXPECT_EQ(row(m, 5), (Cells{"deny", "deny", "deny"}));  // no policy: nobody
  EXPECT_EQ(m.routes[4].cells[0].outcome, policy::Outcome::Depends);
  EXPECT_EQ(m.routes[4].cells[0].depends_on, "http_method");
}

TEST(AccessMatrixTest, RowsNameTheRouteAndItsPathAsWritten) {
  auto s = build(kConfig);
  ASSERT_NE(s, nullptr);
  const AccessMatrix m = buildAccessMatrix(*s, users());
  EXPECT_EQ(m.routes[1].name, "admin");
  EXPECT_EQ(m.routes[1].from, "https://app.example.com");
  EXPECT_EQ(m.routes[1].path, "/admin/");
  EXPECT_EQ(m.routes[2].path, "/eng");
  EXPECT_EQ(m.routes[3].path, "/hr/.*");
  EXPECT_EQ(m.routes[0].path, "");
  EXPECT_EQ(m.routes[0].name, s->routes[0].log_name);
  EXPECT_EQ(m.routes[0].name.rfind("route-", 0), 0U) << m.routes[0].name;
}

TEST(AccessMatrixTest, Json) {
  auto s = build(kConfig);
  ASSERT_NE(s, nullptr);
  auto j = nlohmann::json::parse(accessMatrixJson(buildAccessMatrix(*s, users())));
  EXPECT_EQ(j["users"], nlohmann::json({"alice@example.com", "bob@example.com", "eve@evil.test"}));
  ASSERT_EQ(j["routes"].size(), 6U);
  EXPECT_EQ(j["routes"][1],
            nlohmann::json::parse(R"({"name": "admin", "from": "https://app.example.com",
              "path": "/admin/", "decisions": {"alice@example.com": "allow",
              "bob@example.com": "deny", "eve@evil.test": "deny"}})"));
  EXPECT_EQ(j["routes"][4]["decisions"]["alice@example.com"], "depends");
  EXPECT_EQ(j["routes"][4]["depends_on"], nlohmann::json({{"alice@example.com", "http_method"},
                                                          {"bob@example.com", "http_method"}}));
}

TEST(AccessMatrixTest, TableColumnsAreAligned) {
  AccessMatrix m;
  m.users = {"a@x.test", "bobby@x.test"};
  AccessRow r1{"api", "https://app.test", "/api/", {}};
  r1.cells = {{policy::Outcome::Allow, ""}, {policy::Outcome::Depends, "http_method"}};
  AccessRow r2{"root-route", "https://é.test", "", {}};
  r2.cells = {{policy::Outcome::Deny, ""}, {policy::Outcome::Deny, ""}};
  m.routes = {r1, r2};
  // "from" is as wide as "https://app.test" (16); "é" is one code point.
  EXPECT_EQ(accessMatrixTable(m),
            "name        from              path   a@x.test  bobby@x.test\n"
            "api         https://app.test  /api/  allow     depends (http_method)\n"
            "root-route  https://é.test    -      deny      deny\n");
}

TEST(AccessMatrixTest, TableEscapesControlBytes) {
  AccessMatrix m;
  m.users = {"\x1b[31m@x.test"};
  AccessRow r{"n", "https://app.test", "", {{policy::Outcome::Allow, ""}}};
  m.routes = {r};
  const std::string table = accessMatrixTable(m);
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_NE(table.find("\\x1b[31m@x.test"), std::string::npos) << table;
}

TEST(AccessMatrixTest, CsvQuotesAndDefusesFormulas) {
  AccessMatrix m;
  m.users = {"=cmd@example.com", "a,b@example.com", "plain@example.com"};
  AccessRow r{"-danger", "https://app.test", "/say \"hi\"", {}};
  r.cells = {{policy::Outcome::Allow, ""},
             {policy::Outcome::Depends, "http_method, source_ip"},
             {policy::Outcome::Deny, ""}};
  m.routes = {r};
  EXPECT_EQ(accessMatrixCsv(m),
            "name,from,path,'=cmd@example.com,\"a,b@example.com\",plain@example.com\r\n"
            "'-danger,https://app.test,\"/say \"\"hi\"\"\",allow,\"depends (http_method, "
            "source_ip)\",deny\r\n");
}

TEST(AccessMatrixTest, CsvDefusesEveryFormulaStart) {
  for (std::string email : {"=a", "+a", "-a", "@a", "\ta"}) {
    AccessMatrix m;
    m.users = {email};
    EXPECT_EQ(accessMatrixCsv(m), "name,from,path,'" + email + "\r\n");
  }
  AccessMatrix m;
  m.users = {"\ra"};  // quoted too: it holds a CR
  EXPECT_EQ(accessMatrixCsv(m), "name,from,path,\"'\ra\"\r\n");
}

}  // namespace
}  // namespace vallum::proxy
