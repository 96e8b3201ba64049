#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/header_map.h"

/// Request cookies (RFC 6265 §5.4 `Cookie: a=1; b=2`, possibly in several fields on HTTP/2,
/// RFC 9113 §8.2.3) as the identity stages read and strip them. No allocation to look one up.
namespace vallum::proxy {

/// The value of cookie `name` (the first one, in field order), or nullopt.
std::optional<std::string_view> findCookie(const http::HeaderMap& headers, std::string_view name);

/// A sealed session cookie, reassembled from its chunks (`name`, `name_1`, ...: identity's
/// splitCookie), or nullopt when absent or incomplete.
std::optional<std::string> readChunkedCookie(const http::HeaderMap& headers, std::string_view name);

/// True when cookie `cookie` is `name` or one of its chunks (`name_1`, `name_2`, ...).
bool isChunkOf(std::string_view cookie, std::string_view name);

/// Appends `value` (one Cookie field) to `out` without the cookies for which `drop(name)` is
/// true, re-joined with "; " (as Pomerium's clean-upstream filter). Returns whether any cookie
/// was dropped.
template <class Drop>
bool appendCookiesWithout(std::string_view value, Drop&& drop, std::string& out) {
  bool dropped = false;
  while (!value.empty()) {
    size_t end = value.find(';');
    std::string_view pair = value.substr(0, end);
    value = end == std::string_view::npos ? std::string_view() : value.substr(end + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) {
      pair.remove_prefix(1);
    }
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) {
      pair.remove_suffix(1);
    }
    if (pair.empty()) {
      continue;
    }
    std::string_view name = pair.substr(0, pair.find('='));
    if (drop(name)) {
      dropped = true;
      continue;
    }
    if (!out.empty()) {
      out += "; ";
    }
    out += pair;
  }
  return dropped;
}

}  // namespace vallum::proxy
