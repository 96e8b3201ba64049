#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vallum::upstream::health {

/// The TCP health check's fuzzy match (Envoy TcpHealthCheck): every `receive` payload must be found
/// in the bytes read, in order, each search starting after the end of the previous match;
/// bytes before and between the payloads are ignored. There is no mismatch: unmatched data
/// just waits for more. Memory stays bounded: only the tail that could still begin a match of
/// the next payload is kept.
class TcpReceiveMatcher {
 public:
  /// `payloads` must outlive the matcher.
  explicit TcpReceiveMatcher(const std::vector<std::string>& payloads) : payloads_(&payloads) {}

  /// Starts over (a new check).
  void reset();
  /// Feeds the next bytes read; returns true once every payload has been found.
  bool feed(std::string_view data);
  bool matched() const { return next_ == payloads_->size(); }

 private:
  const std::vector<std::string>* payloads_;
  size_t next_ = 0;
  /// Unsearched bytes after the last match (or a possible prefix of the next payload).
  std::string window_;
};

}  // namespace vallum::upstream::health
