#pragma once

#include <string_view>
#include <vector>

#include "http/message.h"
#include "proxy/snapshot.h"

/// The response head a client gets for an upstream's response (Pomerium `set_response_headers`,
/// `rewrite_response_headers`; hop-by-hop fields removed, RFC 9110 §7.6.1). Protocol-free: the
/// server codec frames it.
namespace vallum::proxy {

/// Composes `out` (cleared first) from the upstream's head: hop-by-hop fields (Connection and
/// the fields it names, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE, Trailer)
/// and the framing fields dropped; the route's rewrite_response_headers replace a value's
/// prefix (the first value examined, the whole field replaced, every rule for the field in
/// order, names case-insensitive); its set_response_headers set (overwrite or add);
/// `x-request-id` added unless the upstream set one. The body's framing and length come from
/// the upstream (the codec decides the wire framing); a HEAD/304 answer keeps stating the
/// upstream's Content-Length. `out` borrows from `upstream`, `route` and `request_id`.
/// `nominated` is scratch space.
void composeResponse(const http::ResponseHeaders& upstream, const RouteRuntime& route,
                     std::string_view request_id, std::vector<std::string_view>& nominated,
                     http::OutgoingResponse& out);

}  // namespace vallum::proxy
