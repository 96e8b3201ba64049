#include "metrics/registry.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include "metrics/stats.h"

namespace vallum::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

/// kLatencyBuckets in nanoseconds, so that record() compares integers (no float on the
/// request path) and a latency equal to a bound lands in that bound's bucket (`le`).
constexpr std::array<uint64_t, kLatencyBuckets.size()> kLatencyBucketsNs = [] {
  std::array<uint64_t, kLatencyBuckets.size()> out{};
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    out[i] = static_cast<uint64_t>(kLatencyBuckets[i] * 1e9 + 0.5);
  }
  return out;
}();
static_assert(kLatencyBucketsNs[0] == 1'000'000 && kLatencyBucketsNs[1] == 2'500'000 &&
              kLatencyBucketsNs.back() == 10'000'000'000);

/// Single-writer increment: a plain load + store is enough (and cheaper than a locked RMW)
/// because only the owning worker writes; the scrape only reads.
inline void bump(std::atomic<uint64_t>& counter, uint64_t by) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

inline uint64_t read(const std::atomic<uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

MetricFamily makeFamily(std::string_view name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::string(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

ClientMetric::Label label(std::string name, std::string value) {
  return ClientMetric::Label{std::move(name), std::move(value)};
}

void addCounter(MetricFamily& family, std::vector<ClientMetric::Label> labels, uint64_t value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = static_cast<double>(value);
  family.metric.push_back(std::move(metric));
}

void addGauge(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

/// One endpoint series after merging views with the same (route, endpoint) labels — two
/// routes may share a name and list the same address, and a duplicate series would make
/// Prometheus reject the scrape. Merged: healthy only if all are, ejected if any is, counts
/// summed. Absent pointers leave the value unset (no series).
struct EndpointSample {
  const std::string* route = nullptr;
  const std::string* endpoint = nullptr;
  std::optional<bool> healthy;
  std::optional<bool> ejected;
  std::optional<uint64_t> active_requests;
  std::optional<uint64_t> connect_failures;
};

template <class T, class Merge>
void mergeInto(std::optional<T>& into, std::optional<T> value, Merge merge) {
  if (!value) {
    return;
  }
  into = into ? merge(*into, *value) : *value;
}

std::vector<EndpointSample> endpointSamples(const std::vector<EndpointView>& views) {
  std::vector<EndpointSample> out;
  std::unordered_map<std::string, size_t> index;
  for (const EndpointView& view : views) {
    EndpointSample sample;
    sample.route = &view.route;
    sample.endpoint = &view.endpoint;
    if (view.active_healthy != nullptr) {
      sample.healthy = view.active_healthy->load(std::memory_order_relaxed);
    }
    if (view.ejected != nullptr) {
      sample.ejected = view.ejected->load(std::memory_order_relaxed);
    }
    if (view.active_requests != nullptr) {
      sample.active_requests = view.active_requests->load(std::memory_order_relaxed);
    }
    if (view.connect_failures != nullptr) {
      sample.connect_failures = view.connect_failures->load(std::memory_order_relaxed);
    }
    std::string key = view.route;
    key += '\0';
    key += view.endpoint;
    auto [it, inserted] = index.try_emplace(std::move(key), out.size());
    if (inserted) {
      out.push_back(sample);
      continue;
    }
    EndpointSample& merged = out[it->second];
    mergeInto(merged.healthy, sample.healthy, [](bool a, bool b) { return a && b; });
    mergeInto(merged.ejected, sample.ejected, [](bool a, bool b) { return a || b; });
    mergeInto(merged.active_requests, sample.active_requests, std::plus<uint64_t>());
    mergeInto(merged.connect_failures, sample.connect_failures, std::plus<uint64_t>());
  }
  return out;
}

std::vector<ClientMetric::Label> endpointLabels(const EndpointSample& sample) {
  return {label("route", *sample.route), label("endpoint", *sample.endpoint)};
}

}  // namespace

void RouteCounters::record(int status, uint64_t request_body_bytes, uint64_t response_body_bytes,
                           std::optional<std::chrono::nanoseconds> upstream_latency) {
  // [0] also takes what is not a 1xx..5xx status (our codecs never produce one).
  int code_class = status / 100;
  if (code_class < 0 || code_class >= static_cast<int>(responses.size())) {
    code_class = 0;
  }
  bump(responses[static_cast<size_t>(code_class)], 1);
  bump(request_bytes, request_body_bytes);
  bump(response_bytes, response_body_bytes);
  if (upstream_latency) {
    const auto ns = static_cast<uint64_t>(std::max<int64_t>(upstream_latency->count(), 0));
    // First bound >= ns: Prometheus buckets are `le`; past the last bound is +Inf.
    const auto bucket = static_cast<size_t>(
        std::lower_bound(kLatencyBucketsNs.begin(), kLatencyBucketsNs.end(), ns) -
        kLatencyBucketsNs.begin());
    bump(latency_buckets[bucket], 1);
    bump(latency_sum_ns, ns);
    bump(latency_count, 1);
  }
}

/// A route label's counters, one per worker. The array is allocated once and never moved, so
/// the pointers handed to workers stay valid for the Registry's lifetime (series are never
/// removed: counters must stay monotonic across reloads). RouteCounters is alignas(64), so
/// workers never share a cache line.
struct Registry::RouteSeries {
  explicit RouteSeries(size_t workers) : shards(std::make_unique<RouteCounters[]>(workers)) {}
  std::unique_ptr<RouteCounters[]> shards;
};

Registry::Registry(size_t workers)
    : workers_(workers), connection_gauges_(std::make_unique<ConnectionGauges[]>(workers)) {}

Registry::~Registry() = default;

std::vector<RouteCounters*> Registry::routeCounters(const std::string& route_label) {
  std::lock_guard lock(mutex_);
  auto it = routes_.find(route_label);
  if (it == routes_.end()) {
    it = routes_.emplace(route_label, std::make_unique<RouteSeries>(workers_)).first;
    route_order_.push_back(route_label);
  }
  std::vector<RouteCounters*> out;
  out.reserve(workers_);
  for (size_t i = 0; i < workers_; ++i) {
    out.push_back(&it->second->shards[i]);
  }
  return out;
}

std::vector<EndpointView> Registry::setEndpoints(std::vector<EndpointView> endpoints) {
  {
    std::lock_guard lock(mutex_);
    endpoints_.swap(endpoints);
  }
  // The previous views (and possibly the last references to their owners) leave the lock and
  // go to the caller.
  return endpoints;
}

void Registry::configReloaded(bool ok) {
  // Control thread only, so load + store suffices; render() reads from another thread.
  bump(reloads_, 1);
  if (!ok) {
    bump(reload_failures_, 1);
  }
}

std::vector<prometheus::MetricFamily> Registry::families() const {
  MetricFamily responses = makeFamily(
      stats::kRouteResponses,
      "Responses per route by status class (none = the request ended before a status was sent).",
      MetricType::Counter);
  MetricFamily request_bytes = makeFamily(
      stats::kRouteRequestBytes, "Request body bytes received per route.", MetricType::Counter);
  MetricFamily response_bytes = makeFamily(
      stats::kRouteResponseBytes, "Response body bytes sent per route.", MetricType::Counter);
  MetricFamily latency =
      makeFamily(stats::kRouteUpstreamLatency,
                 "Upstream latency per route, from request sent to response complete, in seconds.",
                 MetricType::Histogram);
  MetricFamily healthy =
      makeFamily(stats::kEndpointHealthy,
                 "1 if the endpoint passes its active health checks, else 0.", MetricType::Gauge);
  MetricFamily ejected =
      makeFamily(stats::kEndpointEjected,
                 "1 if outlier detection has ejected the endpoint, else 0.", MetricType::Gauge);
  MetricFamily active = makeFamily(stats::kEndpointActiveRequests,
                                   "Requests in flight to the endpoint.", MetricType::Gauge);
  MetricFamily connect_failures =
      makeFamily(stats::kEndpointConnectFailures, "Failed connection attempts to the endpoint.",
                 MetricType::Counter);
  MetricFamily reloads =
      makeFamily(stats::kConfigReloads, "Configuration reloads attempted (successful or not).",
                 MetricType::Counter);
  MetricFamily reload_failures =
      makeFamily(stats::kConfigReloadFailures,
                 "Configuration reloads that failed and kept the previous configuration.",
                 MetricType::Counter);

  std::lock_guard lock(mutex_);
  for (const std::string& route : route_order_) {
    const RouteSeries& series = *routes_.at(route);
    std::array<uint64_t, 6> classes{};
    uint64_t in_bytes = 0;
    uint64_t out_bytes = 0;
    std::array<uint64_t, kLatencyBuckets.size() + 1> buckets{};
    uint64_t sum_ns = 0;
    for (size_t w = 0; w < workers_; ++w) {
      const RouteCounters& shard = series.shards[w];
      for (size_t c = 0; c < classes.size(); ++c) {
        classes[c] += read(shard.responses[c]);
      }
      in_bytes += read(shard.request_bytes);
      out_bytes += read(shard.response_bytes);
      for (size_t b = 0; b < buckets.size(); ++b) {
        buckets[b] += read(shard.latency_buckets[b]);
      }
      sum_ns += read(shard.latency_sum_ns);
    }
    for (size_t c = 0; c < classes.size(); ++c) {
      addCounter(responses,
                 {label("route", route), label("code_class", std::string(stats::kCodeClasses[c]))},
                 classes[c]);
    }
    addCounter(request_bytes, {label("route", route)}, in_bytes);
    addCounter(response_bytes, {label("route", route)}, out_bytes);

    // _count is the bucket total rather than latency_count: the scrape reads the shard while
    // its worker writes, and deriving both from the same atomics keeps le="+Inf" == _count.
    ClientMetric histogram;
    histogram.label = {label("route", route)};
    uint64_t cumulative = 0;
    for (size_t b = 0; b < buckets.size(); ++b) {
      cumulative += buckets[b];
      const double bound =
          b < kLatencyBuckets.size() ? kLatencyBuckets[b] : std::numeric_limits<double>::infinity();
      histogram.histogram.bucket.push_back(ClientMetric::Bucket{cumulative, bound});
    }
    histogram.histogram.sample_count = cumulative;
    histogram.histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
    latency.metric.push_back(std::move(histogram));
  }

  for (const EndpointSample& sample : endpointSamples(endpoints_)) {
    if (sample.healthy) {
      addGauge(healthy, endpointLabels(sample), *sample.healthy ? 1.0 : 0.0);
    }
    if (sample.ejected) {
      addGauge(ejected, endpointLabels(sample), *sample.ejected ? 1.0 : 0.0);
    }
    if (sample.active_requests) {
      addGauge(active, endpointLabels(sample), static_cast<double>(*sample.active_requests));
    }
    if (sample.connect_failures) {
      addCounter(connect_failures, endpointLabels(sample), *sample.connect_failures);
    }
  }

  addCounter(reloads, {}, read(reloads_));
  addCounter(reload_failures, {}, read(reload_failures_));

  MetricFamily connections = makeFamily(
      stats::kDownstreamConnections,
      "Open client connections: active (with a connection manager) or parked (idle keep-alive "
      "connections waiting without one).",
      MetricType::Gauge);
  MetricFamily spare =
      makeFamily(stats::kDownstreamSpareManagers,
                 "Connection managers kept for reuse by new or resumed connections.",
                 MetricType::Gauge);
  uint64_t active_total = 0;
  uint64_t parked_total = 0;
  uint64_t spare_total = 0;
  for (size_t w = 0; w < workers_; ++w) {
    active_total += read(connection_gauges_[w].active);
    parked_total += read(connection_gauges_[w].parked);
    spare_total += read(connection_gauges_[w].spare);
  }
  addGauge(connections, {label("state", "active")}, static_cast<double>(active_total));
  addGauge(connections, {label("state", "parked")}, static_cast<double>(parked_total));
  addGauge(spare, {}, static_cast<double>(spare_total));

  std::vector<MetricFamily> out;
  out.reserve(12);
  for (MetricFamily* family :
       {&responses, &request_bytes, &response_bytes, &latency, &healthy, &ejected, &active,
        &connect_failures, &reloads, &reload_failures, &connections, &spare}) {
    out.push_back(std::move(*family));
  }
  return out;
}

std::string Registry::render() const { return prometheus::TextSerializer().Serialize(families()); }

}  // namespace vallum::metrics
