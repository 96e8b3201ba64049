#include "proxy/stages/normalize_path.h"

namespace vallum::proxy {

StageStatus normalizeRequestPath(StreamContext& ctx) {
  if (ctx.connect) {
    return StageStatus::Continue;  // a CONNECT has no path
  }
  switch (http::normalizePath(ctx.target.path, ctx.snapshot->path_options, ctx.path_scratch,
                              ctx.path)) {
    case http::PathResult::Ok:
      return StageStatus::Continue;
    case http::PathResult::Invalid:
      return replyWith(ctx, 400, "invalid path");
    case http::PathResult::RejectEscapedSlash:
      return replyWith(ctx, 400, "escaped slash in path");
    case http::PathResult::RedirectUnescaped:
      break;
  }
  ctx.reply_text.assign(ctx.path);
  if (ctx.target.has_query) {
    ctx.reply_text += '?';
    ctx.reply_text += ctx.target.query;
  }
  replyWith(ctx, 307, "escaped slashes in the path were unescaped");
  ctx.reply.location = ctx.reply_text;
  return StageStatus::LocalReply;
}

}  // namespace vallum::proxy
