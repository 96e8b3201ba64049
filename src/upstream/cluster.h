#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "config/options.h"
#include "tls/client_context.h"
#include "upstream/host_health.h"
#include "upstream/lb/load_balancer.h"

namespace vallum::upstream {

/// One upstream endpoint (Envoy "host") of a route's cluster.
struct Endpoint {
  /// The `to` URL's host[:port] as written: the upstream Host header by default (as Pomerium).
  std::string authority;
  /// The socket address; `localhost` means 127.0.0.1 (as Pomerium's `to` endpoints).
  boost::asio::ip::tcp::endpoint address;
  /// A `unix://` endpoint's socket path (then `address` is unused); empty otherwise.
  std::string unix_path;
  bool resolved = false;
  /// "127.0.0.1:9001" — for access logs and metrics labels.
  std::string address_text;
  /// Identifies interchangeable connections: endpoints with the same key share a pool.
  std::string pool_key;
  uint32_t weight = 1;
  /// `https://` endpoint: TLS to the upstream with the route's client context.
  bool tls = false;
  /// HTTP/2 with prior knowledge over cleartext: set on every endpoint of a cluster whose
  /// endpoints are all `h2c://` (Pomerium's cluster protocol rule; an `h2c://` endpoint mixed
  /// with others speaks HTTP/1.1, as in Pomerium).
  bool http2 = false;
  /// ALPN offers h2 then http/1.1 and the answer picks the codec: set on every endpoint of a
  /// cluster whose endpoints are all `https://` (as Pomerium configures them, Envoy's
  /// auto_config); otherwise TLS endpoints offer http/1.1 alone.
  bool alpn_h2 = false;
  /// The URL host (lower-case).
  std::string host;
  /// TLS server name (SNI and verification) for `https://` endpoints (Pomerium
  /// `tls_upstream_server_name` > `tls_server_name` > the URL host).
  std::string tls_server_name;
};

/// A route's upstream cluster: its `to` endpoints (docs/architecture.md §4) with their shared
/// health, and how to balance over them.
struct Cluster {
  std::vector<Endpoint> endpoints;
  /// Weights were given in `to` (`URL,WEIGHT`).
  bool weighted = false;
  /// One HostHealth per endpoint (same order) and the health epoch; never null.
  ClusterHealthSharedPtr health;
  lb::Policy policy = lb::Policy::RoundRobin;
  lb::PolicyConfig lb_config;
  /// Percent of routable hosts below which every host is used (Envoy panic threshold).
  uint32_t panic_threshold = 50;
  /// Client TLS context for the `https://` endpoints; null when there are none.
  tls::ClientContextConstSharedPtr tls_context;
};

/// Sets up the TLS side of a cluster whose endpoints include `https://` ones: the context,
/// each TLS endpoint's server name, and a pool key that includes the TLS identity (connections
/// made with different trust or client certificates must never be shared).
void attachTls(Cluster& cluster, tls::ClientContextConstSharedPtr context,
               const config::UpstreamTls& settings);

/// The hosts a balancer should run over right now (Envoy's panic threshold): the routable ones
/// (passing active checks, not ejected); when fewer than `panic_threshold` percent of hosts are
/// routable, all hosts (panic); with threshold 0 and nothing routable, none (→ 503 "no healthy
/// upstream"). `panic` is set when the panic rule applied.
std::vector<lb::LbHost> balancingHosts(const Cluster& cluster, bool* panic);

/// Builds the cluster for a route's `to` list. IP literals and `localhost` are used directly;
/// other names are resolved once here (blocking; control thread only) when `resolve` is true.
/// An endpoint whose name does not resolve stays unresolved (requests to it get 503).
/// `ipv4_only`: names resolve to IPv4 addresses only (Envoy dns_lookup_family V4_ONLY).
Cluster buildCluster(const std::vector<config::UpstreamUrl>& to, bool resolve,
                     std::vector<std::string>* warnings, bool ipv4_only = false);

}  // namespace vallum::upstream
