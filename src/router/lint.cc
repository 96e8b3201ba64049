#include "router/lint.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <re2/re2.h>

#include "router/path_cover_index.h"
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

namespace {

/// The routes of one virtual host seen so far: a concrete host with its port constraint, or one
/// wildcard pattern with its port constraint.
struct HostGroup {
  PathCoverIndex paths;
};

std::string groupKey(const config::Route& route) {
  std::string key = route.from.host;
  key += '\0';
  key += route.from.port ? std::to_string(*route.from.port) : "*";
  return key;
}

/// The wildcard groups, found by the patterns that cover a given pattern. A leading-star pattern
/// "*S" (nearly all of them) can only cover a pattern that ends in S, so those are looked up by
/// each suffix of the covered pattern; any other shape is compared with every pattern.
class WildcardGroups {
 public:
  HostGroup& groupOf(const config::Route& route) {
    auto [it, added] = groups_.try_emplace(groupKey(route));
    if (added) {
      const std::string& pattern = route.from.host;
      if (pattern.size() > 1 && pattern[0] == '*' && pattern.find('*', 1) == std::string::npos) {
        by_tail_.emplace(tailKey(pattern.substr(1), route.from.port), &it->second);
      } else {
        other_.push_back({pattern, route.from.port, &it->second});
      }
    }
    return it->second;
  }

  /// Every group whose pattern covers `route`'s (its own included), same port constraint.
  std::vector<const HostGroup*> covering(const config::Route& route) const {
    std::vector<const HostGroup*> out;
    const std::string& pattern = route.from.host;
    for (size_t i = 0; i < pattern.size(); ++i) {
      auto it = by_tail_.find(tailKey(pattern.substr(i), route.from.port));
      if (it != by_tail_.end() && wildcardHostMatches("*" + pattern.substr(i), pattern)) {
        out.push_back(it->second);
      }
    }
    for (const Other& o : other_) {
      if (o.port == route.from.port && wildcardHostMatches(o.pattern, pattern)) {
        out.push_back(o.group);
      }
    }
    return out;
  }

 private:
  struct Other {
    std::string pattern;
    std::optional<uint16_t> port;
    const HostGroup* group;
  };

  static std::string tailKey(const std::string& tail, std::optional<uint16_t> port) {
    return tail + '\0' + (port ? std::to_string(*port) : "*");
  }

  std::unordered_map<std::string, HostGroup> groups_;  // node-based: pointers stay valid
  std::unordered_map<std::string, const HostGroup*> by_tail_;
  std::vector<Other> other_;
};

}  // namespace

void lintShadowedRoutes(const std::vector<config::Route>& routes,
                        config::Diagnostics& diagnostics) {
  // Routes are visited in order; each is checked against the earlier routes of the groups that
  // cover its host, then added to its own group. Concrete routes only meet routes of the same
  // host and port constraint; wildcard routes those of wildcard patterns that cover theirs.
  std::unordered_map<std::string, HostGroup> concrete;
  WildcardGroups wildcards;
  for (size_t j = 0; j < routes.size(); ++j) {
    const config::Route& route = routes[j];
    if (route.from.host.empty()) {
      continue;  // invalid `from`, reported elsewhere
    }
    size_t first = PathCoverIndex::kNone;
    HostGroup* own = nullptr;
    if (route.from.wildcard) {
      for (const HostGroup* group : wildcards.covering(route)) {
        first = std::min(first, group->paths.firstCovering(route));
      }
      own = &wildcards.groupOf(route);
    } else {
      own = &concrete[groupKey(route)];
      first = own->paths.firstCovering(route);
    }
    own->paths.add(j, route);
    if (first == PathCoverIndex::kNone) {
      continue;
    }
    const config::Route& earlier = routes[first];
    std::string where = earlier.key;
    if (earlier.pos.line > 0) {
      where += " (line " + std::to_string(earlier.pos.line) + ")";
    }
    diagnostics.warning(route.pos, route.key,
                        "can never match: " + where +
                            " comes first and matches every request this route would see");
  }
}

}  // namespace vallum::router
