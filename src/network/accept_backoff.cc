#include "network/accept_backoff.h"

#include <algorithm>

namespace vallum::network {

AcceptBackoff::Decision AcceptBackoff::onFailure(Clock::time_point now) {
  delay_ = delay_.count() == 0 ? kFirstDelay : std::min(delay_ * 2, kMaxDelay);
  Decision d{delay_};
  if (!logged_ || now - last_log_ >= kLogInterval) {
    d.log = true;
    d.suppressed = suppressed_;
    suppressed_ = 0;
    last_log_ = now;
    logged_ = true;
  } else {
    ++suppressed_;
  }
  return d;
}

}  // namespace vallum::network
