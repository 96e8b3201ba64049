#include "proxy/stages/internal_endpoints.h"

#include "proxy/identity_endpoints.h"
#include "proxy/sign_in_flow.h"

namespace vallum::proxy {

bool isInternalPath(std::string_view path) {
  return path == "/ping" || path == "/healthz" || path == "/.pomerium" ||
         path.starts_with("/.pomerium/") || path == "/.well-known/pomerium" ||
         path.starts_with("/.well-known/pomerium/");
}

StageStatus answerInternalEndpoints(StreamContext& ctx) {
  if (ctx.pending_reply_ready) {
    return StageStatus::LocalReply;  // a sign-in step finished its I/O and its reply
  }
  const IdentityRuntime* id = ctx.snapshot->identity.get();
  const bool health = ctx.path == "/ping" || ctx.path == "/healthz";
  if (!health && id != nullptr && id->sign_in && ctx.host == id->authenticate_host) {
    return answerAuthenticateHost(ctx);
  }
  if (!isInternalPath(ctx.path)) {
    return StageStatus::Continue;
  }
  if (health) {
    const std::string_view method = ctx.request->method;
    if (method != "GET" && method != "HEAD") {
      replyWith(ctx, 405, "method not allowed");
      ctx.reply.allow = "GET, HEAD";
      return StageStatus::LocalReply;
    }
    replyWith(ctx, 200, {});
    ctx.reply.kind = LocalReply::Kind::Text;
    ctx.reply.body = "OK\n";
    return StageStatus::LocalReply;
  }
  if (ctx.path == "/.pomerium/callback/" || ctx.path == "/.pomerium/callback") {
    return answerRouteCallback(ctx);
  }
  if (ctx.path == "/.pomerium/sign_out") {
    return answerRouteSignOut(ctx);
  }
  if (id != nullptr) {
    if (StageStatus s = answerIdentityEndpoint(ctx); s != StageStatus::Continue) {
      return s;
    }
  }
  return replyWith(ctx, 404, "not found");
}

}  // namespace vallum::proxy
