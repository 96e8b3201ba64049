#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "config/options.h"

/// Internal to the config component: the small URL and host:port grammar the config needs.
/// Written by hand rather than with Boost.URL so that messages name exactly what is wrong
/// (and so that Go's leniencies — an empty port after ':', '*' in hosts — behave as in
/// Pomerium).
namespace vallum::config {

/// "scheme://[userinfo@]host[:port][/path][?query][#fragment]" split into its parts, as
/// written (nothing is decoded or lower-cased except `scheme`).
struct UrlParts {
  std::string scheme;  ///< lower-case; empty when the text has no "scheme://"
  bool has_userinfo = false;
  std::string authority;  ///< host[:port] as written, userinfo removed, "" port removed
  std::string host;       ///< as written, IPv6 without brackets; may be empty
  std::optional<uint16_t> port;
  std::string path;
  std::string query;  ///< without '?'
  std::string fragment;
};

/// Splits a URL. Fails (Errc::InvalidArgument, message suitable after "KEY: ") on an empty text,
/// a malformed scheme, a bad port, an unbracketed IPv6 address or a character that cannot be in
/// a host name ('$' gets a hint that environment variables are not expanded). A missing scheme
/// or host is not an error here: callers word those themselves.
Result<UrlParts> splitUrl(std::string_view text);

/// "" when `text` is an absolute URL with a scheme and a host; otherwise the problem.
std::string checkAbsoluteUrl(std::string_view text);

/// A parsed listen address plus whether the port was written.
struct ParsedAddress {
  ListenAddress address;
  bool has_port = false;
};

/// Parses "host:port", ":port", "[v6]:port", "host" or "[v6]" (port then 0 and has_port
/// false). Ports are 0-65535 (0 = any free port). Hosts are IPv4 literals, bracketed IPv6
/// literals or DNS names. The error names the text and the problem; when the text holds '$' it
/// adds that environment variables are not expanded (`:$PORT`, `${ADDRESS}`).
Result<ParsedAddress> parseListenAddress(std::string_view text);

}  // namespace vallum::config
