#include "proxy/response_headers.h"

#include <algorithm>

#include "common/strings.h"
#include "http/hop_by_hop.h"

namespace vallum::proxy {

namespace {

bool isResponseHop(http::HeaderId id) {
  switch (id) {
    case http::HeaderId::Connection:
    case http::HeaderId::KeepAlive:
    case http::HeaderId::ProxyConnection:
    case http::HeaderId::TransferEncoding:
    case http::HeaderId::ContentLength:  // re-stated from the framing
    case http::HeaderId::Upgrade:
    case http::HeaderId::Te:
    case http::HeaderId::Trailer:
      return true;
    default:
      return false;
  }
}

}  // namespace

void composeResponse(const http::ResponseHeaders& upstream, const RouteRuntime& route,
                     std::string_view request_id, std::vector<std::string_view>& nominated,
                     http::OutgoingResponse& out) {
  out.clear();
  out.status = upstream.status;
  out.reason = upstream.reason;
  out.framing = upstream.framing;
  out.content_length = upstream.content_length;
  out.state_length = upstream.framing == http::BodyFraming::None &&
                     upstream.headers.count(http::HeaderId::ContentLength) > 0;
  http::collectConnectionNominated(upstream.headers, nominated);
  const auto& rewrites = route.rewrite_response_headers;
  const auto& set = route.response_headers;
  bool has_request_id = false;
  for (size_t i = 0; i < upstream.headers.fieldCount(); ++i) {
    const http::HeaderId id = upstream.headers.id(i);
    const std::string_view name = upstream.headers.name(i);
    // A 101 keeps its Upgrade (the server codec states `Connection: upgrade`).
    const bool kept_upgrade = id == http::HeaderId::Upgrade && upstream.status == 101;
    if (!upstream.headers.live(i) || (isResponseHop(id) && !kept_upgrade) ||
        (!nominated.empty() && http::isNominated(name, nominated))) {
      continue;
    }
    if (std::any_of(set.begin(), set.end(),
                    [&](const auto& entry) { return strings::iequals(entry.first, name); })) {
      continue;  // set_response_headers: overwrite-or-add
    }
    const std::string_view value = upstream.headers.value(i);
    if (!rewrites.empty() &&
        std::any_of(rewrites.begin(), rewrites.end(), [&](const config::ResponseHeaderRewrite& r) {
          return strings::iequals(r.header, name);
        })) {
      // Only the first value is examined and the whole header replaced; every rule for the
      // header applies in order, each to the result of the previous (Pomerium's Lua filter).
      bool first = true;
      for (size_t j = 0; j < i; ++j) {
        first = first && !strings::iequals(upstream.headers.name(j), name);
      }
      if (!first) {
        continue;
      }
      std::string current(value);
      for (const config::ResponseHeaderRewrite& r : rewrites) {
        if (strings::iequals(r.header, name) && current.starts_with(r.prefix)) {
          current = r.value + current.substr(r.prefix.size());
        }
      }
      out.headers.addCopy(name, current);
      continue;
    }
    has_request_id = has_request_id || id == http::HeaderId::XRequestId;
    out.headers.add(name, value);
  }
  for (const auto& [set_name, set_value] : set) {
    out.headers.add(set_name, set_value);
  }
  if (!has_request_id) {
    out.headers.add("x-request-id", request_id);
  }
}

}  // namespace vallum::proxy
