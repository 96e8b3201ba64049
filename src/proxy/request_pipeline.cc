#include "proxy/request_pipeline.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <re2/re2.h>

#include "common/strings.h"
#include "http/status.h"
#include "upstream/lb/hash.h"

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

/// What selectRoute() returns besides a route index or RouteTable::kNoRoute.
constexpr uint32_t kInternalEndpoint = router::RouteTable::kNoRoute - 1;
constexpr uint32_t kSlashAmbiguous = router::RouteTable::kNoRoute - 2;

/// Paths Vallum answers itself on every host, ahead of user routes (spec §3.2).
bool isInternalPath(std::string_view path) {
  return path == "/ping" || path == "/healthz" || path == "/.pomerium" ||
         path.starts_with("/.pomerium/") || path == "/.well-known/pomerium" ||
         path.starts_with("/.well-known/pomerium/");
}

/// /ping and /healthz: GET/HEAD 200 "OK\n", else 405; /.pomerium[/…] and
/// /.well-known/pomerium[/…]: 404 until sign-in serves them (never forwarded).
Decision internalReply(RequestContext& ctx, std::string_view method) {
  if (ctx.path == "/ping" || ctx.path == "/healthz") {
    if (method != "GET" && method != "HEAD") {
      reply(ctx, 405, "method not allowed");
      ctx.reply.allow = "GET, HEAD";
      return Decision::Reply;
    }
    reply(ctx, 200, {});
    ctx.reply.kind = ReplySpec::Kind::Text;
    ctx.reply.body = "OK\n";
    return Decision::Reply;
  }
  return reply(ctx, 404, "not found");
}

/// The route for `path`, or kNoRoute. With `merge_slashes` off a path keeps its adjacent
/// slashes (the route docs' "//" tip), but many origins read "//admin" as "/admin": when the
/// merged path would select another route (or an internal endpoint) than the path as written,
/// the answer is kSlashAmbiguous (400), so "//admin" cannot slip past an "/admin" route to a
/// catch-all. Costs nothing for paths without "//".
uint32_t selectRoute(RequestContext& ctx, std::string_view path) {
  const Snapshot& snap = *ctx.snapshot;
  const uint32_t index = snap.table.match(ctx.host, ctx.port, path);
  if (snap.path_options.merge_slashes || path.find("//") == std::string_view::npos) {
    return index;
  }
  http::mergeSlashes(path, ctx.merged_path);
  const uint32_t merged = isInternalPath(ctx.merged_path)
                              ? kInternalEndpoint
                              : snap.table.match(ctx.host, ctx.port, ctx.merged_path);
  if (merged == index) {
    return index;
  }
  auto describe = [&](uint32_t i) -> std::string_view {
    if (i == kInternalEndpoint) {
      return "an internal endpoint";
    }
    return i == router::RouteTable::kNoRoute ? std::string_view("no route")
                                             : std::string_view(snap.routes[i].log_name);
  };
  ctx.reply_text = fmt::format("with adjacent slashes the path selects {}, merged it selects {}",
                               describe(index), describe(merged));
  return kSlashAmbiguous;
}

/// RFC 9110 §7.6.2: a TRACE or OPTIONS request whose Max-Forwards is 0 must not be forwarded.
bool maxForwardsExhausted(const http::RequestHeaders& head) {
  if (head.method != "TRACE" && head.method != "OPTIONS") {
    return false;
  }
  const auto value = head.headers.get("max-forwards");
  return value && strings::parseDecimal(strings::trimOws(*value)) == uint64_t(0);
}

/// Request fields a reflected TRACE leaves out (RFC 9110 §9.3.8: likely to carry credentials).
bool isSensitiveForTrace(std::string_view name) {
  return strings::iequals(name, "cookie") || strings::iequals(name, "authorization") ||
         strings::iequals(name, "proxy-authorization");
}

/// The proxy as final recipient (RFC 9110 §7.6.2): OPTIONS → 200 with Allow; TRACE → 200
/// reflecting the request head as message/http (§9.3.8), credentials left out.
Decision finalRecipientReply(RequestContext& ctx, const http::RequestHeaders& head) {
  reply(ctx, 200, {});
  ctx.reply.kind = ReplySpec::Kind::Text;
  if (head.method == "OPTIONS") {
    ctx.reply.allow = "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH";
    return Decision::Reply;
  }
  std::string& body = ctx.reply_text;
  body.assign(head.method);
  body += ' ';
  body += head.target;
  body += " HTTP/1.1\r\n";
  for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
    if (!head.headers.live(i) || isSensitiveForTrace(head.headers.name(i))) {
      continue;
    }
    body += head.headers.name(i);
    body += ": ";
    body += head.headers.value(i);
    body += "\r\n";
  }
  body += "\r\n";
  ctx.reply.body = body;
  ctx.reply.content_type = "message/http";
  return Decision::Reply;
}

/// The upstream Host when the route computes it from the request (spec §2.8):
/// `host_rewrite` (a literal), `host_rewrite_header` (that request header's value; absent or
/// empty → the request's authority, as Envoy), `host_path_regex_rewrite_*` (the path
/// rewritten), `preserve_host_header` (the request's authority). A computed value that is not
/// a valid `host[:port]` (RFC 3986 §3.2.2: "a b/c@d", empty) is refused: false → 400, and
/// nothing is forwarded. The endpoint's own authority is used when none of these apply.
bool resolveUpstreamHost(RequestContext& ctx, const http::HeaderMap& headers) {
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
      auto value = headers.get(route.host_value);
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

}  // namespace

Decision decide(RequestContext& ctx, http::RequestHeaders& head) {
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
  if (host_fields == 0) {
    // Every HTTP/1.1 request carries Host, absolute-form ones too (RFC 9112 §3.2).
    return reply(ctx, 400, "missing Host header", true);
  }
  ctx.authority =
      ctx.target.absolute_form ? ctx.target.authority : *head.headers.get(http::HeaderId::Host);
  http::Authority authority;
  if (!http::parseAuthority(ctx.authority, authority) ||
      !http::canonicalHost(authority.host, ctx.host)) {
    return reply(ctx, 400, "invalid Host header", true);
  }
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
  if (isInternalPath(path)) {
    return internalReply(ctx, head.method);
  }

  // A TRACE or OPTIONS that may not travel further is answered here (RFC 9110 §7.6.2).
  if (maxForwardsExhausted(head)) {
    return finalRecipientReply(ctx, head);
  }

  const uint32_t index = selectRoute(ctx, path);
  if (index == kSlashAmbiguous) {
    reply(ctx, 400, "adjacent slashes in the path select another route than the path with them merged");
    ctx.reply.log_reason = ctx.reply_text;
    return Decision::Reply;
  }
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
  switch (ctx.route->action) {
    case RouteRuntime::Action::Forward:
      if (!resolveUpstreamHost(ctx, head.headers)) {
        return reply(ctx, 400, "the rewritten Host is not a valid host");
      }
      return Decision::Forward;
    case RouteRuntime::Action::Redirect: {
      const config::RedirectAction& redirect = *ctx.route->config->redirect;
      ctx.reply_text = buildRedirectLocation(redirect, *ctx.route, ctx.tls, ctx.authority,
                                             ctx.path, ctx.target);
      reply(ctx, redirect.response_code, {});
      ctx.reply.kind = ReplySpec::Kind::Redirect;
      ctx.reply.location = ctx.reply_text;
      return Decision::Reply;
    }
    case RouteRuntime::Action::Respond: {
      const config::DirectResponse& response = *ctx.route->config->response;
      reply(ctx, response.status, {});
      ctx.reply.kind = ReplySpec::Kind::Text;
      ctx.reply.body = response.body;
      return Decision::Reply;
    }
  }
  return Decision::Forward;
}

namespace {

uint64_t rotl1(uint64_t h) { return (h << 1) | (h >> 63); }

/// The value of cookie `name` in the request's Cookie fields (RFC 6265 §4.2.1).
std::optional<std::string_view> cookieValue(const http::HeaderMap& headers, std::string_view name) {
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (!headers.live(i) || !strings::iequals(headers.name(i), "cookie")) {
      continue;
    }
    std::string_view rest = headers.value(i);
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = strings::trimOws(rest.substr(0, semi));
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return pair.substr(eq + 1);
      }
      if (semi == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(semi + 1);
    }
  }
  return std::nullopt;
}

/// The first value of query parameter `name` (no percent-decoding: the hash only needs to be
/// stable for equal requests).
std::optional<std::string_view> queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> requestHash(const RequestContext& ctx, const http::RequestHeaders& head,
                                    std::string_view client_ip) {
  const std::vector<config::HashPolicy>& policies = ctx.route->config->hash_policy;
  if (policies.empty()) {
    return upstream::lb::xxHash64(client_ip);
  }
  std::optional<uint64_t> hash;
  for (const config::HashPolicy& policy : policies) {
    std::optional<uint64_t> h;
    switch (policy.kind) {
      case config::HashPolicy::Kind::Header: {
        std::vector<std::string_view> values;
        for (size_t i = 0; i < head.headers.fieldCount(); ++i) {
          if (head.headers.live(i) && strings::iequals(head.headers.name(i), policy.name)) {
            values.push_back(head.headers.value(i));
          }
        }
        std::sort(values.begin(), values.end());
        for (std::string_view v : values) {
          h = h ? upstream::lb::xxHash64(v, *h) : upstream::lb::xxHash64(v);
        }
        break;
      }
      case config::HashPolicy::Kind::Cookie:
        if (auto value = cookieValue(head.headers, policy.name)) {
          h = upstream::lb::xxHash64(*value);
        }
        break;
      case config::HashPolicy::Kind::QueryParameter:
        if (ctx.target.has_query) {
          if (auto value = queryValue(ctx.target.query, policy.name)) {
            h = upstream::lb::xxHash64(*value);
          }
        }
        break;
      case config::HashPolicy::Kind::SourceIp:
        h = upstream::lb::xxHash64(client_ip);
        break;
    }
    if (h) {
      hash = hash ? (rotl1(*hash) ^ *h) : *h;
      if (policy.terminal) {
        break;
      }
    }
  }
  return hash;
}

namespace {

/// host[:port] → host; "[v6]:port" → "[v6]".
std::string_view stripPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

/// The explicit port of host[:port], or "" when none.
std::string_view portOf(std::string_view authority) {
  std::string_view host = stripPort(authority);
  return authority.size() > host.size() + 1 ? authority.substr(host.size() + 1) : std::string_view();
}

}  // namespace

std::string buildRedirectLocation(const config::RedirectAction& redirect, const RouteRuntime& route,
                                  bool tls, std::string_view authority, std::string_view path,
                                  const http::RequestTarget& target) {
  const std::string_view request_scheme = tls ? "https" : "http";
  std::string_view scheme = request_scheme;
  if (redirect.https_redirect_set) {
    scheme = redirect.https_redirect ? std::string_view("https") : request_scheme;
  } else if (!redirect.scheme_redirect.empty()) {
    scheme = redirect.scheme_redirect;
  }
  std::string out(scheme);
  out += "://";
  std::string_view host;
  std::string_view port;
  if (!redirect.host_redirect.empty()) {
    // The whole authority is replaced: the request's port does not carry over.
    host = stripPort(redirect.host_redirect);
    port = portOf(redirect.host_redirect);
  } else {
    host = stripPort(authority);
    port = portOf(authority);
    // Changing the scheme drops an explicit default port of the original scheme.
    if (scheme != request_scheme && port == (tls ? "443" : "80")) {
      port = {};
    }
  }
  out += host;
  if (redirect.port_redirect) {
    out += ':';
    out += std::to_string(*redirect.port_redirect);
  } else if (!port.empty()) {
    out += ':';
    out += port;
  }
  bool query_from_path_redirect = false;
  if (redirect.path_redirect) {
    out += *redirect.path_redirect;
    query_from_path_redirect = redirect.path_redirect->find('?') != std::string::npos;
  } else if (redirect.prefix_rewrite) {
    out += *redirect.prefix_rewrite;
    if (route.match_kind == RouteRuntime::MatchKind::Prefix) {
      out += path.substr(std::min(path.size(), route.match_prefix.size()));
    }
  } else {
    out += path;
  }
  if (!query_from_path_redirect && !redirect.strip_query && target.has_query) {
    out += '?';
    out += target.query;
  }
  return out;
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
  for (const std::string& n : names) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

bool isSetHeader(std::string_view name, const RouteRuntime& route) {
  for (const auto& [n, value] : route.set_request_headers) {
    if (strings::iequals(n, name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool isReservedRequestHeader(std::string_view name, std::string_view value) {
  if (name.size() > 8 && (name[0] == 'x' || name[0] == 'X') && name[1] == '-') {
    return strings::istartsWith(name, "x-pomerium-") || strings::istartsWith(name, "x-envoy-");
  }
  return name.size() == 13 && strings::iequals(name, "authorization") &&
         strings::istartsWith(value, "Pomerium ");
}

namespace {

/// Max-Forwards of a forwarded TRACE/OPTIONS: the received value minus one (RFC 9110
/// §7.6.2); an unparsable value is forwarded as received.
void appendMaxForwards(std::string_view value, std::string& out) {
  const std::optional<uint64_t> hops = strings::parseDecimal(strings::trimOws(value));
  if (!hops || *hops == 0) {
    out += value;
    return;
  }
  appendUint(out, *hops - 1);
}

/// Renders a set_request_headers template; references read the client's request headers.
void renderTemplate(const HeaderTemplate& t, const http::HeaderMap& headers, std::string& out) {
  for (const HeaderTemplate::Piece& piece : t.pieces) {
    if (!piece.header_ref) {
      out += piece.text;
    } else if (auto value = headers.get(piece.text)) {
      out += *value;
    }
  }
}

}  // namespace

void buildUpstreamRequestHead(const RequestContext& ctx, const http::RequestHeaders& head,
                              const upstream::Endpoint& endpoint, std::string_view client_ip,
                              std::string_view request_id, std::vector<std::string_view>& nominated,
                              std::string& out) {
  const RouteRuntime& route = *ctx.route;
  const config::Options& options = ctx.snapshot->options;
  const bool has_policy = !route.remove_request_headers.empty() || !route.set_request_headers.empty();
  const bool max_forwards_applies = head.method == "TRACE" || head.method == "OPTIONS";
  out += head.method;
  out += ' ';
  appendUpstreamPath(route, ctx.path, ctx.target, out);

  // Host (spec §2.8), computed and validated by decide().
  out += " HTTP/1.1\r\nHost: ";
  const bool host_rewritten = ctx.host_rewritten;
  out += route.host_rewrite == RouteRuntime::HostRewrite::Endpoint
             ? std::string_view(endpoint.authority)
             : ctx.upstream_host;
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
      default: {
        const std::string_view name = head.headers.name(i);
        if (!nominated.empty() && isNominated(name, nominated)) {
          continue;
        }
        if ((name[0] == 'x' || name[0] == 'X' || name[0] == 'a' || name[0] == 'A') &&
            isReservedRequestHeader(name, head.headers.value(i))) {
          continue;
        }
        if (max_forwards_applies && strings::iequals(name, "max-forwards") &&
            !(has_policy && (inList(name, route.remove_request_headers) || isSetHeader(name, route)))) {
          out += name;
          out += ": ";
          appendMaxForwards(head.headers.value(i), out);
          out += kCrlf;
          continue;
        }
        break;
      }
    }
    const std::string_view name = head.headers.name(i);
    if (has_policy && (inList(name, route.remove_request_headers) || isSetHeader(name, route))) {
      continue;
    }
    out += name;
    out += ": ";
    out += head.headers.value(i);
    out += kCrlf;
  }

  // Headers the proxy generates obey the route's header policy too (Envoy applies
  // request_headers_to_remove after the connection manager added them).
  auto generated = [&](std::string_view name) {
    return !has_policy || (!inList(name, route.remove_request_headers) && !isSetHeader(name, route));
  };
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
  if (!options.skip_xff_append && generated("x-forwarded-for")) {
    out += "X-Forwarded-For: ";
    appendJoined(http::HeaderId::XForwardedFor, xff_fields);
    out += client_ip;
    out += kCrlf;
  }
  if (generated("x-forwarded-proto")) {
    out += ctx.tls ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n";
  }
  // X-Forwarded-Host: the original host appended when the Host is rewritten
  // (append_x_forwarded_host, spec §2.8); the client's own values pass through otherwise.
  if (generated("x-forwarded-host")) {
    const bool append = route.append_x_forwarded_host && host_rewritten;
    if (append || xfh_fields > 0) {
      out += "X-Forwarded-Host: ";
      appendJoined(http::HeaderId::XForwardedHost, xfh_fields);
      if (append) {
        out += ctx.authority;
      } else {
        out.resize(out.size() - 2);  // the trailing ", " of the joined client values
      }
      out += kCrlf;
    }
  }
  if (generated("x-request-id")) {
    out += "X-Request-Id: ";
    out += request_id;
    out += kCrlf;
  }
  // set_request_headers: overwrite (set wins over remove); an empty result sends nothing.
  for (const auto& [name, value] : route.set_request_headers) {
    const size_t mark = out.size();
    out += name;
    out += ": ";
    const size_t value_start = out.size();
    renderTemplate(value, head.headers, out);
    if (out.size() == value_start) {
      out.resize(mark);
      continue;
    }
    out += kCrlf;
  }
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

OutFraming buildResponseHead(const http::ResponseHeaders& response, const http::RequestHeaders& request,
                             const RouteRuntime& route, bool head_request, bool& keep_alive,
                             std::string_view request_id, std::vector<std::string_view>& nominated,
                             std::string& out) {
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
  const auto& rewrites = route.rewrite_response_headers;
  const auto& set = route.response_headers;
  bool has_request_id = false;
  for (size_t i = 0; i < response.headers.fieldCount(); ++i) {
    const http::HeaderId id = response.headers.id(i);
    const std::string_view name = response.headers.name(i);
    if (isResponseHop(id) || (!nominated.empty() && isNominated(name, nominated))) {
      continue;
    }
    bool overwritten = false;
    for (const auto& [set_name, set_value] : set) {
      overwritten = overwritten || strings::iequals(set_name, name);
    }
    if (overwritten) {
      continue;  // set_response_headers: overwrite-or-add
    }
    std::string_view value = response.headers.value(i);
    bool rewritten = false;
    for (const config::ResponseHeaderRewrite& r : rewrites) {
      rewritten = rewritten || strings::iequals(r.header, name);
    }
    if (rewritten) {
      // Only the first value is examined and the whole header replaced; every rule for the
      // header applies in order, each to the result of the previous (Pomerium's Lua filter).
      bool first = true;
      for (size_t j = 0; j < i; ++j) {
        first = first && !strings::iequals(response.headers.name(j), name);
      }
      if (!first) {
        continue;
      }
      std::string current(value);
      for (const config::ResponseHeaderRewrite& r : rewrites) {
        if (strings::iequals(r.header, name) && current.starts_with(r.prefix)) {
          current = r.value + current.substr(r.prefix.size());
        }
      }
      out += name;
      out += ": ";
      out += current;
      out += kCrlf;
      continue;
    }
    has_request_id = has_request_id || id == http::HeaderId::XRequestId;
    out += name;
    out += ": ";
    out += value;
    out += kCrlf;
  }
  for (const auto& [set_name, set_value] : set) {
    out += set_name;
    out += ": ";
    out += set_value;
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
