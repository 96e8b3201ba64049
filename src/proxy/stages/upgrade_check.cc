#include "proxy/stages/upgrade_check.h"

#include "common/strings.h"

namespace vallum::proxy {

std::string_view requestedUpgrade(const http::RequestHeaders& request) {
  if (request.http2()) {
    return {};  // HTTP/2 has no Upgrade (RFC 9113 §8.6); its codec refuses the field
  }
  const std::optional<std::string_view> upgrade = request.headers.get(http::HeaderId::Upgrade);
  if (!upgrade || strings::trimOws(*upgrade).empty()) {
    return {};
  }
  bool listed = false;
  for (size_t i = 0; i < request.headers.fieldCount() && !listed; ++i) {
    if (!request.headers.live(i) || request.headers.id(i) != http::HeaderId::Connection) {
      continue;
    }
    strings::forEachListElement(request.headers.value(i), [&](std::string_view token) {
      listed = strings::iequals(token, "upgrade");
      return !listed;
    });
  }
  if (!listed) {
    return {};
  }
  std::string_view protocol = strings::trimOws(*upgrade);
  if (strings::iequals(protocol, "h2c")) {
    return {};
  }
  return protocol;
}

StageStatus checkUpgrade(StreamContext& ctx) {
  const std::string_view protocol = requestedUpgrade(*ctx.request);
  if (protocol.empty()) {
    return StageStatus::Continue;
  }
  for (const std::string& allowed : ctx.route->upgrades) {
    if (strings::iequals(allowed, protocol)) {
      ctx.upgrade = protocol;
      return StageStatus::Continue;
    }
  }
  return replyWith(ctx, 403, "upgrade not allowed on this route");
}

}  // namespace vallum::proxy
