#include "http/trailers.h"

#include <array>

#include "common/strings.h"

namespace vallum::http {

namespace {

constexpr std::array<std::string_view, 44> kForbidden = {
    // framing and hop-by-hop (RFC 9112 §6, §7; RFC 9110 §7.6.1)
    "content-length", "transfer-encoding", "te", "trailer", "connection", "keep-alive",
    "proxy-connection", "upgrade",
    // routing and request modifiers (RFC 9110 §7.2, §7.6, §10.1, §13, §14)
    "host", "expect", "max-forwards", "range", "if-match", "if-none-match", "if-modified-since",
    "if-unmodified-since", "if-range", "cache-control", "pragma",
    // authentication and cookies (RFC 9110 §11; RFC 6265)
    "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate", "cookie",
    "set-cookie",
    // response control data (RFC 9110 §10.2) and payload processing (§8.3-§8.4, §14.4)
    "age", "expires", "date", "location", "retry-after", "vary", "warning", "content-type",
    "content-encoding", "content-range", "content-location", "alt-svc",
    // what the proxy itself vouches for
    "forwarded", "via", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
    "x-forwarded-port", "x-request-id"};

}  // namespace

bool isForbiddenTrailer(std::string_view name) {
  if (strings::istartsWith(name, "x-pomerium-") || strings::istartsWith(name, "x-envoy-") ||
      name.empty() || name.front() == ':') {
    return true;
  }
  for (std::string_view forbidden : kForbidden) {
    if (strings::iequals(name, forbidden)) {
      return true;
    }
  }
  return false;
}

void appendLastChunk(const HeaderMap& trailers, std::string& out) {
  out += "0\r\n";
  for (size_t i = 0; i < trailers.fieldCount(); ++i) {
    if (!trailers.live(i) || isForbiddenTrailer(trailers.name(i))) {
      continue;
    }
    out += trailers.name(i);
    out += ": ";
    out += trailers.value(i);
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace vallum::http
