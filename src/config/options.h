#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/duration.h"

/// Plain data decoded from a Pomerium-style config.yaml (spec pomerium-routes.md §1, §2, §6).
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

/// The `from` URL of a route (spec §2.1). Host is lower-cased (host names compare
/// case-insensitively) and may contain '*' wildcards, each matching any run of characters
/// including dots (`*.example.com` matches `a.b.example.com`, never `example.com`).
struct FromUrl {
  std::string raw;
  std::string scheme;            ///< "https" or "http" (lower-case)
  std::string host;              ///< lower-case, IPv6 without brackets
  std::optional<uint16_t> port;  ///< only when written explicitly
  bool wildcard = false;         ///< host contains '*'
};

/// One `to` entry (spec §2.2): "URL" or "URL,WEIGHT" split at the first comma.
struct UpstreamUrl {
  std::string raw;           ///< the URL part as written (without ",WEIGHT")
  std::string scheme;        ///< lower-case: http, https, h2c, ...
  std::string host;          ///< lower-case, IPv6 without brackets
  std::optional<uint16_t> port;
  uint16_t effective_port = 80;  ///< explicit port, else 443 for TLS schemes, else 80
  /// The upstream Host header by default: the URL's host[:port] exactly as written
  /// ("localhost:9002", "127.0.0.1:9001", "localhost", "[::1]:8080"); spec §2.8.
  std::string authority;
  std::string path;         ///< raw path, "" when absent; only the first entry's path is used
  uint32_t weight = 0;      ///< 0 when no weight was given (then every entry has none)
};

/// One header setting from a `set_request_headers` / `set_response_headers` map, in file order.
struct HeaderSetting {
  std::string name;
  std::string value;
  std::string key;  ///< YAML path, e.g. "routes[0].set_request_headers.X-Foo"
  SourcePos pos;    ///< position of the header name
};

/// Route `redirect` (spec §2.3; Envoy RedirectAction, dataplane-semantics §5.3).
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

/// Route `response` (spec §2.3): a direct response from the proxy.
struct DirectResponse {
  int status = 200;  ///< 200..599 (Envoy's direct_response range)
  std::string body;
};

/// One `rewrite_response_headers` entry (spec §2.9): when the response header `header` exists
/// and its value starts with `prefix`, the prefix is replaced by `value`.
struct ResponseHeaderRewrite {
  std::string header;
  std::string prefix;
  std::string value;
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

  /// Path specifiers as written; precedence regex > path > prefix > "/" (spec §2.4).
  std::string prefix;
  std::string path;
  std::string regex;  ///< RE2 syntax, full match of the path without query; validated at load
  std::optional<int64_t> regex_priority_order;

  /// `redirect` / `response` actions; when set they win over `to` (redirect first, spec §2.3).
  std::optional<RedirectAction> redirect;
  std::optional<DirectResponse> response;

  /// Path rewrites (spec §2.5), mutually exclusive. An empty prefix_rewrite counts as unset
  /// (as in Pomerium), so the to-path rule still applies; `vallum check` warns about it.
  std::string prefix_rewrite;
  std::string regex_rewrite_pattern;       ///< RE2, applied to the path only (query kept)
  std::string regex_rewrite_substitution;  ///< \1-style references

  /// Host header (spec §2.8); precedence host_rewrite > host_rewrite_header >
  /// host_path_regex_rewrite_pattern > preserve_host_header > the `to` authority.
  bool preserve_host_header = false;
  std::string host_rewrite;
  std::string host_rewrite_header;
  std::string host_path_regex_rewrite_pattern;
  std::string host_path_regex_rewrite_substitution;

  /// Request headers (spec §2.9). Host and pseudo-headers are dropped at load (with a
  /// warning); a name in both lists is set (set wins, with a warning).
  std::vector<HeaderSetting> set_request_headers;
  std::vector<std::string> remove_request_headers;
  /// Response headers: merged over the global set (spec §2.9); key "disable" empties all.
  std::vector<HeaderSetting> set_response_headers;
  std::vector<ResponseHeaderRewrite> rewrite_response_headers;

  /// Route `timeout`; unset → Options::default_upstream_timeout. 0 disables (spec §2.6).
  std::optional<Duration> timeout;
  SourcePos timeout_pos;  ///< position of the `timeout` value, for later warnings
  bool allow_public_unauthenticated_access = false;
};

/// Effective upstream timeout of a route (spec §2.6): its `timeout`, else the global default.
/// Zero means no timeout.
Duration routeTimeout(const Route& route, Duration default_upstream_timeout);

/// Global options (spec §6) that Vallum implements, plus the routes.
struct Options {
  ListenAddress address;      ///< default ":443" (":80" with insecure_server and no port)
  bool insecure_server = false;
  std::vector<CertificateSource> certificates;

  Duration default_upstream_timeout = 30s;
  Duration timeout_read = 30s;    ///< whole downstream request must arrive within it; 0 = off
  Duration timeout_write = 0s;    ///< max stream duration; 0 = unlimited
  Duration timeout_idle = 5min;   ///< downstream connection idle timeout; 0 = off

  bool normalize_path = true;
  bool merge_slashes = false;  ///< Vallum default false (route docs' "//" tip), spec §6
  EscapedSlashesAction path_with_escaped_slashes_action = EscapedSlashesAction::RejectRequest;
  UnderscoresAction headers_with_underscores_action = UnderscoresAction::RejectRequest;
  bool skip_xff_append = false;

  std::string log_level = "info";

  /// Global `set_response_headers` (spec §2.9). Unset → Pomerium's security defaults
  /// (X-Frame-Options, X-XSS-Protection, and Strict-Transport-Security when certificates are
  /// configured); setting the map replaces them; a key "disable" empties it.
  std::optional<std::vector<HeaderSetting>> set_response_headers;

  /// Decoded secrets (validated at load; used by sign-in later). Empty when not set.
  std::string shared_secret;
  std::string cookie_secret;

  std::vector<Route> routes;
};

}  // namespace vallum::config
