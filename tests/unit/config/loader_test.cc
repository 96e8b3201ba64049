// Loading as a whole: YAML structure, file handling, diagnostics order, the route docs' example.
#include "config/loader.h"

#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "config_test_util.h"

namespace vallum::config {
namespace {

using test::Expected;
using test::hasDiag;
using test::load;
using test::loaded;
using E = Severity;

TEST(LoaderTest, EmptyDocumentHasNoRoutes) {
  for (const char* text : {"", "\n", "# nothing here\n", "---\n", "{}"}) {
    LoadResult r = load(text);
    ASSERT_TRUE(test::clean(r)) << text;
    EXPECT_TRUE(r.options->routes.empty());
  }
}

TEST(LoaderTest, TopLevelMustBeAMapping) {
  LoadResult r = load("- from: https://a\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(
      r, {E::Error, 1, 1, "yaml", "the top level must be a mapping of options, got a list"}));
  EXPECT_TRUE(hasDiag(load("just text"),
                      {E::Error, 1, 1, "yaml", "the top level must be a mapping of options"}));
}

TEST(LoaderTest, SyntaxErrorIsKeyYamlWithPosition) {
  LoadResult r = load("routes:\n  - from: https://a\n   to: [http://a\n");
  EXPECT_FALSE(r.options);
  ASSERT_EQ(r.diagnostics.errorCount(), 1u) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.items()[0].key, "yaml");
  EXPECT_GT(r.diagnostics.items()[0].pos.line, 0);
  EXPECT_TRUE(hasDiag(load("a: b: c\n"), {E::Error, 1, 5, "yaml", "mapping values are not allowed in this context"}));
}

TEST(LoaderTest, DuplicateTopLevelKey) {
  LoadResult r = load("address: ':80'\ninsecure_server: true\naddress: ':81'\n");
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 3, 1, "address", "duplicate key (first defined at line 1)"}));
}

TEST(LoaderTest, JsonIsYamlToo) {
  LoadResult r = load(
      R"({"address": ":8443", "routes": [{"from": "https://a.example.com", "to": ["http://a"]}]})");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->address.toString(), ":8443");
  EXPECT_EQ(r.options->routes.size(), 1u);
}

TEST(LoaderTest, CollectsEveryProblemInFileOrder) {
  LoadResult r = load(
      "unknown_a: 1\n"
      "timeout_read: x\n"
      "routes:\n"
      "  - from: https://a.example.com\n"
      "    to: http://a\n"
      "    depends_on: [b.example.com]\n"
      "cookie_secret: YWJj\n"
      "client_ca: x\n");
  const auto& d = r.diagnostics.items();
  ASSERT_EQ(d.size(), 5u) << r.diagnostics.formatAll();
  EXPECT_EQ(d[0].key, "unknown_a");
  EXPECT_EQ(d[1].key, "timeout_read");
  EXPECT_EQ(d[2].key, "routes[0].depends_on");
  EXPECT_EQ(d[3].key, "cookie_secret");
  EXPECT_EQ(d[4].key, "client_ca");
  for (size_t i = 1; i < d.size(); ++i) {
    EXPECT_LT(d[i - 1].pos.line, d[i].pos.line);
  }
  EXPECT_EQ(r.diagnostics.errorCount(), 4u);
  EXPECT_EQ(r.diagnostics.warningCount(), 1u);
}

TEST(LoaderTest, WarningsAloneStillLoad) {
  LoadResult r = load(test::routeWith("    prefix: nope\n") + "frobnicate: true\n");
  ASSERT_TRUE(loaded(r));
  EXPECT_EQ(r.diagnostics.warningCount(), 2u);
}

TEST(LoaderTest, FormatIsTheCheckLine) {
  LoadResult r = load(test::routeWith("    depends_on: [b.example.com]\n"));
  EXPECT_EQ(r.diagnostics.formatAll(),
            "config.yaml:4:5: error: routes[0].depends_on: not supported yet");
}

class LoadFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    std::string path = ::testing::TempDir() + "vallum_loader_" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
};

TEST_F(LoadFileTest, LoadsAFileAndNamesItInPositions) {
  std::string path = write("ok.yaml", test::routeWith("    timeout: 5\n"));
  LoadResult r = loadFile(path, emptyEnvironment());
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 14, "routes[0].timeout", "missing unit", path}));
  std::string good = write("good.yaml", test::routeWith(""));
  LoadResult g = loadFile(good, emptyEnvironment());
  ASSERT_TRUE(test::clean(g));
  EXPECT_EQ(g.options->routes[0].pos.file, good);
}

TEST_F(LoadFileTest, MissingFile) {
  LoadResult r = loadFile("/nonexistent/vallum.yaml", emptyEnvironment());
  EXPECT_FALSE(r.options);
  ASSERT_EQ(r.diagnostics.errorCount(), 1u);
  EXPECT_EQ(r.diagnostics.items()[0].format(),
            "/nonexistent/vallum.yaml: error: cannot load config: cannot read "
            "\"/nonexistent/vallum.yaml\": No such file or directory");
}

TEST_F(LoadFileTest, ExampleFromTheRouteDocsGlobalCertificates) {
  LoadResult r = load(
      "certificate_file: $HOME/.pomerium/cert.pem\n"
      "certificate_key: $HOME/.pomerium/privkey.pem\n");
  // "$HOME" is a placeholder in the docs and is not expanded; tls resolves the raw values.
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->certificates[0].cert, "$HOME/.pomerium/cert.pem");
}

// The examples of Pomerium's route docs (Routing, Proxying, and Load Balancing) must load,
// failing only on the keys Vallum does not implement yet.
constexpr const char* kRouteDocsExample = R"(routes:
  - from: https://myapp.example.com            # multiple upstreams + active HTTP health check
    to: [http://myapp-srv-1:8080, http://myapp-srv-2:8080]
    health_checks:
      - timeout: 10s
        interval: 60s
        healthy_threshold: 1
        unhealthy_threshold: 2
        http_health_check:
          path: '/'
  - from: tcp+https://tcp-service.example.com:5432   # active TCP health check, hex payloads
    to: [tcp://tcp-1.local, tcp://tcp-2.local]
    health_checks:
      - timeout: 1s
        interval: 5s
        unhealthy_threshold: 3
        healthy_threshold: 1
        tcp_health_check:
          send:
            text: '50494E47'   # PING
          receive:
            - text: '504F4E47' # PONG
  - from: https://passive.example.com          # passive health check, all defaults
    to: [http://myapp-srv-1:8080, http://myapp-srv-2:8080]
    outlier_detection: {}
  - from: https://lr.example.com
    to: [http://myapp-srv-1:8080, http://myapp-srv-2:8080, http://myapp-srv-3:8080]
    lb_policy: LEAST_REQUEST
    least_request_lb_config:
      choice_count: 2
  - from: https://weighted.example.com         # default round robin with weights
    to:
      - http://myapp-srv-1:8080,10
      - http://myapp-srv-2:8080,20
      - http://myapp-srv-3:8080,30
  - from: https://httpbin.example.com          # set / remove request headers
    to: http://httpbin
    policy:
      - allow:
          or:
            - email:
                is: user@example.com
    set_request_headers:
      Authorization: Basic cm9vdDpodW50ZXI0Mg==
      X-Your-favorite-authenticating-Proxy: 'Pomerium'
    remove_request_headers:
      - X-Email
      - X-Username
  - from: https://frontend.example.com
    to: http://localhost:8000
    rewrite_response_headers:
      - header: Location
        prefix: http://localhost:8000/two/
        value: http://frontend/one/
)";

TEST(LoaderTest, RouteDocsExampleLoads) {
  // Every key of the route docs' example is implemented, the TCP route included.
  LoadResult r = load(kRouteDocsExample);
  ASSERT_TRUE(r.options) << r.diagnostics.formatAll();
  EXPECT_EQ(r.diagnostics.errorCount(), 0u) << r.diagnostics.formatAll();
  const Route& tcp = r.options->routes[1];
  EXPECT_EQ(tcp.from.scheme, "tcp+https");
  EXPECT_EQ(tcp.from.connect_authorities,
            std::vector<std::string>{"tcp-service.example.com:5432"});
  ASSERT_EQ(tcp.to.size(), 2u);
  EXPECT_EQ(tcp.to[0].scheme, "tcp");
  // The one warning is the outlier lint (Envoy's max_ejection_percent): two endpoints with the
  // default 10% never eject.
  ASSERT_EQ(r.diagnostics.warningCount(), 1u) << r.diagnostics.formatAll();
  EXPECT_TRUE(hasDiag(r, {E::Warning, 25, 5, "routes[2].outlier_detection",
                          "with 2 endpoints and max_ejection_percent 10 nothing can ever be "
                          "ejected; set max_ejection_percent >= 50 or always_eject_one_host: "
                          "true"}));
}

TEST(LoaderTest, RouteDocsExampleWithoutUnimplementedKeysLoads) {
  // The weighted route on its own is fully implemented.
  LoadResult r = load(
      "routes:\n"
      "  - from: https://weighted.example.com\n"
      "    to:\n"
      "      - http://myapp-srv-1:8080,10\n"
      "      - http://myapp-srv-2:8080,20\n"
      "      - http://myapp-srv-3:8080,30\n");
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(r.options->routes[0].to[2].weight, 30u);
}

TEST(LoaderTest, NeverThrowsOnHostileInput) {
  // A few shapes a fuzzer finds quickly; each must come back as diagnostics.
  for (const char* text : {"\t", "[", "{", "&a [*a]", "routes: &r [*r]", ": :", "? ? ?", "\xff\xfe",
                           "%YAML 9.9\n---\n", "routes:\n  - from: !!binary aGVsbG8=\n",
                           "routes: [[[[[[[[[[[]]]]]]]]]]]"}) {
    LoadResult r = load(text);
    EXPECT_TRUE(r.options.has_value() || r.diagnostics.hasErrors()) << text;
  }
}

}  // namespace
}  // namespace vallum::config
