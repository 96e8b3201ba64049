#include "proxy/stages/route.h"

#include <fmt/format.h>

#include "proxy/stages/internal_endpoints.h"

namespace vallum::proxy {

namespace {

constexpr uint32_t kInternalEndpoint = router::RouteTable::kNoRoute - 1;

uint32_t select(const Snapshot& snap, const StreamContext& ctx, std::string_view path) {
  return isInternalPath(path) ? kInternalEndpoint : snap.table.match(ctx.host, ctx.port, path);
}

std::string_view describe(const Snapshot& snap, uint32_t index) {
  if (index == kInternalEndpoint) {
    return "an internal endpoint";
  }
  return index == router::RouteTable::kNoRoute ? std::string_view("no route")
                                               : std::string_view(snap.routes[index].log_name);
}

}  // namespace

StageStatus matchRoute(StreamContext& ctx) {
  const Snapshot& snap = *ctx.snapshot;
  if (ctx.connect) {
    // tcp+https routes, by the CONNECT authority (lower-case host, port as written).
    ctx.merged_path.clear();
    ctx.merged_path += ctx.host.find(':') == std::string::npos ? ctx.host : "[" + ctx.host + "]";
    ctx.merged_path += ':';
    ctx.merged_path += std::to_string(ctx.port);
    const uint32_t index = snap.table.matchConnect(ctx.merged_path);
    if (index == router::RouteTable::kNoRoute) {
      return replyWith(ctx, 404, "route not found", true);
    }
    ctx.route_index = index;
    ctx.route = &snap.routes[index];
    return StageStatus::Continue;
  }
  const uint32_t index = snap.table.match(ctx.host, ctx.port, ctx.path);
  if (!snap.path_options.merge_slashes && ctx.path.find("//") != std::string_view::npos) {
    http::mergeSlashes(ctx.path, ctx.merged_path);
    const uint32_t merged = select(snap, ctx, ctx.merged_path);
    if (merged != index) {
      ctx.reply_text = fmt::format("with adjacent slashes the path selects {}, merged it selects {}",
                                   describe(snap, index), describe(snap, merged));
      replyWith(ctx, 400,
                "adjacent slashes in the path select another route than the path with them merged");
      ctx.reply.log_reason = ctx.reply_text;
      return StageStatus::LocalReply;
    }
  }
  if (index == router::RouteTable::kNoRoute) {
    return replyWith(ctx, 404, "route not found");
  }
  ctx.route_index = index;
  ctx.route = &snap.routes[index];
  return StageStatus::Continue;
}

}  // namespace vallum::proxy
