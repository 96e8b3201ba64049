#pragma once

#include <chrono>
#include <cstdint>

/// What a listener does when accept() fails for lack of resources (EMFILE, ENFILE, ENOBUFS,
/// ENOMEM): it stops accepting for a while — the kernel keeps new connections in the backlog —
/// and logs a bounded number of lines, whatever the rate of failures. nginx pauses accepting for
/// 500 ms in the same situation. Pure logic; one instance per listener, owned by its worker.
namespace vallum::network {

class AcceptBackoff {
 public:
  using Clock = std::chrono::steady_clock;

  /// Delay after the first failure; each further consecutive failure doubles it up to kMaxDelay.
  static constexpr std::chrono::milliseconds kFirstDelay{50};
  static constexpr std::chrono::milliseconds kMaxDelay{500};
  /// At most one log line per this interval.
  static constexpr std::chrono::seconds kLogInterval{10};

  struct Decision {
    std::chrono::milliseconds delay;  ///< wait this long before accepting again
    bool log = false;                 ///< write one line now
    uint64_t suppressed = 0;          ///< failures not logged since the last line (when log)
  };

  /// A failed accept at `now`.
  Decision onFailure(Clock::time_point now);
  /// An accept succeeded: the next failure starts from kFirstDelay again.
  void onSuccess() { delay_ = std::chrono::milliseconds(0); }

 private:
  std::chrono::milliseconds delay_{0};
  Clock::time_point last_log_{};
  bool logged_ = false;
  uint64_t suppressed_ = 0;
};

}  // namespace vallum::network
