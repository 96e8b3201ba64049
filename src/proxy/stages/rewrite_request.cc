#include "proxy/stages/rewrite_request.h"

#include <algorithm>

#include <re2/re2.h>

#include "common/strings.h"
#include "http/hop_by_hop.h"
#include "proxy/cookies.h"
#include "proxy/google_id_tokens.h"
#include "proxy/identity_headers.h"
#include "proxy/sign_in_state.h"
#include "proxy/worker.h"

namespace vallum::proxy {

bool isReservedRequestHeader(std::string_view name, std::string_view value) {
  if (name.size() > 8 && (name[0] == 'x' || name[0] == 'X') && name[1] == '-') {
    return strings::istartsWith(name, "x-pomerium-") || strings::istartsWith(name, "x-envoy-");
  }
  return name.size() == 13 && strings::iequals(name, "authorization") &&
         strings::istartsWith(value, "Pomerium ");
}

void appendUpstreamPath(const RouteRuntime& route, std::string_view path,
                        const http::RequestTarget& target, std::string& out) {
  switch (route.path_rewrite) {
    case RouteRuntime::PathRewrite::None:
      out += path;
      break;
    case RouteRuntime::PathRewrite::Prefix:
      // The matched part is replaced: the prefix for prefix routes, everything for path and
      // regex routes (Envoy prefix_rewrite semantics).
      out += route.prefix_rewrite;
      if (route.match_kind == RouteRuntime::MatchKind::Prefix) {
        out += path.substr(std::min(path.size(), route.match_prefix.size()));
      }
      break;
    case RouteRuntime::PathRewrite::Regex: {
      std::string rewritten(path);
      re2::RE2::GlobalReplace(&rewritten, *route.path_regex, route.path_substitution);
      out += rewritten;
      break;
    }
  }
  if (target.has_query) {
    out += '?';
    out += target.query;
  }
}

namespace {

bool inList(std::string_view name, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return strings::iequals(n, name); });
}

bool isSetHeader(std::string_view name, const RouteRuntime& route) {
  for (const auto& [n, value] : route.set_request_headers) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

/// Renders a set_request_headers template; references read the client's request headers and
/// the identity (the assertion, the session's tokens; empty when anonymous).
void renderTemplate(StreamContext& ctx, const HeaderTemplate& t, const http::HeaderMap& headers,
                    std::string& out) {
  using Ref = HeaderTemplate::IdentityRef;
  for (const HeaderTemplate::Piece& piece : t.pieces) {
    if (piece.identity != Ref::None) {
      if (ctx.snapshot->identity == nullptr) {
        continue;
      }
      const SignInState* st = ctx.sign_in.get();
      const bool signed_in = st != nullptr && st->signed_in;
      if (piece.identity == Ref::Jwt) {
        out += identityJwt(ctx, ctx.route);
      } else if (signed_in && piece.identity == Ref::IdToken) {
        out += st->session.id_token;
      } else if (signed_in && piece.identity == Ref::AccessToken) {
        out += st->session.access_token;
      }
    } else if (!piece.header_ref) {
      out += piece.text;
    } else if (auto value = headers.get(piece.text)) {
      out += *value;
    }
  }
}

/// The session cookies Vallum sets (route, authenticate host, CSRF; with their chunks) never
/// reach an upstream (Pomerium's clean-upstream filter): the Cookie field is re-joined without
/// them. Returns false when nothing is left to send.
bool appendCleanCookie(const IdentityRuntime& id, std::string_view value, std::string& out) {
  auto ours = [&](std::string_view name) {
    return isChunkOf(name, id.cookie_name) || isChunkOf(name, id.authenticate_cookie_name) ||
           name == id.csrf_cookie_name;
  };
  appendCookiesWithout(value, ours, out);
  return !out.empty();
}

/// Max-Forwards of a forwarded TRACE/OPTIONS: the received value minus one (RFC 9110 §7.6.2);
/// an unparsable value is forwarded as received.
void appendMaxForwards(std::string_view value, std::string& out) {
  const std::optional<uint64_t> hops = strings::parseDecimal(strings::trimOws(value));
  if (!hops || *hops == 0) {
    out += value;
    return;
  }
  strings::appendDecimal(out, *hops - 1);
}

/// See rewriteRequest(): false when the computed Host is not a host.
bool resolveUpstreamHost(StreamContext& ctx) {
  const RouteRuntime& route = *ctx.route;
  ctx.host_rewritten = true;
  ctx.upstream_host = {};
  switch (route.host_rewrite) {
    case RouteRuntime::HostRewrite::Endpoint:
      return true;
    case RouteRuntime::HostRewrite::Literal:
      ctx.upstream_host = route.host_value;
      return true;
    case RouteRuntime::HostRewrite::Header: {
      auto value = ctx.request->headers.get(route.host_value);
      if (value && !value->empty()) {
        ctx.upstream_host = *value;
      } else {
        ctx.upstream_host = ctx.authority;
        ctx.host_rewritten = false;
      }
      break;
    }
    case RouteRuntime::HostRewrite::PathRegex:
      ctx.upstream_host_scratch.assign(ctx.path);
      re2::RE2::GlobalReplace(&ctx.upstream_host_scratch, *route.host_regex,
                              route.host_substitution);
      ctx.upstream_host = ctx.upstream_host_scratch;
      break;
    case RouteRuntime::HostRewrite::Preserve:
      ctx.upstream_host = ctx.authority;
      ctx.host_rewritten = false;
      return true;
  }
  http::Authority parsed;
  return http::parseAuthority(ctx.upstream_host, parsed);
}

/// The client's fields as the upstream gets them, then the fields the proxy generates.
void composeHeaders(StreamContext& ctx) {
  const RouteRuntime& route = *ctx.route;
  const http::RequestHeaders& request = *ctx.request;
  const http::HeaderMap& fields = request.headers;
  const bool skip_xff_append = ctx.snapshot->options.skip_xff_append;
  const bool has_policy =
      !route.remove_request_headers.empty() || !route.set_request_headers.empty();
  const bool max_forwards_applies = request.method == "TRACE" || request.method == "OPTIONS";
  const IdentityRuntime* identity = ctx.snapshot->identity.get();
  const bool serverless = !route.gcp_audience.empty() && identity != nullptr;
  http::HeaderList& out = ctx.upstream.headers;
  std::vector<std::string_view>& nominated = ctx.nominated;
  http::collectConnectionNominated(fields, nominated);
  size_t xff_fields = 0;
  size_t xfh_fields = 0;
  for (size_t i = 0; i < fields.fieldCount(); ++i) {
    if (!fields.live(i)) {
      continue;
    }
    const std::string_view name = fields.name(i);
    switch (fields.id(i)) {
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
        if (!strings::iequals(fields.value(i), "trailers")) {
          continue;
        }
        break;
      case http::HeaderId::XForwardedFor:
        if (!skip_xff_append) {
          ++xff_fields;  // re-emitted below as one field with the client appended
          continue;
        }
        break;
      case http::HeaderId::XForwardedHost:
        ++xfh_fields;  // re-emitted below with the original host appended
        continue;
      default:
        if (!nominated.empty() && http::isNominated(name, nominated)) {
          continue;
        }
        if ((name[0] == 'x' || name[0] == 'X' || name[0] == 'a' || name[0] == 'A') &&
            (isReservedRequestHeader(name, fields.value(i)) ||
             (serverless && strings::iequals(name, "authorization")))) {
          continue;  // serverless: the Google ID token replaces the client's credentials
        }
        break;
    }
    if (has_policy && (inList(name, route.remove_request_headers) || isSetHeader(name, route))) {
      continue;
    }
    if (identity != nullptr && name.size() == 6 && strings::iequals(name, "cookie")) {
      if (!appendCleanCookie(*identity, fields.value(i), out.beginOwned())) {
        out.discardOwned();
      } else {
        out.commitOwned(name);
      }
      continue;
    }
    if (max_forwards_applies && strings::iequals(name, "max-forwards")) {
      appendMaxForwards(fields.value(i), out.beginOwned());
      out.commitOwned(name);
      continue;
    }
    out.add(name, fields.value(i));
  }

  // Headers the proxy generates obey the route's header policy too (Envoy applies
  // request_headers_to_remove after the connection manager added them).
  auto generated = [&](std::string_view name) {
    return !has_policy ||
           (!inList(name, route.remove_request_headers) && !isSetHeader(name, route));
  };
  auto appendJoined = [&](std::string& value, http::HeaderId id) {
    for (size_t i = 0; i < fields.fieldCount(); ++i) {
      if (fields.live(i) && fields.id(i) == id) {
        value += fields.value(i);
        value += ", ";
      }
    }
  };
  // An allowed upgrade keeps its Connection and Upgrade (Envoy forwards them for upgrades).
  if (!ctx.upgrade.empty()) {
    out.add("Connection", "upgrade");
    out.add("Upgrade", ctx.upgrade);
  }
  // X-Forwarded-For: previous hops, then the client (Envoy use_remote_address, as Pomerium).
  if (!skip_xff_append && generated("x-forwarded-for")) {
    std::string& value = out.beginOwned();
    if (xff_fields > 0) {
      appendJoined(value, http::HeaderId::XForwardedFor);
    }
    value += ctx.client_ip;
    out.commitOwned("X-Forwarded-For");
  }
  if (generated("x-forwarded-proto")) {
    out.add("X-Forwarded-Proto", ctx.tls ? "https" : "http");
  }
  // X-Forwarded-Host: the original host appended when the Host is rewritten
  // (Envoy append_x_forwarded_host); the client's own values pass through otherwise.
  if (generated("x-forwarded-host")) {
    const bool append = route.append_x_forwarded_host && ctx.host_rewritten;
    if (append || xfh_fields > 0) {
      std::string& value = out.beginOwned();
      appendJoined(value, http::HeaderId::XForwardedHost);
      if (append) {
        value += ctx.authority;
      } else {
        value.resize(value.size() - 2);  // the trailing ", " of the joined client values
      }
      out.commitOwned("X-Forwarded-Host");
    }
  }
  if (generated("x-request-id")) {
    out.add("X-Request-Id", ctx.request_id);
  }
  // Identity headers (Pomerium pass_identity_headers), before set_request_headers, which win.
  if (route.pass_identity_headers && identity != nullptr) {
    appendIdentityHeaders(ctx, fields, out, [&](std::string_view name) {
      return has_policy && (inList(name, route.remove_request_headers) || isSetHeader(name, route));
    });
  }
  // Google Cloud serverless authentication: the token stages/serverless_token.cc made sure of.
  if (serverless && ctx.worker != nullptr && generated("authorization")) {
    if (const std::string* token =
            ctx.worker->googleIdTokens().find(*identity, route.gcp_audience, std::nullopt)) {
      std::string& value = out.beginOwned();
      value += "Bearer ";
      value += *token;
      out.commitOwned("Authorization");
    }
  }
  // set_request_headers: overwrite (set wins over remove); an empty result sends nothing.
  for (const auto& [name, value] : route.set_request_headers) {
    if (value.literal()) {
      if (!value.pieces.empty() && !value.pieces[0].text.empty()) {
        out.add(name, value.pieces[0].text);
      }
      continue;
    }
    renderTemplate(ctx, value, fields, out.beginOwned());
    if (out.ownedSize() == 0) {
      out.discardOwned();
      continue;
    }
    out.commitOwned(name);
  }
}

}  // namespace

StageStatus rewriteRequest(StreamContext& ctx) {
  if (!resolveUpstreamHost(ctx)) {
    return replyWith(ctx, 400, "the rewritten Host is not a valid host");
  }
  const http::RequestHeaders& request = *ctx.request;
  http::OutgoingRequest& upstream = ctx.upstream;
  upstream.clear();
  upstream.method = request.method;
  upstream.authority = ctx.upstream_host;  // Endpoint: set by the forward step
  appendUpstreamPath(*ctx.route, ctx.path, ctx.target, upstream.path);
  composeHeaders(ctx);
  upstream.framing = request.framing;
  upstream.content_length = request.content_length;
  // An announced empty body stays announced (a POST with Content-Length: 0).
  upstream.announce_empty_body = request.framing == http::BodyFraming::None &&
                                 request.headers.count(http::HeaderId::ContentLength) > 0;
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
