#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http1/parser.h"
#include "http/path.h"
#include "proxy/snapshot.h"
#include "upstream/cluster.h"

/// The request stages of ARCHITECTURE.md §2 that need no I/O, as plain functions over a
/// RequestContext: validate the target and authority, apply the header-name policy, normalize
/// the path, answer internal endpoints, match the route, authorize. Then the builders of the
/// upstream request head and the downstream response head. The connection (http1_connection.cc)
/// only moves bytes between them.
namespace vallum::proxy {

/// A reply the proxy writes itself.
struct ReplySpec {
  /// What kind of body: an error page (HTML/JSON/plain by Accept), a fixed plain-text body
  /// (/ping, route `response`), or none (route `redirect`: status, Location, empty body).
  enum class Kind : uint8_t { ErrorPage, Text, Redirect } kind = Kind::ErrorPage;
  int status = 0;
  std::string_view details;
  /// Close the connection after the reply even if the request could allow keep-alive
  /// (framing errors: the rest of the stream cannot be trusted).
  bool force_close = false;
  std::string_view location;  ///< for redirects
  std::string_view allow;     ///< for 405
  std::string_view body;      ///< Kind::Text
  /// Kind::Text with a body: its media type (empty → text/plain; charset=utf-8).
  std::string_view content_type;
  /// When set, the server logs it with the reply (why a request was refused, with details the
  /// client is not shown, such as route names).
  std::string_view log_reason;
};

/// What the pipeline decided for one request.
enum class Decision : uint8_t { Forward, Reply };

/// Per-request state shared by the stages. Owned by the connection and reused from request to
/// request (the strings keep their capacity). Views point into the request head, the snapshot,
/// or the context's own strings.
struct RequestContext {
  const Snapshot* snapshot = nullptr;
  bool tls = false;

  // Filled by decide().
  std::string_view authority;  ///< Host (or absolute-form authority) as received
  std::string host;            ///< lower-case, no port, no IPv6 brackets
  uint16_t port = 0;           ///< explicit, else 443 (TLS) / 80
  http::RequestTarget target;
  std::string path_scratch;
  std::string_view path;  ///< normalized, without query
  std::string merged_path;  ///< scratch: `path` with adjacent slashes merged (route check)
  uint32_t route_index = 0;
  const RouteRuntime* route = nullptr;
  /// Forwarded requests: the upstream Host unless the route uses the endpoint's authority
  /// (RouteRuntime::HostRewrite::Endpoint), and whether it differs from the request's
  /// authority (X-Forwarded-Host then gets the original appended).
  std::string_view upstream_host;
  std::string upstream_host_scratch;
  bool host_rewritten = true;
  ReplySpec reply;
  std::string reply_text;  ///< storage for reply.details/location/body when computed

  void reset(const Snapshot* s, bool is_tls) {
    snapshot = s;
    tls = is_tls;
    authority = {};
    route = nullptr;
    route_index = 0;
    reply = ReplySpec{};
  }
};

/// Runs the no-I/O stages in order for a complete request head. Returns Forward with
/// ctx.route set, or Reply with ctx.reply filled:
/// * CONNECT (no tcp+https routes yet) → 404; invalid target → 400 (RFC 9112 §3.2);
/// * no Host field (absolute-form targets included), several, or an invalid one → 400
///   (RFC 9112 §3.2; an absolute-form target's authority is used instead of Host, §3.2.2);
///   an IPv6 literal is matched in canonical form ("[0:0:0:0:0:0:0:1]" is "[::1]") and a
///   malformed one ("[:::1]") → 400;
/// * a header name with '_' → 400 or dropped (`headers_with_underscores_action`);
/// * path: bad bytes → 400, %2F/%5C → 400 / kept / unescaped / 307 redirect
///   (`path_with_escaped_slashes_action`), escaped unreserved characters decoded and dot
///   segments removed (`normalize_path`), "//" kept unless `merge_slashes`
///   (dataplane-semantics §7.4);
/// * /ping, /healthz on every host: GET/HEAD 200 "OK\n", else 405; /.pomerium[/…] and
///   /.well-known/pomerium[/…] → 404 (reserved for sign-in; never forwarded);
/// * TRACE/OPTIONS with `Max-Forwards: 0` → answered by the proxy (RFC 9110 §7.6.2);
/// * no route → 404; with `merge_slashes` off, a path whose merged form selects another route
///   than the path as written → 400 ("//admin" cannot reach a catch-all past "/admin");
/// * a route that is not `allow_public_unauthenticated_access` → 403 (spec §7: with no policy
///   nobody is allowed);
/// * a `redirect` route → its status with Location (buildRedirectLocation); a `response`
///   route → its status and body. Both only after authorization, as in Pomerium;
/// * a forwarded request whose rewritten Host (host_rewrite_header, host_path_regex_rewrite)
///   is not a valid host → 400.
Decision decide(RequestContext& ctx, http::RequestHeaders& head);

/// The Location of a `redirect` route (Envoy RedirectAction, dataplane-semantics §5.3):
/// scheme = https if https_redirect, else scheme_redirect, else the request's; authority =
/// host_redirect (the request's port dropped) or the request's, whose explicit default port
/// for the original scheme is dropped when the scheme changes; port_redirect always written;
/// path = path_redirect (its own query replaces the request's, even with strip_query), else
/// prefix_rewrite of the matched prefix, else the (normalized) request path; the request's
/// query unless strip_query.
std::string buildRedirectLocation(const config::RedirectAction& redirect, const RouteRuntime& route,
                                  bool tls, std::string_view authority, std::string_view path,
                                  const http::RequestTarget& target);

/// The upstream request path for a forwarded request (spec §2.2, §2.5): prefix_rewrite
/// replaces the matched prefix (the whole path for path/regex routes), a regex rewrite
/// replaces every match (RE2 GlobalReplace, `\1` references) in the path, the `to` path acts as
/// a prefix rewrite; the query is re-appended unchanged. Appends to `out`.
void appendUpstreamPath(const RouteRuntime& route, std::string_view path,
                        const http::RequestTarget& target, std::string& out);

/// Request fields a client must never hand to an upstream, whatever the route says: Pomerium's
/// namespace `X-Pomerium-*` (the identity assertion, `X-Pomerium-Claim-*` claim headers,
/// internal hop headers; spec pomerium-routes §9.3 — sign-in sets its own), Envoy's control and
/// internal headers `X-Envoy-*` (`X-Envoy-Internal`, `X-Envoy-Original-Path`, retry and timeout
/// overrides: an edge proxy strips them, dataplane-semantics §7.2), and credentials meant for
/// Pomerium itself (`Authorization: Pomerium …`). Names compare case-insensitively.
bool isReservedRequestHeader(std::string_view name, std::string_view value);

/// Appends the upstream request head (RFC 9112) for a forwarded request to `out`:
/// request line with the rewritten path (the first `to` URL's path replaces the matched prefix,
/// spec §2.2) and the original query; `Host` = the endpoint's authority (spec §2.8); the
/// client's fields in order minus hop-by-hop ones (Connection and the fields it names,
/// Keep-Alive, Proxy-Connection, Upgrade, Transfer-Encoding, TE unless "trailers", Trailer),
/// minus Expect (answered by the proxy), minus isReservedRequestHeader() fields; Max-Forwards of
/// TRACE/OPTIONS decremented (RFC 9110 §7.6.2); X-Forwarded-For with the client address appended
/// (unless `skip_xff_append`), X-Forwarded-Proto set, X-Forwarded-Host with the original
/// authority appended, X-Request-Id set; framing re-stated (Content-Length or chunked).
/// `nominated` is scratch space.
void buildUpstreamRequestHead(const RequestContext& ctx, const http::RequestHeaders& head,
                              const upstream::Endpoint& endpoint, std::string_view client_ip,
                              std::string_view request_id, std::vector<std::string_view>& nominated,
                              std::string& out);

/// The request hash for RING_HASH / MAGLEV (dataplane §1.6): the route's hash_policy entries in
/// order (header: every value, sorted, chained XXH64; cookie: its value; query_parameter: its
/// first value; source_ip: the client address), combined as rotl(h, 1) ^ h_new, stopping after
/// a `terminal` entry that produced a hash; without hash_policy, XXH64 of the client address.
/// nullopt when no entry produced a hash (the balancer then picks at random, as Envoy).
std::optional<uint64_t> requestHash(const RequestContext& ctx, const http::RequestHeaders& head,
                                    std::string_view client_ip);

/// How the response body is framed towards the client.
enum class OutFraming : uint8_t { None, Length, Chunked, Close };

/// Appends the downstream response head for an upstream response to `out` and returns the
/// framing to use: the upstream's Content-Length is kept; chunked or close-delimited bodies
/// are re-chunked for HTTP/1.1 clients and close-delimited for HTTP/1.0 ones; hop-by-hop
/// fields (and those named in Connection) are dropped; the route's rewrite_response_headers
/// replace a value's prefix (first value examined, the whole field replaced, names matched
/// case-insensitively) and its response headers are set (overwrite or add); x-request-id is
/// added unless the upstream set one; `connection: close` when `keep_alive` is false.
/// `keep_alive` is set to false when the framing forces a close.
OutFraming buildResponseHead(const http::ResponseHeaders& response, const http::RequestHeaders& request,
                             const RouteRuntime& route, bool head_request, bool& keep_alive,
                             std::string_view request_id, std::vector<std::string_view>& nominated,
                             std::string& out);

}  // namespace vallum::proxy
