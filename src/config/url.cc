#include "config/url.h"

#include <arpa/inet.h>

#include "common/strings.h"
#include "config/diagnostics.h"

namespace vallum::config {

namespace {

bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isIpv6Literal(const std::string& s) {
  unsigned char buf[16];
  // c_str() would end at an embedded NUL: "::1\0junk" is not "::1".
  return s.find('\0') == std::string::npos && inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Characters allowed in a host name: RFC 3986 unreserved, plus '*' for route wildcards and
// '%' for percent-encoding (Go allows both). Returns the first bad character, or 0.
char badHostChar(std::string_view host) {
  for (char c : host) {
    if (isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '*' ||
        c == '%') {
      continue;
    }
    return c == 0 ? '?' : c;
  }
  return 0;
}

std::string badHostMessage(std::string_view host, char c) {
  std::string message = "invalid character ";
  message += quoted(std::string_view(&c, 1));
  message += " in host ";
  message += quoted(host);
  if (c == '$' || c == '{' || c == '}') {
    message += " (environment variables are not expanded in the config file)";
  }
  return message;
}

// Port text after ':' → value. Empty text is "no port" (Go accepts "host:").
Result<std::optional<uint16_t>> parsePort(std::string_view text) {
  if (text.empty()) {
    return std::optional<uint16_t>();
  }
  auto v = strings::parseDecimal(text);
  if (!v || *v > 65535) {
    return configError("invalid port " + quoted(text));
  }
  return std::optional<uint16_t>(uint16_t(*v));
}

}  // namespace

Result<UrlParts> splitUrl(std::string_view text) {
  if (text.empty()) {
    return configError("url cannot be empty");
  }
  UrlParts out;
  std::string_view rest = text;
  size_t sep = rest.find("://");
  size_t stop = rest.find_first_of("/?#");
  if (sep != std::string_view::npos && sep <= stop) {
    std::string_view scheme = rest.substr(0, sep);
    bool valid = !scheme.empty() && isAlpha(scheme[0]);
    for (char c : scheme) {
      valid = valid && (isAlpha(c) || isDigit(c) || c == '+' || c == '-' || c == '.');
    }
    if (!valid) {
      return configError("invalid url scheme " + quoted(scheme));
    }
    out.scheme = strings::lowerAscii(scheme);
    rest.remove_prefix(sep + 3);
  } else {
    // No scheme: there is nothing reliable to split. "example.com:8080/x" is the usual case.
    return out;
  }

  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out.has_userinfo = true;
    authority.remove_prefix(at + 1);
  }

  std::string_view port_text;
  bool has_colon = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return configError("missing ']' in host " + quoted(authority));
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return configError("unexpected " + quoted(after) + " after host");
      }
      has_colon = true;
      port_text = after.substr(1);
    }
    if (!isIpv6Literal(out.host)) {
      return configError("invalid IPv6 address " + quoted(out.host));
    }
  } else {
    size_t colon = authority.rfind(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_colon = true;
      port_text = authority.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) {
        return configError("IPv6 address " + quoted(authority) +
                           " must be enclosed in brackets, e.g. [::1]:8080");
      }
    }
    if (char c = badHostChar(host)) {
      return configError(badHostMessage(host, c));
    }
    out.host = std::string(host);
  }
  auto port = parsePort(port_text);
  if (!port) {
    return port.error();
  }
  out.port = *port;
  // authority = host[:port] as written, without userinfo and without an empty port.
  out.authority = std::string(
      has_colon && port_text.empty() ? authority.substr(0, authority.size() - 1) : authority);

  size_t q = rest.find_first_of("?#");
  out.path = std::string(rest.substr(0, q));
  rest.remove_prefix(q == std::string_view::npos ? rest.size() : q);
  if (!rest.empty() && rest[0] == '?') {
    size_t hash = rest.find('#');
    out.query = std::string(rest.substr(1, hash == std::string_view::npos ? hash : hash - 1));
    rest.remove_prefix(hash == std::string_view::npos ? rest.size() : hash);
  }
  if (!rest.empty() && rest[0] == '#') {
    out.fragment = std::string(rest.substr(1));
  }
  return out;
}

std::string checkAbsoluteUrl(std::string_view text) {
  auto parts = splitUrl(text);
  if (!parts) {
    return "invalid URL " + quoted(text) + ": " + parts.error().detail();
  }
  if (parts->scheme.empty()) {
    return "invalid URL " + quoted(text) + ": no scheme (e.g. https://host)";
  }
  if (parts->host.empty()) {
    return "invalid URL " + quoted(text) + ": no host";
  }
  return "";
}

Result<ParsedAddress> parseListenAddress(std::string_view text) {
  auto invalid = [&](std::string why) {
    std::string message = "invalid address " + quoted(text) + ": " + std::move(why);
    if (text.find('$') != std::string_view::npos) {
      message += " (environment variables are not expanded)";
    }
    return configError(std::move(message));
  };
  ParsedAddress out;
  out.address.port = 0;
  std::string_view host;
  std::string_view port_text;
  bool has_colon = false;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid("missing ']'");
    }
    host = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return invalid("unexpected " + quoted(after) + " after ']'");
      }
      has_colon = true;
      port_text = after.substr(1);
    }
    if (!isIpv6Literal(std::string(host))) {
      return invalid("not an IPv6 address inside [...]");
    }
  } else {
    size_t colon = text.rfind(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_colon = true;
      port_text = text.substr(colon + 1);
    }
    if (host.find(':') != std::string_view::npos) {
      return invalid("IPv6 addresses must be enclosed in brackets, e.g. [::1]:443");
    }
    for (char c : host) {
      if (!(isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_')) {
        return invalid("invalid character " + quoted(std::string_view(&c, 1)) + " in host");
      }
    }
  }
  if (has_colon) {
    auto v = strings::parseDecimal(port_text);
    if (port_text.empty()) {
      return invalid("missing port number after ':'");
    }
    if (!v || *v > 65535) {
      return invalid("port must be a number from 0 to 65535");
    }
    out.address.port = uint16_t(*v);
    out.has_port = true;
  }
  if (host.empty() && !has_colon) {
    return invalid("empty address");
  }
  out.address.host = std::string(host);
  return out;
}

}  // namespace vallum::config
