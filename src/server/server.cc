#include "server/server.h"

#include <sys/stat.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/logging.h"
#include "common/random.h"
#include "config/loader.h"
#include "network/listener.h"
#include "metrics/registry.h"
#include "proxy/explain.h"
#include "proxy/snapshot.h"
#include "proxy/worker.h"
#include "upstream/health/active_health_checker.h"
#include "upstream/outlier/outlier_detector.h"

namespace vallum::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

/// The config file is polled this often; a change is applied once two polls in a row see the
/// same file (so a file being written is not read half-way).
constexpr auto kConfigPollInterval = std::chrono::milliseconds(250);
/// Upstream host names are resolved again this often; a changed address republishes the
/// snapshot (health and pools are kept).
constexpr auto kDnsRefreshInterval = std::chrono::seconds(30);

/// Identity of the config file's current content, for change detection (editors often
/// replace the file, which changes the inode).
struct FileStamp {
  ino_t inode = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool exists = false;

  static FileStamp of(const std::string& path) {
    FileStamp s;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      s.exists = true;
      s.inode = st.st_ino;
      s.size = st.st_size;
      s.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      s.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    }
    return s;
  }
  bool operator==(const FileStamp&) const = default;
};

void logDiagnostics(const config::Diagnostics& diagnostics) {
  for (const config::Diagnostic& d : diagnostics.items()) {
    if (d.severity == config::Severity::Error) {
      VALLUM_LOG_ERROR("{}", d.format());
    } else {
      VALLUM_LOG_WARN("{}", d.format());
    }
  }
}

std::string durationText(config::Duration d) { return std::to_string(d.count()); }

/// What makes two health-check setups the same (a changed setup restarts the checker).
std::string healthCheckKey(const proxy::RouteRuntime& route) {
  std::ostringstream out;
  for (const config::HealthCheck& hc : route.config->health_checks) {
    out << durationText(hc.timeout) << ',' << durationText(hc.interval) << ','
        << durationText(hc.initial_jitter) << ',' << durationText(hc.interval_jitter) << ','
        << hc.interval_jitter_percent << ',' << hc.unhealthy_threshold << ','
        << hc.healthy_threshold << ',' << hc.reuse_connection << ',' << hc.alt_port.value_or(0)
        << ',' << int(hc.kind) << ',' << hc.http_path << ',' << hc.http_host << ','
        << hc.tcp_send.size() << ':' << hc.tcp_send << ',';
    for (const auto& r : hc.expected_statuses) {
      out << r.start << '-' << r.end << ';';
    }
    for (const auto& r : hc.retriable_statuses) {
      out << r.start << '-' << r.end << ';';
    }
    for (const std::string& p : hc.tcp_receive) {
      out << p.size() << ':' << p << ';';
    }
    for (auto* d : {&hc.no_traffic_interval, &hc.no_traffic_healthy_interval,
                    &hc.unhealthy_interval, &hc.unhealthy_edge_interval,
                    &hc.healthy_edge_interval}) {
      out << (d->has_value() ? durationText(**d) : "-") << ',';
    }
    out << '|';
  }
  for (const upstream::Endpoint& ep : route.cluster.endpoints) {
    out << ep.pool_key << ';';
  }
  return out.str();
}

std::string outlierKey(const config::OutlierDetection& o) {
  std::ostringstream out;
  out << o.consecutive_5xx << ',' << o.consecutive_gateway_failure << ','
      << o.consecutive_local_origin_failure << ',' << durationText(o.interval) << ','
      << durationText(o.base_ejection_time) << ',' << durationText(o.max_ejection_time) << ','
      << durationText(o.max_ejection_time_jitter) << ',' << o.max_ejection_percent << ','
      << o.enforcing_consecutive_5xx << ',' << o.enforcing_consecutive_gateway_failure << ','
      << o.enforcing_consecutive_local_origin_failure << ',' << o.enforcing_success_rate << ','
      << o.enforcing_local_origin_success_rate << ',' << o.success_rate_minimum_hosts << ','
      << o.success_rate_request_volume << ',' << o.success_rate_stdev_factor << ','
      << o.failure_percentage_threshold << ',' << o.enforcing_failure_percentage << ','
      << o.enforcing_failure_percentage_local_origin << ','
      << o.failure_percentage_minimum_hosts << ',' << o.failure_percentage_request_volume << ','
      << o.split_external_local_origin_errors << ','
      << o.successful_active_health_check_uneject_host << ',' << o.always_eject_one_host;
  return out.str();
}

/// A route's control-thread machinery, kept across reloads by route id.
struct RouteControl {
  std::string checker_key;
  std::unique_ptr<upstream::health::ActiveHealthChecker> checker;
  tls::ClientContextConstSharedPtr tls_hold;  ///< the checker's TLS context lives this long
  std::string detector_key;
  std::unique_ptr<upstream::outlier::OutlierDetector> detector;
  std::unique_ptr<asio::steady_timer> detector_timer;
  std::string label;
  std::vector<std::string> endpoints;  ///< authorities, for log lines
  bool seen = false;
};

class Server {
 public:
  explicit Server(const ServeOptions& options) : options_(options) {}

  int run() {
    size_t n = options_.concurrency;
    if (n == 0) {
      n = std::max<size_t>(1, std::thread::hardware_concurrency());
    }
    metrics_ = std::make_shared<metrics::Registry>(n);
    snapshot_ = loadSnapshot(++generation_);
    if (!snapshot_) {
      VALLUM_LOG_ERROR("{}: invalid config, not starting", options_.config_path);
      return 1;
    }
    applyLogLevel(*snapshot_);
    stamp_ = FileStamp::of(options_.config_path);
    if (snapshot_->options.metrics_address) {
      auto exporter = metrics::Exporter::start(*snapshot_->options.metrics_address, metrics_);
      if (!exporter) {
        VALLUM_LOG_ERROR("metrics_address: {}", exporter.error().detail());
        return 1;
      }
      exporter_ = std::move(*exporter);
      VALLUM_LOG_INFO("metrics on http://{}:{}/metrics",
                      snapshot_->options.metrics_address->host.empty()
                          ? std::string("0.0.0.0")
                          : snapshot_->options.metrics_address->host,
                      exporter_->port());
    }
    auto endpoint = network::resolveListenAddress(snapshot_->options.address);
    if (!endpoint) {
      VALLUM_LOG_ERROR("{}", endpoint.error().detail());
      return 1;
    }
    listen_address_ = snapshot_->options.address.toString();
    insecure_ = snapshot_->options.insecure_server;
    for (size_t i = 0; i < n; ++i) {
      workers_.push_back(std::make_unique<proxy::Worker>(i));
    }
    // The first bind may pick a free port (port 0); the other workers bind the same one.
    tcp::endpoint bound = *endpoint;
    for (auto& worker : workers_) {
      auto acceptor = network::openListener(worker->io(), bound);
      if (!acceptor) {
        VALLUM_LOG_ERROR("{}", acceptor.error().detail());
        return 1;
      }
      bound = acceptor->local_endpoint();
      worker->install(snapshot_);
      worker->startAccepting(std::move(*acceptor));
    }
    if (snapshot_->tls && snapshot_->tls->selfSigned()) {
      VALLUM_LOG_WARN(
          "no certificate configured: serving a generated self-signed certificate "
          "(set `certificates` or `certificate_file`/`certificate_key_file`)");
    }
    VALLUM_LOG_INFO("listening on {} ({}), {} worker{}, {} route{}", network::formatEndpoint(bound),
                    insecure_ ? "http" : "https", n, n == 1 ? "" : "s",
                    snapshot_->routes.size(), snapshot_->routes.size() == 1 ? "" : "s");

    for (auto& worker : workers_) {
      worker->setOutlierReport([this](const std::string& route_id, uint32_t host) {
        asio::post(control_, [this, route_id, host] { onOutlierThreshold(route_id, host); });
      });
    }
    applyControls(*snapshot_);
    for (auto& worker : workers_) {
      proxy::Worker* w = worker.get();
      threads_.emplace_back([w] { w->run(); });
    }

    asio::signal_set signals(control_, SIGHUP, SIGTERM, SIGINT);
    waitSignal(signals);
    asio::steady_timer poll(control_);
    pollConfig(poll);
    asio::steady_timer dns(control_);
    refreshDns(dns);
    control_.run();

    for (auto& [id, control] : controls_) {
      stopControl(control);
    }
    for (auto& worker : workers_) {
      worker->stop();
    }
    for (auto& t : threads_) {
      t.join();
    }
    VALLUM_LOG_INFO("stopped");
    return 0;
  }

 private:
  void applyLogLevel(const proxy::Snapshot& snapshot) {
    const std::string& level = options_.log_level.empty() ? snapshot.options.log_level
                                                          : options_.log_level;
    spdlog::set_level(spdlog::level::from_str(level));
  }

  void waitSignal(asio::signal_set& signals) {
    signals.async_wait([this, &signals](const boost::system::error_code& ec, int signo) {
      if (ec) {
        return;
      }
      if (signo == SIGHUP) {
        VALLUM_LOG_INFO("SIGHUP: reloading {}", options_.config_path);
        reload();
        waitSignal(signals);
        return;
      }
      if (draining_) {
        VALLUM_LOG_WARN("second stop signal: exiting without waiting for the drain");
        control_.stop();
        return;
      }
      beginDrain();
      waitSignal(signals);
    });
  }

  void pollConfig(asio::steady_timer& timer) {
    timer.expires_after(kConfigPollInterval);
    timer.async_wait([this, &timer](const boost::system::error_code& ec) {
      if (ec || draining_) {
        return;
      }
      FileStamp now = FileStamp::of(options_.config_path);
      if (now == stamp_ || !now.exists) {
        pending_stamp_.reset();
      } else if (pending_stamp_ && *pending_stamp_ == now) {
        pending_stamp_.reset();
        VALLUM_LOG_INFO("{} changed: reloading", options_.config_path);
        reload();
      } else {
        pending_stamp_ = now;  // changed: wait until it stops changing
      }
      pollConfig(timer);
    });
  }

  void reload() {
    stamp_ = FileStamp::of(options_.config_path);
    if (stamp_.exists && stamp_.size == 0) {
      // An editor or a tool truncated the file and has not written it yet; an empty config
      // would drop every route and certificate. Keep serving and wait for the content.
      VALLUM_LOG_ERROR("{}: the file is empty; keeping the running config (generation {})",
                       options_.config_path, generation_);
      return;
    }
    proxy::SnapshotConstSharedPtr next = loadSnapshot(generation_ + 1);
    metrics_->configReloaded(next != nullptr);
    if (!next) {
      VALLUM_LOG_ERROR("{}: reload failed; keeping the running config (generation {})",
                       options_.config_path, generation_);
      return;
    }
    ++generation_;
    if (next->options.address.toString() != listen_address_ ||
        next->options.insecure_server != insecure_) {
      VALLUM_LOG_WARN(
          "address/insecure_server changed: the listener keeps {} until restart",
          listen_address_);
    }
    if (next->options.insecure_server != insecure_) {
      VALLUM_LOG_ERROR("insecure_server cannot change on reload; keeping the running config");
      return;
    }
    applyLogLevel(*next);
    publish(next);
    VALLUM_LOG_INFO("config reloaded (generation {}, {} routes)", generation_,
                    next->routes.size());
  }

  void publish(const proxy::SnapshotConstSharedPtr& next) {
    snapshot_ = next;
    for (auto& worker : workers_) {
      proxy::Worker* w = worker.get();
      asio::post(w->io(), [w, next] { w->install(next); });
    }
    applyControls(*next);
  }

  /// Loads and compiles the config file; null (with problems logged) when it is invalid.
  proxy::SnapshotConstSharedPtr loadSnapshot(uint64_t generation) {
    config::LoadResult loaded = config::loadFile(options_.config_path, config::processEnvironment());
    if (!loaded.options) {
      logDiagnostics(loaded.diagnostics);
      return nullptr;
    }
    proxy::SnapshotConstSharedPtr snapshot =
        proxy::buildSnapshot(std::move(*loaded.options), buildOptions(generation), loaded.diagnostics);
    logDiagnostics(loaded.diagnostics);
    return snapshot;
  }

  proxy::SnapshotBuildOptions buildOptions(uint64_t generation) {
    proxy::SnapshotBuildOptions build;
    build.generation = generation;
    build.metrics = metrics_.get();
    // Health state is shared by route id across snapshots: reloads keep health, ejections and
    // in-flight counts, and running checkers keep writing where workers read.
    build.cluster_health = [this](const std::string& route_id, size_t endpoints) {
      upstream::ClusterHealthSharedPtr& shared = cluster_health_[route_id];
      if (!shared || shared->hosts.size() != endpoints) {
        shared = std::make_shared<upstream::ClusterHealth>();
        for (size_t i = 0; i < endpoints; ++i) {
          shared->hosts.push_back(std::make_shared<upstream::HostHealth>());
        }
      }
      return shared;
    };
    return build;
  }

  /// Starts, keeps or stops each route's health checker and outlier detector for `snapshot`,
  /// and tells the metrics registry about its endpoints. Control thread.
  void applyControls(const proxy::Snapshot& snapshot) {
    for (auto& [id, control] : controls_) {
      control.seen = false;
    }
    std::vector<metrics::EndpointView> endpoints;
    for (const proxy::RouteRuntime& route : snapshot.routes) {
      RouteControl& control = controls_[route.id];
      control.seen = true;
      control.label = route.log_name;
      control.endpoints.clear();
      for (const upstream::Endpoint& ep : route.cluster.endpoints) {
        control.endpoints.push_back(ep.authority);
      }
      applyHealthChecks(route, control);
      applyOutlierDetection(route, control);
      for (size_t i = 0; i < route.cluster.endpoints.size(); ++i) {
        const upstream::HostHealthSharedPtr& host = route.cluster.health->hosts[i];
        metrics::EndpointView view;
        view.route = route.log_name;
        view.endpoint = route.cluster.endpoints[i].authority;
        view.owner = host;
        view.active_healthy = &host->active_healthy;
        view.ejected = &host->ejected;
        view.active_requests = &host->active_requests;
        view.connect_failures = &host->connect_failures;
        endpoints.push_back(std::move(view));
      }
    }
    for (auto it = controls_.begin(); it != controls_.end();) {
      if (!it->second.seen) {
        stopControl(it->second);
        cluster_health_.erase(it->first);
        it = controls_.erase(it);
      } else {
        ++it;
      }
    }
    metrics_->setEndpoints(std::move(endpoints));
  }

  void applyHealthChecks(const proxy::RouteRuntime& route, RouteControl& control) {
    const upstream::ClusterHealthSharedPtr& cluster = route.cluster.health;
    if (route.config->health_checks.empty()) {
      if (control.checker) {
        control.checker->stop();
        control.checker.reset();
        control.checker_key.clear();
        for (const auto& host : cluster->hosts) {
          host->active_healthy.store(true, std::memory_order_relaxed);  // no checks: healthy
        }
        cluster->bump();
      }
      return;
    }
    std::string key = healthCheckKey(route);
    if (control.checker && key == control.checker_key) {
      return;  // unchanged: the running checker keeps its state
    }
    if (control.checker) {
      control.checker->stop();
    }
    std::vector<upstream::health::CheckTarget> targets;
    for (size_t i = 0; i < route.cluster.endpoints.size(); ++i) {
      const upstream::Endpoint& ep = route.cluster.endpoints[i];
      upstream::health::CheckTarget target;
      target.address = ep.address;
      target.authority = ep.authority;
      if (ep.tls && route.cluster.tls_context) {
        target.tls = &route.cluster.tls_context->sslContext();
        target.tls_server_name = ep.tls_server_name;
      }
      target.health = cluster->hosts[i];
      targets.push_back(std::move(target));
    }
    const std::string id = route.id;
    control.tls_hold = route.cluster.tls_context;
    control.checker = std::make_unique<upstream::health::ActiveHealthChecker>(
        control_, route.config->health_checks, std::move(targets), cluster,
        [this, id](size_t host, bool healthy, const std::string& reason) {
          onHealthChange(id, host, healthy, reason);
        },
        random_.next());
    // successful_active_health_check_uneject_host: every passing check of a healthy host, not
    // only the transition to healthy (Envoy).
    control.checker->setOnPass([this, id](size_t host) {
      auto found = controls_.find(id);
      if (found != controls_.end() && found->second.detector) {
        found->second.detector->onActiveHealthCheckSuccess(host, std::chrono::steady_clock::now());
      }
    });
    control.checker_key = std::move(key);
    control.checker->start();
  }

  void applyOutlierDetection(const proxy::RouteRuntime& route, RouteControl& control) {
    const upstream::ClusterHealthSharedPtr& cluster = route.cluster.health;
    if (route.outlier == nullptr) {
      if (control.detector) {
        control.detector.reset();
        control.detector_timer.reset();
        control.detector_key.clear();
        for (const auto& host : cluster->hosts) {
          host->ejected.store(false, std::memory_order_relaxed);
        }
        cluster->bump();
      }
      return;
    }
    std::string key = outlierKey(*route.outlier);
    if (control.detector && key == control.detector_key) {
      return;
    }
    const std::string id = route.id;
    control.detector = std::make_unique<upstream::outlier::OutlierDetector>(
        *route.outlier, cluster,
        [this, id](size_t host, bool ejected, const std::string& reason) {
          auto it = controls_.find(id);
          if (it == controls_.end() || host >= it->second.endpoints.size()) {
            return;
          }
          if (ejected) {
            VALLUM_LOG_WARN("route {}: endpoint {} ejected ({})", it->second.label,
                            it->second.endpoints[host], reason);
          } else {
            VALLUM_LOG_INFO("route {}: endpoint {} returned ({})", it->second.label,
                            it->second.endpoints[host], reason);
          }
        },
        random_.next());
    control.detector_key = std::move(key);
    control.detector_timer = std::make_unique<asio::steady_timer>(control_);
    scheduleOutlierSweep(id, route.outlier->interval);
  }

  void scheduleOutlierSweep(const std::string& id, config::Duration interval) {
    auto it = controls_.find(id);
    if (it == controls_.end() || !it->second.detector_timer) {
      return;
    }
    asio::steady_timer& timer = *it->second.detector_timer;
    timer.expires_after(interval);
    timer.async_wait([this, id, interval](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      auto found = controls_.find(id);
      if (found == controls_.end() || !found->second.detector) {
        return;
      }
      found->second.detector->onInterval(std::chrono::steady_clock::now());
      scheduleOutlierSweep(id, interval);
    });
  }

  void onHealthChange(const std::string& id, size_t host, bool healthy, const std::string& reason) {
    auto it = controls_.find(id);
    if (it == controls_.end() || host >= it->second.endpoints.size()) {
      return;
    }
    RouteControl& control = it->second;
    if (healthy) {
      VALLUM_LOG_INFO("route {}: endpoint {} is healthy ({})", control.label,
                      control.endpoints[host], reason);
    } else {
      VALLUM_LOG_WARN("route {}: endpoint {} is unhealthy ({})", control.label,
                      control.endpoints[host], reason);
    }
  }

  void onOutlierThreshold(const std::string& id, uint32_t host) {
    auto it = controls_.find(id);
    if (it != controls_.end() && it->second.detector) {
      it->second.detector->onConsecutiveThreshold(host, std::chrono::steady_clock::now());
    }
  }

  static void stopControl(RouteControl& control) {
    if (control.checker) {
      control.checker->stop();
    }
    if (control.detector_timer) {
      control.detector_timer->cancel();
    }
  }

  /// Re-resolves upstream host names every kDnsRefreshInterval; when an address changed, the
  /// same options are compiled again and published (health and pools are kept).
  void refreshDns(asio::steady_timer& timer) {
    timer.expires_after(kDnsRefreshInterval);
    timer.async_wait([this, &timer](const boost::system::error_code& ec) {
      if (ec || draining_) {
        return;
      }
      bool named = false;
      for (const proxy::RouteRuntime& route : snapshot_->routes) {
        for (const config::UpstreamUrl& url : route.config->to) {
          boost::system::error_code parse_error;
          boost::asio::ip::make_address(url.host, parse_error);
          named = named || (parse_error && url.host != "localhost");
        }
      }
      if (named) {
        config::Diagnostics diagnostics;
        proxy::SnapshotConstSharedPtr next =
            proxy::buildSnapshot(snapshot_->options, buildOptions(generation_ + 1), diagnostics);
        if (next && addressesChanged(*snapshot_, *next)) {
          ++generation_;
          VALLUM_LOG_INFO("upstream addresses changed: publishing generation {}", generation_);
          publish(next);
        }
      }
      refreshDns(timer);
    });
  }

  static bool addressesChanged(const proxy::Snapshot& a, const proxy::Snapshot& b) {
    if (a.routes.size() != b.routes.size()) {
      return true;
    }
    for (size_t r = 0; r < a.routes.size(); ++r) {
      const auto& x = a.routes[r].cluster.endpoints;
      const auto& y = b.routes[r].cluster.endpoints;
      if (x.size() != y.size()) {
        return true;
      }
      for (size_t i = 0; i < x.size(); ++i) {
        if (x[i].resolved != y[i].resolved || x[i].address != y[i].address) {
          return true;
        }
      }
    }
    return false;
  }

  void beginDrain() {
    draining_ = true;
    VALLUM_LOG_INFO("draining: waiting up to {}s for in-flight requests",
                    options_.drain_timeout.count());
    remaining_ = workers_.size();
    for (auto& worker : workers_) {
      proxy::Worker* w = worker.get();
      asio::post(w->io(), [this, w] {
        w->drain([this] {
          asio::post(control_, [this] {
            if (--remaining_ == 0) {
              VALLUM_LOG_INFO("drained");
              control_.stop();
            }
          });
        });
      });
    }
    drain_timer_.expires_after(options_.drain_timeout);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        VALLUM_LOG_WARN("drain timeout: closing remaining connections");
        control_.stop();
      }
    });
  }

  ServeOptions options_;
  asio::io_context control_{1};
  std::shared_ptr<metrics::Registry> metrics_;
  std::unique_ptr<metrics::Exporter> exporter_;
  std::unordered_map<std::string, upstream::ClusterHealthSharedPtr> cluster_health_;
  std::unordered_map<std::string, RouteControl> controls_;
  FastRandom random_;
  asio::steady_timer drain_timer_{control_};
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::vector<std::thread> threads_;
  proxy::SnapshotConstSharedPtr snapshot_;
  uint64_t generation_ = 0;
  FileStamp stamp_;
  std::optional<FileStamp> pending_stamp_;
  std::string listen_address_;
  bool insecure_ = false;
  bool draining_ = false;
  size_t remaining_ = 0;
};

}  // namespace

int serve(const ServeOptions& options) {
  Server server(options);
  return server.run();
}

int check(const std::string& config_path, std::ostream& out) {
  config::LoadResult loaded = config::loadFile(config_path, config::processEnvironment());
  size_t routes = 0;
  if (loaded.options) {
    routes = loaded.options->routes.size();
    proxy::SnapshotBuildOptions build;
    build.resolve_dns = false;
    proxy::buildSnapshot(std::move(*loaded.options), build, loaded.diagnostics);
  }
  for (const config::Diagnostic& d : loaded.diagnostics.items()) {
    out << d.format() << '\n';
  }
  if (loaded.diagnostics.hasErrors()) {
    return 1;
  }
  out << "OK: " << routes << " route" << (routes == 1 ? "" : "s") << ", "
      << loaded.diagnostics.warningCount() << " warning"
      << (loaded.diagnostics.warningCount() == 1 ? "" : "s") << '\n';
  return 0;
}

int route(const std::string& config_path, const std::string& method,
          const std::vector<std::string>& headers, const std::string& url, std::ostream& out,
          std::ostream& err) {
  config::LoadResult loaded = config::loadFile(config_path, config::processEnvironment());
  proxy::SnapshotConstSharedPtr snapshot;
  if (loaded.options) {
    proxy::SnapshotBuildOptions build;
    build.resolve_dns = false;
    snapshot = proxy::buildSnapshot(std::move(*loaded.options), build, loaded.diagnostics);
  }
  if (!snapshot) {
    for (const config::Diagnostic& d : loaded.diagnostics.items()) {
      err << d.format() << '\n';
    }
    return 2;
  }
  proxy::ExplainRequest request;
  request.method = method;
  request.url = url;
  for (const std::string& header : headers) {
    size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      err << "vallum route: --header expects \"Name: value\", got \"" << header << "\"\n";
      return 2;
    }
    std::string value = header.substr(colon + 1);
    size_t first = value.find_first_not_of(" \t");
    request.headers.emplace_back(header.substr(0, colon),
                                 first == std::string::npos ? "" : value.substr(first));
  }
  proxy::ExplainResult result = proxy::explainRequest(*snapshot, request);
  if (!result.error.empty()) {
    err << "vallum route: " << result.error << '\n';
    return 2;
  }
  out << result.json << '\n';
  return result.route_matched ? 0 : 1;
}

}  // namespace vallum::server
