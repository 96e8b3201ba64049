#include "proxy/cookies.h"

#include "common/strings.h"
#include "identity/cookie_cipher.h"

namespace vallum::proxy {

namespace {

std::optional<std::string_view> findInField(std::string_view value, std::string_view name) {
  while (!value.empty()) {
    size_t end = value.find(';');
    std::string_view pair = value.substr(0, end);
    value = end == std::string_view::npos ? std::string_view() : value.substr(end + 1);
    pair = strings::trimOws(pair);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> findCookie(const http::HeaderMap& headers, std::string_view name) {
  for (size_t i = 0; i < headers.fieldCount(); ++i) {
    if (!headers.live(i) || headers.name(i).size() != 6 ||
        !strings::iequals(headers.name(i), "cookie")) {
      continue;
    }
    if (auto v = findInField(headers.value(i), name)) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::string> readChunkedCookie(const http::HeaderMap& headers,
                                             std::string_view name) {
  return identity::joinCookie(name, [&](std::string_view n) { return findCookie(headers, n); });
}

bool isChunkOf(std::string_view cookie, std::string_view name) {
  if (!cookie.starts_with(name)) {
    return false;
  }
  std::string_view rest = cookie.substr(name.size());
  if (rest.empty()) {
    return true;
  }
  if (rest.size() < 2 || rest[0] != '_') {
    return false;
  }
  for (char c : rest.substr(1)) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace vallum::proxy
