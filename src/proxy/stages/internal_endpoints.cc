#include "proxy/stages/internal_endpoints.h"

namespace vallum::proxy {

bool isInternalPath(std::string_view path) {
  return path == "/ping" || path == "/healthz" || path == "/.pomerium" ||
         path.starts_with("/.pomerium/") || path == "/.well-known/pomerium" ||
         path.starts_with("/.well-known/pomerium/");
}

StageStatus answerInternalEndpoints(StreamContext& ctx) {
  if (!isInternalPath(ctx.path)) {
    return StageStatus::Continue;
  }
  if (ctx.path != "/ping" && ctx.path != "/healthz") {
    return replyWith(ctx, 404, "not found");
  }
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

}  // namespace vallum::proxy
