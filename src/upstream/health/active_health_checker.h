#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/random.h"
#include "config/options.h"
#include "tls/client_context.h"
#include "upstream/host_health.h"

namespace boost::asio::ssl {
class context;
}

/// Active health checking (Pomerium `health_checks`; Envoy core.v3.HealthCheck).
namespace vallum::upstream::health {

/// What one check came to (Envoy's health checker results).
enum class CheckResult : uint8_t {
  Success,
  /// A definite failure: an HTTP status outside expected_statuses (and not retriable). Flips
  /// a healthy host at once.
  Failure,
  /// Connect failure, reset, close before a verdict, or a retriable status: counts toward
  /// unhealthy_threshold.
  NetworkFailure,
  /// No verdict within `timeout`: like NetworkFailure.
  Timeout,
};

/// The per-host threshold state machine (Envoy's health checker), pure and clock-free:
/// * a host starts unhealthy; its first-ever passing check makes it healthy at once;
/// * successes: an unhealthy host needs healthy_threshold consecutive ones;
/// * failures: Failure flips a healthy host at once; NetworkFailure/Timeout need
///   unhealthy_threshold consecutive ones.
class HealthState {
 public:
  HealthState(uint32_t healthy_threshold, uint32_t unhealthy_threshold);

  /// Applies one result; returns true when healthy() changed.
  bool record(CheckResult result);
  bool healthy() const { return healthy_; }
  /// A change is pending (the last result disagreed with the state without flipping it).
  bool pending() const { return pending_; }

 private:
  uint32_t healthy_threshold_;
  uint32_t unhealthy_threshold_;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
  bool healthy_ = false;
  bool pending_ = false;
  bool checked_ = false;
};

/// One host to check.
struct CheckTarget {
  boost::asio::ip::tcp::endpoint address;
  std::string unix_path;  ///< a `unix://` endpoint's socket path (then `address` is unused)
  /// The endpoint's `to` host[:port]: the HTTP check's Host when `http_health_check.host` is
  /// empty (Vallum's rule, docs/decisions.md), and the TLS server name source.
  std::string authority;
  /// For `https://` endpoints: the route's client TLS context (kept alive by the checker) and
  /// the SNI / verification name, exactly as requests use them. Null for plain endpoints.
  tls::ClientContextConstSharedPtr tls;
  std::string tls_server_name;
  /// The shared state the checker writes (`active_healthy`).
  HostHealthSharedPtr health;
};

/// Runs every health check of one cluster on the control thread's io_context. For each
/// (check, host): the first check starts at start() (after random initial_jitter), then one
/// every interval after the previous result (plus interval_jitter; the unhealthy / edge /
/// no_traffic intervals as Envoy's HealthCheck with Vallum's defaults); `timeout` bounds each
/// check. With several `health_checks` entries a host is healthy only when all pass. On every
/// change of a host's health the checker stores HostHealth::active_healthy, bumps the cluster
/// epoch and calls `on_change(host_index, healthy, reason)`.
///
/// HTTP: GET `path` with Host (configured, else the endpoint authority), User-Agent
/// `Vallum/HC`, status must be in expected_statuses (default 200 only; ranges half-open);
/// retriable_statuses count as NetworkFailure; a connection is reused unless
/// `reuse_connection: false` or the response closes it. TCP: connect, send `tcp_send` (if any),
/// then every `tcp_receive` payload must appear in order in what is read; empty send and
/// receive = connect-only. codec_client_type HTTP2: the same GET as one HTTP/2 stream per check
/// (prior knowledge on plaintext, ALPN h2 under TLS), judged on the status.
///
/// Not thread-safe: construct, start, stop and destroy on the control thread.
class ActiveHealthChecker {
 public:
  using OnChange = std::function<void(size_t host_index, bool healthy, const std::string& reason)>;

  ActiveHealthChecker(boost::asio::io_context& io, std::vector<config::HealthCheck> checks,
                      std::vector<CheckTarget> targets, std::shared_ptr<ClusterHealth> cluster,
                      OnChange on_change, uint64_t seed);
  ~ActiveHealthChecker();
  ActiveHealthChecker(const ActiveHealthChecker&) = delete;
  ActiveHealthChecker& operator=(const ActiveHealthChecker&) = delete;

  /// Called after every passing check of a host that is healthy on all its checks (not only on
  /// changes), as Envoy's outlier detector hears of it for
  /// `successful_active_health_check_uneject_host`. Set before start().
  void setOnPass(std::function<void(size_t host_index)> on_pass);

  /// Marks every host unhealthy (if it has never been checked) and starts the first round.
  void start();
  /// Cancels all checks and timers; safe to destroy afterwards.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vallum::upstream::health
