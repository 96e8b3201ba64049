#include "proxy/stages/route_action.h"

#include <algorithm>

namespace vallum::proxy {

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

StageStatus applyRouteAction(StreamContext& ctx) {
  const RouteRuntime& route = *ctx.route;
  switch (route.action) {
    case RouteRuntime::Action::Forward:
      return StageStatus::Continue;
    case RouteRuntime::Action::Redirect: {
      const config::RedirectAction& redirect = *route.config->redirect;
      ctx.reply_text =
          buildRedirectLocation(redirect, route, ctx.tls, ctx.authority, ctx.path, ctx.target);
      replyWith(ctx, redirect.response_code, {});
      ctx.reply.kind = LocalReply::Kind::Redirect;
      ctx.reply.location = ctx.reply_text;
      return StageStatus::LocalReply;
    }
    case RouteRuntime::Action::Respond: {
      const config::DirectResponse& response = *route.config->response;
      replyWith(ctx, response.status, {});
      ctx.reply.kind = LocalReply::Kind::Text;
      ctx.reply.body = response.body;
      return StageStatus::LocalReply;
    }
  }
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
