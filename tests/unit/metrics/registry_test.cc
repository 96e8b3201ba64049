#include "metrics/registry.h"

#include <cstdint>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "metrics/stats.h"
#include "unit/metrics/exposition.h"

namespace vallum::metrics {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::lines;
using testing::sampleLines;
using testing::samples;
using testing::typedFamilies;

uint64_t value(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

TEST(RouteCountersTest, CountsStatusClasses) {
  RouteCounters counters;
  for (int status : {0, 101, 200, 204, 299, 301, 404, 418, 500, 503, 599, 99, 600, -1}) {
    counters.record(status, 0, 0, std::nullopt);
  }
  EXPECT_EQ(value(counters.responses[0]), 4u);  // 0, and the never-produced 99 / 600 / -1
  EXPECT_EQ(value(counters.responses[1]), 1u);
  EXPECT_EQ(value(counters.responses[2]), 3u);
  EXPECT_EQ(value(counters.responses[3]), 1u);
  EXPECT_EQ(value(counters.responses[4]), 2u);
  EXPECT_EQ(value(counters.responses[5]), 3u);
  EXPECT_EQ(value(counters.latency_count), 0u);  // no upstream contacted
}

TEST(RouteCountersTest, CountsBytes) {
  RouteCounters counters;
  counters.record(200, 10, 1000, std::nullopt);
  counters.record(502, 5, 0, 3ms);
  EXPECT_EQ(value(counters.request_bytes), 15u);
  EXPECT_EQ(value(counters.response_bytes), 1000u);
}

TEST(RouteCountersTest, BucketsLatencyWithLeSemantics) {
  struct Case {
    std::chrono::nanoseconds latency;
    size_t bucket;
  };
  const Case cases[] = {
      {0ns, 0},       {-5ns, 0},  // a clock step backwards counts as 0
      {1ms, 0},                   // equal to the bound: le
      {1ms + 1ns, 1}, {2500us, 1}, {2500us + 1ns, 2}, {7ms, 3},        {100ms, 6},
      {999ms, 9},     {1s, 9},     {10s, 12},         {10s + 1ns, 13},  // +Inf
      {1h, 13},
  };
  for (const Case& c : cases) {
    RouteCounters counters;
    counters.record(200, 0, 0, c.latency);
    for (size_t b = 0; b < counters.latency_buckets.size(); ++b) {
      EXPECT_EQ(value(counters.latency_buckets[b]), b == c.bucket ? 1u : 0u)
          << c.latency.count() << "ns, bucket " << b;
    }
    EXPECT_EQ(value(counters.latency_count), 1u);
    EXPECT_EQ(value(counters.latency_sum_ns),
              static_cast<uint64_t>(std::max<int64_t>(c.latency.count(), 0)));
  }
}

TEST(RouteCountersTest, AccumulatesLatency) {
  RouteCounters counters;
  counters.record(200, 0, 0, 1ms);
  counters.record(200, 0, 0, 20ms);
  counters.record(0, 0, 0, std::nullopt);
  EXPECT_EQ(value(counters.latency_count), 2u);
  EXPECT_EQ(value(counters.latency_sum_ns), 21'000'000u);
  EXPECT_EQ(value(counters.latency_buckets[0]), 1u);
  EXPECT_EQ(value(counters.latency_buckets[4]), 1u);
}

TEST(RegistryTest, OneCacheLineAlignedShardPerWorker) {
  Registry registry(3);
  EXPECT_EQ(registry.workers(), 3u);
  auto shards = registry.routeCounters("api");
  ASSERT_EQ(shards.size(), 3u);
  for (RouteCounters* shard : shards) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(shard) % 64, 0u);
  }
  EXPECT_GE(reinterpret_cast<uintptr_t>(shards[1]) - reinterpret_cast<uintptr_t>(shards[0]),
            sizeof(RouteCounters));
}

TEST(RegistryTest, SameLabelSamePointersAcrossCalls) {
  Registry registry(2);
  auto first = registry.routeCounters("api");
  first[0]->record(200, 1, 2, std::nullopt);
  first[1]->record(404, 1, 2, std::nullopt);
  // Other routes come and go (a reload), the map rehashes…
  for (int i = 0; i < 100; ++i) {
    registry.routeCounters(std::string("route-").append(std::to_string(i)));
  }
  auto second = registry.routeCounters("api");
  EXPECT_EQ(first, second);
  EXPECT_EQ(value(second[0]->responses[2]), 1u);
  EXPECT_EQ(value(second[1]->responses[4]), 1u);
  auto text = samples(registry.render());
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="2xx"})"], 1);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="4xx"})"], 1);
}

TEST(RegistryTest, SumsWorkerShards) {
  Registry registry(2);
  auto shards = registry.routeCounters("api");
  shards[0]->record(200, 100, 1000, 2ms);
  shards[0]->record(201, 0, 10, 2ms);
  shards[1]->record(200, 7, 3, 40ms);
  shards[1]->record(503, 0, 50, 20s);
  shards[1]->record(0, 3, 0, std::nullopt);

  auto text = samples(registry.render());
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="none"})"], 1);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="1xx"})"], 0);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="2xx"})"], 3);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="3xx"})"], 0);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="4xx"})"], 0);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="5xx"})"], 1);
  EXPECT_EQ(text[R"(vallum_route_request_bytes_total{route="api"})"], 110);
  EXPECT_EQ(text[R"(vallum_route_response_bytes_total{route="api"})"], 1063);
  EXPECT_EQ(text[R"(vallum_route_upstream_latency_seconds_count{route="api"})"], 4);
  EXPECT_DOUBLE_EQ(text[R"(vallum_route_upstream_latency_seconds_sum{route="api"})"], 20.044);
}

TEST(RegistryTest, HistogramBucketsAreCumulative) {
  Registry registry(2);
  auto shards = registry.routeCounters("api");
  shards[0]->record(200, 0, 0, 1ms);    // le 0.001
  shards[1]->record(200, 0, 0, 1ms);    // le 0.001
  shards[0]->record(200, 0, 0, 30ms);   // le 0.05
  shards[1]->record(200, 0, 0, 300ms);  // le 0.5
  shards[0]->record(200, 0, 0, 10s);    // le 10
  shards[1]->record(200, 0, 0, 11s);    // +Inf
  const std::string text = registry.render();
  EXPECT_THAT(
      sampleLines(text, "vallum_route_upstream_latency_seconds"),
      ElementsAre(R"(vallum_route_upstream_latency_seconds_count{route="api"} 6)",
                  R"(vallum_route_upstream_latency_seconds_sum{route="api"} 21.332)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.001"} 2)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.0025"} 2)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.005"} 2)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.01"} 2)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.025"} 2)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.05"} 3)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.1"} 3)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.25"} 3)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="0.5"} 4)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="1"} 4)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="2.5"} 4)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="5"} 4)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="10"} 5)",
                  R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="+Inf"} 6)"));
}

TEST(RegistryTest, StableFamilyAndSeriesOrderWithHelp) {
  Registry registry(1);
  registry.routeCounters("zeta");
  registry.routeCounters("alpha");
  registry.routeCounters("zeta");
  const std::string text = registry.render();
  EXPECT_THAT(
      typedFamilies(text),
      ElementsAre("vallum_route_responses_total", "vallum_route_request_bytes_total",
                  "vallum_route_response_bytes_total", "vallum_route_upstream_latency_seconds",
                  "vallum_endpoint_healthy", "vallum_endpoint_ejected",
                  "vallum_endpoint_active_requests", "vallum_endpoint_connect_failures_total",
                  "vallum_config_reloads_total", "vallum_config_reload_failures_total",
                  "vallum_downstream_connections",
                  "vallum_downstream_spare_connection_managers"));
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE vallum_route_responses_total counter\n"));
  EXPECT_THAT(text,
              ::testing::HasSubstr("# TYPE vallum_route_upstream_latency_seconds histogram\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("# TYPE vallum_endpoint_healthy gauge\n"));
  size_t help = 0;
  for (const std::string& line : lines(text)) {
    help += line.rfind("# HELP vallum_", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(help, 12u);
  // Routes in order of first registration; classes in index order.
  EXPECT_THAT(sampleLines(text, "vallum_route_request_bytes_total"),
              ElementsAre(R"(vallum_route_request_bytes_total{route="zeta"} 0)",
                          R"(vallum_route_request_bytes_total{route="alpha"} 0)"));
  EXPECT_THAT(sampleLines(text, "vallum_route_responses_total{route=\"zeta\""),
              ElementsAre(R"(vallum_route_responses_total{route="zeta",code_class="none"} 0)",
                          R"(vallum_route_responses_total{route="zeta",code_class="1xx"} 0)",
                          R"(vallum_route_responses_total{route="zeta",code_class="2xx"} 0)",
                          R"(vallum_route_responses_total{route="zeta",code_class="3xx"} 0)",
                          R"(vallum_route_responses_total{route="zeta",code_class="4xx"} 0)",
                          R"(vallum_route_responses_total{route="zeta",code_class="5xx"} 0)"));
  EXPECT_EQ(registry.render(), text);
}

TEST(RegistryTest, EscapesLabelValues) {
  Registry registry(1);
  registry.routeCounters("a\"b\\c\nd")[0]->record(200, 1, 0, std::nullopt);
  EXPECT_THAT(sampleLines(registry.render(), "vallum_route_request_bytes_total"),
              ElementsAre(R"(vallum_route_request_bytes_total{route="a\"b\\c\nd"} 1)"));
}

/// What upstream's HostHealth provides: atomics kept alive by the view's owner.
struct FakeHostHealth {
  std::atomic<bool> healthy{true};
  std::atomic<bool> ejected{false};
  std::atomic<uint32_t> active{0};
  std::atomic<uint64_t> connect_failures{0};
};

EndpointView viewOf(std::string route, std::string endpoint,
                    const std::shared_ptr<FakeHostHealth>& host) {
  EndpointView view;
  view.route = std::move(route);
  view.endpoint = std::move(endpoint);
  view.owner = host;
  view.active_healthy = &host->healthy;
  view.ejected = &host->ejected;
  view.active_requests = &host->active;
  view.connect_failures = &host->connect_failures;
  return view;
}

TEST(RegistryTest, EndpointGaugesReadLiveAtomics) {
  Registry registry(1);
  auto a = std::make_shared<FakeHostHealth>();
  auto b = std::make_shared<FakeHostHealth>();
  registry.setEndpoints({viewOf("api", "10.0.0.1:8080", a), viewOf("api", "backend.local", b)});
  b->healthy = false;
  a->active = 3;
  b->connect_failures = 2;

  const std::string first = registry.render();
  EXPECT_THAT(
      sampleLines(first, "vallum_endpoint_"),
      ElementsAre(
          R"(vallum_endpoint_healthy{route="api",endpoint="10.0.0.1:8080"} 1)",
          R"(vallum_endpoint_healthy{route="api",endpoint="backend.local"} 0)",
          R"(vallum_endpoint_ejected{route="api",endpoint="10.0.0.1:8080"} 0)",
          R"(vallum_endpoint_ejected{route="api",endpoint="backend.local"} 0)",
          R"(vallum_endpoint_active_requests{route="api",endpoint="10.0.0.1:8080"} 3)",
          R"(vallum_endpoint_active_requests{route="api",endpoint="backend.local"} 0)",
          R"(vallum_endpoint_connect_failures_total{route="api",endpoint="10.0.0.1:8080"} 0)",
          R"(vallum_endpoint_connect_failures_total{route="api",endpoint="backend.local"} 2)"));

  a->healthy = false;
  a->ejected = true;
  a->active = 0;
  b->healthy = true;
  b->connect_failures = 5;
  auto second = samples(registry.render());
  EXPECT_EQ(second[R"(vallum_endpoint_healthy{route="api",endpoint="10.0.0.1:8080"})"], 0);
  EXPECT_EQ(second[R"(vallum_endpoint_ejected{route="api",endpoint="10.0.0.1:8080"})"], 1);
  EXPECT_EQ(second[R"(vallum_endpoint_active_requests{route="api",endpoint="10.0.0.1:8080"})"], 0);
  EXPECT_EQ(second[R"(vallum_endpoint_healthy{route="api",endpoint="backend.local"})"], 1);
  EXPECT_EQ(
      second[R"(vallum_endpoint_connect_failures_total{route="api",endpoint="backend.local"})"], 5);
}

TEST(RegistryTest, SetEndpointsReplacesAndKeepsOwnersAlive) {
  Registry registry(1);
  std::weak_ptr<FakeHostHealth> weak;
  {
    auto host = std::make_shared<FakeHostHealth>();
    weak = host;
    registry.setEndpoints({viewOf("api", "a:80", host)});
  }
  ASSERT_FALSE(weak.expired());  // the registry's view holds the owner
  EXPECT_EQ(sampleLines(registry.render(), "vallum_endpoint_healthy").size(), 1u);

  auto next = std::make_shared<FakeHostHealth>();
  std::vector<EndpointView> previous = registry.setEndpoints({viewOf("web", "b:80", next)});
  ASSERT_EQ(previous.size(), 1u);  // handed back: the caller chooses where they are freed
  EXPECT_EQ(previous[0].route, "api");
  EXPECT_FALSE(weak.expired());
  previous.clear();
  EXPECT_TRUE(weak.expired());
  EXPECT_THAT(sampleLines(registry.render(), "vallum_endpoint_healthy"),
              ElementsAre(R"(vallum_endpoint_healthy{route="web",endpoint="b:80"} 1)"));

  registry.setEndpoints({});
  EXPECT_TRUE(sampleLines(registry.render(), "vallum_endpoint_").empty());
}

TEST(RegistryTest, MissingAtomicsOmitTheirSeries) {
  Registry registry(1);
  auto host = std::make_shared<FakeHostHealth>();
  EndpointView view = viewOf("api", "a:80", host);
  view.ejected = nullptr;  // e.g. no outlier detection
  registry.setEndpoints({view});
  const std::string text = registry.render();
  EXPECT_EQ(sampleLines(text, "vallum_endpoint_healthy").size(), 1u);
  EXPECT_TRUE(sampleLines(text, "vallum_endpoint_ejected").empty());
}

TEST(RegistryTest, DuplicateEndpointSeriesAreMerged) {
  // Two routes named alike listing the same address: one series, never a duplicate.
  Registry registry(1);
  auto a = std::make_shared<FakeHostHealth>();
  auto b = std::make_shared<FakeHostHealth>();
  a->active = 2;
  b->active = 3;
  a->connect_failures = 1;
  b->connect_failures = 4;
  b->healthy = false;
  b->ejected = true;
  registry.setEndpoints({viewOf("api", "a:80", a), viewOf("api", "a:80", b)});
  EXPECT_THAT(
      sampleLines(registry.render(), "vallum_endpoint_"),
      ElementsAre(R"(vallum_endpoint_healthy{route="api",endpoint="a:80"} 0)",
                  R"(vallum_endpoint_ejected{route="api",endpoint="a:80"} 1)",
                  R"(vallum_endpoint_active_requests{route="api",endpoint="a:80"} 5)",
                  R"(vallum_endpoint_connect_failures_total{route="api",endpoint="a:80"} 5)"));
}

TEST(RegistryTest, ConfigReloadCounters) {
  Registry registry(1);
  EXPECT_THAT(
      sampleLines(registry.render(), "vallum_config_"),
      ElementsAre("vallum_config_reloads_total 0", "vallum_config_reload_failures_total 0"));
  registry.configReloaded(true);
  registry.configReloaded(false);
  registry.configReloaded(true);
  EXPECT_THAT(
      sampleLines(registry.render(), "vallum_config_"),
      ElementsAre("vallum_config_reloads_total 3", "vallum_config_reload_failures_total 1"));
}

TEST(RegistryTest, ConnectionGaugesSumTheWorkers) {
  Registry registry(2);
  EXPECT_THAT(sampleLines(registry.render(), "vallum_downstream_"),
              ElementsAre(R"(vallum_downstream_connections{state="active"} 0)",
                          R"(vallum_downstream_connections{state="parked"} 0)",
                          "vallum_downstream_spare_connection_managers 0"));
  registry.connectionGauges(0).active = 3;
  registry.connectionGauges(0).parked = 1000;
  registry.connectionGauges(0).spare = 64;
  registry.connectionGauges(1).active = 2;
  registry.connectionGauges(1).parked = 24;
  registry.connectionGauges(1).spare = 5;
  EXPECT_THAT(sampleLines(registry.render(), "vallum_downstream_"),
              ElementsAre(R"(vallum_downstream_connections{state="active"} 5)",
                          R"(vallum_downstream_connections{state="parked"} 1024)",
                          "vallum_downstream_spare_connection_managers 69"));
}

TEST(RegistryTest, WorkersWriteWhileAnotherThreadRenders) {
  constexpr uint64_t kPerWorker = 200'000;
  Registry registry(2);
  auto shards = registry.routeCounters("api");
  std::atomic<bool> done{false};
  std::atomic<int> writers_left{2};

  auto writer = [&](RouteCounters* shard, int status) {
    for (uint64_t i = 0; i < kPerWorker; ++i) {
      shard->record(status, 1, 2, std::chrono::nanoseconds(i % 3'000'000));
    }
    if (--writers_left == 0) {
      done = true;
    }
  };

  size_t renders = 0;
  bool monotonic = true;
  bool consistent = true;
  std::thread renderer([&] {
    double last_count = 0;
    const std::string count_key = R"(vallum_route_upstream_latency_seconds_count{route="api"})";
    const std::string inf_key =
        R"(vallum_route_upstream_latency_seconds_bucket{route="api",le="+Inf"})";
    do {
      auto text = samples(registry.render());
      monotonic = monotonic && text[count_key] >= last_count;
      consistent = consistent && text[count_key] == text[inf_key];
      last_count = text[count_key];
      ++renders;
      // The control thread keeps registering routes meanwhile.
      registry.routeCounters(std::string("r").append(std::to_string(renders % 50)));
    } while (!done);
  });
  std::thread w0(writer, shards[0], 200);
  std::thread w1(writer, shards[1], 500);
  w0.join();
  w1.join();
  renderer.join();

  EXPECT_GT(renders, 0u);
  EXPECT_TRUE(monotonic);
  EXPECT_TRUE(consistent);
  auto text = samples(registry.render());
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="2xx"})"], kPerWorker);
  EXPECT_EQ(text[R"(vallum_route_responses_total{route="api",code_class="5xx"})"], kPerWorker);
  EXPECT_EQ(text[R"(vallum_route_request_bytes_total{route="api"})"], 2 * kPerWorker);
  EXPECT_EQ(text[R"(vallum_route_response_bytes_total{route="api"})"], 4 * kPerWorker);
  EXPECT_EQ(text[R"(vallum_route_upstream_latency_seconds_count{route="api"})"], 2 * kPerWorker);
}

}  // namespace
}  // namespace vallum::metrics
