#include "proxy/request_pipeline.h"

#include <charconv>

#include "common/strings.h"
#include "http/status.h"

namespace vallum::proxy {

namespace {

constexpr std::string_view kCrlf = "\r\n";

Decision reply(RequestContext& ctx, int status, std::string_view details,
               bool force_close = false) {
  ctx.reply = ReplySpec{};
  ctx.reply.status = status;
  ctx.reply.details = details;
  ctx.reply.force_close = force_close;
  return Decision::Reply;
}

/// Field names listed in Connection (RFC 9110 §7.6.1) other than the connection options
/// close/keep-alive/upgrade: hop-by-hop fields, not forwarded.
void collectConnectionNominated(const http::HeaderMap& headers,
                                std::vector<std::string_view>& out) {
  out.clear();
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (!headers.live(i) || headers.id(i) != http::HeaderId::Connection) {
      continue;
    }
    strings::forEachListElement(headers.value(i), [&](std::string_view token) {
      if (!strings::iequals(token, "close") && !strings::iequals(token, "keep-alive") &&
          !strings::iequals(token, "upgrade")) {
        out.push_back(token);
      }
      return true;
    });
  }
}

bool isNominated(std::string_view name, const std::vector<std::string_view>& nominated) {
  for (std::string_view n : nominated) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

void appendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, size_t(result.ptr - buf));
}

}  // namespace

Decision decide(RequestContext& ctx, http::RequestHead& head) {
  const Snapshot& snap = *ctx.snapshot;
  if (head.method == "CONNECT") {
    // tcp+https routes are not built yet: a CONNECT never matches a route.
    return reply(ctx, 404, "route not found", /*force_close=*/true);
  }
  if (!http::parseRequestTarget(head.target, ctx.target)) {
    return reply(ctx, 400, "invalid request-target");
  }

  // Authority (RFC 9112 §3.2): an absolute-form target's authority wins over Host.
  const size_t host_fields = head.headers.count(http::HeaderId::Host);
  if (host_fields > 1) {
    return reply(ctx, 400, "multiple Host header fields", true);
  }
  if (ctx.target.absolute_form) {
    ctx.authority = ctx.target.authority;
  } else if (host_fields == 1) {
    ctx.authority = *head.headers.get(http::HeaderId::Host);
  } else {
    return reply(ctx, 400, "missing Host header", true);
  }
  http::Authority authority;
  if (!http::parseAuthority(ctx.authority, authority)) {
    return reply(ctx, 400, "invalid Host header", true);
  }
  std::string_view host = authority.host;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  ctx.host.assign(host);
  strings::lowerAsciiInPlace(ctx.host);
  ctx.port = authority.port.value_or(ctx.tls ? 443 : 80);

  // Header names with underscores (Pomerium's headers_with_underscores_action).
  if (snap.options.headers_with_underscores_action != config::UnderscoresAction::Allow) {
    for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
      if (head.headers.name(i).find('_') == std::string_view::npos) {
        continue;
      }
      if (snap.options.headers_with_underscores_action ==
          config::UnderscoresAction::RejectRequest) {
        return reply(ctx, 400, "header name contains an underscore");
      }
      head.headers.remove(i);
    }
  }

  // Path normalization, before matching and forwarding (dataplane-semantics §7.4).
  switch (http::normalizePath(ctx.target.path, snap.path_options, ctx.path_scratch, ctx.path)) {
    case http::PathResult::Ok:
      break;
    case http::PathResult::Invalid:
      return reply(ctx, 400, "invalid path");
    case http::PathResult::RejectEscapedSlash:
      return reply(ctx, 400, "escaped slash in path");
    case http::PathResult::RedirectUnescaped:
      ctx.reply_text.assign(ctx.path);
      if (ctx.target.has_query) {
        ctx.reply_text += '?';
        ctx.reply_text += ctx.target.query;
      }
      reply(ctx, 307, "escaped slashes in the path were unescaped");
      ctx.reply.location = ctx.reply_text;
      return Decision::Reply;
  }

  // Internal endpoints answer on every host, ahead of user routes (spec §3.2).
  const std::string_view path = ctx.path;
  if (path == "/ping" || path == "/healthz") {
    if (head.method != "GET" && head.method != "HEAD") {
      reply(ctx, 405, "method not allowed");
      ctx.reply.allow = "GET, HEAD";
      return Decision::Reply;
    }
    reply(ctx, 200, {});
    ctx.reply.simple = true;
    ctx.reply.simple_body = "OK\n";
    return Decision::Reply;
  }
  if (path == "/.pomerium" || path.starts_with("/.pomerium/") || path == "/.well-known/pomerium" ||
      path.starts_with("/.well-known/pomerium/")) {
    return reply(ctx, 404, "not found");
  }

  const uint32_t index = snap.table.match(ctx.host, ctx.port, path);
  if (index == router::RouteTable::kNoRoute) {
    return reply(ctx, 404, "route not found");
  }
  ctx.route_index = index;
  ctx.route = &snap.routes[index];

  // Authorization. Until sign-in exists only public routes pass; a route without a policy
  // denies everyone (spec §7: an empty allow rule is a 403, never a forward).
  if (!ctx.route->is_public) {
    return reply(ctx, 403, "access denied: no policy of this route allows the request");
  }
  return Decision::Forward;
}

void buildUpstreamRequestHead(const RequestContext& ctx, const http::RequestHead& head,
                              const upstream::Endpoint& endpoint, std::string_view client_ip,
                              std::string_view request_id, std::vector<std::string_view>& nominated,
                              std::string& out) {
  const RouteRuntime& route = *ctx.route;
  const config::Options& options = ctx.snapshot->options;
  out += head.method;
  out += ' ';
  // The first `to` URL's path replaces the matched part of the path (spec §2.2).
  if (!route.to_path.empty()) {
    out += route.to_path;
    if (route.match_kind == RouteRuntime::MatchKind::Prefix) {
      out += ctx.path.substr(route.match_prefix.size());
    }
  } else {
    out += ctx.path;
  }
  if (ctx.target.has_query) {
    out += '?';
    out += ctx.target.query;
  }
  out += " HTTP/1.1\r\nHost: ";
  out += endpoint.authority;
  out += kCrlf;

  collectConnectionNominated(head.headers, nominated);
  size_t xff_fields = 0;
  size_t xfh_fields = 0;
  for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
    if (!head.headers.live(i)) {
      continue;
    }
    switch (head.headers.id(i)) {
      case http::HeaderId::Host:
      case http::HeaderId::Connection:
      case http::HeaderId::KeepAlive:
      case http::HeaderId::ProxyConnection:
      case http::HeaderId::Upgrade:
      case http::HeaderId::TransferEncoding:
      case http::HeaderId::ContentLength:
      case http::HeaderId::Trailer:
      case http::HeaderId::Expect:           // answered by the proxy
      case http::HeaderId::XForwardedProto:  // overwritten
      case http::HeaderId::XRequestId:       // replaced
        continue;
      case http::HeaderId::Te:
        if (!strings::iequals(head.headers.value(i), "trailers")) {
          continue;
        }
        break;
      case http::HeaderId::XForwardedFor:
        if (!options.skip_xff_append) {
          ++xff_fields;  // re-emitted below as one field with the client appended
          continue;
        }
        break;
      case http::HeaderId::XForwardedHost:
        ++xfh_fields;  // re-emitted below with the original host appended
        continue;
      default:
        if (!nominated.empty() && isNominated(head.headers.name(i), nominated)) {
          continue;
        }
        break;
    }
    out += head.headers.name(i);
    out += ": ";
    out += head.headers.value(i);
    out += kCrlf;
  }

  auto appendJoined = [&](http::HeaderId id, size_t count) {
    if (count == 0) {
      return;
    }
    for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
      if (head.headers.live(i) && head.headers.id(i) == id) {
        out += head.headers.value(i);
        out += ", ";
      }
    }
  };
  // X-Forwarded-For: previous hops, then the client (Envoy use_remote_address, spec §3.4).
  if (!options.skip_xff_append) {
    out += "X-Forwarded-For: ";
    appendJoined(http::HeaderId::XForwardedFor, xff_fields);
    out += client_ip;
    out += kCrlf;
  }
  out += ctx.tls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n";
  // X-Forwarded-Host: the original host appended (append_x_forwarded_host, spec §2.8).
  out += "X-Forwarded-Host: ";
  appendJoined(http::HeaderId::XForwardedHost, xfh_fields);
  out += ctx.authority;
  out += kCrlf;
  out += "X-Request-Id: ";
  out += request_id;
  out += kCrlf;
  switch (head.framing) {
    case http::BodyFraming::ContentLength:
      out += "Content-Length: ";
      appendUint(out, head.content_length);
      out += kCrlf;
      break;
    case http::BodyFraming::Chunked:
      out += "Transfer-Encoding: chunked\r\n";
      break;
    default:
      // An announced empty body stays announced (a POST with Content-Length: 0).
      if (head.headers.count(http::HeaderId::ContentLength) > 0) {
        out += "Content-Length: 0\r\n";
      }
      break;
  }
  out += kCrlf;
}

namespace {

bool isResponseHop(http::HeaderId id) {
  switch (id) {
    case http::HeaderId::Connection:
    case http::HeaderId::KeepAlive:
    case http::HeaderId::ProxyConnection:
    case http::HeaderId::TransferEncoding:
    case http::HeaderId::ContentLength:  // re-stated from the framing
    case http::HeaderId::Upgrade:
    case http::HeaderId::Te:
    case http::HeaderId::Trailer:
      return true;
    default:
      return false;
  }
}

}  // namespace

OutFraming buildResponseHead(const http::ResponseHead& response, const http::RequestHead& request,
                             bool head_request, bool& keep_alive, std::string_view request_id,
                             std::vector<std::string_view>& nominated, std::string& out) {
  const bool client_http10 = request.version_major == 1 && request.version_minor == 0;
  OutFraming framing = OutFraming::None;
  switch (response.framing) {
    case http::BodyFraming::None:
      framing = OutFraming::None;
      break;
    case http::BodyFraming::ContentLength:
      framing = OutFraming::Length;
      break;
    case http::BodyFraming::Chunked:
    case http::BodyFraming::CloseDelimited:
      framing = client_http10 ? OutFraming::Close : OutFraming::Chunked;
      break;
  }
  if (framing == OutFraming::Close) {
    keep_alive = false;
  }
  out += "HTTP/1.1 ";
  appendUint(out, uint64_t(response.status));
  out += ' ';
  out += response.reason.empty() ? http::reasonPhrase(response.status)
                                 : std::string_view(response.reason);
  out += kCrlf;
  collectConnectionNominated(response.headers, nominated);
  bool has_request_id = false;
  for (size_t i = 0; i < response.headers.fieldCount(); ++i) {
    const http::HeaderId id = response.headers.id(i);
    if (isResponseHop(id) ||
        (!nominated.empty() && isNominated(response.headers.name(i), nominated))) {
      continue;
    }
    has_request_id = has_request_id || id == http::HeaderId::XRequestId;
    out += response.headers.name(i);
    out += ": ";
    out += response.headers.value(i);
    out += kCrlf;
  }
  if (!has_request_id) {
    out += "x-request-id: ";
    out += request_id;
    out += kCrlf;
  }
  switch (framing) {
    case OutFraming::Length:
      out += "content-length: ";
      appendUint(out, response.content_length);
      out += kCrlf;
      break;
    case OutFraming::Chunked:
      out += "transfer-encoding: chunked\r\n";
      break;
    case OutFraming::None:
      if (head_request || response.status == 304) {
        // Describes the representation, not this empty message (RFC 9110 §8.6).
        if (response.headers.count(http::HeaderId::ContentLength) > 0) {
          out += "content-length: ";
          appendUint(out, response.content_length);
          out += kCrlf;
        }
      } else if (response.status != 204 && response.status >= 200) {
        out += "content-length: 0\r\n";  // never leave an empty body close-delimited
      }
      break;
    case OutFraming::Close:
      break;
  }
  if (!keep_alive) {
    out += "connection: close\r\n";
  } else if (client_http10) {
    out += "connection: keep-alive\r\n";
  }
  out += kCrlf;
  return framing;
}

}  // namespace vallum::proxy
