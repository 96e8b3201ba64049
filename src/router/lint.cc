#include "router/lint.h"

#include <cstdint>
#include <string>
#include <unordered_map>

#include <re2/re2.h>

#include "router/route_table.h"

namespace vallum::router {

namespace {

enum class PathKind { Prefix, Exact, Regex };

struct PathSpec {
  PathKind kind;
  const std::string* text;
};

PathSpec pathSpec(const config::Route& route) {
  static const std::string kRoot = "/";
  if (!route.regex.empty()) {
    return {PathKind::Regex, &route.regex};
  }
  if (!route.path.empty()) {
    return {PathKind::Exact, &route.path};
  }
  return {PathKind::Prefix, route.prefix.empty() ? &kRoot : &route.prefix};
}

std::unique_ptr<re2::RE2> compile(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(pattern, options);
  return re->ok() ? std::move(re) : nullptr;
}

/// Every string the regex fully matches starts with `prefix`: RE2's PossibleMatchRange gives
/// bounds [min, max] of all matches; strings between two strings sharing a prefix share it too.
bool regexOnlyMatchesUnder(const std::string& pattern, const std::string& prefix) {
  if (prefix == "/") {
    return true;  // every request path starts with "/"
  }
  auto re = compile("^(?:" + pattern + ")$");  // route regexes are full matches
  if (!re) {
    return false;
  }
  std::string min, max;
  if (!re->PossibleMatchRange(&min, &max, 256)) {
    return false;
  }
  return min.starts_with(prefix) && max.starts_with(prefix);
}

bool pathCovers(const config::Route& earlier, const config::Route& later) {
  const PathSpec a = pathSpec(earlier);
  const PathSpec b = pathSpec(later);
  switch (a.kind) {
    case PathKind::Prefix:
      if (b.kind == PathKind::Regex) {
        return regexOnlyMatchesUnder(*b.text, *a.text);
      }
      return b.text->starts_with(*a.text);
    case PathKind::Exact:
      return b.kind == PathKind::Exact && *a.text == *b.text;
    case PathKind::Regex:
      if (b.kind == PathKind::Regex) {
        return *a.text == *b.text;
      }
      if (b.kind == PathKind::Exact) {
        auto re = compile(*a.text);
        return re && re2::RE2::FullMatch(*b.text, *re);
      }
      return false;
  }
  return false;
}

bool hostCovers(const config::Route& earlier, const config::Route& later) {
  if (earlier.from.port != later.from.port) {
    return false;  // a different port constraint is a different virtual host
  }
  if (!earlier.from.wildcard && !later.from.wildcard) {
    return earlier.from.host == later.from.host;
  }
  if (earlier.from.wildcard && later.from.wildcard) {
    // The earlier glob matching the later pattern taken literally means every host the later
    // pattern matches is matched too (a '*' in the later pattern can only be consumed by a
    // '*' of the earlier one).
    return wildcardHostMatches(earlier.from.host, later.from.host);
  }
  return false;  // concrete hosts never fall back to wildcard routes, and vice versa
}

}  // namespace

bool routeShadows(const config::Route& earlier, const config::Route& later) {
  return hostCovers(earlier, later) && pathCovers(earlier, later);
}

void lintShadowedRoutes(const std::vector<config::Route>& routes,
                        config::Diagnostics& diagnostics) {
  // Compare only routes that can share a host group: concrete routes by host, wildcard routes
  // among themselves.
  std::unordered_map<std::string, std::vector<size_t>> by_host;
  std::vector<size_t> wildcards;
  for (size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].from.host.empty()) {
      continue;  // invalid `from`, reported elsewhere
    }
    if (routes[i].from.wildcard) {
      wildcards.push_back(i);
    } else {
      by_host[routes[i].from.host].push_back(i);
    }
  }
  // shadowed_by[j] = the first earlier route that shadows route j; reported in route order.
  std::vector<size_t> shadowed_by(routes.size(), SIZE_MAX);
  auto check = [&](const std::vector<size_t>& group) {
    for (size_t j = 1; j < group.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        if (routeShadows(routes[group[i]], routes[group[j]])) {
          shadowed_by[group[j]] = group[i];
          break;
        }
      }
    }
  };
  for (const auto& [host, group] : by_host) {
    check(group);
  }
  check(wildcards);
  for (size_t j = 0; j < routes.size(); ++j) {
    if (shadowed_by[j] == SIZE_MAX) {
      continue;
    }
    const config::Route& earlier = routes[shadowed_by[j]];
    std::string where = earlier.key;
    if (earlier.pos.line > 0) {
      where += " (line " + std::to_string(earlier.pos.line) + ")";
    }
    diagnostics.warning(routes[j].pos, routes[j].key,
                        "can never match: " + where +
                            " comes first and matches every request this route would see");
  }
}

}  // namespace vallum::router
