// Upstream cluster route options: lb_policy / load_balancing_policy, the *_lb_config
// objects, hash_policy, healthy_panic_threshold, outlier_detection, and the route docs'
// examples (Pomerium docs: Routing, Proxying, and Load Balancing; Envoy Cluster.lb_policy,
// cluster.v3.OutlierDetection).
// Health checks are in loader_health_check_test.cc.
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

/// A route with ten endpoints, so that outlier detection's default 10% can eject one.
std::string tenEndpointRoute(std::string_view extra) {
  std::string out =
      "routes:\n"
      "  - from: https://app.example.com\n"
      "    to: [http://a0, http://a1, http://a2, http://a3, http://a4, http://a5, http://a6, "
      "http://a7, http://a8, http://a9]\n";
  out.append(extra);
  return out;
}

const Route& onlyRoute(const LoadResult& r) { return r.options->routes.at(0); }

// ---- defaults ----

TEST(LoaderClusterTest, DefaultsWhenNothingIsSet) {
  LoadResult r = load(routeWith(""));
  ASSERT_TRUE(test::clean(r));
  const Route& route = onlyRoute(r);
  EXPECT_EQ(route.lb_policy, LbPolicy::RoundRobin);
  EXPECT_EQ(route.least_request_lb_config.choice_count, 2u);
  EXPECT_FALSE(route.least_request_lb_config.active_request_bias);
  EXPECT_EQ(route.ring_hash_lb_config.minimum_ring_size, 1024u);
  EXPECT_EQ(route.ring_hash_lb_config.maximum_ring_size, 8388608u);
  EXPECT_EQ(route.ring_hash_lb_config.hash_function, RingHashLbConfig::HashFunction::XxHash);
  EXPECT_EQ(route.maglev_lb_config.table_size, 65537u);
  EXPECT_TRUE(route.hash_policy.empty());
  EXPECT_EQ(route.healthy_panic_threshold, 50u);
  EXPECT_TRUE(route.health_checks.empty());
  EXPECT_FALSE(route.outlier_detection);
  EXPECT_FALSE(route.tls.skip_verify);
  EXPECT_EQ(route.tls.server_name, "");
  EXPECT_EQ(route.tls.custom_ca, "");
  EXPECT_EQ(route.tls.client_cert, "");
  EXPECT_EQ(route.tls.client_key, "");
}

TEST(LoaderClusterTest, ValuesThatAskForNothingLoadClean) {
  LoadResult r =
      load(routeWith("    lb_policy: ''\n"
                     "    load_balancing_policy:\n"
                     "    least_request_lb_config: {}\n"
                     "    ring_hash_lb_config: {}\n"
                     "    maglev_lb_config: {}\n"
                     "    hash_policy: []\n"
                     "    health_checks: []\n"
                     "    outlier_detection:\n"
                     "    tls_skip_verify: false\n"
                     "    tls_server_name: ''\n"
                     "    tls_custom_ca: ''\n"));
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(onlyRoute(r).lb_policy, LbPolicy::RoundRobin);
  EXPECT_FALSE(onlyRoute(r).outlier_detection) << "null means unset";
}

// ---- lb_policy / load_balancing_policy (Pomerium; Envoy Cluster.lb_policy) ----

struct PolicyCase {
  const char* line;
  LbPolicy policy;
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.line; }

class LoaderLbPolicyNameTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(LoaderLbPolicyNameTest, Parses) {
  LoadResult r = load(routeWith(std::string(GetParam().line) + "\n"));
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(onlyRoute(r).lb_policy, GetParam().policy);
}

INSTANTIATE_TEST_SUITE_P(
    Names, LoaderLbPolicyNameTest,
    ::testing::Values(
        PolicyCase{"    lb_policy: ROUND_ROBIN", LbPolicy::RoundRobin},
        PolicyCase{"    lb_policy: LEAST_REQUEST", LbPolicy::LeastRequest},
        PolicyCase{"    lb_policy: RANDOM", LbPolicy::Random},
        PolicyCase{"    lb_policy: RING_HASH", LbPolicy::RingHash},
        PolicyCase{"    lb_policy: MAGLEV", LbPolicy::Maglev},
        PolicyCase{"    lb_policy: least_request", LbPolicy::LeastRequest},
        PolicyCase{"    lb_policy: Ring_Hash", LbPolicy::RingHash},
        PolicyCase{"    lb_policy: UNSPECIFIED", LbPolicy::RoundRobin},
        PolicyCase{"    load_balancing_policy: LOAD_BALANCING_POLICY_MAGLEV", LbPolicy::Maglev},
        PolicyCase{"    load_balancing_policy: load_balancing_policy_random", LbPolicy::Random},
        PolicyCase{"    load_balancing_policy: LOAD_BALANCING_POLICY_UNSPECIFIED",
                   LbPolicy::RoundRobin},
        PolicyCase{"    load_balancing_policy: ring_hash", LbPolicy::RingHash},
        PolicyCase{"    load_balancing_policy: LEAST_REQUEST", LbPolicy::LeastRequest},
        PolicyCase{"    lb_policy: LOAD_BALANCING_POLICY_LEAST_REQUEST", LbPolicy::LeastRequest},
        PolicyCase{"    lb_policy: MAGLEV\n    load_balancing_policy: maglev", LbPolicy::Maglev}));

TEST(LoaderClusterTest, UnknownPolicyListsTheFive) {
  const char* kFive = "(expected one of: ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)";
  LoadResult a = load(routeWith("    lb_policy: WEIGHTED_ROUND_ROBIN\n"));
  EXPECT_FALSE(a.options);
  EXPECT_TRUE(
      hasDiag(a, {E::Error, 4, 16, "routes[0].lb_policy",
                  std::string("unknown load balancing policy \"WEIGHTED_ROUND_ROBIN\" ") + kFive}));
  LoadResult b = load(routeWith("    load_balancing_policy: LOAD_BALANCING_POLICY_CLUSTER\n"));
  EXPECT_TRUE(hasDiag(b, {E::Error, 4, 28, "routes[0].load_balancing_policy",
                          "unknown load balancing policy \"LOAD_BALANCING_POLICY_CLUSTER\""}));
  EXPECT_TRUE(hasDiag(load(routeWith("    lb_policy: ROUND\n")),
                      {E::Error, 4, 16, "routes[0].lb_policy", kFive}));
  EXPECT_TRUE(hasDiag(load(routeWith("    lb_policy: [MAGLEV]\n")),
                      {E::Error, 4, 16, "routes[0].lb_policy", "expected a string, got a list"}));
}

TEST(LoaderClusterTest, BothPolicyKeysMustAgree) {
  LoadResult a =
      load(routeWith("    lb_policy: RANDOM\n"
                     "    load_balancing_policy: MAGLEV\n"));
  EXPECT_FALSE(a.options);
  EXPECT_TRUE(hasDiag(a, {E::Error, 5, 28, "routes[0].load_balancing_policy",
                          "lb_policy (RANDOM) and load_balancing_policy (MAGLEV) disagree; set "
                          "only one"}));
  EXPECT_EQ(a.diagnostics.errorCount(), 1u) << a.diagnostics.formatAll();
  // Reported at whichever comes second.
  LoadResult b =
      load(routeWith("    load_balancing_policy: LOAD_BALANCING_POLICY_RING_HASH\n"
                     "    lb_policy: LEAST_REQUEST\n"));
  EXPECT_TRUE(hasDiag(b, {E::Error, 5, 16, "routes[0].lb_policy",
                          "lb_policy (LEAST_REQUEST) and load_balancing_policy "
                          "(LOAD_BALANCING_POLICY_RING_HASH) disagree"}));
  // The same policy in two spellings is fine.
  EXPECT_TRUE(
      test::clean(load(routeWith("    lb_policy: RING_HASH\n"
                                 "    load_balancing_policy: LOAD_BALANCING_POLICY_RING_HASH\n"))));
}

// ---- least_request_lb_config ----

TEST(LoaderClusterTest, LeastRequestConfig) {
  LoadResult r =
      load(routeWith("    lb_policy: LEAST_REQUEST\n"
                     "    least_request_lb_config:\n"
                     "      choice_count: 3\n"
                     "      active_request_bias: 0.5\n"));
  ASSERT_TRUE(test::clean(r));
  const LeastRequestLbConfig& c = onlyRoute(r).least_request_lb_config;
  EXPECT_EQ(c.choice_count, 3u);
  ASSERT_TRUE(c.active_request_bias);
  EXPECT_DOUBLE_EQ(*c.active_request_bias, 0.5);
}

TEST(LoaderClusterTest, LeastRequestConfigCamelCaseAndRuntimeDouble) {
  // Envoy's active_request_bias is a RuntimeDouble; protobuf JSON names are lowerCamelCase.
  LoadResult r =
      load(routeWith("    lb_policy: LEAST_REQUEST\n"
                     "    least_request_lb_config:\n"
                     "      choiceCount: '4'\n"
                     "      activeRequestBias: {defaultValue: 1.5, runtimeKey: lb.bias}\n"));
  ASSERT_TRUE(loaded(r));
  const LeastRequestLbConfig& c = onlyRoute(r).least_request_lb_config;
  EXPECT_EQ(c.choice_count, 4u);
  EXPECT_DOUBLE_EQ(c.active_request_bias.value_or(-1), 1.5);
  EXPECT_TRUE(hasDiag(
      r, {E::Warning, 7, 46, "routes[0].least_request_lb_config.activeRequestBias.runtimeKey",
          "ignored (there are no runtime overrides)"}));
  EXPECT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();

  LoadResult zero =
      load(routeWith("    lb_policy: LEAST_REQUEST\n"
                     "    least_request_lb_config: {active_request_bias: {default_value: 0}}\n"));
  ASSERT_TRUE(test::clean(zero));
  EXPECT_DOUBLE_EQ(onlyRoute(zero).least_request_lb_config.active_request_bias.value_or(-1), 0);
}

TEST(LoaderClusterTest, LeastRequestValidation) {
  auto lr = [](const std::string& body) {
    return load(
        routeWith("    lb_policy: LEAST_REQUEST\n    least_request_lb_config: " + body + "\n"));
  };
  // Column of the first character after "    least_request_lb_config: {".
  EXPECT_TRUE(hasDiag(lr("{choice_count: 1}"),
                      {E::Error, 5, 45, "routes[0].least_request_lb_config.choice_count",
                       "must be at least 2, got 1"}));
  EXPECT_TRUE(hasDiag(lr("{choice_count: -2}"),
                      {E::Error, 5, 45, "routes[0].least_request_lb_config.choice_count",
                       "must be between 0 and 4294967295, got -2"}));
  EXPECT_TRUE(hasDiag(lr("{choice_count: two}"),
                      {E::Error, 5, 45, "routes[0].least_request_lb_config.choice_count",
                       "expected an integer, got \"two\""}));
  EXPECT_TRUE(hasDiag(lr("{active_request_bias: -1}"),
                      {E::Error, 5, 52, "routes[0].least_request_lb_config.active_request_bias",
                       "must be a non-negative number, got -1"}));
  EXPECT_TRUE(hasDiag(lr("{active_request_bias: .nan}"),
                      {E::Error, 5, 52, "routes[0].least_request_lb_config.active_request_bias",
                       "must be a non-negative number, got .nan"}));
  EXPECT_TRUE(hasDiag(lr("{active_request_bias: NaN}"),
                      {E::Error, 5, 52, "routes[0].least_request_lb_config.active_request_bias",
                       "must be a non-negative number, got NaN"}));
  EXPECT_TRUE(hasDiag(lr("{active_request_bias: .inf}"),
                      {E::Error, 5, 52, "routes[0].least_request_lb_config.active_request_bias",
                       "must be a non-negative number"}));
  EXPECT_TRUE(hasDiag(lr("{active_request_bias: high}"),
                      {E::Error, 5, 52, "routes[0].least_request_lb_config.active_request_bias",
                       "expected a number, got \"high\""}));
  EXPECT_TRUE(hasDiag(
      lr("{active_request_bias: {runtime_key: x}}"),
      {E::Error, 5, 52, "routes[0].least_request_lb_config.active_request_bias.default_value",
       "missing: the bias"}));
  EXPECT_TRUE(hasDiag(lr("[choice_count]"), {E::Error, 5, 30, "routes[0].least_request_lb_config",
                                             "expected a mapping, got a list"}));
  EXPECT_TRUE(hasDiag(lr("{choice_count: 2, choiceCount: 3}"),
                      {E::Error, 5, 48, "routes[0].least_request_lb_config.choiceCount",
                       "set twice (as \"choice_count\" and \"choiceCount\")"}));
}

TEST(LoaderClusterTest, LbConfigIgnoredFieldsWarnAndUnknownFieldsAreErrors) {
  LoadResult r =
      load(routeWith("    lb_policy: LEAST_REQUEST\n"
                     "    least_request_lb_config:\n"
                     "      choice_count: 2\n"
                     "      slow_start_config: {slow_start_window: 30s}\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 7, 7, "routes[0].least_request_lb_config.slow_start_config",
                          "ignored (slow start is not supported yet)"}));
  EXPECT_EQ(onlyRoute(r).least_request_lb_config.choice_count, 2u);
  EXPECT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();

  LoadResult typo =
      load(routeWith("    lb_policy: LEAST_REQUEST\n"
                     "    least_request_lb_config:\n"
                     "      choise_count: 5\n"));
  EXPECT_FALSE(typo.options);
  EXPECT_TRUE(hasDiag(typo, {E::Error, 6, 7, "routes[0].least_request_lb_config.choise_count",
                             "unknown least_request_lb_config field \"choise_count\" (did you "
                             "mean \"choice_count\"?)"}));
  EXPECT_EQ(typo.diagnostics.items().size(), 1u) << typo.diagnostics.formatAll();
}

// ---- ring_hash_lb_config ----

TEST(LoaderClusterTest, RingHashConfig) {
  LoadResult r =
      load(routeWith("    lb_policy: RING_HASH\n"
                     "    ring_hash_lb_config:\n"
                     "      minimum_ring_size: 12\n"
                     "      maximum_ring_size: 1000\n"
                     "      hash_function: MURMUR_HASH_2\n"));
  ASSERT_TRUE(test::clean(r));
  const RingHashLbConfig& c = onlyRoute(r).ring_hash_lb_config;
  EXPECT_EQ(c.minimum_ring_size, 12u);
  EXPECT_EQ(c.maximum_ring_size, 1000u);
  EXPECT_EQ(c.hash_function, RingHashLbConfig::HashFunction::MurmurHash2);

  LoadResult camel = load(routeWith(
      "    lb_policy: RING_HASH\n"
      "    ring_hash_lb_config: {minimumRingSize: 1, maximumRingSize: 8388608, hashFunction: "
      "xx_hash}\n"));
  ASSERT_TRUE(test::clean(camel));
  const RingHashLbConfig& d = onlyRoute(camel).ring_hash_lb_config;
  EXPECT_EQ(d.minimum_ring_size, 1u);
  EXPECT_EQ(d.maximum_ring_size, 8388608u);
  EXPECT_EQ(d.hash_function, RingHashLbConfig::HashFunction::XxHash);
}

TEST(LoaderClusterTest, RingHashValidation) {
  auto rh = [](const std::string& body) {
    return load(routeWith("    lb_policy: RING_HASH\n    ring_hash_lb_config:\n" + body));
  };
  const std::string k = "routes[0].ring_hash_lb_config.";
  EXPECT_TRUE(hasDiag(rh("      minimum_ring_size: 0\n"),
                      {E::Error, 6, 26, k + "minimum_ring_size", "must be at least 1, got 0"}));
  EXPECT_TRUE(
      hasDiag(rh("      minimum_ring_size: 8388609\n"),
              {E::Error, 6, 26, k + "minimum_ring_size", "must be at most 8388608, got 8388609"}));
  EXPECT_TRUE(
      hasDiag(rh("      maximum_ring_size: 9000000\n"),
              {E::Error, 6, 26, k + "maximum_ring_size", "must be at most 8388608, got 9000000"}));
  LoadResult swapped =
      rh("      minimum_ring_size: 2048\n"
         "      maximum_ring_size: 1024\n");
  EXPECT_TRUE(hasDiag(swapped, {E::Error, 7, 26, k + "maximum_ring_size",
                                "ring hash: minimum_ring_size (2048) > maximum_ring_size (1024)"}));
  EXPECT_EQ(swapped.diagnostics.errorCount(), 1u) << swapped.diagnostics.formatAll();
  // Only the maximum written: the default minimum (1024) is above it.
  EXPECT_TRUE(hasDiag(rh("      maximum_ring_size: 512\n"),
                      {E::Error, 6, 26, k + "maximum_ring_size",
                       "ring hash: minimum_ring_size (1024) > maximum_ring_size (512)"}));
  EXPECT_TRUE(hasDiag(rh("      minimum_ring_size: -1\n"),
                      {E::Error, 6, 26, k + "minimum_ring_size", "must not be negative, got -1"}));
  EXPECT_TRUE(hasDiag(rh("      hash_function: FNV\n"),
                      {E::Error, 6, 22, k + "hash_function",
                       "unknown hash function \"FNV\" (expected one of: XX_HASH, MURMUR_HASH_2)"}));
}

// ---- maglev_lb_config ----

TEST(LoaderClusterTest, MaglevConfig) {
  LoadResult r =
      load(routeWith("    lb_policy: MAGLEV\n"
                     "    maglev_lb_config: {table_size: 7}\n"));
  ASSERT_TRUE(test::clean(r));
  EXPECT_EQ(onlyRoute(r).maglev_lb_config.table_size, 7u);
  LoadResult largest =
      load(routeWith("    load_balancing_policy: MAGLEV\n"
                     "    maglev_lb_config: {tableSize: 5000011}\n"));
  ASSERT_TRUE(test::clean(largest));
  EXPECT_EQ(onlyRoute(largest).maglev_lb_config.table_size, 5000011u);
}

TEST(LoaderClusterTest, MaglevValidation) {
  auto mg = [](const std::string& size) {
    return load(routeWith(
        "    lb_policy: MAGLEV\n    maglev_lb_config:\n      table_size: " + size + "\n"));
  };
  const std::string k = "routes[0].maglev_lb_config.table_size";
  EXPECT_TRUE(
      hasDiag(mg("65536"), {E::Error, 6, 19, k, "The table size of maglev must be prime number"}));
  EXPECT_TRUE(hasDiag(mg("1"), {E::Error, 6, 19, k, "must be prime number, got 1"}));
  EXPECT_TRUE(hasDiag(mg("0"), {E::Error, 6, 19, k, "must be prime number, got 0"}));
  EXPECT_TRUE(hasDiag(mg("5000012"), {E::Error, 6, 19, k, "must be at most 5000011, got 5000012"}));
  EXPECT_TRUE(hasDiag(mg("10000019"), {E::Error, 6, 19, k, "must be at most 5000011"}));
  EXPECT_TRUE(hasDiag(mg("big"), {E::Error, 6, 19, k, "expected an integer"}));
}

// ---- a *_lb_config for another policy ----

TEST(LoaderClusterTest, LbConfigForAnotherPolicyIsIgnoredWithAWarning) {
  // Not validated either: choice_count 1 would be an error under LEAST_REQUEST.
  LoadResult r =
      load(routeWith("    least_request_lb_config: {choice_count: 1}\n"
                     "    ring_hash_lb_config: {minimum_ring_size: 0}\n"
                     "    maglev_lb_config: {table_size: 8}\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 5, "routes[0].least_request_lb_config",
                          "ignored: lb_policy is ROUND_ROBIN"}));
  EXPECT_TRUE(hasDiag(
      r, {E::Warning, 5, 5, "routes[0].ring_hash_lb_config", "ignored: lb_policy is ROUND_ROBIN"}));
  EXPECT_TRUE(hasDiag(
      r, {E::Warning, 6, 5, "routes[0].maglev_lb_config", "ignored: lb_policy is ROUND_ROBIN"}));
  EXPECT_EQ(r.diagnostics.items().size(), 3u) << r.diagnostics.formatAll();
  const Route& route = onlyRoute(r);
  EXPECT_EQ(route.least_request_lb_config.choice_count, 2u);
  EXPECT_EQ(route.ring_hash_lb_config.minimum_ring_size, 1024u);
  EXPECT_EQ(route.maglev_lb_config.table_size, 65537u);

  LoadResult m =
      load(routeWith("    load_balancing_policy: MAGLEV\n"
                     "    ring_hash_lb_config: {minimum_ring_size: 12}\n"
                     "    maglev_lb_config: {table_size: 7}\n"));
  ASSERT_TRUE(loaded(m));
  EXPECT_TRUE(hasDiag(m, {E::Warning, 5, 5, "routes[0].ring_hash_lb_config",
                          "ignored: load_balancing_policy is MAGLEV"}));
  EXPECT_EQ(m.diagnostics.items().size(), 1u) << m.diagnostics.formatAll();
  EXPECT_EQ(onlyRoute(m).maglev_lb_config.table_size, 7u);
  EXPECT_EQ(onlyRoute(m).ring_hash_lb_config.minimum_ring_size, 1024u);
}

TEST(LoaderClusterTest, AfterAPolicyErrorTheLbConfigsAreNotJudged) {
  LoadResult r =
      load(routeWith("    lb_policy: LEAST_REQUESTS\n"
                     "    least_request_lb_config: {choice_count: 3}\n"
                     "    hash_policy: [{header: {header_name: x}}]\n"));
  EXPECT_FALSE(r.options);
  ASSERT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
  EXPECT_TRUE(hasDiag(r, {E::Error, 4, 16, "routes[0].lb_policy",
                          "unknown load balancing policy \"LEAST_REQUESTS\""}));
}

TEST(LoaderClusterTest, LbConfigKeysAtRouteLevelAreUnknown) {
  LoadResult r = load(routeWith("    table_size: 7\n"));
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 4, 5, "routes[0].table_size", "unknown route option \"table_size\""}));
}

// ---- hash_policy (Envoy RouteAction.HashPolicy) ----

TEST(LoaderClusterTest, HashPolicyEveryKind) {
  LoadResult r =
      load(routeWith("    lb_policy: RING_HASH\n"
                     "    hash_policy:\n"
                     "      - header: {header_name: x-user-id}\n"
                     "      - cookie: {name: session}\n"
                     "        terminal: true\n"
                     "      - query_parameter: {name: tenant}\n"
                     "      - connection_properties: {source_ip: true}\n"
                     "      - header: {header_name: ':authority'}\n"));
  ASSERT_TRUE(test::clean(r));
  const auto& hp = onlyRoute(r).hash_policy;
  ASSERT_EQ(hp.size(), 5u);
  EXPECT_EQ(hp[0].kind, HashPolicy::Kind::Header);
  EXPECT_EQ(hp[0].name, "x-user-id");
  EXPECT_FALSE(hp[0].terminal);
  EXPECT_EQ(hp[1].kind, HashPolicy::Kind::Cookie);
  EXPECT_EQ(hp[1].name, "session");
  EXPECT_TRUE(hp[1].terminal);
  EXPECT_EQ(hp[2].kind, HashPolicy::Kind::QueryParameter);
  EXPECT_EQ(hp[2].name, "tenant");
  EXPECT_EQ(hp[3].kind, HashPolicy::Kind::SourceIp);
  EXPECT_EQ(hp[3].name, "");
  EXPECT_EQ(hp[4].name, ":authority");
}

TEST(LoaderClusterTest, HashPolicyCamelCase) {
  LoadResult r =
      load(routeWith("    lb_policy: MAGLEV\n"
                     "    hash_policy:\n"
                     "      - header: {headerName: x-a}\n"
                     "      - queryParameter: {name: q}\n"
                     "      - connectionProperties: {sourceIp: true}\n"
                     "        terminal: 'true'\n"));
  ASSERT_TRUE(test::clean(r));
  const auto& hp = onlyRoute(r).hash_policy;
  ASSERT_EQ(hp.size(), 3u);
  EXPECT_EQ(hp[0].name, "x-a");
  EXPECT_EQ(hp[1].kind, HashPolicy::Kind::QueryParameter);
  EXPECT_EQ(hp[2].kind, HashPolicy::Kind::SourceIp);
  EXPECT_TRUE(hp[2].terminal);
}

TEST(LoaderClusterTest, HashPolicyValidation) {
  auto hp = [](const std::string& entry) {
    return load(routeWith("    lb_policy: RING_HASH\n    hash_policy:\n      - " + entry + "\n"));
  };
  const std::string k = "routes[0].hash_policy[0]";
  EXPECT_TRUE(hasDiag(hp("{}"), {E::Error, 6, 9, k,
                                 "missing: one of header, cookie, query_parameter or "
                                 "connection_properties"}));
  EXPECT_TRUE(hasDiag(hp("{terminal: true}"), {E::Error, 6, 9, k, "missing: one of header"}));
  EXPECT_TRUE(hasDiag(hp("{header: {header_name: a}, cookie: {name: b}}"),
                      {E::Error, 6, 36, k + ".cookie",
                       "a hash_policy entry has exactly one of header, cookie, query_parameter "
                       "or connection_properties; this one also sets header"}));
  EXPECT_TRUE(hasDiag(hp("{header: {}}"),
                      {E::Error, 6, 18, k + ".header.header_name", "missing: the header to hash"}));
  EXPECT_TRUE(hasDiag(hp("{header: {header_name: ''}}"),
                      {E::Error, 6, 32, k + ".header.header_name", "must not be empty"}));
  EXPECT_TRUE(
      hasDiag(hp("{header: {header_name: 'x user'}}"),
              {E::Error, 6, 32, k + ".header.header_name", "invalid header name \"x user\""}));
  EXPECT_TRUE(hasDiag(hp("{header: {header_name: x, regex_rewrite: {pattern: {regex: a}}}}"),
                      {E::Error, 6, 35, k + ".header.regex_rewrite", "not supported yet"}));
  EXPECT_TRUE(hasDiag(hp("{cookie: {}}"),
                      {E::Error, 6, 18, k + ".cookie.name", "missing: the cookie to hash"}));
  EXPECT_TRUE(hasDiag(hp("{cookie: {name: 'a;b'}}"),
                      {E::Error, 6, 25, k + ".cookie.name", "invalid cookie name \"a;b\""}));
  EXPECT_TRUE(hasDiag(hp("{query_parameter: {}}"), {E::Error, 6, 27, k + ".query_parameter.name",
                                                    "missing: the query parameter to hash"}));
  EXPECT_TRUE(hasDiag(hp("{filter_state: {key: x}}"),
                      {E::Error, 6, 10, k + ".filter_state", "not supported yet"}));
  EXPECT_TRUE(hasDiag(hp("{header: x-user}"),
                      {E::Error, 6, 18, k + ".header", "expected a mapping, got \"x-user\""}));
  EXPECT_TRUE(hasDiag(hp("{terminal: maybe, header: {header_name: a}}"),
                      {E::Error, 6, 20, k + ".terminal", "expected a boolean"}));
  EXPECT_TRUE(hasDiag(hp("x-user"), {E::Error, 6, 9, k, "expected a hash policy"}));
  EXPECT_TRUE(
      hasDiag(load(routeWith("    hash_policy: {header: {header_name: a}}\n")),
              {E::Error, 4, 18, "routes[0].hash_policy", "expected a list, got a mapping"}));
}

TEST(LoaderClusterTest, HashPolicyWarnings) {
  LoadResult r =
      load(routeWith("    lb_policy: RING_HASH\n"
                     "    hash_policy:\n"
                     "      - cookie: {name: sticky, ttl: 3600s, path: /}\n"
                     "      - connection_properties: {source_ip: false}\n"
                     "      - query_parameter: {name: q}\n"));
  ASSERT_TRUE(loaded(r));
  const std::string k = "routes[0].hash_policy";
  EXPECT_TRUE(hasDiag(r, {E::Warning, 6, 32, k + "[0].cookie.ttl",
                          "ignored (cookie generation is not supported)"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 6, 44, k + "[0].cookie.path",
                          "ignored (cookie generation is not supported)"}));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 7, 9, k + "[1].connection_properties",
                          "ignored: without source_ip: true this entry never yields a hash"}));
  EXPECT_EQ(r.diagnostics.items().size(), 3u) << r.diagnostics.formatAll();
  const auto& hp = onlyRoute(r).hash_policy;
  ASSERT_EQ(hp.size(), 2u);  // the source_ip: false entry yields nothing and is dropped
  EXPECT_EQ(hp[0].name, "sticky");
  EXPECT_EQ(hp[1].name, "q");
}

TEST(LoaderClusterTest, HashPolicyUnknownFieldsAreErrors) {
  LoadResult r =
      load(routeWith("    lb_policy: RING_HASH\n"
                     "    hash_policy:\n"
                     "      - query_parameter: {name: q, extra: 1}\n"
                     "      - header: {header_nam: x-user}\n"
                     "        termnal: true\n"));
  EXPECT_FALSE(r.options);
  const std::string k = "routes[0].hash_policy";
  EXPECT_TRUE(hasDiag(r, {E::Error, 6, 36, k + "[0].query_parameter.extra",
                          "unknown query_parameter field \"extra\""}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 7, 18, k + "[1].header.header_nam",
                          "unknown header field \"header_nam\" (did you mean \"header_name\"?)"}));
  EXPECT_TRUE(hasDiag(r, {E::Error, 8, 9, k + "[1].termnal",
                          "unknown hash_policy field \"termnal\" (did you mean \"terminal\"?)"}));
}

TEST(LoaderClusterTest, HashPolicyWithoutAHashingBalancerWarns) {
  LoadResult r =
      load(routeWith("    hash_policy: [{header: {header_name: x-user}}]\n"
                     "    lb_policy: LEAST_REQUEST\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 4, 5, "routes[0].hash_policy",
                          "ignored: lb_policy is LEAST_REQUEST; hash_policy only applies to "
                          "RING_HASH and MAGLEV"}));
  EXPECT_TRUE(onlyRoute(r).hash_policy.empty());
  LoadResult d = load(routeWith("    hash_policy: [{header: {header_name: x-user}}]\n"));
  EXPECT_TRUE(hasDiag(d, {E::Warning, 4, 5, "routes[0].hash_policy",
                          "ignored: lb_policy is ROUND_ROBIN (the default); hash_policy only"}));
}

// ---- healthy_panic_threshold ----

TEST(LoaderClusterTest, HealthyPanicThreshold) {
  for (int value : {0, 1, 50, 100}) {
    LoadResult r = load(routeWith("    healthy_panic_threshold: " + std::to_string(value) + "\n"));
    ASSERT_TRUE(test::clean(r)) << value;
    EXPECT_EQ(onlyRoute(r).healthy_panic_threshold, uint32_t(value));
  }
  for (const char* bad : {"101", "-1"}) {
    LoadResult r = load(routeWith(std::string("    healthy_panic_threshold: ") + bad + "\n"));
    EXPECT_TRUE(hasDiag(r, {E::Error, 4, 30, "routes[0].healthy_panic_threshold",
                            std::string("must be a percentage between 0 and 100, got ") + bad}));
  }
  EXPECT_TRUE(hasDiag(
      load(routeWith("    healthy_panic_threshold: 50%\n")),
      {E::Error, 4, 30, "routes[0].healthy_panic_threshold", "expected an integer, got \"50%\""}));
}

// ---- outlier_detection (Envoy cluster.v3.OutlierDetection) ----

TEST(LoaderClusterTest, OutlierDetectionEmptyMappingEnablesEnvoyDefaults) {
  LoadResult r = load(tenEndpointRoute("    outlier_detection: {}\n"));
  ASSERT_TRUE(test::clean(r));
  ASSERT_TRUE(onlyRoute(r).outlier_detection);
  const OutlierDetection& od = *onlyRoute(r).outlier_detection;
  EXPECT_EQ(od.consecutive_5xx, 5u);
  EXPECT_EQ(od.consecutive_gateway_failure, 5u);
  EXPECT_EQ(od.consecutive_local_origin_failure, 5u);
  EXPECT_EQ(od.interval, 10s);
  EXPECT_EQ(od.base_ejection_time, 30s);
  EXPECT_EQ(od.max_ejection_time, 300s);
  EXPECT_EQ(od.max_ejection_time_jitter, 0s);
  EXPECT_EQ(od.max_ejection_percent, 10u);
  EXPECT_EQ(od.enforcing_consecutive_5xx, 100u);
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure, 0u);
  EXPECT_EQ(od.enforcing_consecutive_local_origin_failure, 100u);
  EXPECT_EQ(od.enforcing_success_rate, 100u);
  EXPECT_EQ(od.enforcing_local_origin_success_rate, 100u);
  EXPECT_EQ(od.success_rate_minimum_hosts, 5u);
  EXPECT_EQ(od.success_rate_request_volume, 100u);
  EXPECT_EQ(od.success_rate_stdev_factor, 1900u);
  EXPECT_EQ(od.failure_percentage_threshold, 85u);
  EXPECT_EQ(od.enforcing_failure_percentage, 0u);
  EXPECT_EQ(od.enforcing_failure_percentage_local_origin, 0u);
  EXPECT_EQ(od.failure_percentage_minimum_hosts, 5u);
  EXPECT_EQ(od.failure_percentage_request_volume, 50u);
  EXPECT_FALSE(od.split_external_local_origin_errors);
  EXPECT_TRUE(od.successful_active_health_check_uneject_host);
  EXPECT_FALSE(od.always_eject_one_host);
}

void expectEveryOutlierFieldSet(const OutlierDetection& od) {
  EXPECT_EQ(od.consecutive_5xx, 3u);
  EXPECT_EQ(od.consecutive_gateway_failure, 4u);
  EXPECT_EQ(od.consecutive_local_origin_failure, 6u);
  EXPECT_EQ(od.interval, 1500ms);
  EXPECT_EQ(od.base_ejection_time, 20s);
  EXPECT_EQ(od.max_ejection_time, 2min);
  EXPECT_EQ(od.max_ejection_time_jitter, 250ms);
  EXPECT_EQ(od.max_ejection_percent, 50u);
  EXPECT_EQ(od.enforcing_consecutive_5xx, 90u);
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure, 80u);
  EXPECT_EQ(od.enforcing_consecutive_local_origin_failure, 70u);
  EXPECT_EQ(od.enforcing_success_rate, 60u);
  EXPECT_EQ(od.enforcing_local_origin_success_rate, 55u);
  EXPECT_EQ(od.success_rate_minimum_hosts, 2u);
  EXPECT_EQ(od.success_rate_request_volume, 20u);
  EXPECT_EQ(od.success_rate_stdev_factor, 1000u);
  EXPECT_EQ(od.failure_percentage_threshold, 40u);
  EXPECT_EQ(od.enforcing_failure_percentage, 30u);
  EXPECT_EQ(od.enforcing_failure_percentage_local_origin, 20u);
  EXPECT_EQ(od.failure_percentage_minimum_hosts, 3u);
  EXPECT_EQ(od.failure_percentage_request_volume, 10u);
  EXPECT_TRUE(od.split_external_local_origin_errors);
  EXPECT_FALSE(od.successful_active_health_check_uneject_host);
  EXPECT_TRUE(od.always_eject_one_host);
}

TEST(LoaderClusterTest, OutlierDetectionEveryFieldSnakeCase) {
  LoadResult r =
      load(routeWith("    outlier_detection:\n"
                     "      consecutive_5xx: 3\n"
                     "      consecutive_gateway_failure: 4\n"
                     "      consecutive_local_origin_failure: 6\n"
                     "      interval: 1.5s\n"
                     "      base_ejection_time: 20s\n"
                     "      max_ejection_time: 2m\n"
                     "      max_ejection_time_jitter: 250ms\n"
                     "      max_ejection_percent: 50\n"
                     "      enforcing_consecutive_5xx: 90\n"
                     "      enforcing_consecutive_gateway_failure: 80\n"
                     "      enforcing_consecutive_local_origin_failure: 70\n"
                     "      enforcing_success_rate: 60\n"
                     "      enforcing_local_origin_success_rate: 55\n"
                     "      success_rate_minimum_hosts: 2\n"
                     "      success_rate_request_volume: 20\n"
                     "      success_rate_stdev_factor: 1000\n"
                     "      failure_percentage_threshold: 40\n"
                     "      enforcing_failure_percentage: 30\n"
                     "      enforcing_failure_percentage_local_origin: 20\n"
                     "      failure_percentage_minimum_hosts: 3\n"
                     "      failure_percentage_request_volume: 10\n"
                     "      split_external_local_origin_errors: true\n"
                     "      successful_active_health_check_uneject_host: false\n"
                     "      always_eject_one_host: true\n"));
  ASSERT_TRUE(test::clean(r));
  ASSERT_TRUE(onlyRoute(r).outlier_detection);
  expectEveryOutlierFieldSet(*onlyRoute(r).outlier_detection);
}

TEST(LoaderClusterTest, OutlierDetectionEveryFieldCamelCase) {
  // Protobuf JSON: lowerCamelCase names, quoted numbers, "1.5s" duration strings.
  LoadResult r =
      load(routeWith("    outlier_detection:\n"
                     "      consecutive5xx: 3\n"
                     "      consecutiveGatewayFailure: '4'\n"
                     "      consecutiveLocalOriginFailure: 6\n"
                     "      interval: '1.5s'\n"
                     "      baseEjectionTime: 20s\n"
                     "      maxEjectionTime: 120s\n"
                     "      maxEjectionTimeJitter: 0.25s\n"
                     "      maxEjectionPercent: 50\n"
                     "      enforcingConsecutive5xx: 90\n"
                     "      enforcingConsecutiveGatewayFailure: 80\n"
                     "      enforcingConsecutiveLocalOriginFailure: 70\n"
                     "      enforcingSuccessRate: 60\n"
                     "      enforcingLocalOriginSuccessRate: 55\n"
                     "      successRateMinimumHosts: 2\n"
                     "      successRateRequestVolume: 20\n"
                     "      successRateStdevFactor: 1000\n"
                     "      failurePercentageThreshold: 40\n"
                     "      enforcingFailurePercentage: 30\n"
                     "      enforcingFailurePercentageLocalOrigin: 20\n"
                     "      failurePercentageMinimumHosts: 3\n"
                     "      failurePercentageRequestVolume: 10\n"
                     "      splitExternalLocalOriginErrors: true\n"
                     "      successfulActiveHealthCheckUnejectHost: false\n"
                     "      alwaysEjectOneHost: true\n"));
  ASSERT_TRUE(test::clean(r));
  ASSERT_TRUE(onlyRoute(r).outlier_detection);
  expectEveryOutlierFieldSet(*onlyRoute(r).outlier_detection);
}

class LoaderOutlierPercentTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LoaderOutlierPercentTest, Above100IsAnError) {
  std::string field = GetParam();
  LoadResult r = load(tenEndpointRoute("    outlier_detection:\n      " + field + ": 101\n"));
  EXPECT_FALSE(r.options);
  EXPECT_TRUE(
      hasDiag(r, {E::Error, 5, int(7 + field.size() + 2), "routes[0].outlier_detection." + field,
                  "must be a percentage between 0 and 100, got 101"}));
  EXPECT_TRUE(
      test::clean(load(tenEndpointRoute("    outlier_detection:\n      " + field + ": 100\n"))));
}

INSTANTIATE_TEST_SUITE_P(
    Fields, LoaderOutlierPercentTest,
    ::testing::Values("max_ejection_percent", "enforcing_consecutive_5xx",
                      "enforcing_consecutive_gateway_failure",
                      "enforcing_consecutive_local_origin_failure", "enforcing_success_rate",
                      "enforcing_local_origin_success_rate", "failure_percentage_threshold",
                      "enforcing_failure_percentage", "enforcing_failure_percentage_local_origin",
                      "enforcingConsecutive5xx", "maxEjectionPercent"));

TEST(LoaderClusterTest, OutlierDetectionDurationsAndCounts) {
  auto od = [](const std::string& body) {
    return load(tenEndpointRoute("    outlier_detection:\n" + body));
  };
  const std::string k = "routes[0].outlier_detection.";
  EXPECT_TRUE(hasDiag(od("      interval: 0s\n"),
                      {E::Error, 5, 17, k + "interval", "must be greater than 0"}));
  EXPECT_TRUE(hasDiag(od("      base_ejection_time: 0\n"),
                      {E::Error, 5, 27, k + "base_ejection_time", "must be greater than 0"}));
  EXPECT_TRUE(hasDiag(od("      max_ejection_time: 30\n"),
                      {E::Error, 5, 26, k + "max_ejection_time", "missing unit in duration"}));
  EXPECT_TRUE(
      hasDiag(od("      max_ejection_time_jitter: -1s\n"),
              {E::Error, 5, 33, k + "max_ejection_time_jitter", "negative duration not allowed"}));
  EXPECT_TRUE(hasDiag(od("      consecutive_5xx: -1\n"), {E::Error, 5, 24, k + "consecutive_5xx",
                                                          "must be between 0 and 4294967295"}));
  EXPECT_TRUE(hasDiag(od("      always_eject_one_host: yes please\n"),
                      {E::Error, 5, 30, k + "always_eject_one_host", "expected a boolean"}));
  EXPECT_TRUE(hasDiag(od("      consecutive_5xx: 1\n      consecutive5xx: 2\n"),
                      {E::Error, 6, 7, k + "consecutive5xx", "set twice"}));
  // A jitter of 0 and counts of 0 are real settings.
  LoadResult zero = od("      max_ejection_time_jitter: 0\n      consecutive_5xx: 0\n");
  ASSERT_TRUE(test::clean(zero));
  EXPECT_EQ(onlyRoute(zero).outlier_detection->consecutive_5xx, 0u);
}

TEST(LoaderClusterTest, OutlierMaxEjectionTimeVersusBase) {
  LoadResult bad =
      load(tenEndpointRoute("    outlier_detection:\n"
                            "      base_ejection_time: 60s\n"
                            "      max_ejection_time: 30s\n"));
  EXPECT_FALSE(bad.options);
  EXPECT_TRUE(hasDiag(bad, {E::Error, 6, 26, "routes[0].outlier_detection.max_ejection_time",
                            "max_ejection_time (30s) must not be less than base_ejection_time "
                            "(1m0s)"}));
  // Equal is fine.
  LoadResult equal = load(tenEndpointRoute(
      "    outlier_detection: {base_ejection_time: 45s, max_ejection_time: 45s}\n"));
  ASSERT_TRUE(test::clean(equal));
  EXPECT_EQ(onlyRoute(equal).outlier_detection->max_ejection_time, 45s);
  // Unset max follows Envoy: max(300s, base).
  LoadResult big_base =
      load(tenEndpointRoute("    outlier_detection: {base_ejection_time: 10m}\n"));
  ASSERT_TRUE(test::clean(big_base));
  EXPECT_EQ(onlyRoute(big_base).outlier_detection->max_ejection_time, 10min);
  LoadResult small_base =
      load(tenEndpointRoute("    outlier_detection: {base_ejection_time: 5s}\n"));
  ASSERT_TRUE(test::clean(small_base));
  EXPECT_EQ(onlyRoute(small_base).outlier_detection->max_ejection_time, 300s);
}

TEST(LoaderClusterTest, OutlierUnknownIgnoredAndUnsupportedFields) {
  LoadResult r =
      load(tenEndpointRoute("    outlier_detection:\n"
                            "      consecutive_5xx: 3\n"
                            "      detect_degraded_hosts: true\n"));
  ASSERT_TRUE(loaded(r));
  EXPECT_TRUE(hasDiag(r, {E::Warning, 6, 7, "routes[0].outlier_detection.detect_degraded_hosts",
                          "ignored (Vallum has no degraded host state)"}));
  EXPECT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();

  LoadResult unknown =
      load(tenEndpointRoute("    outlier_detection:\n"
                            "      consecutive_500: 3\n"));
  EXPECT_FALSE(unknown.options);
  EXPECT_TRUE(hasDiag(unknown, {E::Error, 5, 7, "routes[0].outlier_detection.consecutive_500",
                                "unknown outlier_detection field \"consecutive_500\" (did you "
                                "mean \"consecutive_5xx\"?)"}));

  LoadResult monitors =
      load(tenEndpointRoute("    outlier_detection:\n"
                            "      monitors: [{name: m}]\n"));
  EXPECT_TRUE(hasDiag(
      monitors, {E::Error, 5, 7, "routes[0].outlier_detection.monitors", "not supported yet"}));
  EXPECT_TRUE(test::clean(load(tenEndpointRoute("    outlier_detection: {monitors: []}\n"))));
  EXPECT_TRUE(hasDiag(
      load(routeWith("    outlier_detection: true\n")),
      {E::Error, 4, 24, "routes[0].outlier_detection", "expected a mapping, got \"true\""}));
}

// HTTP health checks speak HTTP/1.1; an all-h2c route's origins may speak only HTTP/2.
TEST(LoaderClusterTest, HttpHealthCheckOnAnAllH2cRouteWarns) {
  auto routeTo = [](const std::string& to, const std::string& check) {
    return load("routes:\n  - from: https://app.example.com\n    to: " + to +
                "\n    health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, "
                "healthy_threshold: 1, " + check + "}]\n");
  };
  LoadResult h2c = routeTo("[h2c://a, h2c://b]", "http_health_check: {path: /}");
  ASSERT_TRUE(loaded(h2c));
  EXPECT_TRUE(hasDiag(h2c, {E::Warning, 4, 5, "routes[0].health_checks",
                            "http_health_check speaks HTTP/1.1 to these h2c:// endpoints"}));
  EXPECT_EQ(h2c.diagnostics.items().size(), 1u);
  // TCP checks, or a mixed route (which speaks HTTP/1.1 to all), say nothing.
  EXPECT_TRUE(test::clean(routeTo("[h2c://a, h2c://b]", "tcp_health_check: {}")));
  EXPECT_TRUE(test::clean(routeTo("[h2c://a, http://b]", "http_health_check: {path: /}")));
}

// Envoy cluster.v3.OutlierDetection: with endpoints x max_ejection_percent < 100 Envoy never
// ejects.
TEST(LoaderClusterTest, OutlierNothingCanBeEjectedLint) {
  auto routeTo = [](const std::string& to, const std::string& od) {
    return load("routes:\n  - from: https://app.example.com\n    to: " + to +
                "\n    outlier_detection: " + od + "\n");
  };
  LoadResult two = routeTo("[http://a, http://b]", "{}");
  ASSERT_TRUE(loaded(two));
  EXPECT_TRUE(hasDiag(two, {E::Warning, 4, 5, "routes[0].outlier_detection",
                            "with 2 endpoints and max_ejection_percent 10 nothing can ever be "
                            "ejected; set max_ejection_percent >= 50 or always_eject_one_host: "
                            "true"}));
  EXPECT_EQ(two.diagnostics.items().size(), 1u);
  // Pointed at max_ejection_percent when it is written.
  LoadResult written = routeTo("[http://a, http://b]", "{max_ejection_percent: 20}");
  EXPECT_TRUE(
      hasDiag(written, {E::Warning, 4, 47, "routes[0].outlier_detection.max_ejection_percent",
                        "with 2 endpoints and max_ejection_percent 20 nothing can ever "
                        "be ejected; set max_ejection_percent >= 50"}));
  LoadResult one = routeTo("http://a", "{}");
  EXPECT_TRUE(hasDiag(one, {E::Warning, 4, 5, "routes[0].outlier_detection",
                            "with 1 endpoint and max_ejection_percent 10 nothing can ever be "
                            "ejected; set max_ejection_percent >= 100"}));
  LoadResult three = routeTo("[http://a, http://b, http://c]", "{maxEjectionPercent: 33}");
  EXPECT_TRUE(hasDiag(three, {E::Warning, 4, 45, "routes[0].outlier_detection.maxEjectionPercent",
                              "set max_ejection_percent >= 34"}));
  // Enough: no lint.
  EXPECT_TRUE(test::clean(routeTo("[http://a, http://b]", "{max_ejection_percent: 50}")));
  EXPECT_TRUE(test::clean(routeTo("[http://a, http://b, http://c]", "{max_ejection_percent: 34}")));
  EXPECT_TRUE(test::clean(routeTo("[http://a, http://b]", "{always_eject_one_host: true}")));
  EXPECT_TRUE(test::clean(load(tenEndpointRoute("    outlier_detection: {}\n"))));
}

// ---- the route docs' examples (Pomerium docs: Routing, Proxying, and Load Balancing) load
// with exactly the values written ----

TEST(LoaderClusterTest, RouteDocsHttpHealthCheckExample) {
  LoadResult r = load(R"(routes:
  - from: https://myapp.example.com            # multiple upstreams + active HTTP health check
    to: [http://myapp-srv-1:8080, http://myapp-srv-2:8080]
    health_checks:
      - timeout: 10s
        interval: 60s
        healthy_threshold: 1
        unhealthy_threshold: 2
        http_health_check:
          path: '/'
)");
  ASSERT_TRUE(test::clean(r));
  const Route& route = onlyRoute(r);
  ASSERT_EQ(route.health_checks.size(), 1u);
  const HealthCheck& hc = route.health_checks[0];
  EXPECT_EQ(hc.key, "routes[0].health_checks[0]");
  EXPECT_EQ(hc.pos.line, 5);
  EXPECT_EQ(hc.pos.column, 9);
  EXPECT_EQ(hc.timeout, 10s);
  EXPECT_EQ(hc.interval, 60s);
  EXPECT_EQ(hc.healthy_threshold, 1u);
  EXPECT_EQ(hc.unhealthy_threshold, 2u);
  EXPECT_EQ(hc.kind, HealthCheck::Kind::Http);
  EXPECT_EQ(hc.http_path, "/");
  EXPECT_EQ(hc.http_host, "");
  EXPECT_TRUE(hc.expected_statuses.empty());  // = [200, 201)
  EXPECT_EQ(hc.codec_client_type, HealthCheck::Codec::Http1);
  EXPECT_FALSE(hc.no_traffic_interval);  // Vallum: unset = every `interval`
  EXPECT_TRUE(hc.reuse_connection);
  EXPECT_EQ(hc.initial_jitter, 0s);
  EXPECT_EQ(route.lb_policy, LbPolicy::RoundRobin);
  EXPECT_EQ(route.healthy_panic_threshold, 50u);
}

TEST(LoaderClusterTest, RouteDocsTcpHealthCheckExampleBlock) {
  // The docs' TCP example is a tcp+https route (the whole example is in loader_test.cc); its
  // health_checks block decodes the same on any route.
  LoadResult r = load(R"(routes:
  - from: https://tcp-service.example.com
    to: [http://tcp-1.local, http://tcp-2.local]
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
)");
  ASSERT_TRUE(test::clean(r));
  ASSERT_EQ(onlyRoute(r).health_checks.size(), 1u);
  const HealthCheck& hc = onlyRoute(r).health_checks[0];
  EXPECT_EQ(hc.timeout, 1s);
  EXPECT_EQ(hc.interval, 5s);
  EXPECT_EQ(hc.unhealthy_threshold, 3u);
  EXPECT_EQ(hc.healthy_threshold, 1u);
  EXPECT_EQ(hc.kind, HealthCheck::Kind::Tcp);
  EXPECT_EQ(hc.tcp_send, "PING");
  ASSERT_EQ(hc.tcp_receive.size(), 1u);
  EXPECT_EQ(hc.tcp_receive[0], "PONG");
}

TEST(LoaderClusterTest, RouteDocsPassiveLeastRequestAndWeightedExamples) {
  LoadResult r = load(R"(routes:
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
)");
  ASSERT_TRUE(loaded(r));
  // The only diagnostic is the nothing-can-be-ejected lint: the docs' passive example ejects
  // nothing.
  ASSERT_EQ(r.diagnostics.items().size(), 1u) << r.diagnostics.formatAll();
  EXPECT_TRUE(
      hasDiag(r, {E::Warning, 4, 5, "routes[0].outlier_detection", "nothing can ever be ejected"}));
  const auto& routes = r.options->routes;
  ASSERT_TRUE(routes[0].outlier_detection);
  EXPECT_EQ(routes[0].outlier_detection->max_ejection_percent, 10u);
  EXPECT_EQ(routes[0].outlier_detection->consecutive_5xx, 5u);
  EXPECT_EQ(routes[1].lb_policy, LbPolicy::LeastRequest);
  EXPECT_EQ(routes[1].least_request_lb_config.choice_count, 2u);
  EXPECT_FALSE(routes[1].least_request_lb_config.active_request_bias);
  EXPECT_EQ(routes[2].lb_policy, LbPolicy::RoundRobin);
  EXPECT_EQ(routes[2].to[2].weight, 30u);
}

}  // namespace
}  // namespace vallum::config
