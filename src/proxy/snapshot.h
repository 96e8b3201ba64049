#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"
#include "http/path.h"
#include "router/route_table.h"
#include "tls/server_context.h"
#include "upstream/cluster.h"

namespace vallum::proxy {

/// What the data path needs of one route, compiled once per snapshot.
struct RouteRuntime {
  const config::Route* config = nullptr;
  upstream::Cluster cluster;
  /// The first `to` URL's path, applied as a prefix rewrite when non-empty (spec §2.2).
  std::string to_path;
  /// How much of the request path the match covered (prefix routes: the prefix; path/regex
  /// routes: everything), i.e. what `to_path` replaces.
  enum class MatchKind : uint8_t { Prefix, WholePath } match_kind = MatchKind::Prefix;
  std::string match_prefix;
  config::Duration timeout{};  ///< 0 = none
  bool is_public = false;
  /// Route `name`, or "route-<id>" (spec §2.13), for access logs.
  std::string log_name;
};

/// One immutable, compiled configuration (ARCHITECTURE.md §1: "config is a value"). Built on
/// the control thread, published to every worker, freed when its last request ends.
struct Snapshot {
  config::Options options;
  router::RouteTable table;
  std::vector<RouteRuntime> routes;
  /// Downstream TLS; null when `insecure_server`.
  tls::ServerContextConstSharedPtr tls;
  http::PathOptions path_options;
  uint64_t generation = 0;
};
using SnapshotConstSharedPtr = std::shared_ptr<const Snapshot>;

struct SnapshotBuildOptions {
  /// Resolve upstream host names (serving). `vallum check` skips it: no network.
  bool resolve_dns = true;
  uint64_t generation = 0;
};

/// Compiles options into a snapshot. Problems (certificates, regexes) are added to
/// `diagnostics` with their config positions, and the result is null when there are errors.
/// Upstream names that do not resolve are warnings.
SnapshotConstSharedPtr buildSnapshot(config::Options options, const SnapshotBuildOptions& build,
                                     config::Diagnostics& diagnostics);

/// The stable route id of spec §2.13: a hex hash over from, prefix, path, regex and the
/// `to` URLs (with weights). Used for "route-<id>" labels of unnamed routes.
std::string routeId(const config::Route& route);

}  // namespace vallum::proxy
