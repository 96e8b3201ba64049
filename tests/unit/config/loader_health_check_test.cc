// Route `health_checks` (Pomerium route option): Envoy core.v3.HealthCheck with
// protobuf-JSON field names.
#include <string>

#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_test_util.h"

namespace vallum::config {
namespace {

using namespace std::chrono_literals;
using test::hasDiag;
using test::load;
using test::loaded;
using test::routeWith;
using E = Severity;

/// A route whose only health check has the given lines (indented 8 spaces; the entry's first
/// line is "      - timeout: 1s" on line 5, so the given lines start on line 6).
LoadResult check(std::string_view lines) {
  return load(routeWith("    health_checks:\n      - timeout: 1s\n" + std::string(lines)));
}

/// The required fields plus an HTTP check, then `extra` (lines 6-9 are the required ones;
/// `extra` starts on line 10).
LoadResult httpCheck(std::string_view http_lines, std::string_view extra = "") {
  return check(
      "        interval: 5s\n"
      "        unhealthy_threshold: 2\n"
      "        healthy_threshold: 1\n"
      "        http_health_check:\n" +
      std::string(http_lines) + std::string(extra));
}

const HealthCheck& onlyCheck(const LoadResult& r) {
  return r.options->routes.at(0).health_checks.at(0);
}

const std::string kHc = "routes[0].health_checks[0]";

TEST(LoaderHealthCheckTest, HttpCheckWithEveryField) {
  LoadResult r = load(
      routeWith("    health_checks:\n"
                "      - timeout: 2s\n"
                "        interval: 1m30s\n"
                "        initial_jitter: 250ms\n"
                "        interval_jitter: 1s\n"
                "        interval_jitter_percent: 10\n"
                "        unhealthy_threshold: 3\n"
                "        healthy_threshold: 2\n"
                "        alt_port: 8081\n"
                "        reuse_connection: false\n"
                "        no_traffic_interval: 60s\n"
                "        no_traffic_healthy_interval: 2m\n"
                "        unhealthy_interval: 3s\n"
                "        unhealthy_edge_interval: 4s\n"
                "        healthy_edge_interval: 5s\n"
                "        http_health_check:\n"
                "          path: /healthz?full=1\n"
                "          host: health.internal:8080\n"
                "          expected_statuses: [{start: 200, end: 300}, {start: 401, end: 402}]\n"
                "          retriable_statuses: [{start: 503, end: 504}]\n"
                "          codec_client_type: HTTP1\n"
                "          method: GET\n"
                "          send: {}\n"
                "          request_headers_to_add: []\n"
                "          request_headers_to_remove: []\n"));
  ASSERT_TRUE(test::clean(r));
  const HealthCheck& hc = onlyCheck(r);
  EXPECT_EQ(hc.key, kHc);
  EXPECT_EQ(hc.pos.file, "config.yaml");
  EXPECT_EQ(hc.pos.line, 5);
  EXPECT_EQ(hc.pos.column, 9);
  EXPECT_EQ(hc.timeout, 2s);
  EXPECT_EQ(hc.interval, 90s);
  EXPECT_EQ(hc.initial_jitter, 250ms);
  EXPECT_EQ(hc.interval_jitter, 1s);
  EXPECT_EQ(hc.interval_jitter_percent, 10u);
  EXPECT_EQ(hc.unhealthy_threshold, 3u);
  EXPECT_EQ(hc.healthy_threshold, 2u);
  EXPECT_EQ(hc.alt_port, 8081);
  EXPECT_FALSE(hc.reuse_connection);
  EXPECT_EQ(hc.no_traffic_interval, 60s);
  EXPECT_EQ(hc.no_traffic_healthy_interval, 2min);
  EXPECT_EQ(hc.unhealthy_interval, 3s);
  EXPECT_EQ(hc.unhealthy_edge_interval, 4s);
  EXPECT_EQ(hc.healthy_edge_interval, 5s);
  EXPECT_EQ(hc.kind, HealthCheck::Kind::Http);
  EXPECT_EQ(hc.http_path, "/healthz?full=1");
  EXPECT_EQ(hc.http_host, "health.internal:8080");
  ASSERT_EQ(hc.expected_statuses.size(), 2u);
  EXPECT_EQ(hc.expected_statuses[0].start, 200);
  EXPECT_EQ(hc.expected_statuses[0].end, 300);
  EXPECT_EQ(hc.expected_statuses[1].start, 401);
  EXPECT_EQ(hc.expected_statuses[1].end, 402);
  ASSERT_EQ(hc.retriable_statuses.size(), 1u);
  EXPECT_EQ(hc.retriable_statuses[0].start, 503);
  EXPECT_EQ(hc.retriable_statuses[0].end, 504);
  EXPECT_EQ(hc.codec_client_type, HealthCheck::Codec::Http1);
  EXPECT_TRUE(hc.tcp_send.empty());
  EXPECT_TRUE(hc.tcp_receive.empty());
}

TEST(LoaderHealthCheckTest, CamelCaseAndProtobufDurations) {
  LoadResult r =
      load(routeWith("    health_checks:\n"
                     "      - timeout: '0.5s'\n"
                     "        interval: '10s'\n"
                     "        initialJitter: 1s\n"
                     "        intervalJitter: 2s\n"
                     "        intervalJitterPercent: '5'\n"
                     "        unhealthyThreshold: '4'\n"
                     "        healthyThreshold: 3\n"
                     "        altPort: 9000\n"
                     "        reuseConnection: false\n"
                     "        noTrafficInterval: 7s\n"
                     "        noTrafficHealthyInterval: 8s\n"
                     "        unhealthyInterval: 9s\n"
                     "        unhealthyEdgeInterval: 11s\n"
                     "        healthyEdgeInterval: 12s\n"
                     "        httpHealthCheck:\n"
                     "          path: /ready\n"
                     "          expectedStatuses: [{start: 200, end: 204}]\n"
                     "          retriableStatuses: [{start: 429, end: 430}]\n"
                     "          codecClientType: http1\n"
                     "          requestHeadersToRemove: []\n"));
  ASSERT_TRUE(test::clean(r));
  const HealthCheck& hc = onlyCheck(r);
  EXPECT_EQ(hc.timeout, 500ms);
  EXPECT_EQ(hc.interval, 10s);
  EXPECT_EQ(hc.initial_jitter, 1s);
  EXPECT_EQ(hc.interval_jitter, 2s);
  EXPECT_EQ(hc.interval_jitter_percent, 5u);
  EXPECT_EQ(hc.unhealthy_threshold, 4u);
  EXPECT_EQ(hc.healthy_threshold, 3u);
  EXPECT_EQ(hc.alt_port, 9000);
  EXPECT_FALSE(hc.reuse_connection);
  EXPECT_EQ(hc.no_traffic_interval, 7s);
  EXPECT_EQ(hc.no_traffic_healthy_interval, 8s);
  EXPECT_EQ(hc.unhealthy_interval, 9s);
  EXPECT_EQ(hc.unhealthy_edge_interval, 11s);
  EXPECT_EQ(hc.healthy_edge_interval, 12s);
  EXPECT_EQ(hc.http_path, "/ready");
  ASSERT_EQ(hc.expected_statuses.size(), 1u);
  EXPECT_EQ(hc.expected_statuses[0].end, 204);
  ASSERT_EQ(hc.retriable_statuses.size(), 1u);
  EXPECT_EQ(hc.retriable_statuses[0].start, 429);
}

TEST(LoaderHealthCheckTest, Defaults) {
  LoadResult r = httpCheck("          path: /\n");
  ASSERT_TRUE(test::clean(r));
  const HealthCheck& hc = onlyCheck(r);
  EXPECT_EQ(hc.initial_jitter, 0s);
  EXPECT_EQ(hc.interval_jitter, 0s);
  EXPECT_EQ(hc.interval_jitter_percent, 0u);
  EXPECT_FALSE(hc.no_traffic_interval);
  EXPECT_FALSE(hc.no_traffic_healthy_interval);
  EXPECT_FALSE(hc.unhealthy_interval);
  EXPECT_FALSE(hc.unhealthy_edge_interval);
  EXPECT_FALSE(hc.healthy_edge_interval);
  EXPECT_TRUE(hc.reuse_connection);
  EXPECT_FALSE(hc.alt_port);
  EXPECT_EQ(hc.http_host, "");
  EXPECT_TRUE(hc.expected_statuses.empty());
  EXPECT_TRUE(hc.retriable_statuses.empty());
}

TEST(LoaderHealthCheckTest, RequiredFields) {
  LoadResult r =
      load(routeWith("    health_checks:\n"
                     "      - http_health_check: {path: /}\n"));
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 9, kHc + ".timeout",
                          "missing: a health check needs timeout (e.g. timeout: 5s)"}));
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 5, 9, kHc + ".interval", "missing: a health check needs interval"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 9, kHc + ".unhealthy_threshold",
                          "missing: a health check needs unhealthy_threshold"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 5, 9, kHc + ".healthy_threshold",
                          "missing: a health check needs healthy_threshold"}));
  EXPECT_EQ(r.diagnostics.errorCount(), 4u) << r.diagnostics.formatAll();

  // null counts as not written.
  LoadResult null_timeout =
      load(routeWith("    health_checks:\n"
                     "      - timeout:\n"
                     "        interval: 5s\n"
                     "        unhealthy_threshold: 1\n"
                     "        healthy_threshold: 1\n"
                     "        tcp_health_check: {}\n"));
  EXPECT_TRUE(hasDiag(null_timeout, {E::Error, 5, 9, kHc + ".timeout", "missing"}));
  EXPECT_EQ(null_timeout.diagnostics.errorCount(), 1u) << null_timeout.diagnostics.formatAll();
}

TEST(LoaderHealthCheckTest, CommonFieldValidation) {
  const char* kRest =
      "        unhealthy_threshold: 2\n"
      "        healthy_threshold: 1\n"
      "        tcp_health_check: {}\n";
  auto hc = [&](const std::string& lines) {
    return load(routeWith("    health_checks:\n      - " + lines + kRest));
  };
  EXPECT_TRUE(hasDiag(hc("timeout: 0s\n        interval: 5s\n"),
                      {E::Error, 5, 18, kHc + ".timeout", "must be greater than 0"}));
  EXPECT_TRUE(hasDiag(hc("timeout: 1s\n        interval: 0\n"),
                      {E::Error, 6, 19, kHc + ".interval", "must be greater than 0"}));
  EXPECT_TRUE(hasDiag(hc("timeout: 5\n        interval: 5s\n"),
                      {E::Error, 5, 18, kHc + ".timeout", "missing unit in duration \"5\""}));
  EXPECT_TRUE(hasDiag(hc("timeout: -1s\n        interval: 5s\n"),
                      {E::Error, 5, 18, kHc + ".timeout", "negative duration not allowed"}));
  EXPECT_TRUE(hasDiag(hc("timeout: 1s\n        interval: 5s\n        unhealthy_interval: 0s\n"),
                      {E::Error, 7, 29, kHc + ".unhealthy_interval", "must be greater than 0"}));
  EXPECT_TRUE(hasDiag(hc("timeout: 1s\n        interval: 5s\n        no_traffic_interval: 0s\n"),
                      {E::Error, 7, 30, kHc + ".no_traffic_interval", "must be greater than 0"}));
  EXPECT_TRUE(
      hasDiag(hc("timeout: 1s\n        interval: 5s\n        alt_port: 70000\n"),
              {E::Error, 7, 19, kHc + ".alt_port", "port must be between 1 and 65535, got 70000"}));
  EXPECT_TRUE(hasDiag(hc("timeout: 1s\n        interval: 5s\n        reuse_connection: sure\n"),
                      {E::Error, 7, 27, kHc + ".reuse_connection", "expected a boolean"}));
  // initial_jitter 0 is fine (it is not an interval).
  EXPECT_TRUE(test::clean(hc("timeout: 1s\n        interval: 5s\n        initial_jitter: 0s\n")));

  auto thresholds = [](const std::string& unhealthy, const std::string& healthy) {
    return load(
        routeWith("    health_checks:\n      - timeout: 1s\n        interval: 5s\n"
                  "        unhealthy_threshold: " +
                  unhealthy + "\n        healthy_threshold: " + healthy +
                  "\n        tcp_health_check: {}\n"));
  };
  EXPECT_TRUE(hasDiag(thresholds("0", "1"), {E::Error, 7, 30, kHc + ".unhealthy_threshold",
                                             "must be at least 1, got 0"}));
  EXPECT_TRUE(hasDiag(thresholds("1", "0"),
                      {E::Error, 8, 28, kHc + ".healthy_threshold", "must be at least 1, got 0"}));
  EXPECT_TRUE(hasDiag(thresholds("-3", "1"), {E::Error, 7, 30, kHc + ".unhealthy_threshold",
                                              "must be between 0 and 4294967295, got -3"}));
  EXPECT_TRUE(hasDiag(thresholds("two", "1"),
                      {E::Error, 7, 30, kHc + ".unhealthy_threshold", "expected an integer"}));
}

TEST(LoaderHealthCheckTest, ExactlyOneChecker) {
  LoadResult none = check(
      "        interval: 5s\n"
      "        unhealthy_threshold: 2\n"
      "        healthy_threshold: 1\n");
  EXPECT_TRUE(hasDiag(
      none, {E::Error, 5, 9, kHc, "missing: one of http_health_check or tcp_health_check"}));
  EXPECT_EQ(none.diagnostics.errorCount(), 1u) << none.diagnostics.formatAll();

  LoadResult both = httpCheck("          path: /\n", "        tcp_health_check: {}\n");
  EXPECT_TRUE(hasDiag(both, {E::Error, 11, 9, kHc + ".tcp_health_check",
                             "a health check has exactly one of http_health_check, "
                             "tcp_health_check or grpc_health_check; this one also sets "
                             "http_health_check"}));
  EXPECT_EQ(both.diagnostics.errorCount(), 1u) << both.diagnostics.formatAll();

  const char* kRequired =
      "        interval: 5s\n"
      "        unhealthy_threshold: 2\n"
      "        healthy_threshold: 1\n";
  LoadResult grpc = check(std::string(kRequired) + "        grpc_health_check: {}\n");
  EXPECT_TRUE(hasDiag(grpc, {E::Error, 9, 9, kHc + ".grpc_health_check", "not supported yet"}));
  EXPECT_EQ(grpc.diagnostics.errorCount(), 1u) << grpc.diagnostics.formatAll();
  LoadResult camel = check(std::string(kRequired) + "        grpcHealthCheck: {service_name: a}\n");
  EXPECT_TRUE(hasDiag(camel, {E::Error, 9, 9, kHc + ".grpcHealthCheck", "not supported yet"}));
  LoadResult custom =
      check(std::string(kRequired) + "        custom_health_check: {name: redis}\n");
  EXPECT_TRUE(hasDiag(custom, {E::Error, 9, 9, kHc + ".custom_health_check", "not supported yet"}));
}

TEST(LoaderHealthCheckTest, HttpPath) {
  EXPECT_TRUE(hasDiag(httpCheck("          host: a\n"),
                      {E::Error, 10, 11, kHc + ".http_health_check.path",
                       "missing: the path to request (e.g. path: /healthz)"}));
  EXPECT_TRUE(hasDiag(httpCheck("          path: healthz\n"),
                      {E::Error, 10, 17, kHc + ".http_health_check.path",
                       "must start with \"/\", got \"healthz\""}));
  EXPECT_TRUE(hasDiag(
      httpCheck("          path: ''\n"),
      {E::Error, 10, 17, kHc + ".http_health_check.path", "must start with \"/\", got \"\""}));
  EXPECT_TRUE(hasDiag(httpCheck("          path: '/a b'\n"),
                      {E::Error, 10, 17, kHc + ".http_health_check.path", "invalid path"}));
  EXPECT_TRUE(hasDiag(httpCheck("          path: [/]\n"),
                      {E::Error, 10, 17, kHc + ".http_health_check.path", "expected a string"}));
  EXPECT_TRUE(hasDiag(httpCheck("          path: /\n          host: 'a b'\n"),
                      {E::Error, 11, 17, kHc + ".http_health_check.host", "invalid host"}));
  EXPECT_TRUE(hasDiag(
      check("        interval: 5s\n        unhealthy_threshold: 2\n"
            "        healthy_threshold: 1\n        http_health_check: /healthz\n"),
      {E::Error, 9, 28, kHc + ".http_health_check", "expected a mapping, got \"/healthz\""}));
}

TEST(LoaderHealthCheckTest, StatusRanges) {
  const std::string k = kHc + ".http_health_check.expected_statuses";
  auto ranges = [](const std::string& list) {
    return httpCheck("          path: /\n          expected_statuses: " + list + "\n");
  };
  EXPECT_TRUE(hasDiag(ranges("[{start: 99, end: 200}]"),
                      {E::Error, 11, 31, k + "[0]",
                       "invalid status range [99, 200): expected 100 <= start < end <= 600"}));
  EXPECT_TRUE(hasDiag(ranges("[{start: 200, end: 201}, {start: 300, end: 300}]"),
                      {E::Error, 11, 55, k + "[1]", "invalid status range [300, 300)"}));
  EXPECT_TRUE(
      hasDiag(ranges("[{start: 500, end: 601}]"), {E::Error, 11, 31, k + "[0]", "[500, 601)"}));
  EXPECT_TRUE(hasDiag(ranges("[{end: 300}]"), {E::Error, 11, 31, k + "[0]", "[0, 300)"}));
  EXPECT_TRUE(hasDiag(ranges("[{start: x, end: 300}]"),
                      {E::Error, 11, 39, k + "[0].start", "expected an integer"}));
  EXPECT_TRUE(hasDiag(ranges("[200]"), {E::Error, 11, 31, k + "[0]",
                                        "expected a status range {start, end}, got \"200\""}));
  EXPECT_TRUE(hasDiag(ranges("{start: 200, end: 300}"),
                      {E::Error, 11, 30, k, "expected a list, got a mapping"}));
  EXPECT_TRUE(hasDiag(ranges("[{start: 200, end: 300, step: 1}]"),
                      {E::Error, 11, 54, k + "[0].step", "unknown range field \"step\""}));
  LoadResult edges = ranges("[{start: 100, end: 600}]");
  ASSERT_TRUE(test::clean(edges));
  EXPECT_EQ(onlyCheck(edges).expected_statuses[0].end, 600);
  EXPECT_TRUE(hasDiag(
      httpCheck("          path: /\n          retriable_statuses: [{start: 600, end: 601}]\n"),
      {E::Error, 11, 32, kHc + ".http_health_check.retriable_statuses[0]",
       "invalid status range [600, 601)"}));
}

TEST(LoaderHealthCheckTest, HttpCodecAndMethod) {
  const std::string k = kHc + ".http_health_check.";
  LoadResult h1 = httpCheck("          path: /\n          codec_client_type: http1\n");
  ASSERT_TRUE(test::clean(h1));
  EXPECT_EQ(onlyCheck(h1).codec_client_type, HealthCheck::Codec::Http1);
  LoadResult h2 = httpCheck("          path: /\n          codec_client_type: HTTP2\n");
  ASSERT_TRUE(test::clean(h2));
  EXPECT_EQ(onlyCheck(h2).codec_client_type, HealthCheck::Codec::Http2);
  // Envoy's deprecated spelling.
  LoadResult legacy = httpCheck("          path: /\n          use_http2: true\n");
  ASSERT_TRUE(test::clean(legacy));
  EXPECT_EQ(onlyCheck(legacy).codec_client_type, HealthCheck::Codec::Http2);
  EXPECT_TRUE(hasDiag(httpCheck("          path: /\n          codec_client_type: HTTP3\n"),
                      {E::Error, 11, 30, k + "codec_client_type", "not supported yet"}));
  EXPECT_TRUE(hasDiag(httpCheck("          path: /\n          codec_client_type: SPDY\n"),
                      {E::Error, 11, 30, k + "codec_client_type",
                       "unknown value \"SPDY\" (expected one of: HTTP1, HTTP2, HTTP3)"}));
  EXPECT_TRUE(test::clean(httpCheck("          path: /\n          method: get\n")));
  EXPECT_TRUE(hasDiag(httpCheck("          path: /\n          method: POST\n"),
                      {E::Error, 11, 19, k + "method", "method \"POST\" not supported yet"}));
  EXPECT_TRUE(hasDiag(httpCheck("          path: /\n          method: FETCH\n"),
                      {E::Error, 11, 19, k + "method", "unknown method \"FETCH\""}));
}

TEST(LoaderHealthCheckTest, HttpFeaturesNotSupportedYetUnlessEmpty) {
  const std::string k = kHc + ".http_health_check.";
  struct Case {
    const char* line;
    const char* field;
  };
  for (const Case& c :
       {Case{"send: {text: '0102'}", "send"}, Case{"receive: [{text: '0102'}]", "receive"},
        Case{"request_headers_to_add: [{header: {key: a, value: b}}]", "request_headers_to_add"},
        Case{"requestHeadersToRemove: [x-a]", "requestHeadersToRemove"},
        Case{"service_name_matcher: {exact: a}", "service_name_matcher"},
        Case{"service_name: a", "service_name"}}) {
    LoadResult r = httpCheck("          path: /\n          " + std::string(c.line) + "\n");
    EXPECT_TRUE(hasDiag(r, {E::Error, 11, 11, k + c.field, "not supported yet"})) << c.line;
    EXPECT_EQ(r.diagnostics.errorCount(), 1u) << r.diagnostics.formatAll();
  }
  LoadResult empty = httpCheck(
      "          path: /\n"
      "          send: {}\n"
      "          receive: []\n"
      "          request_headers_to_add: []\n"
      "          request_headers_to_remove: []\n"
      "          service_name_matcher: {}\n"
      "          service_name: ''\n");
  EXPECT_TRUE(test::clean(empty));
}

TEST(LoaderHealthCheckTest, IgnoredFieldsWarn) {
  LoadResult r = httpCheck(
      "          path: /\n"
      "          response_buffer_size: 2048\n",
      "        event_log_path: /tmp/hc.log\n"
      "        always_log_health_check_failures: true\n"
      "        alwaysLogHealthCheckSuccess: true\n"
      "        tls_options: {alpn_protocols: [h2]}\n"
      "        transport_socket_match_criteria: {tls: true}\n"
      "        event_service: {}\n");
  ASSERT_TRUE(loaded(r));
  const std::string k = kHc + ".";
  EXPECT_TRUE(hasDiag(r, {E::Warning, 11, 11, k + "http_health_check.response_buffer_size",
                          "ignored (only used with receive, which is not supported yet)"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 12, 9, k + "event_log_path",
                          "ignored (health check event logs are not supported)"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 13, 9, k + "always_log_health_check_failures",
                          "ignored (health changes are always logged"}));
  EXPECT_TRUE(
      hasDiag(r, {E::Warning, 14, 9, k + "alwaysLogHealthCheckSuccess", "ignored (health"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 15, 9, k + "tls_options",
                          "ignored (health checks use the route's upstream TLS settings)"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 16, 9, k + "transport_socket_match_criteria", "ignored"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 17, 9, k + "event_service", "ignored"}));
  EXPECT_EQ(r.diagnostics.items().size(), 7u) << r.diagnostics.formatAll();
}

TEST(LoaderHealthCheckTest, UnknownFieldsAreErrors) {
  LoadResult r = httpCheck(
      "          path: /\n"
      "          bogus: 1\n",
      "        healthcheck_interval: 5s\n"
      "        intervl: 5s\n");
  EXPECT_FALSE(r.options);
  const std::string k = kHc + ".";
  EXPECT_TRUE(hasDiag(r, {E::Error, 11, 11, k + "http_health_check.bogus",
                          "unknown http_health_check field \"bogus\""}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 12, 9, k + "healthcheck_interval",
                          "unknown health check field \"healthcheck_interval\""}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 13, 9, k + "intervl",
                          "unknown health check field \"intervl\" (did you mean \"interval\"?)"}));
}

TEST(LoaderHealthCheckTest, TcpPayloads) {
  auto tcp = [](const std::string& lines) {
    return check(
        "        interval: 5s\n"
        "        unhealthy_threshold: 2\n"
        "        healthy_threshold: 1\n"
        "        tcp_health_check:\n" +
        lines);
  };
  LoadResult text =
      tcp("          send: {text: 000000ff}\n"
          "          receive:\n"
          "            - text: '0A'\n"
          "            - binary: UE9ORw==\n");
  ASSERT_TRUE(test::clean(text));
  EXPECT_EQ(onlyCheck(text).kind, HealthCheck::Kind::Tcp);
  EXPECT_EQ(onlyCheck(text).tcp_send, std::string("\x00\x00\x00\xff", 4));
  ASSERT_EQ(onlyCheck(text).tcp_receive.size(), 2u);
  EXPECT_EQ(onlyCheck(text).tcp_receive[0], "\n");
  EXPECT_EQ(onlyCheck(text).tcp_receive[1], "PONG");

  LoadResult binary = tcp("          send: {binary: UElORw==}\n          receive: {text: 4f4b}\n");
  ASSERT_TRUE(test::clean(binary));
  EXPECT_EQ(onlyCheck(binary).tcp_send, "PING");
  ASSERT_EQ(onlyCheck(binary).tcp_receive.size(), 1u);  // a single payload: the older shape
  EXPECT_EQ(onlyCheck(binary).tcp_receive[0], "OK");

  LoadResult connect_only = tcp("          {}\n");  // tcp_health_check: {} — connect only
  ASSERT_TRUE(test::clean(connect_only));
  EXPECT_TRUE(onlyCheck(connect_only).tcp_send.empty());
  EXPECT_TRUE(onlyCheck(connect_only).tcp_receive.empty());
  LoadResult empty = check(
      "        interval: 5s\n"
      "        unhealthy_threshold: 2\n"
      "        healthy_threshold: 1\n"
      "        tcp_health_check: {send: {}, receive: []}\n");
  ASSERT_TRUE(test::clean(empty));
  EXPECT_TRUE(onlyCheck(empty).tcp_send.empty());
  EXPECT_TRUE(onlyCheck(empty).tcp_receive.empty());
}

TEST(LoaderHealthCheckTest, TcpPayloadErrors) {
  auto tcp = [](const std::string& line) {
    return check(
        "        interval: 5s\n"
        "        unhealthy_threshold: 2\n"
        "        healthy_threshold: 1\n"
        "        tcp_health_check:\n"
        "          " +
        line + "\n");
  };
  const std::string k = kHc + ".tcp_health_check.";
  EXPECT_TRUE(hasDiag(tcp("send: {text: '50494E4'}"),
                      {E::Error, 10, 24, k + "send.text",
                       "invalid hex payload \"50494E4\": odd number of digits"}));
  EXPECT_TRUE(hasDiag(tcp("send: {text: 'PING'}"),
                      {E::Error, 10, 24, k + "send.text",
                       "invalid hex payload \"PING\": \"P\" is not a hex digit"}));
  EXPECT_TRUE(hasDiag(tcp("receive: [{text: 'zz'}]"),
                      {E::Error, 10, 28, k + "receive[0].text", "\"z\" is not a hex digit"}));
  EXPECT_TRUE(hasDiag(tcp("send: {binary: '***'}"),
                      {E::Error, 10, 26, k + "send.binary", "invalid base64 payload \"***\""}));
  EXPECT_TRUE(hasDiag(tcp("send: {text: '00', binary: AA==}"),
                      {E::Error, 10, 30, k + "send.binary", "set only one of text and binary"}));
  EXPECT_TRUE(hasDiag(tcp("receive: [{}]"), {E::Error, 10, 21, k + "receive[0]",
                                             "empty payload: set text (hex) or binary (base64)"}));
  EXPECT_TRUE(hasDiag(tcp("send: '50494E47'"),
                      {E::Error, 10, 17, k + "send", "expected a payload ({text: <hex>}"}));
  EXPECT_TRUE(hasDiag(tcp("receive: '504F4E47'"),
                      {E::Error, 10, 20, k + "receive", "expected a list, got \"504F4E47\""}));
  EXPECT_TRUE(hasDiag(tcp("proxy_protocol_config: {version: V2}"),
                      {E::Error, 10, 11, k + "proxy_protocol_config", "not supported yet"}));
  EXPECT_TRUE(hasDiag(tcp("send: {hex: '00'}"),
                      {E::Error, 10, 18, k + "send.hex", "unknown payload field \"hex\""}));
}

TEST(LoaderHealthCheckTest, ListShapeAndSeveralChecks) {
  EXPECT_TRUE(hasDiag(load(routeWith("    health_checks: [5s]\n")),
                      {E::Error, 4, 21, kHc, "expected a health check (a mapping"}));
  LoadResult two = load(
      routeWith("    health_checks:\n"
                "      - {timeout: 1s, interval: 2s, unhealthy_threshold: 1, healthy_threshold: 1, "
                "tcp_health_check: {}}\n"
                "      - {timeout: 3s, interval: 4s, unhealthy_threshold: 1, healthy_threshold: 1, "
                "http_health_check: {path: /x}}\n"));
  ASSERT_TRUE(test::clean(two));
  const auto& checks = two.options->routes[0].health_checks;
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].kind, HealthCheck::Kind::Tcp);
  EXPECT_EQ(checks[1].kind, HealthCheck::Kind::Http);
  EXPECT_EQ(checks[1].key, "routes[0].health_checks[1]");
  EXPECT_EQ(checks[1].pos.line, 6);
  EXPECT_EQ(checks[1].pos.column, 9);
  EXPECT_EQ(checks[1].timeout, 3s);
}

}  // namespace
}  // namespace vallum::config
