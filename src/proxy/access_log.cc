#include "proxy/access_log.h"

#include <unistd.h>
#include <cerrno>
#include <climits>
#include <ctime>

#include <charconv>

#include "common/strings.h"
#include "policy/reasons.h"

namespace vallum::proxy {

namespace {

constexpr size_t kFlushThreshold = 16 * 1024;

void appendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, size_t(result.ptr - buf));
}

/// Appends v with exactly `digits` digits, zero-padded.
void appendPadded(std::string& out, uint64_t v, int digits) {
  char buf[20];
  for (int i = digits - 1; i >= 0; --i) {
    buf[i] = char('0' + v % 10);
    v /= 10;
  }
  out.append(buf, size_t(digits));
}

}  // namespace

void AccessLog::format(const AccessLogEntry& e, std::string& out, std::string& time_cache,
                       int64_t& time_cache_second) {
  using namespace std::chrono;
  auto since_epoch = duration_cast<milliseconds>(e.time.time_since_epoch()).count();
  int64_t second = since_epoch / 1000;
  if (second != time_cache_second) {
    time_t t = time_t(second);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    time_cache.assign(buf, n);
    time_cache_second = second;
  }
  out += "{\"time\":\"";
  out += time_cache;
  out += '.';
  appendPadded(out, uint64_t(since_epoch % 1000), 3);
  out += 'Z';
  // method (one of llhttp's fixed method names), upstream (an address from the config) and
  // request_id (hex) contain nothing JSON must escape; authority, path and route may (a
  // rejected request logs its Host as received).
  out += "\",\"method\":\"";
  out += e.method;
  out += "\",\"authority\":\"";
  strings::appendJsonEscaped(out, e.authority);
  out += "\",\"path\":\"";
  strings::appendJsonEscaped(out, e.path);
  out += "\",\"status\":";
  appendUint(out, uint64_t(e.status));
  out += ",\"upstream\":\"";
  out += e.upstream;
  // Milliseconds with three decimals, without printf's floating-point path.
  uint64_t micros = e.duration_ms > 0 ? uint64_t(e.duration_ms * 1000.0 + 0.5) : 0;
  out += "\",\"duration_ms\":";
  appendUint(out, micros / 1000);
  out += '.';
  appendPadded(out, micros % 1000, 3);
  out += ",\"bytes_in\":";
  appendUint(out, e.bytes_in);
  out += ",\"bytes_out\":";
  appendUint(out, e.bytes_out);
  out += ",\"route\":\"";
  strings::appendJsonEscaped(out, e.route);
  out += "\",\"request_id\":\"";
  out += e.request_id;
  out += '"';
  if (!e.decision.empty()) {
    out += ",\"decision\":\"";
    out += e.decision;
    out += "\",\"reasons\":[";
    bool first = true;
    for (size_t i = 0; i < policy::kReasonCount; ++i) {
      if ((e.reasons >> i) & 1U) {
        out += first ? "\"" : ",\"";
        out += policy::reasonName(static_cast<policy::Reason>(i));
        out += '"';
        first = false;
      }
    }
    out += "],\"user\":\"";
    strings::appendJsonEscaped(out, e.user);
    out += '"';
  }
  out += '}';
}

void AccessLog::append(const AccessLogEntry& entry) {
  format(entry, buffer_, time_cache_, time_cache_second_);
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushThreshold) {
    flush();
  }
}

void AccessLog::flush() {
  // Several workers share stdout. A write(2) to a pipe is atomic only up to PIPE_BUF bytes, so
  // write whole lines in chunks of at most that size: lines of different workers never mix.
  constexpr size_t kAtomicWrite = PIPE_BUF;
  size_t start = 0;
  while (start < buffer_.size()) {
    size_t end = buffer_.size();
    if (end - start > kAtomicWrite) {
      size_t last_newline = buffer_.rfind('\n', start + kAtomicWrite - 1);
      // A single line longer than PIPE_BUF goes out alone.
      end = (last_newline != std::string::npos && last_newline >= start)
                ? last_newline + 1
                : buffer_.find('\n', start) + 1;
    }
    size_t written = start;
    while (written < end) {
      ssize_t n = ::write(fd_, buffer_.data() + written, end - written);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        buffer_.clear();  // stdout is gone: drop the lines rather than block the worker
        return;
      }
      written += size_t(n);
    }
    start = end;
  }
  buffer_.clear();
}

std::string_view DateCache::now() {
  time_t t = time(nullptr);
  if (t != second_) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    size_ = strftime(text_, sizeof(text_), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    second_ = t;
  }
  return {text_, size_};
}

}  // namespace vallum::proxy
