#include "router/path_cover_index.h"

#include <algorithm>

#include <re2/re2.h>

namespace vallum::router {

namespace {

enum class PathKind { Prefix, Exact, Regex };

struct PathSpec {
  PathKind kind;
  std::string_view text;
};

// Precedence regex > path > prefix > "/" (as Pomerium builds the Envoy route match).
PathSpec pathSpec(const config::Route& route) {
  if (!route.regex.empty()) {
    return {PathKind::Regex, route.regex};
  }
  if (!route.path.empty()) {
    return {PathKind::Exact, route.path};
  }
  return {PathKind::Prefix, route.prefix.empty() ? std::string_view("/") : route.prefix};
}

std::unique_ptr<re2::RE2> compile(const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<re2::RE2>(pattern, options);
  return re->ok() ? std::move(re) : nullptr;
}

/// The longest text every full match of the route regex `pattern` starts with: RE2's
/// PossibleMatchRange bounds all matches by [min, max], and every string between two strings
/// sharing a prefix shares it too. Empty when unknown.
std::string commonMatchPrefix(std::string_view pattern) {
  auto re = compile("^(?:" + std::string(pattern) + ")$");  // route regexes are full matches
  std::string min, max;
  if (!re || !re->PossibleMatchRange(&min, &max, 256)) {
    return {};
  }
  size_t n = 0;
  while (n < min.size() && n < max.size() && min[n] == max[n]) {
    ++n;
  }
  min.resize(n);
  return min;
}

}  // namespace

PathCoverIndex::PathCoverIndex() = default;
PathCoverIndex::PathCoverIndex(PathCoverIndex&&) noexcept = default;
PathCoverIndex& PathCoverIndex::operator=(PathCoverIndex&&) noexcept = default;
PathCoverIndex::~PathCoverIndex() = default;

size_t PathCoverIndex::firstPrefixOf(std::string_view text) const {
  size_t first = kNone;
  for (size_t n = 1; n <= text.size(); ++n) {
    auto it = prefixes_.find(text.substr(0, n));
    if (it != prefixes_.end()) {
      first = std::min(first, it->second);
    }
  }
  return first;
}

size_t PathCoverIndex::firstCovering(const config::Route& route) const {
  const PathSpec spec = pathSpec(route);
  size_t first = kNone;
  auto consider = [&first](const FirstByText& map, std::string_view key) {
    auto it = map.find(key);
    if (it != map.end()) {
      first = std::min(first, it->second);
    }
  };
  switch (spec.kind) {
    case PathKind::Prefix:
      first = firstPrefixOf(spec.text);
      break;
    case PathKind::Exact:
      first = firstPrefixOf(spec.text);
      consider(exact_paths_, spec.text);
      for (const auto& [index, re] : regexes_) {
        if (index >= first) {
          break;  // later than a covering route already found
        }
        if (re2::RE2::FullMatch(spec.text, *re)) {
          first = index;
          break;
        }
      }
      break;
    case PathKind::Regex: {
      consider(regex_texts_, spec.text);
      // "/" covers every path, even one of a regex RE2 cannot bound.
      consider(prefixes_, "/");
      if (!prefixes_.empty()) {
        first = std::min(first, firstPrefixOf(commonMatchPrefix(spec.text)));
      }
      break;
    }
  }
  return first;
}

void PathCoverIndex::add(size_t index, const config::Route& route) {
  const PathSpec spec = pathSpec(route);
  switch (spec.kind) {
    case PathKind::Prefix:
      prefixes_.emplace(std::string(spec.text), index);  // keeps the first
      break;
    case PathKind::Exact:
      exact_paths_.emplace(std::string(spec.text), index);
      break;
    case PathKind::Regex:
      if (regex_texts_.emplace(std::string(spec.text), index).second) {
        if (auto re = compile(route.regex)) {
          regexes_.emplace_back(index, std::move(re));
        }
      }
      break;
  }
}

}  // namespace vallum::router
