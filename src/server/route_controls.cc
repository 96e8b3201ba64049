#include "server/route_controls.h"

#include <chrono>
#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "common/logging.h"
#include "common/printable.h"
#include "common/random.h"
#include "upstream/health/active_health_checker.h"
#include "upstream/outlier/outlier_detector.h"

namespace vallum::server {

namespace asio = boost::asio;

namespace {

/// What a route's checker was started with: its checks and the endpoints they probe. A reload
/// that changes any of them (every field compared, codec_client_type included) restarts it.
struct CheckerSetup {
  std::vector<config::HealthCheck> checks;
  std::vector<std::string> endpoints;  ///< pool keys (address, TLS identity)

  static CheckerSetup of(const proxy::RouteRuntime& route) {
    CheckerSetup setup;
    setup.checks = route.config->health_checks;
    for (const upstream::Endpoint& ep : route.cluster.endpoints) {
      setup.endpoints.push_back(ep.pool_key);
    }
    return setup;
  }
  bool same(const CheckerSetup& other) const {
    return endpoints == other.endpoints && checks.size() == other.checks.size() &&
           std::equal(checks.begin(), checks.end(), other.checks.begin(),
                      [](const auto& a, const auto& b) { return a.sameSetup(b); });
  }
};

/// A route's control-thread machinery, kept across reloads by route id.
struct RouteControl {
  CheckerSetup checker_setup;
  std::unique_ptr<upstream::health::ActiveHealthChecker> checker;
  tls::ClientContextConstSharedPtr tls_hold;  ///< the checker's TLS context lives this long
  config::OutlierDetection detector_setup;
  std::unique_ptr<upstream::outlier::OutlierDetector> detector;
  std::unique_ptr<asio::steady_timer> detector_timer;
  std::string label;
  std::vector<std::string> endpoints;  ///< authorities, for log lines
  bool seen = false;
};

void stopControl(RouteControl& control) {
  if (control.checker) {
    control.checker->stop();
  }
  if (control.detector_timer) {
    control.detector_timer->cancel();
  }
}

}  // namespace

struct RouteControls::Impl {
  Impl(asio::io_context& io_in, metrics::Registry& metrics_in, uint64_t seed)
      : io_(io_in), metrics_(metrics_in), random_(seed) {}

  std::shared_ptr<const void> apply(const proxy::Snapshot& snapshot, PublishPlan plan) {
    for (auto& [id, control] : controls_) {
      control.seen = false;
    }
    // Only routes with health checks or outlier detection have machinery here; the loop over
    // the others is a branch each (a config of tens of thousands of routes is published
    // without stalling the control thread).
    for (const proxy::RouteRuntime& route : snapshot.routes) {
      const bool wanted = !route.config->health_checks.empty() || route.outlier != nullptr;
      RouteControl* control = nullptr;
      if (wanted) {
        control = &controls_[route.id];
      } else if (!controls_.empty()) {
        auto it = controls_.find(route.id);
        control = it == controls_.end() ? nullptr : &it->second;
      }
      if (control == nullptr) {
        continue;
      }
      control->seen = wanted;  // one that no longer wants any is reset below, then forgotten
      // Names from the config, quoted in log lines: escaped (no terminal escapes, no line
      // breaks).
      control->label = printable(route.log_name);
      control->endpoints.clear();
      for (const upstream::Endpoint& ep : route.cluster.endpoints) {
        control->endpoints.push_back(printable(ep.authority));
      }
      applyHealthChecks(route, *control);
      applyOutlierDetection(route, *control);
    }
    for (auto it = controls_.begin(); it != controls_.end();) {
      if (!it->second.seen) {
        stopControl(it->second);
        it = controls_.erase(it);
      } else {
        ++it;
      }
    }
    // Prepared with the snapshot, off the control thread; what they replace is handed back to
    // be freed there too.
    struct Replaced {
      std::shared_ptr<const HealthById> health;
      std::vector<metrics::EndpointView> endpoints;
    };
    auto replaced = std::make_shared<Replaced>();
    replaced->health =
        std::exchange(health_, std::make_shared<const HealthById>(std::move(plan.health)));
    replaced->endpoints = metrics_.setEndpoints(std::move(plan.endpoints));
    return replaced;
  }

  void applyHealthChecks(const proxy::RouteRuntime& route, RouteControl& control) {
    const upstream::ClusterHealthSharedPtr& cluster = route.cluster.health;
    if (route.config->health_checks.empty()) {
      if (control.checker) {
        control.checker->stop();
        control.checker.reset();
        control.checker_setup = {};
        for (const auto& host : cluster->hosts) {
          host->active_healthy.store(true, std::memory_order_relaxed);  // no checks: healthy
        }
        cluster->bump();
      }
      return;
    }
    CheckerSetup setup = CheckerSetup::of(route);
    if (control.checker && setup.same(control.checker_setup)) {
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
      target.unix_path = ep.unix_path;
      target.authority = ep.authority;
      if (ep.tls && route.cluster.tls_context) {
        target.tls = route.cluster.tls_context;
        target.tls_server_name = ep.tls_server_name;
      }
      target.health = cluster->hosts[i];
      targets.push_back(std::move(target));
    }
    const std::string id = route.id;
    control.tls_hold = route.cluster.tls_context;
    control.checker = std::make_unique<upstream::health::ActiveHealthChecker>(
        io_, route.config->health_checks, std::move(targets), cluster,
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
    control.checker_setup = std::move(setup);
    control.checker->start();
  }

  void applyOutlierDetection(const proxy::RouteRuntime& route, RouteControl& control) {
    const upstream::ClusterHealthSharedPtr& cluster = route.cluster.health;
    if (route.outlier == nullptr) {
      if (control.detector) {
        control.detector.reset();
        control.detector_timer.reset();

        for (const auto& host : cluster->hosts) {
          host->ejected.store(false, std::memory_order_relaxed);
        }
        cluster->bump();
      }
      return;
    }
    if (control.detector && *route.outlier == control.detector_setup) {
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
    control.detector_setup = *route.outlier;
    control.detector_timer = std::make_unique<asio::steady_timer>(io_);
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

  asio::io_context& io_;
  metrics::Registry& metrics_;
  FastRandom random_;
  std::unordered_map<std::string, RouteControl> controls_;
  std::shared_ptr<const HealthById> health_ = std::make_shared<const HealthById>();
};

RouteControls::RouteControls(asio::io_context& io, metrics::Registry& metrics, uint64_t seed)
    : impl_(std::make_unique<Impl>(io, metrics, seed)) {}

RouteControls::~RouteControls() = default;

std::shared_ptr<const void> RouteControls::apply(const proxy::Snapshot& snapshot,
                                                 PublishPlan plan) {
  return impl_->apply(snapshot, std::move(plan));
}

std::shared_ptr<const HealthById> RouteControls::health() const { return impl_->health_; }

void RouteControls::onOutlierThreshold(const std::string& route_id, uint32_t host) {
  impl_->onOutlierThreshold(route_id, host);
}

void RouteControls::stopAll() {
  for (auto& [id, control] : impl_->controls_) {
    stopControl(control);
  }
}

}  // namespace vallum::server
