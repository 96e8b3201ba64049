#include "config/url_decoder.h"

#include <cstdint>
#include <utility>

#include "common/strings.h"
#include "config/diagnostics.h"

namespace vallum::config {

using yaml::indexKey;

bool RouteUrlDecoder::decodeFrom(const yaml::Node& v, const std::string& key, FromUrl& from,
                                 std::string& scheme_out) {
  auto text = r_.readString(v, key);
  if (!text) {
    return false;
  }
  from.raw = *text;
  auto parts = splitUrl(*text);
  if (!parts) {
    r_.error(v.mark, key, "invalid source url: " + parts.error().detail());
    return true;
  }
  if (parts->scheme.empty()) {
    r_.error(v.mark, key,
             "url does not contain a valid scheme (have you specified protocol, e.g. "
             "https://" +
                 *text + "?)");
    return true;
  }
  const std::string& scheme = parts->scheme;
  scheme_out = scheme;
  if (scheme == "tcp+https" || scheme == "tcp+http") {
    decodeTcpFrom(*parts, v, key, from);
    return true;
  }
  if (scheme == "udp+https" || scheme == "udp+http") {
    r_.error(v.mark, key, scheme + ":// routes (UDP over HTTP) are not supported");
    return true;
  }
  if (scheme == "ssh") {
    r_.error(v.mark, key, "ssh:// routes are not supported");
    return true;
  }
  if (scheme != "https" && scheme != "http") {
    r_.error(v.mark, key, "unsupported scheme " + quoted(scheme) + " (expected https)");
    return true;
  }
  if (parts->host.empty()) {
    r_.error(v.mark, key, "url does not contain a valid hostname");
    return true;
  }
  if (!parts->path.empty() && parts->path != "/") {
    r_.error(v.mark, key,
             "source url (" + *text +
                 ") contains a path, but it should be set using the path field instead");
  }
  if (scheme == "http") {
    r_.warning(v.mark, key,
               "uses http, but only https is supported for from URLs; the route is served "
               "on the main listener like an https route");
  }
  if (parts->has_userinfo) {
    r_.warning(v.mark, key, "user info in the source url is ignored");
  }
  from.scheme = scheme;
  from.host = strings::lowerAscii(parts->host);
  from.port = parts->port;
  from.wildcard = from.host.find('*') != std::string::npos;
  return true;
}

// `from: tcp+https://host:port` (Pomerium TCP routes): the CONNECT authority is the URL's
// host:port, or each path segment (`tcp+https://proxy.example.com/db.internal:5432`).
void RouteUrlDecoder::decodeTcpFrom(const UrlParts& parts, const yaml::Node& v,
                                    const std::string& key, FromUrl& from) {
  if (parts.host.empty()) {
    r_.error(v.mark, key, "url does not contain a valid hostname");
    return;
  }
  std::vector<std::string> authorities;
  std::string_view path = parts.path;
  while (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  if (path.empty()) {
    if (!parts.port) {
      r_.error(v.mark, key,
               "a " + parts.scheme + ":// route needs a port: it is the CONNECT authority (" +
                   parts.scheme + "://" + parts.host + ":5432)");
      return;
    }
    authorities.push_back(strings::lowerAscii(parts.authority));
  }
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    if (segment.empty()) {
      continue;
    }
    auto target = splitUrl("tcp://" + std::string(segment));
    if (!target || target->host.empty() || !target->port || !target->path.empty()) {
      r_.error(v.mark, key,
               "path segment " + quoted(segment) + " is not a host:port CONNECT target");
      return;
    }
    authorities.push_back(strings::lowerAscii(std::string(segment)));
  }
  if (parts.scheme == "tcp+http") {
    r_.warning(v.mark, key,
               "uses tcp+http, but only tcp+https is supported for from URLs; the route is "
               "served on the main listener like a tcp+https route");
  }
  from.scheme = parts.scheme;
  from.host = strings::lowerAscii(parts.host);
  from.port = parts.port;
  from.connect_authorities = std::move(authorities);
}

void RouteUrlDecoder::decodeTo(const yaml::Node& v, const std::string& key,
                               std::vector<UpstreamUrl>& to, ToFacts& facts) {
  std::vector<Item> items;
  bool ok = true;
  if (v.isScalar()) {
    items.push_back(Item{&v, key});
  } else if (v.isSequence()) {
    if (v.items.empty()) {
      r_.error(v.mark, key, "url list is empty");
      facts.seen = true;  // the problem is reported; don't also say `to` is missing
      return;
    }
    collectTo(v, key, items, ok);
  } else {
    r_.error(v.mark, key, "expected a URL or a list of URLs, got " + yaml::describe(v));
    facts.seen = true;
    return;
  }
  facts.seen = true;
  facts.mark = v.mark;
  facts.key = key;

  size_t weighted = 0;
  for (const Item& item : items) {
    if (auto up = decodeUpstream(*item.node, item.key, facts)) {
      weighted += up->weight > 0 ? 1 : 0;
      to.push_back(std::move(*up));
    } else {
      ok = false;
    }
  }
  if (ok && weighted != 0 && weighted != to.size()) {
    r_.error(v.mark, key,
             "either no weights should be provided, or all endpoints must have non-zero "
             "weight specified");
  }
  size_t tcp = 0, udp = 0, unix_sockets = 0;
  for (const std::string& scheme : facts.schemes) {
    tcp += scheme == "tcp";
    udp += scheme == "udp";
    unix_sockets += scheme == "unix" || scheme == "https+unix";
  }
  size_t n = facts.schemes.size();
  if (tcp != 0 && tcp != n) {
    r_.error(v.mark, key, "cannot mix tcp and non-tcp To URLs");
  }
  if (udp != 0 && udp != n) {
    r_.error(v.mark, key, "cannot mix udp and non-udp To URLs");
  }
  if (unix_sockets != 0 && unix_sockets != n) {
    r_.error(v.mark, key, "cannot mix unix and non-unix To URLs");
  }
}

void RouteUrlDecoder::collectTo(const yaml::Node& list, const std::string& key,
                                std::vector<Item>& out, bool& ok) {
  for (size_t i = 0; i < list.items.size(); ++i) {
    const yaml::Node& item = list.items[i];
    std::string item_key = indexKey(key, i);
    if (item.isSequence()) {
      collectTo(item, item_key, out, ok);
    } else if (item.isScalar()) {
      out.push_back({&item, std::move(item_key)});
    } else {
      r_.error(item.mark, item_key, "expected a URL string, got " + yaml::describe(item));
      ok = false;
    }
  }
}

std::optional<UpstreamUrl> RouteUrlDecoder::decodeUpstream(const yaml::Node& node,
                                                           const std::string& key, ToFacts& facts) {
  std::string_view text = node.scalar;
  size_t comma = text.find(',');
  std::string_view url_text = text.substr(0, comma);
  UpstreamUrl up;
  up.raw = std::string(url_text);
  bool ok = decodeUpstreamUrl(url_text, node.mark, key, up, facts);
  if (comma != std::string_view::npos) {
    std::string_view weight_text = strings::trimOws(text.substr(comma + 1));
    auto weight = strings::parseDecimal(weight_text);
    if (!weight || *weight > UINT32_MAX) {
      r_.error(node.mark, key,
               "invalid load balancing weight " + quoted(weight_text) +
                   " (expected an unsigned 32-bit integer after the comma)");
      ok = false;
    } else if (*weight == 0) {
      r_.error(node.mark, key, "zero load balancing weight not permitted");
      ok = false;
    } else {
      up.weight = uint32_t(*weight);
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return up;
}

bool RouteUrlDecoder::decodeUpstreamUrl(std::string_view text, yaml::Mark mark,
                                        const std::string& key, UpstreamUrl& up, ToFacts& facts) {
  if (text.empty()) {
    r_.error(mark, key, "url cannot be empty");
    return false;
  }
  auto parts = splitUrl(text);
  if (!parts) {
    r_.error(mark, key, "invalid url: " + parts.error().detail());
    return false;
  }
  if (parts->scheme.empty()) {
    if (strings::parseDecimal(text)) {
      // `to: [http://a:80,10]` is a YAML flow list of two items, "http://a:80" and "10".
      r_.error(mark, key,
               "url scheme must be provided; " + quoted(text) +
                   " looks like a load balancing weight split off by a YAML flow list: quote "
                   "the entry, e.g. 'http://host:port," +
                   std::string(text) + "'");
    } else {
      r_.error(mark, key, "url scheme must be provided (e.g. http://" + std::string(text) + ")");
    }
    return false;
  }
  const std::string& scheme = parts->scheme;
  facts.schemes.push_back(scheme);
  if (scheme == "https+unix") {
    r_.error(mark, key, scheme + ":// upstreams are not supported yet");
    return false;
  }
  if (scheme == "unix") {
    // Pomerium v0.33: `unix:///run/app.sock`, the path is the socket (no host).
    if (parts->path.empty() || !parts->host.empty()) {
      r_.error(mark, key, "a unix:// upstream names its socket by path, as unix:///run/app.sock");
      return false;
    }
    up.scheme = scheme;
    up.unix_path = std::move(parts->path);
    return true;
  }
  if (scheme == "udp" || scheme == "ssh") {
    r_.error(mark, key, scheme + ":// upstreams are not supported");
    return false;
  }
  if (scheme != "http" && scheme != "https" && scheme != "h2c" && scheme != "tcp") {
    r_.error(mark, key,
             "unsupported upstream scheme " + quoted(scheme) +
                 " (expected http, https, h2c, unix, https+unix or tcp)");
    return false;
  }
  if (parts->host.empty()) {
    r_.error(mark, key, "endpoint hostname must be specified");
    return false;
  }
  if (parts->host.find('*') != std::string::npos) {
    r_.error(mark, key, "upstream host " + quoted(parts->host) + " cannot contain '*'");
    return false;
  }
  if (parts->has_userinfo) {
    r_.warning(mark, key, "user info in the url is ignored");
  }
  up.scheme = scheme;
  up.host = strings::lowerAscii(parts->host);
  up.port = parts->port;
  up.effective_port = parts->port ? *parts->port : (scheme == "https" ? 443 : 80);
  up.authority = std::move(parts->authority);
  up.path = std::move(parts->path);
  return true;
}

}  // namespace vallum::config
