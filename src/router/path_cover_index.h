#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/options.h"

namespace re2 {
class RE2;
}

namespace vallum::router {

/// The path matchers of the routes of one host group, indexed so that "which earlier route
/// matches every path this route matches?" costs about one hash lookup per character of the
/// route's prefix or path instead of one comparison (and regex compilation) per earlier route.
/// Used by lintShadowedRoutes(); the coverage rule is the one routeShadows() documents:
/// * a prefix covers a longer prefix, an exact path and a regex whose possible matches all
///   start with it ("/" covers everything);
/// * an exact path covers the same path;
/// * a regex covers an exact path it fully matches and an identical regex.
/// Only exact paths against earlier regexes stay pairwise (each regex compiled once); configs
/// have few regex routes per host.
class PathCoverIndex {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  PathCoverIndex();
  PathCoverIndex(PathCoverIndex&&) noexcept;
  PathCoverIndex& operator=(PathCoverIndex&&) noexcept;
  ~PathCoverIndex();

  /// The smallest index among the added routes whose path matcher covers `route`'s, or kNone.
  size_t firstCovering(const config::Route& route) const;

  /// Adds route number `index` (callers add in increasing order).
  void add(size_t index, const config::Route& route);

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using FirstByText = std::unordered_map<std::string, size_t, StringHash, std::equal_to<>>;

  /// The first added prefix route among those whose prefix is a prefix of `text`.
  size_t firstPrefixOf(std::string_view text) const;

  FirstByText prefixes_;
  FirstByText exact_paths_;
  FirstByText regex_texts_;
  std::vector<std::pair<size_t, std::unique_ptr<re2::RE2>>> regexes_;  ///< compiled, in order
};

}  // namespace vallum::router
