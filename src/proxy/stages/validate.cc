#include "proxy/stages/validate.h"

namespace vallum::proxy {

namespace {

/// The request's authority as received (RFC 9112 §3.2, §3.2.2; RFC 9113 §8.3.1), or an error.
StageStatus findAuthority(StreamContext& ctx) {
  const http::RequestHeaders& request = *ctx.request;
  const size_t host_fields = request.headers.count(http::HeaderId::Host);
  if (host_fields > 1) {
    return replyWith(ctx, 400, "multiple Host header fields", true);
  }
  if (request.http2()) {
    const std::optional<std::string_view> host = request.headers.get(http::HeaderId::Host);
    if (!request.authority.empty() && host && *host != request.authority) {
      return replyWith(ctx, 400, "Host header differs from :authority");
    }
    ctx.authority = !request.authority.empty() ? std::string_view(request.authority)
                                               : host.value_or(std::string_view());
    if (ctx.authority.empty()) {
      return replyWith(ctx, 400, "missing :authority");
    }
    return StageStatus::Continue;
  }
  if (host_fields == 0) {
    // Every HTTP/1.1 request carries Host, absolute-form ones too (RFC 9112 §3.2).
    return replyWith(ctx, 400, "missing Host header", true);
  }
  ctx.authority = ctx.target.absolute_form ? ctx.target.authority
                                           : *request.headers.get(http::HeaderId::Host);
  return StageStatus::Continue;
}

}  // namespace

StageStatus validateRequest(StreamContext& ctx) {
  http::RequestHeaders& request = *ctx.request;
  if (request.method == "CONNECT") {
    // The target is the authority (host:port), for tcp+https routes: HTTP/1.1's request-target
    // (RFC 9112 §3.2.3), HTTP/2's :authority (RFC 9113 §8.5; nghttp2 checked that :scheme and
    // :path are absent).
    const std::string_view text = request.http2() ? std::string_view(request.authority)
                                                  : std::string_view(request.target);
    http::Authority target;
    if (!http::parseAuthority(text, target) || !target.port ||
        !http::canonicalHost(target.host, ctx.host)) {
      return replyWith(ctx, 400, "invalid CONNECT target (host:port)", !request.http2());
    }
    ctx.connect = true;
    ctx.authority = text;
    ctx.port = *target.port;
    return StageStatus::Continue;
  }
  if (!http::parseRequestTarget(request.target, ctx.target) ||
      (request.http2() && ctx.target.absolute_form)) {
    return replyWith(ctx, 400, "invalid request-target");
  }
  if (const StageStatus status = findAuthority(ctx); status != StageStatus::Continue) {
    return status;
  }
  http::Authority authority;
  if (!http::parseAuthority(ctx.authority, authority) ||
      !http::canonicalHost(authority.host, ctx.host)) {
    return replyWith(ctx, 400, "invalid Host header", !request.http2());
  }
  ctx.port = authority.port.value_or(ctx.tls ? 443 : 80);
  // An HTTP/2 client may reuse a connection for another host (RFC 9113 §9.1.1); one whose
  // certificate does not cover this host is misdirected (RFC 9110 §15.5.20).
  if (request.http2() && ctx.tls_connection != nullptr && ctx.snapshot->tls != nullptr &&
      !ctx.snapshot->tls->covers(ctx.tls_connection, ctx.host)) {
    return replyWith(ctx, 421, "the connection's certificate does not cover this host");
  }

  // Header names with underscores (Pomerium's headers_with_underscores_action).
  const config::UnderscoresAction underscores =
      ctx.snapshot->options.headers_with_underscores_action;
  if (underscores != config::UnderscoresAction::Allow) {
    for (size_t i = 0; i < request.headers.fieldCount(); ++i) {
      if (request.headers.name(i).find('_') == std::string_view::npos) {
        continue;
      }
      if (underscores == config::UnderscoresAction::RejectRequest) {
        return replyWith(ctx, 400, "header name contains an underscore");
      }
      request.headers.remove(i);
    }
  }
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
