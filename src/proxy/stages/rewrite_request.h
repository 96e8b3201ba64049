#pragma once

#include <string>
#include <string_view>

#include "http/path.h"
#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Request fields a client must never hand to an upstream, whatever the route says: Pomerium's
/// namespace `X-Pomerium-*` (the identity assertion, `X-Pomerium-Claim-*` claim headers,
/// internal hop headers; Pomerium's identity headers — sign-in sets its own), Envoy's control and
/// internal headers `X-Envoy-*` (`X-Envoy-Internal`, `X-Envoy-Original-Path`, retry and timeout
/// overrides: an edge proxy strips them, Envoy's HCM header sanitizing), and credentials meant for
/// Pomerium itself (`Authorization: Pomerium …`). Names compare case-insensitively.
bool isReservedRequestHeader(std::string_view name, std::string_view value);

/// The upstream request path for a forwarded request (Pomerium's `to` path and path rewrites):
/// prefix_rewrite replaces the matched prefix (the whole path for path/regex routes), a regex
/// rewrite replaces every match (RE2 GlobalReplace, `\1` references) in the path, the `to`
/// path acts as a prefix rewrite; the query is re-appended unchanged. Appends to `out`.
void appendUpstreamPath(const RouteRuntime& route, std::string_view path,
                        const http::RequestTarget& target, std::string& out);

/// Stage 11: composes ctx.upstream, the request the forward step sends (Pomerium's path, Host
/// and header route options; Envoy's header handling):
/// * the path rewritten (appendUpstreamPath) and the original query;
/// * the upstream Host: `host_rewrite` (a literal), `host_rewrite_header` (that request
///   header's value; absent or empty → the request's authority, as Envoy),
///   `host_path_regex_rewrite_*` (the path rewritten), `preserve_host_header` (the request's
///   authority), else the endpoint's `to` authority (set by the forward step). A computed
///   value that is not a valid `host[:port]` (RFC 3986 §3.2.2: "a b/c@d", empty) → 400;
/// * the client's fields in order minus hop-by-hop ones (Connection and the fields it names,
///   Keep-Alive, Proxy-Connection, Upgrade, Transfer-Encoding, TE unless "trailers", Trailer),
///   minus Expect (the proxy answers it), (an allowed upgrade re-states `Connection: upgrade`
///   and its `Upgrade`), minus isReservedRequestHeader() fields, minus the
///   route's remove_request_headers and the names it sets; Max-Forwards of TRACE/OPTIONS
///   decremented (RFC 9110 §7.6.2);
/// * X-Forwarded-For with the client address appended (unless `skip_xff_append`),
///   X-Forwarded-Proto set, X-Forwarded-Host with the original authority appended when the
///   Host is rewritten, X-Request-Id set — each unless the route removes it;
/// * the identity headers (pass_identity_headers) and, on Google Cloud serverless routes,
///   `Authorization: Bearer <Google ID token>` in place of the client's Authorization;
/// * set_request_headers rendered (overwrite; an empty result sends nothing);
/// * the framing of the request body (re-stated by the client codec).
StageStatus rewriteRequest(StreamContext& ctx);

}  // namespace vallum::proxy
