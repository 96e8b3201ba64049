#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include "metrics/registry.h"

namespace vallum::metrics {

namespace {

/// Hands the Registry's families to prometheus-cpp's Exposer, which serializes them with the
/// same TextSerializer as Registry::render() (or gzips them when the scraper asks).
class RegistryCollectable : public prometheus::Collectable {
 public:
  using CollectFn = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit RegistryCollectable(CollectFn collect) : collect_(std::move(collect)) {}

  // prometheus::Collectable
  std::vector<prometheus::MetricFamily> Collect() const override { return collect_(); }

 private:
  CollectFn collect_;
};

/// civetweb hands a handler everything below its URI and, by pattern, anything starting with
/// it ("/metrics/x", "/metricsx"); the contract is /metrics only, so the rest is answered 404
/// before handler lookup.
int notFoundUnlessMetrics(mg_connection* connection) {
  const mg_request_info* info = mg_get_request_info(connection);
  if (info != nullptr && info->local_uri != nullptr &&
      std::strcmp(info->local_uri, "/metrics") == 0) {
    return 0;  // civetweb dispatches to the Exposer's handler
  }
  mg_send_http_error(connection, 404, "%s", "Not Found");
  return 404;
}

/// civetweb's `listening_ports` spelling of a ListenAddress: "127.0.0.1:9090", "[::1]:9090";
/// an empty host is "+9090": any address, IPv4 and IPv6 when civetweb has IPv6 (Debian 12's
/// does not, so IPv4 only there).
std::string civetwebPort(const config::ListenAddress& address) {
  // Built by appending: GCC 12's -Wrestrict misfires on `"literal" + std::string&&` at -O3.
  std::string out;
  if (address.host.empty()) {
    out = "+";
  } else if (address.host == "localhost") {
    out = "127.0.0.1:";
  } else {
    return address.toString();
  }
  out += std::to_string(address.port);
  return out;
}

}  // namespace

struct Exporter::Impl {
  // Destroyed in reverse order: the Exposer (and its threads) stop before the collectable it
  // holds a weak_ptr to goes away.
  std::shared_ptr<prometheus::Collectable> collectable;
  std::unique_ptr<prometheus::Exposer> exposer;
  uint16_t port = 0;
};

Exporter::Exporter() : impl_(std::make_unique<Impl>()) {}

Exporter::~Exporter() = default;

uint16_t Exporter::port() const { return impl_->port; }

Result<std::unique_ptr<Exporter>> Exporter::start(const config::ListenAddress& address,
                                                  std::shared_ptr<const Registry> registry) {
  std::unique_ptr<Exporter> exporter(new Exporter());
  Impl& impl = *exporter->impl_;
  impl.collectable = std::make_shared<RegistryCollectable>(
      [registry = std::move(registry)] { return registry->families(); });
  CivetCallbacks callbacks;  // copied by CivetServer
  callbacks.begin_request = notFoundUnlessMetrics;
  try {
    // Two civetweb threads: a scrape never waits behind a slow client. The request timeout
    // bounds how long a stalled client can hold one.
    impl.exposer = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", civetwebPort(address), "num_threads", "2",
                                 "request_timeout_ms", "10000"},
        &callbacks);
    impl.exposer->RegisterCollectable(impl.collectable, "/metrics");
  } catch (const std::exception& e) {
    // CivetServer throws when it cannot bind (address in use, not local, malformed).
    std::string detail = "cannot bind metrics_address ";
    detail += address.toString();
    detail += ": ";
    detail += e.what();
    if (address.host.find(':') != std::string::npos && mg_check_feature(8) == 0 /* 8 = IPv6 */) {
      detail += " (this civetweb build has no IPv6 support; use an IPv4 address)";
    }
    return Error(Errc::InvalidArgument, ErrorSource::Config, std::move(detail));
  }
  const std::vector<int> ports = impl.exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0 || ports.front() > 65535) {
    std::string detail = "metrics exporter on ";
    detail += address.toString();
    detail += " reports no listening port";
    return Error(Errc::Internal, ErrorSource::Internal, std::move(detail));
  }
  impl.port = static_cast<uint16_t>(ports.front());
  return exporter;
}

}  // namespace vallum::metrics
