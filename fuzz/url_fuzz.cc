// Fuzzes the URL and address grammars: the config's URLs and listen addresses
// (src/config/url.h) and the data plane's request-target, authority and host parsing
// (src/http/path.h, src/common/ip_literal.h). The whole input is given to each parser.
//
// Invariants: parts are within the input; the scheme is lower-case; a URL re-assembled from
// its parts splits into the same parts; a listen address printed with toString() parses back
// to itself; an IPv6 canonical form is accepted iff inet_pton accepts the text, equals
// inet_ntop's text (which is RFC 5952 for addresses without an embedded IPv4 part) and is
// canonical again; canonicalHost is idempotent.

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/ip_literal.h"
#include "config/url.h"
#include "fuzz_check.h"
#include "http/path.h"

namespace {

void checkUrl(std::string_view text) {
  auto parts = vallum::config::splitUrl(text);
  if (!parts) {
    FUZZ_CHECK(!parts.error().detail().empty());
    return;
  }
  const vallum::config::UrlParts& p = *parts;
  FUZZ_CHECK(p.scheme.size() + p.authority.size() + p.path.size() + p.query.size() +
                 p.fragment.size() <=
             text.size());
  FUZZ_CHECK(p.host.size() <= p.authority.size());
  for (char c : p.scheme) {
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  }
  (void)vallum::config::checkAbsoluteUrl(text);
  if (p.scheme.empty() || p.has_userinfo) {
    return;
  }
  std::string again = p.scheme + "://" + p.authority + p.path;
  if (!p.query.empty()) {
    again += "?" + p.query;
  }
  if (!p.fragment.empty()) {
    again += "#" + p.fragment;
  }
  auto reparsed = vallum::config::splitUrl(again);
  FUZZ_CHECK(reparsed.has_value());
  FUZZ_CHECK(reparsed->scheme == p.scheme);
  FUZZ_CHECK(reparsed->host == p.host);
  FUZZ_CHECK(reparsed->port == p.port);
  FUZZ_CHECK(reparsed->path == p.path);
}

void checkListenAddress(std::string_view text) {
  auto parsed = vallum::config::parseListenAddress(text);
  if (!parsed) {
    return;
  }
  FUZZ_CHECK(parsed->address.host.size() <= text.size());
  const std::string printed = parsed->address.toString();
  auto again = vallum::config::parseListenAddress(printed);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->address.host == parsed->address.host);
  FUZZ_CHECK(again->address.port == parsed->address.port);
}

void checkIpv6(std::string_view text) {
  std::string canonical;
  const bool ours = vallum::ip::canonicalIpv6(text, canonical);
  const std::string z(text);
  unsigned char bin[16];
  const bool libc = z.size() == std::strlen(z.c_str()) && inet_pton(AF_INET6, z.c_str(), bin) == 1;
  FUZZ_CHECK(ours == libc);
  if (!ours) {
    return;
  }
  char buf[INET6_ADDRSTRLEN];
  FUZZ_CHECK(inet_ntop(AF_INET6, bin, buf, sizeof(buf)) != nullptr);
  if (canonical.find('.') == std::string::npos &&
      std::string_view(buf).find('.') == std::string_view::npos) {
    FUZZ_CHECK(canonical == buf);
  }
  std::string twice;
  FUZZ_CHECK(vallum::ip::canonicalIpv6(canonical, twice));
  FUZZ_CHECK(twice == canonical);
}

void checkAuthority(std::string_view text) {
  vallum::http::Authority authority;
  if (!vallum::http::parseAuthority(text, authority)) {
    return;
  }
  FUZZ_CHECK(!authority.host.empty() && authority.host.size() <= text.size());
  std::string host;
  if (vallum::http::canonicalHost(authority.host, host)) {
    std::string twice;
    const bool bracketed = authority.host.front() == '[';
    FUZZ_CHECK(vallum::http::canonicalHost(bracketed ? "[" + host + "]" : host, twice));
    FUZZ_CHECK(twice == host);
    for (char c : host) {
      FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  checkUrl(text);
  checkListenAddress(text);
  checkIpv6(text);
  checkAuthority(text);
  vallum::http::RequestTarget target;
  if (vallum::http::parseRequestTarget(text, target) && target.absolute_form) {
    FUZZ_CHECK(!target.authority.empty());
    checkAuthority(target.authority);
  }
  return 0;
}
