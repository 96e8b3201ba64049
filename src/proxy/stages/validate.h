#pragma once

#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// Stage 1: the request is well-formed enough to route (RFC 9112 §3.2, RFC 9113 §8.3.1).
/// * CONNECT: the target (HTTP/1.1's request-target, HTTP/2's :authority) must be `host:port`
///   (else 400; HTTP/1.1 closes the connection); ctx.connect, ctx.authority (the target),
///   ctx.host, ctx.port are set and the other checks skipped;
/// * a request-target that is not origin- or absolute-form → 400;
/// * the authority: an absolute-form target's, else HTTP/2 `:authority` (a `host` field that
///   disagrees with it → 400), else the one `Host` field (none or several → 400); invalid,
///   or a malformed IPv6 literal → 400. Sets ctx.authority, ctx.host (canonical), ctx.port;
/// * HTTP/2 over TLS: a host the connection's certificate does not cover → 421;
/// * a header name with '_' → 400 or the field dropped (`headers_with_underscores_action`).
StageStatus validateRequest(StreamContext& ctx);

}  // namespace vallum::proxy
