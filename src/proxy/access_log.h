#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vallum::proxy {

/// One request's access-log fields (docs/architecture.md §6).
struct AccessLogEntry {
  std::chrono::system_clock::time_point time;  ///< when the request started
  std::string_view method;
  std::string_view authority;
  std::string_view path;  ///< as received (path and query)
  int status = 0;
  std::string_view upstream;  ///< endpoint address, "" when none was contacted
  double duration_ms = 0;
  uint64_t bytes_in = 0;   ///< request body bytes received from the client
  uint64_t bytes_out = 0;  ///< response body bytes sent to the client
  std::string_view route;  ///< route name (or "route-<id>"), "" when none matched
  std::string_view request_id;
  /// The authorization decision (Pomerium's authorize log): "allow" / "deny", or "" when no
  /// policy ran (internal endpoints, no route); its reasons (policy::ReasonSet bits) and the
  /// user it was made for (email, else IdP subject; "" anonymous).
  std::string_view decision;
  uint64_t reasons = 0;
  std::string_view user;
};

/// Per-worker JSON-lines access log on a file descriptor (stdout). Lines are buffered and
/// written whole with write(2) (each buffer flush is a sequence of complete lines, so lines of
/// different workers never interleave) when the buffer passes 16 KiB or on flush() — the worker
/// flushes on its 100 ms tick. Single-threaded.
class AccessLog {
 public:
  explicit AccessLog(int fd) : fd_(fd) {}
  ~AccessLog() { flush(); }

  void append(const AccessLogEntry& entry);
  bool pending() const { return !buffer_.empty(); }
  void flush();

  /// Formats one entry as a JSON object without the trailing newline (tests use it).
  static void format(const AccessLogEntry& entry, std::string& out, std::string& time_cache,
                     int64_t& time_cache_second);

 private:
  int fd_;
  std::string buffer_;
  std::string time_cache_;
  int64_t time_cache_second_ = -1;
};

/// The current time as an IMF-fixdate for Date headers, recomputed once per second.
class DateCache {
 public:
  std::string_view now();

 private:
  int64_t second_ = -1;
  char text_[32] = {};
  size_t size_ = 0;
};

}  // namespace vallum::proxy
