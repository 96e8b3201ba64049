#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/duration.h"

namespace vallum::config::yaml {
struct Node;
}

/// Plain data decoded from a Pomerium-style config.yaml (Pomerium's route and global options).
/// Defaults are the documented Pomerium/Vallum defaults. No behaviour lives here: each component
/// compiles its slice into a runtime snapshot.
namespace vallum::config {

using namespace std::chrono_literals;

/// Global `path_with_escaped_slashes_action` (Envoy HCM enum of the same name).
enum class EscapedSlashesAction {
  KeepUnchanged,
  RejectRequest,       ///< default (Pomerium v0.33+): 400 for %2F/%2f/%5C/%5c in the path
  UnescapeAndRedirect,
  UnescapeAndForward,
};

/// Global `headers_with_underscores_action` (Envoy HCM enum of the same name).
enum class UnderscoresAction {
  Allow,
  RejectRequest,  ///< default (Pomerium v0.33+): 400 for a header name containing '_'
  DropHeader,
};

/// Global `codec_type`: the downstream protocols (Pomerium's option; Envoy HCM codec_type).
enum class CodecType : uint8_t {
  Auto,   ///< default: ALPN h2 then http/1.1 under TLS; the HTTP/2 preface selects h2 in clear
  Http1,  ///< HTTP/1.1 only
  Http2,  ///< HTTP/2 only (ALPN h2; prior knowledge in clear)
};

/// Global `address`: "host:port", ":port", "[v6]:port". An empty host means every interface
/// (IPv6 `::` with IPv4 mapped, or 0.0.0.0 when IPv6 is unavailable). Port 0 binds a free port.
struct ListenAddress {
  std::string host;
  uint16_t port = 443;

  /// "host:port" / "[::1]:port" / ":port".
  std::string toString() const;
};

/// One certificate/key pair from `certificates[]`, `certificate`/`certificate_key` or
/// `certificate_file`/`certificate_key_file`. Values are kept as written: each may be a file
/// path, inline PEM, or base64 of PEM; the tls component resolves them (an existing file path
/// is tried first) and reports problems at `cert_pos`/`key_pos`.
struct CertificateSource {
  std::string cert;
  std::string key;
  std::string cert_key;  ///< YAML path of the certificate value, e.g. "certificates[0].cert"
  std::string key_key;   ///< YAML path of the key value, e.g. "certificate_key_file"
  SourcePos cert_pos;
  SourcePos key_pos;
};

/// The `from` URL of a route (Pomerium route option). Host is lower-cased (host names compare
/// case-insensitively) and may contain '*' wildcards, each matching any run of characters
/// including dots (`*.example.com` matches `a.b.example.com`, never `example.com`).
struct FromUrl {
  std::string raw;
  std::string scheme;            ///< "https", "http", "tcp+https" or "tcp+http" (lower-case)
  std::string host;              ///< lower-case, IPv6 without brackets
  std::optional<uint16_t> port;  ///< only when written explicitly
  bool wildcard = false;         ///< host contains '*'
  /// tcp+https routes (TCP over HTTP CONNECT): the CONNECT authorities ("host:port",
  /// lower-case) the route answers — the URL's host:port, or each path segment of
  /// `tcp+https://proxy.example.com/db.internal:5432`. Empty for HTTP routes.
  std::vector<std::string> connect_authorities;
  bool tcp() const { return !connect_authorities.empty(); }
};

/// One `to` entry (Pomerium route option): "URL" or "URL,WEIGHT" split at the first comma.
struct UpstreamUrl {
  std::string raw;           ///< the URL part as written (without ",WEIGHT")
  std::string scheme;        ///< lower-case: http, https, h2c, ...
  std::string host;          ///< lower-case, IPv6 without brackets
  std::optional<uint16_t> port;
  uint16_t effective_port = 80;  ///< explicit port, else 443 for TLS schemes, else 80
  /// The upstream Host header by default: the URL's host[:port] exactly as written
  /// ("localhost:9002", "127.0.0.1:9001", "localhost", "[::1]:8080"), as Pomerium sends
  /// since pomerium/pomerium#5018.
  std::string authority;
  std::string path;         ///< raw path, "" when absent; only the first entry's path is used
  std::string unix_path;    ///< `unix:///run/app.sock`: the socket (then `path` is "")
  uint32_t weight = 0;      ///< 0 when no weight was given (then every entry has none)
};

/// One header setting from a `set_request_headers` / `set_response_headers` map, in file order.
struct HeaderSetting {
  std::string name;
  std::string value;
  std::string key;  ///< YAML path, e.g. "routes[0].set_request_headers.X-Foo"
  SourcePos pos;    ///< position of the header name
};

/// Route `redirect` (Pomerium route option; Envoy route.v3.RedirectAction).
struct RedirectAction {
  bool https_redirect = false;
  /// https_redirect was written (even as false): then it wins over scheme_redirect, as in
  /// Pomerium (which checks for presence), and false keeps the request's scheme.
  bool https_redirect_set = false;
  std::string scheme_redirect;          ///< "" keeps the request's scheme
  std::string host_redirect;            ///< "" keeps the request's host (and port rules)
  std::optional<uint32_t> port_redirect;
  std::optional<std::string> path_redirect;   ///< wins over prefix_rewrite
  std::optional<std::string> prefix_rewrite;  ///< replaces the route's matched prefix
  int response_code = 301;              ///< 301, 302, 303, 307 or 308
  bool strip_query = false;
};

/// Route `response` (Pomerium route option; Envoy direct_response): a direct response from
/// the proxy.
struct DirectResponse {
  int status = 200;  ///< 200..599 (Envoy's direct_response range)
  std::string body;
};

/// One `rewrite_response_headers` entry (Pomerium route option): when the response header
/// `header` exists and its value starts with `prefix`, the prefix is replaced by `value`.
struct ResponseHeaderRewrite {
  std::string header;
  std::string prefix;
  std::string value;
};

/// Route `lb_policy` / `load_balancing_policy` (Pomerium; Envoy Cluster.lb_policy): both
/// spellings, the five names case-insensitively (`ROUND_ROBIN`, `round_robin`,
/// `LOAD_BALANCING_POLICY_ROUND_ROBIN`).
enum class LbPolicy : uint8_t { RoundRobin, LeastRequest, Random, RingHash, Maglev };

/// `least_request_lb_config` (Envoy LeastRequest).
struct LeastRequestLbConfig {
  uint32_t choice_count = 2;                  ///< >= 2
  std::optional<double> active_request_bias;  ///< set → weighted mode weight/(active+1)^bias
};

/// `ring_hash_lb_config` (Envoy RingHash).
struct RingHashLbConfig {
  uint64_t minimum_ring_size = 1024;     ///< 1 <= min <= max
  uint64_t maximum_ring_size = 8388608;  ///< <= 8388608
  enum class HashFunction : uint8_t { XxHash, MurmurHash2 } hash_function = HashFunction::XxHash;
};

/// `maglev_lb_config` (Envoy Maglev).
struct MaglevLbConfig {
  uint64_t table_size = 65537;  ///< prime, <= 5000011
};

/// One route `hash_policy` entry, Envoy's RouteAction.HashPolicy shape: the request hash for
/// RING_HASH / MAGLEV. Without hash_policy the client IP is hashed.
struct HashPolicy {
  enum class Kind : uint8_t { Header, Cookie, QueryParameter, SourceIp } kind = Kind::Header;
  std::string name;  ///< header / cookie / query parameter name (empty for SourceIp)
  bool terminal = false;
};

/// A half-open status range [start, end) of `expected_statuses` / `retriable_statuses`.
struct StatusRange {
  int64_t start = 200;
  int64_t end = 201;

  bool operator==(const StatusRange&) const = default;
};

/// One `health_checks` entry (Pomerium route option; Envoy core.v3.HealthCheck). Payloads
/// are decoded bytes (from `text` hex or `binary` base64).
struct HealthCheck {
  std::string key;  ///< YAML path, e.g. "routes[0].health_checks[0]"
  SourcePos pos;
  Duration timeout{};   ///< required, > 0
  Duration interval{};  ///< required, > 0
  Duration initial_jitter{};
  Duration interval_jitter{};
  uint32_t interval_jitter_percent = 0;
  uint32_t unhealthy_threshold = 1;  ///< required
  uint32_t healthy_threshold = 1;    ///< required
  /// Vallum: unset means `interval` (checks run every interval from start-up); explicit values
  /// are honoured (Envoy's default is 60 s; docs/decisions.md).
  std::optional<Duration> no_traffic_interval;
  std::optional<Duration> no_traffic_healthy_interval;
  std::optional<Duration> unhealthy_interval;
  std::optional<Duration> unhealthy_edge_interval;
  std::optional<Duration> healthy_edge_interval;
  bool reuse_connection = true;
  std::optional<uint16_t> alt_port;

  enum class Kind : uint8_t { Http, Tcp } kind = Kind::Http;
  // http_health_check
  std::string http_path;  ///< required for Http
  std::string http_host;  ///< "" → the endpoint's `to` host[:port]
  std::vector<StatusRange> expected_statuses;   ///< empty → [200, 201)
  std::vector<StatusRange> retriable_statuses;
  enum class Codec : uint8_t { Http1, Http2 } codec_client_type = Codec::Http1;
  // tcp_health_check
  std::string tcp_send;                  ///< bytes; empty = connect only
  std::vector<std::string> tcp_receive;  ///< each must appear, in order

  /// Every field, the position in the file included.
  bool operator==(const HealthCheck&) const = default;
  /// Whether two checks probe the same way (every field but the position in the file): a
  /// reload keeps a checker whose checks are all the same.
  bool sameSetup(const HealthCheck& other) const {
    HealthCheck a = *this;
    HealthCheck b = other;
    a.key.clear();
    b.key.clear();
    a.pos = b.pos = SourcePos{};
    return a == b;
  }
};

/// Route `outlier_detection` (Pomerium route option; Envoy cluster.v3.OutlierDetection),
/// Envoy's defaults. Present (even `{}`) = enabled.
struct OutlierDetection {
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway_failure = 5;
  uint32_t consecutive_local_origin_failure = 5;
  Duration interval = 10s;
  Duration base_ejection_time = 30s;
  Duration max_ejection_time = 300s;
  Duration max_ejection_time_jitter = 0s;
  uint32_t max_ejection_percent = 10;
  uint32_t enforcing_consecutive_5xx = 100;
  uint32_t enforcing_consecutive_gateway_failure = 0;
  uint32_t enforcing_consecutive_local_origin_failure = 100;
  uint32_t enforcing_success_rate = 100;
  uint32_t enforcing_local_origin_success_rate = 100;
  uint32_t success_rate_minimum_hosts = 5;
  uint32_t success_rate_request_volume = 100;
  uint32_t success_rate_stdev_factor = 1900;  ///< / 1000
  uint32_t failure_percentage_threshold = 85;
  uint32_t enforcing_failure_percentage = 0;
  uint32_t enforcing_failure_percentage_local_origin = 0;
  uint32_t failure_percentage_minimum_hosts = 5;
  uint32_t failure_percentage_request_volume = 50;
  bool split_external_local_origin_errors = false;
  bool successful_active_health_check_uneject_host = true;
  bool always_eject_one_host = false;

  bool operator==(const OutlierDetection&) const = default;
};

/// Upstream TLS of a route (Pomerium route options tls_*). Certificate values are kept as
/// written (file path, inline PEM or base64 PEM); the tls component resolves them.
struct UpstreamTls {
  bool skip_verify = false;                ///< tls_skip_verify
  std::string server_name;                 ///< tls_upstream_server_name, else tls_server_name
  std::string custom_ca;                   ///< tls_custom_ca (base64 PEM) or tls_custom_ca_file
  std::string custom_ca_key;               ///< YAML path of the CA value, for messages
  SourcePos custom_ca_pos;
  std::string client_cert;                 ///< tls_client_cert(_file)
  std::string client_key;                  ///< tls_client_key(_file)
  std::string client_cert_key;
  SourcePos client_cert_pos;
  std::string client_key_key;              ///< YAML path of the key value, for messages
  SourcePos client_key_pos;
};

/// One `jwt_claims_headers` entry (Pomerium global option): the upstream gets header `header`
/// carrying claim `claim` of the identity JWT.
struct ClaimHeader {
  std::string header;
  std::string claim;
};

/// An absolute URL option (`authenticate_service_url`, `idp_provider_url`, ...), split.
struct AbsoluteUrl {
  std::string raw;
  std::string scheme;  ///< lower-case
  std::string host;    ///< lower-case, IPv6 without brackets
  std::optional<uint16_t> port;
  std::string authority;  ///< host[:port] as written
  std::string path;
  SourcePos pos;    ///< where the value is written
  std::string key;  ///< its YAML path, for messages
};

/// Sign-in and identity headers (Pomerium global options, all-in-one mode). Sign-in is on when
/// `authenticate_service_url` is set (Vallum then serves the authenticate host itself).
struct IdentityOptions {
  std::optional<AbsoluteUrl> authenticate_service_url;
  std::optional<AbsoluteUrl> signout_redirect_url;
  /// `idp_provider` as written, lower-case: oidc, or a provider that is OIDC underneath
  /// (google, okta, auth0, azure, cognito, gitlab, onelogin, ping).
  std::string idp_provider;
  std::optional<AbsoluteUrl> idp_provider_url;  ///< issuer (discovery at /.well-known/...)
  std::string idp_client_id;
  std::string idp_client_secret;
  /// Empty → the provider's default scopes (openid profile email offline_access; google,
  /// gitlab and cognito without offline_access).
  std::vector<std::string> idp_scopes;
  std::vector<HeaderSetting> idp_request_params;
  std::string cookie_name = "_pomerium";
  std::string cookie_domain;
  Duration cookie_expire = std::chrono::hours(14);
  bool cookie_secure = true;
  bool cookie_http_only = true;
  std::string cookie_same_site;  ///< "", "strict", "lax" or "none"
  /// `signing_key` / `signing_key_file`: PEM text (maybe base64-wrapped); empty → derived from
  /// shared_secret. Never logged.
  std::string signing_key;
  SourcePos signing_key_pos;
  std::string signing_key_key;
  std::vector<ClaimHeader> jwt_claims_headers;
  std::vector<std::string> jwt_groups_filter;
  bool jwt_issuer_uri = false;  ///< jwt_issuer_format: uri (default hostOnly)
  bool pass_identity_headers = false;
  bool show_error_details = false;
  /// runtime_flags.pomerium_jwt_endpoint: /.pomerium/jwt answers (default off, as Pomerium).
  bool pomerium_jwt_endpoint = false;
  /// google_cloud_serverless_authentication_service_account: a Google service-account key file
  /// (JSON, or base64 of it), read when the snapshot is built. Empty → the metadata server.
  /// Never logged.
  std::string gcp_service_account;
  SourcePos gcp_service_account_pos;
};

/// One route, from `policy:` (first) or `routes:` (then), in file order.
struct Route {
  size_t index = 0;  ///< position in Options::routes
  std::string key;   ///< YAML path of the route: "routes[3]", "policy[0]", "$POLICY[1]"
  SourcePos pos;     ///< position of the route's mapping node

  std::string name;
  std::string description;
  std::string logo_url;
  std::string id;
  FromUrl from;
  std::vector<UpstreamUrl> to;

  /// Path specifiers as written; precedence regex > path > prefix > "/" (as Pomerium builds
  /// the Envoy route match).
  std::string prefix;
  std::string path;
  std::string regex;  ///< RE2 syntax, full match of the path without query; validated at load
  std::optional<int64_t> regex_priority_order;

  /// `redirect` / `response` actions; when set they win over `to` (redirect first, as in
  /// Pomerium's buildRouteForPolicyAndMatch).
  std::optional<RedirectAction> redirect;
  std::optional<DirectResponse> response;

  /// Path rewrites (Pomerium route options), mutually exclusive. An empty prefix_rewrite
  /// counts as unset (as in Pomerium), so the to-path rule still applies; `vallum check` warns
  /// about it.
  std::string prefix_rewrite;
  std::string regex_rewrite_pattern;       ///< RE2, applied to the path only (query kept)
  std::string regex_rewrite_substitution;  ///< \1-style references

  /// Host header (Pomerium route options); precedence host_rewrite > host_rewrite_header >
  /// host_path_regex_rewrite_pattern > preserve_host_header > the `to` authority.
  bool preserve_host_header = false;
  std::string host_rewrite;
  std::string host_rewrite_header;
  std::string host_path_regex_rewrite_pattern;
  std::string host_path_regex_rewrite_substitution;

  /// Request headers (Pomerium route options). Host and pseudo-headers are dropped at load (with a
  /// warning); a name in both lists is set (set wins, with a warning).
  std::vector<HeaderSetting> set_request_headers;
  std::vector<std::string> remove_request_headers;
  /// Response headers: merged over the global set (Pomerium `set_response_headers`); key
  /// "disable" empties all.
  std::vector<HeaderSetting> set_response_headers;
  std::vector<ResponseHeaderRewrite> rewrite_response_headers;

  /// Upstream cluster (Pomerium's route cluster options).
  LbPolicy lb_policy = LbPolicy::RoundRobin;
  LeastRequestLbConfig least_request_lb_config;
  RingHashLbConfig ring_hash_lb_config;
  MaglevLbConfig maglev_lb_config;
  std::vector<HashPolicy> hash_policy;
  /// Percent of healthy hosts below which traffic goes to all hosts (Envoy default 50).
  uint32_t healthy_panic_threshold = 50;
  std::vector<HealthCheck> health_checks;
  std::optional<OutlierDetection> outlier_detection;
  UpstreamTls tls;

  /// Route `timeout`; unset → Options::default_upstream_timeout. 0 disables (Pomerium route
  /// option `timeout`).
  std::optional<Duration> timeout;
  SourcePos timeout_pos;  ///< position of the `timeout` value, for later warnings
  /// Route `idle_timeout`: no activity on a stream (or tunnel) for this long ends it; 0
  /// disables. Unset: see streamIdleTimeout().
  std::optional<Duration> idle_timeout;
  /// Upgrades the route allows (Pomerium `allow_websockets`, `allow_spdy`, `allow_upgrades`;
  /// see routeUpgrades()). allow_upgrades: lower-case tokens; unset → the global list.
  bool allow_websockets = false;
  bool allow_spdy = false;
  std::optional<std::vector<std::string>> allow_upgrades;
  bool allow_public_unauthenticated_access = false;

  /// Who may pass (Pomerium route options): the PPL `policy` as written (compiled by
  /// src/policy when the snapshot is built, with positions), and the legacy allow lists folded
  /// into it.
  std::shared_ptr<const yaml::Node> policy;
  bool allow_any_authenticated_user = false;
  bool cors_allow_preflight = false;
  std::vector<std::string> allowed_users;
  std::vector<std::string> allowed_domains;
  std::shared_ptr<const yaml::Node> allowed_idp_claims;
  /// Identity headers (route value wins over the global one when set).
  std::optional<bool> pass_identity_headers;
  std::optional<std::vector<std::string>> jwt_groups_filter;
  std::optional<bool> jwt_issuer_uri;
  std::optional<bool> show_error_details;
  /// enable_google_cloud_serverless_authentication: a Google-signed ID token for the upstream
  /// (audience https://<host of the last `to`>) in `Authorization: Bearer`.
  bool enable_google_cloud_serverless_authentication = false;
};

/// Effective upstream timeout of a route (Pomerium route option `timeout`): its `timeout`,
/// else the global default.
/// Zero means no timeout.
/// The upgrade tokens a route allows, lower case: its `allow_upgrades` (else the global list),
/// plus "websocket" with `allow_websockets` and "spdy/3.1" with `allow_spdy` (Pomerium builds
/// Envoy upgrade_configs this way; a token is matched case-insensitively).
std::vector<std::string> routeUpgrades(const Route& route,
                                       const std::vector<std::string>& global_upgrades);

/// Whether a route carries long-lived traffic (Pomerium: websockets allowed, tcp+https
/// routes): its `timeout` and `idle_timeout` then default to 0.
bool longLivedRoute(const Route& route, const std::vector<std::string>& global_upgrades);

/// The route `timeout`: as set (0 disables); unset → 0 for a long-lived route and for a route
/// that sets `idle_timeout` (Pomerium's route docs), else `default_upstream_timeout`.
Duration routeTimeout(const Route& route, Duration default_upstream_timeout,
                      bool long_lived = false);

/// The stream idle timeout of a route's HTTP streams: its `idle_timeout`; unset → 0 for a
/// long-lived route, else Envoy's stream_idle_timeout default (5 min). 0 disables.
Duration streamIdleTimeout(const Route& route, bool long_lived);

/// The idle timeout of a route's tunnels (after an upgrade): its `idle_timeout`, else none (0).
inline Duration tunnelIdleTimeout(const Route& route) {
  return route.idle_timeout.value_or(Duration{});
}

/// Global options (Pomerium's global settings) that Vallum implements, plus the routes.
struct Options {
  ListenAddress address;      ///< default ":443" (":80" with insecure_server and no port)
  bool insecure_server = false;
  CodecType codec_type = CodecType::Auto;
  std::vector<CertificateSource> certificates;

  Duration default_upstream_timeout = 30s;
  Duration timeout_read = 30s;    ///< whole downstream request must arrive within it; 0 = off
  Duration timeout_write = 0s;    ///< max stream duration; 0 = unlimited
  Duration timeout_idle = 5min;   ///< downstream connection idle timeout; 0 = off
  /// Global `allow_upgrades`: the upgrade tokens of routes without their own list (lower case).
  std::vector<std::string> allow_upgrades;

  bool normalize_path = true;
  bool merge_slashes = false;  ///< Vallum default false (route docs' "//" tip; docs/decisions.md)
  EscapedSlashesAction path_with_escaped_slashes_action = EscapedSlashesAction::RejectRequest;
  UnderscoresAction headers_with_underscores_action = UnderscoresAction::RejectRequest;
  bool skip_xff_append = false;

  std::string log_level = "info";

  /// Global `certificate_authority` / `certificate_authority_file`: extra trust roots for
  /// every upstream (Pomerium global option); a file path, inline PEM or base64 PEM. Empty =
  /// system roots.
  std::string certificate_authority;
  std::string certificate_authority_key;
  SourcePos certificate_authority_pos;

  /// Global `metrics_address` (Pomerium global option): Prometheus metrics at /metrics. Unset =
  /// disabled.
  std::optional<ListenAddress> metrics_address;

  /// Global `set_response_headers` (Pomerium global option). Unset → Pomerium's security defaults
  /// (X-Frame-Options, X-XSS-Protection, and Strict-Transport-Security when certificates are
  /// configured); setting the map replaces them; a key "disable" empties it.
  std::optional<std::vector<HeaderSetting>> set_response_headers;

  /// Decoded secrets (validated at load; used by sign-in later). Empty when not set.
  std::string shared_secret;
  std::string cookie_secret;

  IdentityOptions identity;

  std::vector<Route> routes;
};

}  // namespace vallum::config
