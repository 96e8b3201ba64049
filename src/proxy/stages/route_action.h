#pragma once

#include <string>
#include <string_view>

#include "http/path.h"
#include "proxy/stages/stage.h"

namespace vallum::proxy {

/// The Location of a `redirect` route (Envoy route.v3.RedirectAction):
/// scheme = https if https_redirect, else scheme_redirect, else the request's; authority =
/// host_redirect (the request's port dropped) or the request's, whose explicit default port
/// for the original scheme is dropped when the scheme changes; port_redirect always written;
/// path = path_redirect (its own query replaces the request's, even with strip_query), else
/// prefix_rewrite of the matched prefix, else the (normalized) request path; the request's
/// query unless strip_query.
std::string buildRedirectLocation(const config::RedirectAction& redirect, const RouteRuntime& route,
                                  bool tls, std::string_view authority, std::string_view path,
                                  const http::RequestTarget& target);

/// Stage 9: a `redirect` route answers its status with Location, a `response` route its status
/// and body; both only after authorization, as in Pomerium. Other routes continue.
StageStatus applyRouteAction(StreamContext& ctx);

}  // namespace vallum::proxy
