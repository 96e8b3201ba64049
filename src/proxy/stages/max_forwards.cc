#include "proxy/stages/max_forwards.h"

#include "common/strings.h"

namespace vallum::proxy {

namespace {

/// Request fields a reflected TRACE leaves out (RFC 9110 §9.3.8: likely to carry credentials).
bool isSensitiveForTrace(std::string_view name) {
  return strings::iequals(name, "cookie") || strings::iequals(name, "authorization") ||
         strings::iequals(name, "proxy-authorization");
}

}  // namespace

StageStatus answerMaxForwards(StreamContext& ctx) {
  const http::RequestHeaders& request = *ctx.request;
  if (request.method != "TRACE" && request.method != "OPTIONS") {
    return StageStatus::Continue;
  }
  const auto value = request.headers.get("max-forwards");
  if (!value || strings::parseDecimal(strings::trimOws(*value)) != uint64_t(0)) {
    return StageStatus::Continue;
  }
  replyWith(ctx, 200, {});
  ctx.reply.kind = LocalReply::Kind::Text;
  if (request.method == "OPTIONS") {
    ctx.reply.allow = "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH";
    return StageStatus::LocalReply;
  }
  std::string& body = ctx.reply_text;
  body.assign(request.method);
  body += ' ';
  body += request.target;
  body += " HTTP/1.1\r\n";
  for (size_t i = 0; i < request.headers.fieldCount(); ++i) {
    if (!request.headers.live(i) || isSensitiveForTrace(request.headers.name(i))) {
      continue;
    }
    body += request.headers.name(i);
    body += ": ";
    body += request.headers.value(i);
    body += "\r\n";
  }
  body += "\r\n";
  ctx.reply.body = body;
  ctx.reply.content_type = "message/http";
  return StageStatus::LocalReply;
}

}  // namespace vallum::proxy
