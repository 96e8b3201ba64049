#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "config/options.h"

namespace vallum::upstream {

/// One upstream endpoint (Envoy "host") of a route's cluster.
struct Endpoint {
  /// The `to` URL's host[:port] as written: the upstream Host header by default (spec §2.8).
  std::string authority;
  /// The socket address; `localhost` means 127.0.0.1 (spec §2.2).
  boost::asio::ip::tcp::endpoint address;
  bool resolved = false;
  /// "127.0.0.1:9001" — for access logs and metrics labels.
  std::string address_text;
  /// Identifies interchangeable connections: endpoints with the same key share a pool.
  std::string pool_key;
  uint32_t weight = 1;
};

/// A route's upstream cluster: its `to` endpoints (spec §2.2, ARCHITECTURE.md §4).
struct Cluster {
  std::vector<Endpoint> endpoints;
  /// Weights were given in `to` (`URL,WEIGHT`).
  bool weighted = false;
};

/// Builds the cluster for a route's `to` list. IP literals and `localhost` are used directly;
/// other names are resolved once here (blocking; control thread only) when `resolve` is true.
/// An endpoint whose name does not resolve stays unresolved (requests to it get 503).
Cluster buildCluster(const std::vector<config::UpstreamUrl>& to, bool resolve,
                     std::vector<std::string>* warnings);

}  // namespace vallum::upstream
