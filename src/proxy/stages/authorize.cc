#include "proxy/stages/authorize.h"

#include "common/strings.h"
#include "policy/evaluator.h"
#include "proxy/sign_in_flow.h"
#include "proxy/sign_in_state.h"

namespace vallum::proxy {

namespace {

/// A CORS preflight (Pomerium criterion `cors_preflight`): OPTIONS with Origin and
/// Access-Control-Request-Method.
bool corsPreflight(const http::RequestHeaders& request) {
  return request.method == "OPTIONS" && request.headers.get("origin").has_value() &&
         request.headers.get("access-control-request-method").has_value();
}

bool hasPolicy(const config::Route& route) {
  return route.policy || route.allow_public_unauthenticated_access ||
         route.allow_any_authenticated_user || route.cors_allow_preflight ||
         !route.allowed_users.empty() || !route.allowed_domains.empty() || route.allowed_idp_claims;
}

}  // namespace

StageStatus authorizeRequest(StreamContext& ctx) {
  const RouteRuntime& route = *ctx.route;
  SignInState& st = signInState(ctx);
  policy::Identity who;
  if (st.signed_in) {
    who.signed_in = true;
    who.user = st.session.user;
    who.email = st.session.email;
    who.groups = st.session.groups;
    who.claims = &st.session.claims;
  }
  policy::RequestFacts facts;
  facts.method = ctx.request->method;
  facts.path = ctx.path;
  facts.client_ip = ctx.client_ip;
  facts.cors_preflight = corsPreflight(*ctx.request);
  st.decision = policy::evaluate(*route.policy, who, facts);
  st.decided = true;
  // Pomerium's order (authorize's Check): a criterion that needed a user and found none asks
  // for sign-in first, whatever the rest says.
  if (st.decision.needsSignIn() && !st.signed_in) {
    return askSignIn(ctx);
  }
  if (st.decision.allowed()) {
    return StageStatus::Continue;
  }
  ctx.reply_text = "access denied (" + st.decision.reasons().toString(", ") + ")";
  replyWith(ctx, 403,
            route.show_error_details ? std::string_view(ctx.reply_text) : "access denied");
  ctx.reply.log_reason = ctx.reply_text;
  return StageStatus::LocalReply;
}

void lintDeniedRoutes(const std::vector<config::Route>& routes, config::Diagnostics& diagnostics) {
  for (const config::Route& route : routes) {
    if (!hasPolicy(route)) {
      diagnostics.warning(route.pos, route.key,
                          "every request to this route gets 403: it has no policy (add a "
                          "policy or an allow list, or allow_public_unauthenticated_access: "
                          "true to serve it without sign-in)");
    }
  }
}

}  // namespace vallum::proxy
