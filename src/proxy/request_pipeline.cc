#include "proxy/request_pipeline.h"

#include <algorithm>
#include <charconv>

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
    ctx.reply.kind = ReplySpec::Kind::Text;
    ctx.reply.body = "OK\n";
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
  switch (ctx.route->action) {
    case RouteRuntime::Action::Forward:
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

std::optional<uint64_t> requestHash(const RequestContext& ctx, const http::RequestHead& head,
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

/// Headers a client must never be able to inject towards an upstream: Pomerium's identity
/// assertion and its internal hop headers (spec §2.9: always stripped unless identity headers
/// are passed, which needs sign-in), and credentials meant for Pomerium itself.
bool isPomeriumInternalHeader(std::string_view name, std::string_view value) {
  if (name.size() > 11 && strings::istartsWith(name, "x-pomerium-")) {
    return strings::iequals(name, "x-pomerium-jwt-assertion") ||
           strings::iequals(name, "x-pomerium-jwt-assertion-for") ||
           strings::iequals(name, "x-pomerium-reproxy-policy") ||
           strings::iequals(name, "x-pomerium-reproxy-policy-hmac") ||
           strings::iequals(name, "x-pomerium-authorization");
  }
  return name.size() == 13 && strings::iequals(name, "authorization") &&
         strings::istartsWith(value, "Pomerium ");
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

void buildUpstreamRequestHead(const RequestContext& ctx, const http::RequestHead& head,
                              const upstream::Endpoint& endpoint, std::string_view client_ip,
                              std::string_view request_id, std::vector<std::string_view>& nominated,
                              std::string& out) {
  const RouteRuntime& route = *ctx.route;
  const config::Options& options = ctx.snapshot->options;
  const bool has_policy = !route.remove_request_headers.empty() || !route.set_request_headers.empty();
  out += head.method;
  out += ' ';
  appendUpstreamPath(route, ctx.path, ctx.target, out);

  // Host (spec §2.8).
  out += " HTTP/1.1\r\nHost: ";
  bool host_rewritten = true;
  switch (route.host_rewrite) {
    case RouteRuntime::HostRewrite::Endpoint:
      out += endpoint.authority;
      break;
    case RouteRuntime::HostRewrite::Literal:
      out += route.host_value;
      break;
    case RouteRuntime::HostRewrite::Header: {
      // The named request header's value; absent or empty → Host unchanged (Envoy).
      auto value = head.headers.get(route.host_value);
      if (value && !value->empty()) {
        out += *value;
      } else {
        out += ctx.authority;
        host_rewritten = false;
      }
      break;
    }
    case RouteRuntime::HostRewrite::PathRegex: {
      std::string host(ctx.path);
      re2::RE2::GlobalReplace(&host, *route.host_regex, route.host_substitution);
      out += host;
      break;
    }
    case RouteRuntime::HostRewrite::Preserve:
      out += ctx.authority;
      host_rewritten = false;
      break;
  }
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
            isPomeriumInternalHeader(name, head.headers.value(i))) {
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

OutFraming buildResponseHead(const http::ResponseHead& response, const http::RequestHead& request,
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
