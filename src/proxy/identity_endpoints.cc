#include "proxy/identity_endpoints.h"

#include <nlohmann/json.hpp>

#include "proxy/identity_headers.h"
#include "proxy/sign_in_flow.h"
#include "proxy/stages/authenticate.h"

namespace vallum::proxy {

namespace {

StageStatus replyText(StreamContext& ctx, std::string body, std::string_view content_type) {
  replyWith(ctx, 200, {});
  ctx.reply.kind = LocalReply::Kind::Text;
  ctx.reply_body = std::move(body);
  ctx.reply.body = ctx.reply_body;
  ctx.reply.content_type = content_type;
  return StageStatus::LocalReply;
}

bool getOrHead(StreamContext& ctx) {
  const std::string_view method = ctx.request->method;
  if (method == "GET" || method == "HEAD") {
    return true;
  }
  replyWith(ctx, 405, "method not allowed");
  ctx.reply.allow = "GET, HEAD";
  return false;
}

}  // namespace

StageStatus answerIdentityEndpoint(StreamContext& ctx) {
  const IdentityRuntime& id = *ctx.snapshot->identity;
  const std::string_view path = ctx.path;
  if (path == "/.well-known/pomerium/jwks.json") {
    if (!getOrHead(ctx)) {
      return StageStatus::LocalReply;
    }
    replyText(ctx, id.jwks_json, "application/json");
    ctx.reply.headers.add("Access-Control-Allow-Origin", "*");
    ctx.reply.headers.add("Cache-Control", "max-age=60");
    ctx.reply.headers.add("ETag", id.jwks_etag);
    return StageStatus::LocalReply;
  }
  if (path == "/.well-known/pomerium" || path == "/.well-known/pomerium/") {
    if (!getOrHead(ctx)) {
      return StageStatus::LocalReply;
    }
    const std::string origin = "https://" + std::string(ctx.authority);
    nlohmann::json doc = {
        {"issuer", origin + "/"},
        {"jwks_uri", origin + "/.well-known/pomerium/jwks.json"},
        {"frontchannel_logout_uri", origin + "/.pomerium/sign_out"},
    };
    if (id.sign_in) {
      doc["authentication_callback_endpoint"] = id.callback_url;
    }
    replyText(ctx, doc.dump(), "application/json");
    ctx.reply.headers.add("Access-Control-Allow-Origin", "*");
    return StageStatus::LocalReply;
  }
  const bool user = path == "/.pomerium/user";
  const bool jwt = path == "/.pomerium/jwt" && id.pomerium_jwt_endpoint;
  if (!user && !jwt) {
    return StageStatus::Continue;
  }
  if (!getOrHead(ctx)) {
    return StageStatus::LocalReply;
  }
  // Both need a signed-in user (Pomerium: these internal paths require a session).
  if (!loadSession(ctx)) {
    return askSignIn(ctx);
  }
  if (user) {
    return replyText(ctx, userInfoJson(ctx), "application/json");
  }
  return replyText(ctx, identityJwt(ctx, nullptr), "application/jwt");
}

}  // namespace vallum::proxy
