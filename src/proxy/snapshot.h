#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/diagnostics.h"
#include "config/options.h"
#include "http/path.h"
#include "metrics/registry.h"
#include "proxy/identity_runtime.h"
#include "router/route_table.h"
#include "tls/server_context.h"
#include "upstream/cluster.h"

namespace re2 {
class RE2;
}

namespace vallum::policy {
struct Policy;
}

namespace vallum::proxy {

/// A `set_request_headers` value (Pomerium route option) with its `${...}` references resolved
/// at load time into pieces: literal text, or the value of a request header. Identity
/// references (`pomerium.jwt`, `pomerium.access_token`, ...) render empty until sign-in
/// exists, as unknown references do.
struct HeaderTemplate {
  /// The identity values a template can name (Pomerium's `${pomerium.jwt}`,
  /// `${pomerium.id_token}`, `${pomerium.access_token}`); empty without a session.
  enum class IdentityRef : uint8_t { None, Jwt, IdToken, AccessToken };
  struct Piece {
    bool header_ref = false;  ///< true: `text` is a request header name
    std::string text;
    IdentityRef identity = IdentityRef::None;  ///< set: the piece is that identity value
  };
  std::vector<Piece> pieces;

  /// Parses Pomerium's template syntax: `$$` → `$`; `${pomerium.request.headers.NAME}`,
  /// `${pomerium.request.headers["NAME"]}` and `$pomerium.request.headers.NAME` → that request
  /// header; `pomerium.jwt`, `pomerium.id_token`, `pomerium.access_token` → the identity
  /// value; other references → ""; a `${` without its `}` stays verbatim.
  static HeaderTemplate parse(std::string_view value);
  /// True when the value has no references (rendering is a copy).
  bool literal() const {
    return pieces.size() <= 1 &&
           (pieces.empty() || (!pieces[0].header_ref && pieces[0].identity == IdentityRef::None));
  }
};

/// What the data path needs of one route, compiled once per snapshot.
struct RouteRuntime {
  RouteRuntime();
  RouteRuntime(RouteRuntime&&) noexcept;
  RouteRuntime& operator=(RouteRuntime&&) noexcept;
  ~RouteRuntime();

  const config::Route* config = nullptr;
  /// redirect > response > to (as Pomerium's buildRouteForPolicyAndMatch).
  enum class Action : uint8_t { Forward, Redirect, Respond } action = Action::Forward;
  upstream::Cluster cluster;

  /// How much of the request path the match covered (prefix routes: the prefix; path/regex
  /// routes: everything), i.e. what a prefix rewrite replaces.
  enum class MatchKind : uint8_t { Prefix, WholePath } match_kind = MatchKind::Prefix;
  std::string match_prefix;

  /// Path rewrite (as Pomerium): `prefix_rewrite`, else `regex_rewrite_pattern`, else the first
  /// `to` URL's path as a prefix rewrite (Pomerium route option `to`).
  enum class PathRewrite : uint8_t { None, Prefix, Regex } path_rewrite = PathRewrite::None;
  std::string prefix_rewrite;  ///< replaces the matched part (PathRewrite::Prefix)
  std::unique_ptr<re2::RE2> path_regex;
  std::string path_substitution;
  /// The first `to` URL's path (kept for `vallum route`).
  std::string to_path;

  /// Upstream Host (Pomerium's setHostRewriteOptions): host_rewrite > host_rewrite_header >
  /// host_path_regex_rewrite_pattern > preserve_host_header > the endpoint's `to` authority.
  enum class HostRewrite : uint8_t {
    Endpoint,
    Literal,
    Header,
    PathRegex,
    Preserve
  } host_rewrite = HostRewrite::Endpoint;
  std::string host_value;  ///< Literal: the host; Header: the header name
  std::unique_ptr<re2::RE2> host_regex;
  std::string host_substitution;
  /// X-Forwarded-Host gets the original host appended whenever the Host is rewritten, unless
  /// the route removes x-forwarded-host (Envoy append_x_forwarded_host, as Pomerium sets it).
  bool append_x_forwarded_host = true;

  /// Request header policy: names (as written) removed from the client's request, and values
  /// set (overwriting). A name in both is set (set wins).
  std::vector<std::string> remove_request_headers;
  std::vector<std::pair<std::string, HeaderTemplate>> set_request_headers;

  /// Response headers to set on every response of this route (the global set merged with the
  /// route's, sorted by name, as Pomerium), and the prefix rewrites of rewrite_response_headers.
  std::vector<std::pair<std::string, std::string>> response_headers;
  std::vector<config::ResponseHeaderRewrite> rewrite_response_headers;
  config::Duration timeout{};  ///< 0 = none (config::routeTimeout)
  /// No activity on an HTTP stream for this long ends it (config::streamIdleTimeout); 0 = none.
  config::Duration stream_idle_timeout{};
  /// No byte either way in a tunnel (after an upgrade) for this long closes it; 0 = none.
  config::Duration tunnel_idle_timeout{};
  /// The upgrade tokens the route allows, lower case (config::routeUpgrades): "websocket",
  /// "spdy/3.1", others from allow_upgrades.
  std::vector<std::string> upgrades;
  /// Requests go to the upstream over HTTP/1.1 only — no h2c, no ALPN h2 — on routes that
  /// allow websockets (Pomerium forces HTTP/1.1 there), and always for an upgrade.
  bool upstream_http1_only = false;

  /// Who may pass: the route's PPL policy with the legacy allow lists folded in (Pomerium
  /// route options `policy`, `allowed_users`, ...), compiled once. Never null once built.
  std::unique_ptr<policy::Policy> policy;
  /// Identity headers for this route (route value, else the global `pass_identity_headers`),
  /// the JWT issuer form and the groups filter (global ∪ route), show_error_details.
  bool pass_identity_headers = false;
  bool jwt_issuer_uri = false;
  std::vector<std::string> jwt_groups_filter;
  bool show_error_details = false;
  /// enable_google_cloud_serverless_authentication: the audience of the Google ID token sent
  /// upstream ("https://" + host of the last `to`, as Pomerium); empty when off.
  std::string gcp_audience;
  /// Route `name`, or "route-<id>" (see routeId()), for access logs and metrics labels.
  std::string log_name;
  /// The stable route id (routeId()): keys the health and outlier state kept across reloads.
  std::string id;
  /// Outlier detection settings when enabled (points into `config`), else null.
  const config::OutlierDetection* outlier = nullptr;
  /// This route's metric counters, one per worker (empty when metrics are off).
  std::vector<metrics::RouteCounters*> metrics;
};

/// One immutable, compiled configuration (docs/architecture.md §1: "config is a value"). Built on
/// the control thread, published to every worker, freed when its last request ends.
struct Snapshot {
  config::Options options;
  router::RouteTable table;
  std::vector<RouteRuntime> routes;
  /// Downstream TLS; null when `insecure_server`.
  tls::ServerContextConstSharedPtr tls;
  /// The global set_response_headers as applied (Pomerium's security defaults unless the
  /// config sets the map), sorted by name; added to every response and local reply.
  std::vector<std::pair<std::string, std::string>> response_headers;
  http::PathOptions path_options;
  /// Keys and settings of sign-in and identity headers.
  IdentityRuntimeConstSharedPtr identity;
  uint64_t generation = 0;
};
using SnapshotConstSharedPtr = std::shared_ptr<const Snapshot>;

struct SnapshotBuildOptions {
  /// Resolve upstream host names (serving). `vallum check` skips it: no network.
  bool resolve_dns = true;
  uint64_t generation = 0;
  /// Hands out the shared health state of a route's cluster (control thread). Serving passes
  /// the server's registry so that health, ejections and in-flight counts survive reloads;
  /// unset → fresh state.
  std::function<upstream::ClusterHealthSharedPtr(const std::string& route_id, size_t endpoints)>
      cluster_health;
  /// Metrics registry; when set, each route gets its per-worker counters.
  metrics::Registry* metrics = nullptr;
};

/// Compiles options into a snapshot. Problems (certificates, regexes) are added to
/// `diagnostics` with their config positions, and the result is null when there are errors.
/// Upstream names that do not resolve are warnings.
SnapshotConstSharedPtr buildSnapshot(config::Options options, const SnapshotBuildOptions& build,
                                     config::Diagnostics& diagnostics);

/// The stable route id, after Pomerium's route ID: a hex hash over from, prefix, path, regex
/// and the `to` URLs (with weights). Used for "route-<id>" labels of unnamed routes.
std::string routeId(const config::Route& route);

}  // namespace vallum::proxy
