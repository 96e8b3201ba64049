#include "router/route_table.h"

#include <algorithm>

#include <re2/re2.h>

#include "common/ip_literal.h"

namespace vallum::router {

PathMatcher::PathMatcher(PathMatcher&&) noexcept = default;
PathMatcher& PathMatcher::operator=(PathMatcher&&) noexcept = default;
PathMatcher::~PathMatcher() = default;

Result<PathMatcher> PathMatcher::fromRoute(const config::Route& route) {
  PathMatcher m;
  if (!route.regex.empty()) {
    m.kind_ = Kind::Regex;
    m.text_ = route.regex;
    RE2::Options options;
    options.set_log_errors(false);
    m.regex_ = std::make_unique<re2::RE2>(route.regex, options);
    if (!m.regex_->ok()) {
      return configError(route.key + ".regex: " + m.regex_->error());
    }
  } else if (!route.path.empty()) {
    m.kind_ = Kind::Exact;
    m.text_ = route.path;
  } else {
    m.kind_ = Kind::Prefix;
    m.text_ = route.prefix.empty() ? "/" : route.prefix;
  }
  return m;
}

bool PathMatcher::matches(std::string_view path) const {
  switch (kind_) {
    case Kind::Prefix:
      return path.size() >= text_.size() && path.compare(0, text_.size(), text_) == 0;
    case Kind::Exact:
      return path == text_;
    case Kind::Regex:
      return re2::RE2::FullMatch(path, *regex_);
  }
  return false;
}

bool wildcardHostMatches(std::string_view pattern, std::string_view host) {
  // Glob match where '*' spans any run (possibly empty) of characters; iterative with
  // backtracking to the last star, linear in practice for host-sized inputs.
  size_t p = 0, h = 0, star = std::string_view::npos, star_h = 0;
  while (h < host.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_h = h;
    } else if (p < pattern.size() && pattern[p] == host[h]) {
      ++p;
      ++h;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      h = ++star_h;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

Result<RouteTable> RouteTable::build(const std::vector<config::Route>& routes) {
  RouteTable table;
  table.matchers_.reserve(routes.size());
  for (uint32_t i = 0; i < routes.size(); ++i) {
    const config::Route& route = routes[i];
    auto matcher = PathMatcher::fromRoute(route);
    if (!matcher) {
      return matcher.error();
    }
    table.matchers_.push_back(std::move(*matcher));
    if (route.from.tcp()) {
      for (const std::string& authority : route.from.connect_authorities) {
        table.connect_.emplace(authority, i);  // the first route keeps it
      }
      continue;
    }
    if (route.from.wildcard) {
      table.wildcards_.push_back({route.from.host, route.from.port, i});
      continue;
    }
    // IPv6 literals are keyed in canonical form, as requests are looked up (RFC 5952).
    std::string key;
    if (route.from.host.find(':') == std::string::npos ||
        !ip::canonicalIpv6(route.from.host, key)) {
      key = route.from.host;
    }
    HostRoutes& host = table.hosts_[key];
    if (route.from.port) {
      auto it = std::find_if(host.by_port.begin(), host.by_port.end(),
                             [&](const auto& g) { return g.first == *route.from.port; });
      if (it == host.by_port.end()) {
        host.by_port.push_back({*route.from.port, {}});
        it = host.by_port.end() - 1;
      }
      it->second.push_back(i);
    } else {
      host.any_port.push_back(i);
    }
  }
  return table;
}

uint32_t RouteTable::firstMatch(const std::vector<uint32_t>& candidates,
                                std::string_view path) const {
  for (uint32_t index : candidates) {
    if (matchers_[index].matches(path)) {
      return index;
    }
  }
  return kNoRoute;
}

uint32_t RouteTable::match(std::string_view host, uint16_t port, std::string_view path) const {
  if (auto it = hosts_.find(host); it != hosts_.end()) {
    const HostRoutes& routes = it->second;
    for (const auto& [route_port, candidates] : routes.by_port) {
      if (route_port == port) {
        return firstMatch(candidates, path);
      }
    }
    if (!routes.any_port.empty()) {
      return firstMatch(routes.any_port, path);
    }
    // Only routes for other ports: this host:port has no virtual host of its own.
  }
  for (const WildcardRoute& w : wildcards_) {
    if (w.port && *w.port != port) {
      continue;
    }
    if (wildcardHostMatches(w.pattern, host) && matchers_[w.route].matches(path)) {
      return w.route;
    }
  }
  return kNoRoute;
}

}  // namespace vallum::router

namespace vallum::router {

bool RouteTable::hasConcreteRoutes(std::string_view host, uint16_t port) const {
  auto it = hosts_.find(host);
  if (it == hosts_.end()) {
    return false;
  }
  if (!it->second.any_port.empty()) {
    return true;
  }
  for (const auto& [route_port, candidates] : it->second.by_port) {
    if (route_port == port) {
      return true;
    }
  }
  return false;
}

uint32_t RouteTable::matchConnect(std::string_view authority) const {
  auto it = connect_.find(authority);
  return it == connect_.end() ? kNoRoute : it->second;
}

}  // namespace vallum::router
