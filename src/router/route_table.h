#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "config/options.h"

namespace re2 {
class RE2;
}

namespace vallum::router {

/// How a route matches the request path (Pomerium `prefix`, `path`, `regex`). Exactly one specifier
/// is used, precedence regex > path > prefix > "/". Case-sensitive.
class PathMatcher {
 public:
  enum class Kind : uint8_t { Prefix, Exact, Regex };

  /// From a route's prefix/path/regex. Fails only when the regex does not compile.
  static Result<PathMatcher> fromRoute(const config::Route& route);

  PathMatcher(PathMatcher&&) noexcept;
  PathMatcher& operator=(PathMatcher&&) noexcept;
  ~PathMatcher();

  /// `path` is the normalized path without query.
  bool matches(std::string_view path) const;

  Kind kind() const { return kind_; }
  /// The prefix (Prefix) or path (Exact) or pattern (Regex).
  const std::string& text() const { return text_; }

 private:
  PathMatcher() = default;
  Kind kind_ = Kind::Prefix;
  std::string text_;
  std::unique_ptr<re2::RE2> regex_;
};

/// True when `host` (lower-case, no port) matches a `from` host pattern whose '*' stands for
/// any run of characters, dots included (Pomerium turns each '*' into "(.*)": a route's
/// "*.example.com" matches "a.b.example.com", never "example.com").
bool wildcardHostMatches(std::string_view pattern, std::string_view host);

/// The compiled route order of one snapshot. Immutable; shared by all workers.
///
/// Host selection follows Envoy's virtual hosts as Pomerium builds them (one per concrete `from`
/// host, wildcard routes in the catch-all; Envoy never falls back from one virtual host):
/// 1. routes whose `from` has this host and exactly this port (`https://h:8443`);
/// 2. else routes whose `from` has this host and no port (they match any port);
/// 3. else wildcard-host routes, in config order.
/// A host that has routes in group 1 or 2 never falls back to the next group: if none of its
/// routes matches the path, the answer is "no route". Within the chosen group the first route
/// (config order) whose path matcher matches wins.
class RouteTable {
 public:
  static constexpr uint32_t kNoRoute = UINT32_MAX;

  RouteTable() = default;
  RouteTable(RouteTable&&) noexcept = default;
  RouteTable& operator=(RouteTable&&) noexcept = default;

  /// Compiles every route's matchers. A regex that does not compile is an error naming the
  /// route (the config loader already validates them, so this is a second line of defense).
  static Result<RouteTable> build(const std::vector<config::Route>& routes);

  /// Returns the index (into the routes given to build()) of the matching route, or kNoRoute.
  /// `host` is lower-case without port; `port` is the request's effective port (explicit in
  /// the authority, else 443 for TLS listeners and 80 for plain ones); `path` is normalized,
  /// without query.
  uint32_t match(std::string_view host, uint16_t port, std::string_view path) const;

  /// The tcp+https route for a CONNECT request's authority ("host:port", lower-case; the first
  /// route in config order that lists it), or kNoRoute. tcp+https routes answer CONNECT only:
  /// match() never returns them.
  uint32_t matchConnect(std::string_view authority) const;

  size_t size() const { return matchers_.size(); }

  /// True when `host:port` has a virtual host of its own (concrete routes for that port or for
  /// any port), which means wildcard routes are never consulted for it (Envoy virtual hosts).
  bool hasConcreteRoutes(std::string_view host, uint16_t port) const;

 private:
  struct HostRoutes {
    std::vector<std::pair<uint16_t, std::vector<uint32_t>>> by_port;  ///< explicit-port routes
    std::vector<uint32_t> any_port;
  };
  struct WildcardRoute {
    std::string pattern;
    std::optional<uint16_t> port;
    uint32_t route;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  uint32_t firstMatch(const std::vector<uint32_t>& candidates, std::string_view path) const;

  std::vector<PathMatcher> matchers_;
  std::unordered_map<std::string, HostRoutes, StringHash, std::equal_to<>> hosts_;
  std::vector<WildcardRoute> wildcards_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> connect_;
};

}  // namespace vallum::router
