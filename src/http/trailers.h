#pragma once

#include <string>
#include <string_view>

#include "http/header_map.h"

/// Trailer fields as a proxy relays them (RFC 9110 §6.5). A trailer section travels on only
/// where the next hop can carry one (an HTTP/1.1 chunked body, an HTTP/2 stream) and is
/// dropped otherwise; it is never merged into the header section. Pure functions; any thread.
namespace vallum::http {

/// True for a field a proxy must not relay as a trailer, because a recipient that merged it
/// into the header section would change framing, routing, authentication, caching or the
/// identity Vallum vouches for (RFC 9110 §6.5.1): hop-by-hop and framing fields, Host,
/// request modifiers (Expect, Max-Forwards, Range, conditionals, Cache-Control),
/// credentials and cookies, response control (Location, Date, Vary, …), Content-Type /
/// -Encoding / -Range, and the fields the proxy itself vouches for (X-Forwarded-*,
/// Forwarded, Via, X-Request-Id, X-Pomerium-*, X-Envoy-*). Case-insensitive.
bool isForbiddenTrailer(std::string_view name);

/// Appends the end of a chunked body (RFC 9112 §7.1): the last chunk, the relayable fields of
/// `trailers` (see isForbiddenTrailer), and the final CRLF.
void appendLastChunk(const HeaderMap& trailers, std::string& out);

}  // namespace vallum::http
