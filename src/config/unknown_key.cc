#include "config/unknown_key.h"

#include <algorithm>
#include <vector>

namespace vallum::config {

namespace {

/// Optimal string alignment distance (Levenshtein plus swaps of neighbours), stopping early
/// once every entry of a row exceeds `limit` (then returns limit + 1).
size_t editDistance(std::string_view a, std::string_view b, size_t limit) {
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > limit) {
    return limit + 1;
  }
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    size_t row_min = current[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
      row_min = std::min(row_min, current[j]);
    }
    if (row_min > limit) {
      return limit + 1;
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

}  // namespace

std::optional<std::string_view> closestName(std::string_view name,
                                            std::span<const std::string_view> known) {
  // Two edits turn most short names into one another: allow one per three characters.
  const size_t max_edits = std::clamp<size_t>(name.size() / 3, 1, 2);
  std::optional<std::string_view> best;
  size_t best_distance = max_edits + 1;
  bool tie = false;
  for (std::string_view candidate : known) {
    size_t d = editDistance(name, candidate, max_edits);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
      tie = false;
    } else if (d == best_distance && best && *best != candidate) {
      tie = true;
    }
  }
  if (best && !tie) {
    return best;
  }
  if (best) {
    return std::nullopt;  // two names as close: no guess
  }
  constexpr size_t kMinPrefix = 3;
  if (name.size() < kMinPrefix) {
    return std::nullopt;
  }
  std::optional<std::string_view> only;
  for (std::string_view candidate : known) {
    if (candidate.size() > name.size() && candidate.starts_with(name)) {
      if (only && *only != candidate) {
        return std::nullopt;
      }
      only = candidate;
    }
  }
  return only;
}

void reportUnknownKey(ValueReader& r, const yaml::Entry& entry, const std::string& key,
                      std::string_view what, std::span<const std::string_view> known) {
  std::string message = "unknown " + std::string(what) + " \"" + entry.key + "\"";
  if (auto guess = closestName(entry.key, known)) {
    message += " (did you mean \"" + std::string(*guess) + "\"?)";
  }
  r.error(entry.key_mark, key, std::move(message));
}

}  // namespace vallum::config
