#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/options.h"
#include "upstream/host_health.h"
#include "upstream/outlier/outlier_detector.h"

/// Test harness for outlier detection: a cluster of HostHealth objects, a detector over it, a
/// fake clock (a SteadyTime the test advances) and a record of every on_change call.
namespace vallum::upstream::outlier::testing {

struct Change {
  size_t host;
  bool ejected;
  std::string reason;

  bool operator==(const Change&) const = default;
};

class TestCluster {
 public:
  TestCluster(size_t hosts, config::OutlierDetection config, uint64_t seed = 42)
      : config_(config), cluster_(makeCluster(hosts)) {
    detector_ = std::make_unique<OutlierDetector>(
        config, cluster_,
        [this](size_t host, bool ejected, const std::string& reason) {
          changes_.push_back({host, ejected, reason});
        },
        seed);
  }

  static ClusterHealthSharedPtr makeCluster(size_t hosts) {
    auto cluster = std::make_shared<ClusterHealth>();
    for (size_t i = 0; i < hosts; ++i) {
      cluster->hosts.push_back(std::make_shared<HostHealth>());
    }
    return cluster;
  }

  /// A worker's report: records the outcome and, when a consecutive counter fires, "posts"
  /// to the control thread (here: calls it at once, at the current fake time).
  bool record(size_t host, RequestOutcome outcome) {
    const bool fired = recordOutcome(*cluster_->hosts[host], outcome, config_);
    if (fired) {
      detector_->onConsecutiveThreshold(host, now_);
    }
    return fired;
  }
  void recordN(size_t host, RequestOutcome outcome, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      record(host, outcome);
    }
  }
  /// `successes` successes and `failures` failures of kind `failure`, interleaved so that no
  /// consecutive counter gets long runs (as long as successes >= failures).
  void recordMix(size_t host, uint64_t successes, uint64_t failures,
                 RequestOutcome failure = RequestOutcome::Upstream5xx) {
    while (successes > 0 || failures > 0) {
      if (failures > 0) {
        record(host, failure);
        --failures;
      }
      if (successes > 0) {
        record(host, RequestOutcome::Success);
        --successes;
      }
    }
  }

  void advance(std::chrono::nanoseconds d) { now_ += d; }
  /// Advances by one interval and runs the sweep.
  void sweep() {
    now_ += config_.interval;
    detector_->onInterval(now_);
  }

  bool ejected(size_t host) const { return cluster_->hosts[host]->ejected.load(); }
  HostHealth& host(size_t i) { return *cluster_->hosts[i]; }
  uint64_t epoch() const { return cluster_->epoch.load(); }
  OutlierDetector& detector() { return *detector_; }
  ClusterHealth& cluster() { return *cluster_; }
  const std::vector<Change>& changes() const { return changes_; }
  /// The last change, or a placeholder that matches nothing when there was none.
  Change lastChange() const {
    return changes_.empty() ? Change{SIZE_MAX, false, "<none>"} : changes_.back();
  }
  SteadyTime now() const { return now_; }

 private:
  config::OutlierDetection config_;
  ClusterHealthSharedPtr cluster_;
  std::vector<Change> changes_;
  std::unique_ptr<OutlierDetector> detector_;
  SteadyTime now_ = SteadyTime{} + std::chrono::hours(1);
};

}  // namespace vallum::upstream::outlier::testing
