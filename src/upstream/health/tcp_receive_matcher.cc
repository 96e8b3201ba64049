#include "upstream/health/tcp_receive_matcher.h"

namespace vallum::upstream::health {

void TcpReceiveMatcher::reset() {
  next_ = 0;
  window_.clear();
}

bool TcpReceiveMatcher::feed(std::string_view data) {
  if (matched()) {
    return true;
  }
  window_.append(data);
  while (next_ < payloads_->size()) {
    const std::string& payload = (*payloads_)[next_];
    const size_t pos = window_.find(payload);
    if (pos == std::string::npos) {
      // Only the last payload.size() - 1 bytes can still start a match.
      const size_t keep = payload.empty() ? 0 : payload.size() - 1;
      if (window_.size() > keep) {
        window_.erase(0, window_.size() - keep);
      }
      return false;
    }
    window_.erase(0, pos + payload.size());
    ++next_;
  }
  window_.clear();
  return true;
}

}  // namespace vallum::upstream::health
